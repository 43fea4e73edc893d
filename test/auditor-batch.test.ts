/**
 * The auditor in batch mode (spec §5.7, auditor/workers.ts) against the per-proof reference
 * (`--no-batch`, i.e. a pool with batch 1) and the in-thread verifier: the whole report must
 * be identical on an honest board, on a board with ballots whose equations are off by −1 (valid
 * since tallyboard/2), and on a board hiding a ballot that fails 5.4g (its height and check
 * named exactly as the per-proof verifier names them).
 */
import t from 'tap';
import { audit, type AuditReport, type BoardRecord } from '../auditor/audit.js';
import { BallotVerifierPool } from '../auditor/workers.js';
import { InlineBatchVerifier } from '../auditor/inline-batch.js';
import { appendTally, buildBoard, scenario, stream, type PlannedEntry } from './helpers/election-board.js';
import { ballotPayload } from '../src/election/records.js';
import { ballotTracker, ballotBody, type Ballot } from '../src/election/ballot.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { craftBallot, resign } from './helpers/crafted-ballot.js';

const spec = {
  electionId: 'audit-batch-test',
  maxVoters: 40,
  questions: [
    { id: 'mayor', options: 4, min: 1, max: 1 },
    { id: 'referendum', options: 2, min: 0, max: 1 },
  ],
};
const VOTERS = 10;
const s = scenario(spec, Array.from({ length: VOTERS }, (_, i) => [[i % 4], i % 3 ? [i % 2] : []]));
const n2 = s.election.paillier.n2;
const n = s.election.paillier.n;

/** Replace voter `voter`'s ballot in a copy of the plan, and recompute close, tally and result. */
function withBallot(plan: readonly PlannedEntry[], voter: number, b: Ballot): PlannedEntry[] {
  const out = structuredClone(plan.slice(0, plan.findIndex((p) => p.type === 'close'))) as PlannedEntry[];
  const heights = out.map((p, h) => (p.type === 'ballot' ? h : -1)).filter((h) => h >= 0);
  const h = heights[voter]!;
  const tracker = ballotTracker(ballotBody(s.election, b), b.signature);
  out[h] = { ...out[h]!, payload: ballotPayload(s.election, b, tracker) as unknown as JsonValue };
  appendTally(s.election, out, s.election.endMs);
  return out;
}

const flipped = withBallot(
  withBallot(s.plan, 2, craftBallot(s.election, s.tokens[2]!, [[1], [0]], { question: 0, branch: 1, factor: n2 - 1n })),
  7,
  craftBallot(s.election, s.tokens[7]!, [[3], []], { question: 1, branch: 0, factor: n2 - 1n }),
);
const badBase = s.ballots[5]!.ballot;
const bad = resign(
  s.election,
  { ...badBase, answers: badBase.answers.map((a, q) => (q !== 0 ? a : { c: a.c, proof: a.proof.map((br, k) => (k === 2 ? { ...br, z: (br.z * 3n) % n } : br)) })) },
  s.tokens[5]!.secretKey,
);
const boards: [string, BoardRecord[]][] = [
  ['honest board', buildBoard(s.election, s.plan)],
  ['board with sign-flipped commitments', buildBoard(s.election, flipped)],
  ['board hiding a ballot that fails 5.4g', buildBoard(s.election, withBallot(s.plan, 5, bad))],
];

/** The report, and how many ballots went to the workers in batches of more than one. */
async function withPool(records: readonly BoardRecord[], opts: { workers: number; batch?: number }): Promise<{ report: AuditReport; batches: number }> {
  const pool = new BallotVerifierPool(opts);
  try {
    const report = await audit(pool.prefetch(stream(records)), { reopen: () => stream(records), verifyBallot: pool.verifyBallot });
    return { report, batches: pool.stats.batches };
  } finally {
    await pool.close();
  }
}

for (const [name, records] of boards) {
  t.test(`${name}: batch, per-proof and in-thread reports are identical`, async (t) => {
    const reference = await audit(stream(records), { reopen: () => stream(records) });
    const perProof = await withPool(records, { workers: 2, batch: 1 });
    t.same(perProof.report, reference, '--no-batch (pool, batch 1) = in-thread');
    t.equal(perProof.batches, 0, '--no-batch sends no batch');
    const small = await withPool(records, { workers: 2, batch: 3 });
    t.same(small.report, reference, 'batches of 3 (several chunks, the last one partial)');
    t.ok(small.batches >= 3, `${small.batches} batches of 3 sent`);
    const dflt = await withPool(records, { workers: 1 });
    t.same(dflt.report, reference, 'default batch (one partial chunk, flushed on demand)');
    t.ok(dflt.batches >= 1, 'sent as a batch');
    for (const size of [4, 256]) {
      const inline = new InlineBatchVerifier(size);
      t.same(await audit(inline.prefetch(stream(records)), { reopen: () => stream(records), verifyBallot: inline.verifyBallot }), reference, `in-thread batches of ${size}`);
      t.ok(inline.stats.batches >= 1 && inline.stats.misses === 0, `in-thread batches of ${size}: ${inline.stats.batches} batches, every ballot found`);
    }
    if (name.startsWith('board hiding')) {
      t.equal(reference.ok, false, 'the audit fails');
      const f = reference.steps.find((x) => x.step === 6)!.failures;
      t.equal(f.length, 1, 'one ballot failure');
      t.equal(f[0]?.check, '5.4g', 'named by its check');
      const heights = s.plan.map((p, h) => (p.type === 'ballot' ? h : -1)).filter((h) => h >= 0);
      t.equal(f[0]?.height, heights[5], 'at its height');
    } else {
      t.equal(reference.ok, true, 'the audit passes');
    }
  });
}

t.test('batch size is validated', async (t) => {
  t.throws(() => new BallotVerifierPool({ workers: 1, batch: 0 }), { code: 'OUT_OF_RANGE' });
  t.throws(() => new BallotVerifierPool({ workers: 1, batch: 1.5 }), { code: 'OUT_OF_RANGE' });
  t.throws(() => new InlineBatchVerifier(0), { code: 'OUT_OF_RANGE' });
});

t.test('regression: large ballots still keep every worker busy (the read-ahead window is shared out in chunks)', async (t) => {
  // Every record "weighs" 1,000 units of line text and the window holds 14 of them (7 ballots
  // with their issuances): a chunk of 8 ballots would never fill, leaving the second worker
  // without work until audit consumed the first chunk (at 2048 bits, a 4 Mi window holds about
  // 430 ballots, fewer than two default chunks of 256).
  const records = boards[0]![1].map((r) => (r.kind === 'entry' ? { ...r, size: 1000 } : r));
  const reference = await audit(stream(records), { reopen: () => stream(records) });
  const pool = new BallotVerifierPool({ workers: 2, batch: 8, maxReadAheadBytes: 14_000 });
  try {
    const report = await audit(pool.prefetch(stream(records)), { reopen: () => stream(records), verifyBallot: pool.verifyBallot });
    t.same(report, reference, 'the same report as in-thread');
    t.equal(pool.stats.maxBusyWorkers, 2, 'both workers had a chunk at once');
    t.ok(pool.stats.batches >= 3, `${pool.stats.batches} chunks of at most 2 ballots`);
  } finally {
    await pool.close();
  }
});
