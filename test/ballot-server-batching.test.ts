/**
 * The ballot server's casts are verified in batches (issue 12.4, spec §5.7): each cast is asked
 * of the verifier pool on its own (no read-ahead), goes to a worker at once when one is idle,
 * and otherwise waits with the casts that arrive meanwhile; they go together, as one batch, to
 * the first worker that finishes. No timer decides the batch. A bad ballot among them is found by
 * bisection and reported exactly as the per-proof verifier reports it, and its neighbours pass.
 */
import t from 'tap';
import { BallotVerifierPool } from '../auditor/workers.js';
import { BallotVerifyWorkers } from '../src/ballot/verify-workers.js';
import { createBallot, verifyBallot, type Ballot, type BallotCheck } from '../src/election/ballot.js';
import { fixtureElection, fixtureToken } from './helpers/fixtures.js';
import { resign } from './helpers/crafted-ballot.js';

const election = fixtureElection({ electionId: 'cast-batching', questions: [{ id: 'mayor', options: 4, min: 1, max: 1 }], maxVoters: 100 });
const n = election.paillier.n;

function plain(r: BallotCheck): unknown {
  return r.ok ? { ok: true, tracker: Buffer.from(r.tracker).toString('hex') } : r;
}

/** A ballot failing only 5.4g: one response changed, re-signed by its voter. */
function badResponse(): Ballot {
  const token = fixtureToken(election);
  const base = createBallot(election, [[1]], token).ballot;
  const answers = base.answers.map((a) => ({ c: a.c, proof: a.proof.map((br, k) => (k === 2 ? { ...br, z: (br.z * 2n) % n } : br)) }));
  return resign(election, { ...base, answers }, token.secretKey);
}

t.test('regression: casts that arrive while the worker is busy are verified together, in one batch, with per-proof verdicts', async (t) => {
  const pool = new BallotVerifierPool({ workers: 1 });
  t.teardown(() => pool.close());
  const ballots: Ballot[] = Array.from({ length: 9 }, (_, i) => createBallot(election, [[i % 4]], fixtureToken(election)).ballot);
  ballots.splice(5, 0, badResponse());
  // All asked at once, as concurrent casts are: the first finds the worker idle and goes alone;
  // the other nine wait for it and then go as one batch.
  const results = await Promise.all(ballots.map((b) => pool.verifyBallot(election, { ballot: b } as never)));
  t.same(results.map(plain), ballots.map((b) => plain(verifyBallot(election, b))), 'the same verdicts as the per-proof verifier, the bad one included');
  t.notOk(results[5]!.ok, 'the bad ballot is refused');
  if (!results[5]!.ok) t.equal(results[5]!.check, '5.4g', 'at 5.4g, as alone');
  t.equal(results.filter((r) => r.ok).length, 9, 'its neighbours in the batch pass');
  t.equal(pool.stats.batches, 2, 'two batches: the first cast alone, then the nine that arrived meanwhile');
  t.equal(pool.stats.dispatched, 10);
});

t.test('per-proof mode (batch 1) never gathers: each cast is checked alone', async (t) => {
  const pool = new BallotVerifierPool({ workers: 1, batch: 1 });
  t.teardown(() => pool.close());
  const ballots = Array.from({ length: 3 }, (_, i) => createBallot(election, [[i]], fixtureToken(election)).ballot);
  const results = await Promise.all(ballots.map((b) => pool.verifyBallot(election, { ballot: b } as never)));
  t.ok(results.every((r) => r.ok));
  t.equal(pool.stats.batches, 0, 'no batch');
});

t.test("regression: the server's admission queue lets batches grow (it handed the pool 2 casts per worker, so batches never passed 2)", async (t) => {
  const workers = new BallotVerifyWorkers({ workers: 1 });
  t.teardown(() => workers.close());
  const ballots = Array.from({ length: 12 }, (_, i) => createBallot(election, [[i % 4]], fixtureToken(election)).ballot);
  // Twelve concurrent casts: the first goes alone to the idle worker, the eleven others are
  // handed to the pool meanwhile and go together.
  const results = await Promise.all(ballots.map((b) => workers.verify(election, b)));
  t.ok(results.every((r) => r.ok), 'every cast passes');
  t.equal(workers.queue.stats.peakRunning, 12, 'all twelve were handed to the pool at once');
  t.equal(workers.batches, 2, 'in two batches: one cast alone, then the eleven that came meanwhile');
});

t.test('the casts handed to the pool are bounded in bytes too: fewer of very large ballots, never fewer than 2 per worker', async (t) => {
  const sizes: [number | undefined, number][] = [[undefined, 32], [12_192, 32], [1024 * 1024, 16], [3 * 1024 * 1024, 5], [64 * 1024 * 1024, 2]];
  for (const [maxBallotBytes, perWorker] of sizes) {
    const w = new BallotVerifyWorkers({ workers: 2, ...(maxBallotBytes !== undefined ? { maxBallotBytes } : {}) });
    t.equal(w.queue.concurrency, 2 * perWorker, `ballots of at most ${maxBallotBytes ?? 'any'} bytes: ${perWorker} per worker`);
    await w.close();
  }
});
