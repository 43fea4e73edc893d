/**
 * Regression (issue 10.1): the ballot server must not be able to turn the verification server
 * into a per-ballot decryption oracle.
 *
 * The attack, as the red team ran it: a malicious ballot server (it holds the board key) serves
 * the verification server a re-chained, re-signed fork holding ONE victim's ballot and a close.
 * Audit steps 1–8 pass on that fork, so the key holder decrypts it and submits the "result" —
 * the victim's vote. The ballot server answers 503, the poller retries with a fresh read, and
 * the next fork reveals the next vote. On the code before the fix every fork was decrypted.
 *
 * What must hold now (spec §8.5):
 *   - at most one decryption per election, whatever the board serves afterwards, also across a
 *     restart (the journal on disk);
 *   - a server that watched the board during the election refuses a fork at once (the fork's
 *     close is inconsistent with the checkpoints it recorded), with zero decryptions, and keeps
 *     refusing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { checkpointToJson } from '../bulletin/checkpoint.js';
import { consistencyProofToJson } from '../bulletin/proofs.js';
import { registerErrorHandling } from '../src/http/error-handler.js';
import { httpBoardAccess } from '../src/verifier/board-access.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { closePayload } from '../src/election/records.js';
import { TestRegister, testRef } from './helpers/register.js';
import { TallyError } from '../src/errors.js';
import type { BoardAccess, BoardPhase } from '../src/verifier/board-access.js';
import { TallyService } from '../src/verifier/tally-service.js';
import { FileTallyJournal } from '../src/verifier/tally-journal-file.js';
import { MemoryTallyJournal, type TallyJournal } from '../src/verifier/tally-journal.js';
import { scenario, type PlannedEntry } from './helpers/election-board.js';
import { manifestJson, shareFixture } from './helpers/fixtures.js';
import type { KeyShare } from '../src/crypto/threshold-paillier.js';
import { memoryBoardAccess, type MemoryBoard, exportText } from './helpers/verifier-board.js';

const spec = { electionId: 'oracle-test', revoting: false, maxVoters: 10, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] };
// Four voters with different votes: a fork per victim would reveal each one.
const s = scenario(spec, [[[0]], [[1]], [[2]], [[1]]]);
const election = s.election;
const closeAt = s.plan.findIndex((p) => p.type === 'close');
const ballotPlans = s.plan.filter((p) => p.type === 'ballot');

/** The honest board, open (before its close). */
const openPlan = (): PlannedEntry[] => structuredClone(s.plan.slice(0, closeAt));

/** A register the forks commit to (each fork is a whole re-chained board of its own). */
const forkRegister = new TestRegister(Math.min(election.manifest.maxVoters, 8));

/** The re-signed fork a malicious ballot server serves to learn voter `v`'s vote. */
function forkFor(v: number): PlannedEntry[] {
  const setup = structuredClone(s.plan[0]!);
  const ballot = structuredClone(ballotPlans[v]!);
  return [
    setup,
    { type: 'register', payload: forkRegister.payload(), timestamp: setup.timestamp + 1 },
    { type: 'token-issued', payload: forkRegister.issued([testRef(1 + (v % forkRegister.n))], 1), timestamp: setup.timestamp + 1 },
    ballot,
    { type: 'close', payload: closePayload({ reason: 'schedule', ballots: 1 }) as unknown as JsonValue, timestamp: election.endMs },
  ];
}

/** The fixture key with a counter of decryptions (each question opened counts one). */
function spiedKey() {
  // The share's secret s is read once by the service's constructor (check 13.3a), then only to
  // decrypt (spec §13.4): counting the later reads counts decryptions.
  const real = shareFixture('a');
  const spy = { decryptions: 0, armed: false };
  const sk: KeyShare = { index: real.index, get s() { if (spy.armed) spy.decryptions++; spy.armed = true; return real.s; } };
  return { sk, spy };
}

/**
 * The malicious ballot server: while `phase` is 'open' it serves the honest open board; once
 * closed it serves a fresh fork per read round (each victim in turn), and answers every tally
 * submission with 503 after noting it, so that the verification server retries.
 */
function maliciousBallotServer() {
  const honest = memoryBoardAccess(election, openPlan());
  let phase: BoardPhase = 'open';
  let victim = 0;
  let current: MemoryBoard = honest;
  const submissions: { encryptedTally: unknown; result: unknown }[] = [];
  const board: BoardAccess = {
    status: async () => ({ size: current.plan.length, phase }),
    records: () => current.records(),
    checkpoint: () => current.checkpoint(),
    consistency: (a, b) => current.consistency(a, b),
    submitEncryptedTally: async (encryptedTally) => {
      submissions.push({ encryptedTally, result: undefined });
      throw new TallyError('BOARD_UNAVAILABLE', 'tally submission: the ballot server failed (503)');
    },
    submitPartialDecryption: async () => {
      throw new TallyError('BOARD_UNAVAILABLE', 'partial decryption submission: the ballot server failed (503)');
    },
    submitResult: async () => {
      throw new TallyError('BOARD_UNAVAILABLE', 'result submission: the ballot server failed (503)');
    },
  };
  return {
    board,
    submissions,
    /** close the election and serve the fork of the next victim from now on */
    nextFork() {
      phase = 'closed';
      current = memoryBoardAccess(election, forkFor(victim++ % ballotPlans.length));
    },
  };
}

function service(board: BoardAccess, journal: TallyJournal, sk: ReturnType<typeof spiedKey>['sk']) {
  const svc = new TallyService({ share: sk, election, board, journal });
  return svc;
}

/** One tally attempt; a 503 from the ballot server is what the attacker answers. */
async function attempt(svc: TallyService) {
  try {
    return await svc.tallyOnce();
  } catch (e) {
    if (e instanceof TallyError && e.code === 'BOARD_UNAVAILABLE') return { outcome: 'unavailable' as const };
    throw e;
  }
}

t.test('regression: a ballot server serving forks gets at most one decryption (no prior checkpoint seen)', async (t) => {
  const evil = maliciousBallotServer();
  const { sk, spy } = spiedKey();
  const svc = service(evil.board, new MemoryTallyJournal(), sk);
  const perAttempt: number[] = [];
  for (let i = 0; i < ballotPlans.length; i++) {
    evil.nextFork();
    const before = spy.decryptions;
    await attempt(svc);
    perAttempt.push(spy.decryptions - before);
  }
  t.equal(perAttempt.filter((d) => d > 0).length, 1, `one attempt decrypted, the others did not (decryptions per attempt: ${perAttempt.join(', ')})`);
  t.ok(evil.submissions.length >= 1, 'the first result was submitted');
  const distinct = new Set(evil.submissions.map((x) => JSON.stringify(x.result)));
  t.equal(distinct.size, 1, 'every submission carries the same, first result: nothing new is learned from later forks');
});

t.test('regression: a verification server that watched the board refuses a fork with no decryption at all', async (t) => {
  const evil = maliciousBallotServer();
  const { sk, spy } = spiedKey();
  const journal = new MemoryTallyJournal();
  const svc = service(evil.board, journal, sk);
  t.same(await attempt(svc), { outcome: 'not-closed', phase: 'open' }, 'during the election the service only watches');
  t.equal(await journal.checkpointCount(), 1, 'and records the board checkpoint it saw');
  for (let i = 0; i < 3; i++) {
    evil.nextFork();
    const o = await attempt(svc);
    t.equal(o.outcome, 'refused', `fork ${i + 1} is refused`);
    if (o.outcome === 'refused') t.match(o.failures[0]!.check, /consistency|journal/, 'as inconsistent with what was seen');
  }
  t.equal(spy.decryptions, 0, 'nothing was ever decrypted');
  t.equal(evil.submissions.length, 0, 'nothing was submitted');
  t.match((await journal.alarm()) ?? '', /consistent|different roots/, 'the alarm is recorded for good');
});

t.test('regression: the at-most-once rule survives a restart (journal on disk)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const evil = maliciousBallotServer();
  const first = spiedKey();
  evil.nextFork();
  await attempt(service(evil.board, new FileTallyJournal(dir), first.sk));
  t.ok(first.spy.decryptions > 0, 'the first fork was decrypted (the server had seen nothing before)');
  const firstResult = JSON.stringify(evil.submissions[0]?.result);

  // The server restarts; the attacker serves the next victim's fork.
  const second = spiedKey();
  const journal = new FileTallyJournal(dir);
  t.ok((await journal.decryption())?.published, 'the journal remembers the decryption');
  evil.nextFork();
  await attempt(service(evil.board, journal, second.sk));
  t.equal(second.spy.decryptions, 0, 'after the restart nothing is decrypted');
  t.equal(JSON.stringify(evil.submissions[evil.submissions.length - 1]?.result), firstResult, 'only the recorded result is re-submitted');
});

t.test('the honest path: a watched board is tallied once, and a re-submission after a 503 does not decrypt again', async (t) => {
  const plan = openPlan();
  const honest = memoryBoardAccess(election, plan);
  let failNext = true;
  const board: BoardAccess = {
    status: () => honest.status(),
    records: () => honest.records(),
    checkpoint: () => honest.checkpoint(),
    consistency: (a, b) => honest.consistency(a, b),
    submitEncryptedTally: async (a) => {
      if (failNext) {
        failNext = false;
        throw new TallyError('BOARD_UNAVAILABLE', 'tally submission: the ballot server failed (503)');
      }
      return honest.submitEncryptedTally(a);
    },
    submitPartialDecryption: (a) => honest.submitPartialDecryption(a),
    submitResult: (a) => honest.submitResult(a),
  };
  const { sk, spy } = spiedKey();
  const svc = service(board, new MemoryTallyJournal(), sk);
  t.equal((await attempt(svc)).outcome, 'not-closed');
  plan.push(...structuredClone(s.plan.slice(closeAt, closeAt + 1)));
  t.equal((await attempt(svc)).outcome, 'unavailable', 'the first submission meets a 503');
  const decrypted = spy.decryptions;
  t.ok(decrypted > 0, 'the honest board was decrypted');
  t.same(await attempt(svc), { outcome: 'tallied', ballotsCounted: 4 }, 'the retry publishes');
  t.equal(spy.decryptions, decrypted, 'without decrypting again');
  t.equal(honest.submissions.length, 1, 'published once');
});


t.test('regression: over HTTP, a fake ballot server serving forks to the verification server gets at most one decryption, then refusals', async (t) => {
  const SERVICE_TOKEN = 'service-token-0123456789abcdef';
  let phase: BoardPhase = 'open';
  let victim = 0;
  let current: MemoryBoard = memoryBoardAccess(election, openPlan());
  const submissions: unknown[] = [];
  const app = Fastify({ forceCloseConnections: true });
  registerErrorHandling(app);
  app.get('/api/election', async () => ({
    manifest: manifestJson(spec),
    fingerprint: election.fingerprintHex,
    status: { phase, boardSize: current.plan.length, ballots: 0, ballotsCounted: 0, tokensIssued: 0, serverTime: new Date().toISOString() },
  }));
  app.get('/api/board/export', async (_req, reply) => reply.type('application/x-ndjson').send(Readable.from([exportText(current.snapshot())])));
  app.get('/api/board/checkpoint', async () => checkpointToJson(await current.checkpoint()));
  app.get<{ Querystring: { size1: string; size2: string } }>('/api/board/proof/consistency', async (req) =>
    consistencyProofToJson(await current.consistency(Number(req.query.size1), Number(req.query.size2))),
  );
  app.post('/internal/encrypted-tally', async (req, reply) => {
    submissions.push(req.body);
    // The attacker pretends to fail, and prepares the next victim's fork for the retry.
    phase = 'closed';
    current = memoryBoardAccess(election, forkFor(victim++ % ballotPlans.length));
    return reply.code(503).send({ error: { code: 'UNAVAILABLE', message: 'try again' } });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  for (const watched of [false, true]) {
    phase = 'open';
    victim = 0;
    current = memoryBoardAccess(election, openPlan());
    submissions.length = 0;
    const { sk, spy } = spiedKey();
    const journal = new MemoryTallyJournal();
    const svc = new TallyService({ share: sk, election, board: httpBoardAccess({ baseUrl, serviceToken: SERVICE_TOKEN }), journal });
    if (watched) t.equal((await attempt(svc)).outcome, 'not-closed', 'the verification server watches the open board');
    // The election closes; the attacker serves the first victim's fork.
    phase = 'closed';
    current = memoryBoardAccess(election, forkFor(victim++));
    const outcomes: string[] = [];
    const perAttempt: number[] = [];
    for (let i = 0; i < ballotPlans.length; i++) {
      const before = spy.decryptions;
      outcomes.push((await attempt(svc)).outcome);
      perAttempt.push(spy.decryptions - before);
    }
    if (watched) {
      t.equal(spy.decryptions, 0, 'watched: no fork is ever decrypted');
      t.same(outcomes, new Array(ballotPlans.length).fill('refused'), 'watched: every fork is refused');
      t.equal(submissions.length, 0, 'watched: nothing submitted');
    } else {
      t.equal(perAttempt.filter((d) => d > 0).length, 1, `unwatched: exactly one attempt decrypted (${perAttempt.join(', ')})`);
      t.equal(new Set(submissions.map((b) => JSON.stringify(b))).size, 1, 'unwatched: every submission is the first result again');
    }
  }
});
