/**
 * Slow suite (`npm run test:slow`): bisection names the one bad ballot hidden among 1,000, with
 * the per-proof verifier's report, wherever it sits (spec §5.7). The default suite runs the same
 * check among 200 (test/batch-verification.test.ts).
 */
import t from 'tap';
import { createBallot, verifyBallot, type Ballot, type BallotCheck } from '../../src/election/ballot.js';
import { verifyBallots } from '../../src/election/ballot-batch.js';
import { fixtureElection, fixtureToken } from '../helpers/fixtures.js';
import { resign } from '../helpers/crafted-ballot.js';

const election = fixtureElection({ electionId: 'bisect-1000', questions: [{ id: 'q', options: 4, min: 1, max: 1 }], maxVoters: 1000 });
const token = fixtureToken(election);
const n = election.paillier.n;
const honest: Ballot[] = Array.from({ length: 8 }, (_, i) => createBallot(election, [[i % 4]], token).ballot);
const base = honest[3]!;
const bad = resign(
  election,
  { ...base, answers: [{ c: base.answers[0]!.c, proof: base.answers[0]!.proof.map((br, k) => (k === 0 ? { ...br, z: (br.z * 5n) % n } : br)) }] },
  token.secretKey,
);
const plain = (r: BallotCheck) => (r.ok ? { ok: true, tracker: Buffer.from(r.tracker).toString('hex') } : r);

t.test('bisection names the one bad ballot among 1,000', async (t) => {
  const expected = plain(verifyBallot(election, bad));
  t.match(expected, { ok: false, check: '5.4g' });
  for (const at of [0, 511, 999]) {
    const chunk = Array.from({ length: 1000 }, (_, i) => (i === at ? bad : honest[i % honest.length]!));
    const got = verifyBallots(election, chunk).map(plain);
    t.same(got.map((r, i) => (r.ok ? -1 : i)).filter((i) => i >= 0), [at], `only ballot ${at} fails`);
    t.same(got[at], expected, 'with the per-proof report');
  }
});
