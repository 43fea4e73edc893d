/**
 * A trustee's partial decryption checked off the event loop: the auditor's worker pool checks a
 * `partial-decryption` payload (spec §13.4, 13.4p–13.4f) with exactly the verdict of the
 * in-thread check, the auditor's step 10 gives the same report with the pool as without it, and
 * the ballot server's verification workers take the check that used to hold its event loop for
 * seconds per entry (POST /api/partial-decryptions is public, rate limited per address only).
 */
import t from 'tap';
import { audit } from '../auditor/audit.js';
import { BallotVerifierPool } from '../auditor/workers.js';
import { BallotVerifyWorkers } from '../src/ballot/verify-workers.js';
import { partialDecryptTally, verifyPartialDecryptionEntry, type PartialDecryptionPayload } from '../src/election/partial-decryption.js';
import { appendTally, buildBoard, scenario, stream, type PlannedEntry } from './helpers/election-board.js';
import { seededRng, shareFixture } from './helpers/fixtures.js';

const spec = { electionId: 'partial-workers', maxVoters: 20, questions: [{ id: 'q', options: 3, min: 1, max: 1 }, { id: 'r', options: 2, min: 0, max: 1 }] };
const s = scenario(spec, Array.from({ length: 4 }, (_, i) => [[i % 3], i % 2 ? [1] : []]));
const e = s.election;
const et = s.plan.find((p) => p.type === 'encrypted-tally')!.payload as { ciphertexts: string[] };
const ciphertexts = et.ciphertexts.map((c) => BigInt('0x' + c));
const honest = partialDecryptTally(e.threshold, shareFixture('a'), ciphertexts, e.fingerprint, seededRng('partial-workers'));
const flipZ = (p: PartialDecryptionPayload, q: number): PartialDecryptionPayload => ({
  ...p,
  partials: p.partials.map((x, i) => (i !== q ? x : { ...x, z: (BigInt('0x' + x.z) ^ 1n).toString(16).padStart(x.z.length, '0') })),
});

const cases: [string, unknown][] = [
  ['an honest entry', honest],
  ['a response changed in question 1', flipZ(honest, 1)],
  ['a trustee index out of range', { ...honest, trustee: 2 }],
  ['a missing question', { ...honest, partials: honest.partials.slice(0, 1) }],
  ['an unknown member', { ...honest, extra: true }],
  ['not an object', 'partial'],
];

t.test('the pool checks a partial decryption with the in-thread verdict, entry and check id', async (t) => {
  const pool = new BallotVerifierPool({ workers: 2 });
  t.teardown(() => pool.close());
  const got = await Promise.all(cases.map(([, payload]) => pool.verifyPartialDecryption(e, ciphertexts, payload)));
  cases.forEach(([what, payload], i) => t.same(got[i], verifyPartialDecryptionEntry(e.threshold, e.fingerprint, ciphertexts, payload), what));
  t.ok(got[0]!.ok, 'the honest entry passes');
  t.match(got[1], { ok: false, question: 1 }, 'the changed response fails in its question');
  t.equal(pool.stats.partials, cases.length, 'every check ran on a worker');
});

t.test("the auditor's step 10 reports the same with the pool's workers as in its own thread", async (t) => {
  const closeAt = s.plan.findIndex((p) => p.type === 'close');
  const forged: PlannedEntry[] = structuredClone(s.plan.slice(0, closeAt));
  appendTally(e, forged, e.endMs, undefined, (p) => flipZ(p, 0));
  for (const [what, plan] of [['honest board', s.plan], ['board with a forged partial decryption', forged]] as const) {
    const records = buildBoard(e, plan);
    const reference = await audit(stream(records), { reopen: () => stream(records) });
    const pool = new BallotVerifierPool({ workers: 2 });
    try {
      const report = await audit(pool.prefetch(stream(records)), { reopen: () => stream(records), verifyBallot: pool.verifyBallot, verifyPartialDecryption: pool.verifyPartialDecryption });
      t.same(report, reference, `${what}: the same report`);
      t.equal(pool.stats.partials, 1, `${what}: the entry was checked on a worker`);
    } finally {
      await pool.close();
    }
    if (plan === forged) t.match(reference.steps.find((x) => x.step === 10)?.failures[0], { check: '13.4f' }, 'the forged entry fails step 10');
  }
});

t.test("regression: the ballot server's verification workers check a partial decryption (it ran on the event loop)", async (t) => {
  const workers = new BallotVerifyWorkers({ workers: 1 });
  t.teardown(() => workers.close());
  for (const [what, payload] of cases) t.same(await workers.verifyPartial(e, ciphertexts, payload), verifyPartialDecryptionEntry(e.threshold, e.fingerprint, ciphertexts, payload), what);
  t.equal(workers.partials, cases.length, 'each on a worker thread');
});
