/**
 * The auditor's memory bound (issue 10.8, spec §10.5): the worker pool's read-ahead is bounded
 * in bytes of line text, not only in records, and a malformed ballot payload is shape-checked
 * before it is encoded or copied to a worker. (The peak memory on a hostile 17 MiB board is
 * measured by `node dist/bench/auditor-memory.js`, README.md; no timing or memory figure is
 * asserted here.)
 */
import t from 'tap';
import { BallotVerifierPool } from '../auditor/workers.js';
import type { BoardRecord } from '../auditor/audit.js';
import type { Entry } from '../bulletin/entry.js';
import { zeroHash } from '../bulletin/entry.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { ballotPayload, setupPayload } from '../src/election/records.js';
import { createBallot } from '../src/election/ballot.js';
import { fixtureElection, fixtureToken, manifestJson } from './helpers/fixtures.js';

const entry = (height: number, type: Entry['type'], payload: JsonValue): Entry => ({ height, parent: zeroHash(), type, timestamp: 0, payload });

t.test('regression: the read-ahead is bounded in bytes, not only in records', async (t) => {
  const pool = new BallotVerifierPool({ workers: 1 });
  t.teardown(() => pool.close());
  let pulled = 0;
  async function* source(): AsyncGenerator<BoardRecord> {
    for (let h = 0; h < 20; h++) {
      pulled++;
      // 3 Mi units each, like a line holding an object of 250,000 members
      yield { kind: 'entry', entry: entry(h, 'token-issued', null), size: 3 * 1024 * 1024, line: h + 2 };
    }
  }
  const it = pool.prefetch(source())[Symbol.asyncIterator]();
  await it.next();
  t.ok(pulled <= 2, `${pulled} records of 3 Mi read when the first was handed over (a record bound alone read 20)`);
  let n = 1;
  while (!(await it.next()).done) n++;
  t.equal(n, 20, 'every record is still yielded, in order');
});

t.test('regression: a malformed ballot is neither encoded nor sent to a worker', async (t) => {
  const spec = { electionId: 'pool-shape', questions: [{ id: 'q', options: 2, min: 1, max: 1 }] };
  const election = fixtureElection(spec);
  const pool = new BallotVerifierPool({ workers: 1 });
  t.teardown(() => pool.close());
  const wide: Record<string, null> = {};
  for (let i = 0; i < 50_000; i++) wide[`k${i}`] = null;
  const good = createBallot(election, [[0]], fixtureToken(election));
  const records: BoardRecord[] = [
    { kind: 'entry', entry: entry(0, 'setup', setupPayload(manifestJson(spec)) as unknown as JsonValue) },
    { kind: 'entry', entry: entry(1, 'ballot', { ballot: wide, tracker: '00'.repeat(32) }) },
    { kind: 'entry', entry: entry(2, 'ballot', ballotPayload(election, good.ballot, good.tracker) as unknown as JsonValue) },
  ];
  async function* source(): AsyncGenerator<BoardRecord> {
    yield* records;
  }
  for await (const _ of pool.prefetch(source())) void _;
  t.equal(pool.stats.dispatched, 1, 'only the well-formed ballot went to a worker');
});
