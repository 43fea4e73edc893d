/**
 * The verification server's tally (src/verifier/tally-service.ts, issue #4) over an in-memory
 * board: a closed board is re-verified, tallied with the revote rule and published so that the
 * full audit passes; a forged board is refused with NOTHING decrypted or submitted (the key
 * holder must never decrypt a product containing an unverified ciphertext); a board that changes
 * between the auditor's two reads is refused the same way; repeated and concurrent attempts
 * publish once; start() tallies without an operator.
 */
import t, { type Test } from 'tap';
import { audit } from '../auditor/audit.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { ed25519Sign } from '../src/crypto/ed25519.js';
import { ballotBody, ballotSigningMessage, ballotTracker, createBallot, type Ballot } from '../src/election/ballot.js';
import { ballotPayload, closePayload, setupPayload } from '../src/election/records.js';
import type { BoardAccess } from '../src/verifier/board-access.js';
import { TallyService, type VerifierLogger } from '../src/verifier/tally-service.js';
import { throwsCode } from './helpers/assert.js';
import { appendTally, buildBoard, scenario, stream, T0, type PlannedEntry } from './helpers/election-board.js';
import { manifestJson, paillierFixture, shareFixture } from './helpers/fixtures.js';
import type { KeyShare } from '../src/crypto/threshold-paillier.js';
import { memoryBoardAccess, type MemoryBoard } from './helpers/verifier-board.js';

const spec = { electionId: 'verifier-test', revoting: true, maxVoters: 10, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] };
// Four voters; voter 1 first votes mayor 2, then revotes mayor 0: the revote must win.
const s = scenario(spec, [[[0]], [[2]], [[1]], [[0]]], [{ voter: 1, selection: [[0]] }]);
const election = s.election;
const EXPECTED = { 'mayor-o0': 3, 'mayor-o1': 1, 'mayor-o2': 0 };
const ballotHeights = s.plan.map((p, h) => (p.type === 'ballot' ? h : -1)).filter((h) => h >= 0);
const closeAt = s.plan.findIndex((p) => p.type === 'close');

/** The honest board up to and including its close: what the verification server tallies. */
const closedPlan = (): PlannedEntry[] => structuredClone(s.plan.slice(0, closeAt + 1));
const openPlan = (): PlannedEntry[] => structuredClone(s.plan.slice(0, closeAt));

/** The fixture key with counters on its decryption methods. */
function spiedKey() {
  // The share's secret s is read once by the service's constructor (check 13.3a), then only to
  // decrypt (spec §13.4): counting the later reads counts decryptions.
  const real = shareFixture('a');
  const spy = { opens: 0, decrypts: 0, armed: false };
  const sk: KeyShare = { index: real.index, get s() { if (spy.armed) spy.opens++; spy.armed = true; return real.s; } };
  return { sk, spy };
}

function captureLog(): { logger: VerifierLogger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push(JSON.stringify({ level, ...obj, msg }));
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

function service(board: BoardAccess, extra: { pollMs?: number; now?: () => number } = {}) {
  const { sk, spy } = spiedKey();
  const { logger, lines } = captureLog();
  const svc = new TallyService({ share: sk, election, board, logger, ...extra });
  return { svc, spy, lines };
}

const countsOf = (svc: TallyService) =>
  svc.results?.questions.map((q) => ({ question: q.id, counts: Object.fromEntries(q.options.map((o) => [o.id, o.count])) }));

async function fullAudit(board: MemoryBoard) {
  const recs = board.snapshot();
  return audit(stream(recs), { reopen: () => stream(recs) });
}

function resign(b: Ballot, secretKey: Uint8Array): { ballot: Ballot; tracker: Uint8Array } {
  const body = ballotBody(election, b);
  const signature = ed25519Sign(ballotSigningMessage(body), secretKey);
  return { ballot: { ...b, signature }, tracker: ballotTracker(body, signature) };
}

async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('a closed board is re-verified, tallied with proof and published; the full audit then passes', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const { svc, spy, lines } = service(board);
  t.equal(svc.results, undefined, 'no results before the tally');
  t.same(await svc.tallyOnce(), { outcome: 'tallied', ballotsCounted: 4 }, 'tallied: 4 ballots counted (the revote replaced one)');
  t.equal(board.submissions.length, 1, 'submitted once');
  t.equal(spy.opens, 1, 'one decryption: the one question’s product, never a single ballot');
  t.same(countsOf(svc), [{ question: 'mayor', counts: EXPECTED }], 'results by option id');
  t.equal(svc.results?.ballotsCounted, 4);
  t.equal(svc.state, 'tallied');
  t.equal(svc.phase, 'tallied');

  // The published entries are the honest tally: the encrypted tally and the result are
  // deterministic, and so is each c_i of the partial decryption (its proof is randomized).
  const mine = board.plan.slice(-3);
  const honestTail = s.plan.slice(-3);
  t.same(mine.map((p) => p.type), ['encrypted-tally', 'partial-decryption', 'result'], 'encrypted tally, partial decryption, result');
  t.same([mine[0]!.payload, mine[2]!.payload], [honestTail[0]!.payload, honestTail[2]!.payload], 'same encrypted tally and result as the honest tally');
  const ciOf = (p: unknown) => (p as { partials: { ci: string }[] }).partials.map((x) => x.ci);
  t.same(ciOf(mine[1]!.payload), ciOf(honestTail[1]!.payload), 'same c_i as the honest partial decryption');
  const r = await fullAudit(board);
  t.ok(r.ok, 'the resulting board passes the audit');
  t.same(r.steps.map((x) => x.status), new Array(10).fill('pass'), 'all ten steps pass');
  t.same(r.results, [{ question: 'mayor', counts: EXPECTED }], 'the auditor decodes the same counts');
  t.match(lines.join('\n'), /tally combined and published/);

  t.same(await svc.tallyOnce(), { outcome: 'already-tallied' }, 'a second attempt: already tallied');
  t.equal(board.calls.submit, 1, 'nothing submitted the second time');
  t.equal(spy.opens, 1, 'nothing decrypted the second time');
  t.same(countsOf(svc), [{ question: 'mayor', counts: EXPECTED }], 'results kept');
});

t.test('concurrent attempts share one in-flight tally', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const { svc, spy } = service(board);
  const a = svc.tallyOnce();
  const b = svc.tallyOnce();
  t.equal(a, b, 'the same promise');
  t.equal(svc.state, 'tallying');
  t.same(await a, { outcome: 'tallied', ballotsCounted: 4 });
  t.equal(board.calls.submit, 1, 'one submission');
  t.equal(spy.opens, 1, 'one decryption');
});

t.test('a forged board is REFUSED: nothing decrypted, nothing submitted', async (t) => {
  const refused = async (t: Test, plan: PlannedEntry[], step: number, check: string, msg: string) => {
    const board = memoryBoardAccess(election, plan);
    const { svc, spy, lines } = service(board);
    const o = await svc.tallyOnce();
    t.equal(o.outcome, 'refused', `${msg}: refused`);
    const f = o.outcome === 'refused' ? o.failures[0] : undefined;
    t.equal(f?.step, step, `${msg}: step ${step}`);
    t.equal(f?.check, check, `${msg}: check ${check} (${f?.reason})`);
    t.equal(spy.opens + spy.decrypts, 0, `${msg}: nothing decrypted`);
    t.equal(board.calls.submit, 0, `${msg}: nothing submitted`);
    t.equal(svc.results, undefined, `${msg}: no results`);
    t.equal(svc.state, 'refused', `${msg}: state refused`);
    t.match(lines.join('\n'), /REFUSING TO DECRYPT/, `${msg}: logged loudly`);
  };
  const victim = s.ballots[0]!.ballot;

  // As in test/auditor.test.ts: voter 3 copies voter 0's answers and signs them with its own token.
  const copied = closedPlan();
  {
    const own = createBallot(election, [[1]], s.tokens[3]!);
    const forged = resign({ ...own.ballot, answers: victim.answers }, s.tokens[3]!.secretKey);
    copied[ballotHeights[3]!]!.payload = ballotPayload(election, forged.ballot, forged.tracker) as unknown as JsonValue;
  }
  await refused(t, copied, 6, '5.4f', 'a ballot whose proof is for another token');

  // The attack the rule is for: the victim's ciphertext raised to a power, in a validly signed ballot.
  const powered = closedPlan();
  {
    const own = s.ballots[3]!.ballot;
    const c = victim.answers[0]!.c;
    const answers = [{ ...own.answers[0]!, c: (c * c * c) % election.paillier.n2 }];
    const forged = resign({ ...own, answers }, s.tokens[3]!.secretKey);
    powered[ballotHeights[3]!]!.payload = ballotPayload(election, forged.ballot, forged.tracker) as unknown as JsonValue;
  }
  const o = await (async () => {
    const board = memoryBoardAccess(election, powered);
    const { svc, spy } = service(board);
    const res = await svc.tallyOnce();
    t.equal(spy.opens + spy.decrypts, 0, "a victim's ciphertext cubed: nothing decrypted");
    t.equal(board.calls.submit, 0, "a victim's ciphertext cubed: nothing submitted");
    return res;
  })();
  t.equal(o.outcome, 'refused', "a victim's ciphertext cubed: refused");
  t.equal(o.outcome === 'refused' ? o.failures[0]?.step : undefined, 6, 'at step 6 (ballot validity)');

  // A ballot after the close (the board does not end at its close).
  const late = closedPlan();
  {
    const b = createBallot(election, [[2]], s.tokens[2]!);
    late.push({ type: 'ballot', payload: ballotPayload(election, b.ballot, b.tracker) as unknown as JsonValue, timestamp: late[late.length - 1]!.timestamp });
  }
  await refused(t, late, 8, '8b', 'a ballot after the close');
});

t.test('a board that changes between the two reads is never decrypted', async (t) => {
  const honest = buildBoard(election, closedPlan());
  // The operator serves, on the second read, another ciphertext in the REPLACED ballot (voter 1's
  // first), re-chained and re-signed: the auditor's second pass divides it out unchecked.
  const forgedPlan = closedPlan();
  {
    const replaced = s.ballots[1]!.ballot;
    const c = s.ballots[0]!.ballot.answers[0]!.c;
    const ballot = { ...replaced, answers: [{ ...replaced.answers[0]!, c: (c * c) % election.paillier.n2 }] };
    forgedPlan[ballotHeights[1]!]!.payload = ballotPayload(election, ballot, s.ballots[1]!.tracker) as unknown as JsonValue;
  }
  const forged = buildBoard(election, forgedPlan);

  // The auditor itself re-verifies its second read against the first (step 9, check 'reread').
  const bare = await audit(stream(honest), { stage: 'tally', reopen: () => stream(forged) });
  const right = await audit(stream(honest), { stage: 'tally', reopen: () => stream(honest) });
  t.notOk(bare.ok, 'the auditor notices the board changed between its two reads');
  t.same([bare.steps[8]!.status, bare.steps[8]!.failures[0]?.check], ['fail', 'reread'], 'reported in step 9 (reread), even at the tally stage');
  t.match(bare.steps[8]!.failures[0]?.reason ?? '', /changed between two reads/);
  t.equal(bare.tally, undefined, 'and yields no tally');
  t.ok(right.ok && right.tally, 'the same board read twice is fine');

  let reads = 0;
  const submissions: unknown[] = [];
  const board: BoardAccess = {
    status: async () => ({ size: honest.length - 2, phase: 'closed' }),
    records: () => stream(reads++ === 0 ? honest : forged),
    submitEncryptedTally: async (a) => void submissions.push(a),
    submitPartialDecryption: async () => undefined,
    submitResult: async () => undefined,
    checkpoint: () => memoryBoardAccess(election, closedPlan()).checkpoint(),
    consistency: (a, b) => memoryBoardAccess(election, closedPlan()).consistency(a, b),
  };
  const { svc, spy } = service(board);
  const outcome = await svc.tallyOnce();
  t.equal(outcome.outcome, 'refused', 'the re-read is checked against the first read: refused');
  t.equal(reads, 2, 'both reads happened');
  t.equal(spy.opens + spy.decrypts, 0, 'nothing decrypted');
  t.same(submissions, [], 'nothing submitted');

  // A re-read that stops short of the close is refused the same way.
  let reads2 = 0;
  const short: BoardAccess = { ...board, records: () => stream(reads2++ === 0 ? honest : honest.slice(0, ballotHeights[3]! + 1)) };
  const second = service(short);
  t.equal((await second.svc.tallyOnce()).outcome, 'refused', 'a truncated re-read is refused');
  t.equal(second.spy.opens + second.spy.decrypts, 0, 'nothing decrypted');
});

t.test('an election that is not closed: not-closed, the board is not even read', async (t) => {
  const open = memoryBoardAccess(election, openPlan());
  const a = service(open);
  t.same(await a.svc.tallyOnce(), { outcome: 'not-closed', phase: 'open' });
  t.equal(open.calls.records, 0, 'no read');
  t.equal(a.svc.state, 'pending');
  t.equal(a.svc.phase, 'open');

  const scheduled = memoryBoardAccess(election, openPlan().slice(0, 1), { now: () => election.startMs - 1 });
  const b = service(scheduled);
  t.same(await b.svc.tallyOnce(), { outcome: 'not-closed', phase: 'scheduled' });
  t.equal(b.spy.opens + b.spy.decrypts + open.calls.submit + scheduled.calls.submit, 0, 'nothing decrypted or submitted');
});

t.test('start() on an already closed board tallies without any admin action', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const { svc } = service(board, { now: () => election.endMs + 60_000 });
  svc.start();
  svc.start(); // idempotent
  await until(() => board.submissions.length === 1 && !svc.polling);
  t.equal(svc.state, 'tallied');
  t.same(countsOf(svc), [{ question: 'mayor', counts: EXPECTED }]);
  t.equal(board.calls.submit, 1, 'one submission');
  await svc.stop();
});

t.test('start() before the end: watches the board every pollMs (recording its checkpoints), then tallies once closed', async (t) => {
  const plan = openPlan();
  const board = memoryBoardAccess(election, plan);
  const clock = { now: election.endMs - 150 };
  const { svc } = service(board, { pollMs: 20, now: () => clock.now });
  svc.start();
  await until(() => board.calls.status === 1);
  t.equal(svc.phase, 'open', 'tried at once: open');
  await until(() => board.calls.checkpoint >= 2, 5000);
  t.ok(board.calls.checkpoint >= 2, 'while open, each poll reads the board checkpoint (spec §8.5)');
  clock.now = election.endMs + 1;
  await until(() => board.calls.status >= 4, 5000);
  t.equal(board.calls.submit, 0, 'nothing submitted while open');
  plan.push(structuredClone(s.plan[closeAt]!)); // the ballot server closes the election
  await until(() => board.submissions.length === 1 && !svc.polling);
  t.equal(svc.state, 'tallied');
  await svc.stop();
});

t.test('stop() ends polling', async (t) => {
  const board = memoryBoardAccess(election, openPlan());
  const { svc } = service(board, { pollMs: 10, now: () => election.endMs + 1 });
  svc.start();
  await until(() => board.calls.status >= 2);
  await svc.stop();
  const n = board.calls.status;
  await new Promise((r) => setTimeout(r, 60));
  t.equal(board.calls.status, n, 'no poll after stop()');
  t.notOk(svc.polling);
});

t.test('published by another run meanwhile: CONFLICT means already tallied; the published result is loaded after verifying it', async (t) => {
  const published = memoryBoardAccess(election, structuredClone(s.plan));
  const closed = memoryBoardAccess(election, closedPlan());
  let view: MemoryBoard = closed;
  const racy: BoardAccess = {
    status: () => view.status(),
    records: () => view.records(),
    submitEncryptedTally: async (a) => {
      view = published;
      return published.submitEncryptedTally(a);
    },
    submitPartialDecryption: (a) => view.submitPartialDecryption(a),
    submitResult: (a) => view.submitResult(a),
    checkpoint: () => view.checkpoint(),
    consistency: (a, b) => view.consistency(a, b),
  };
  const { svc } = service(racy);
  t.same(await svc.tallyOnce(), { outcome: 'already-tallied' });
  t.equal(published.calls.submit, 1, 'the submission was tried');
  t.equal(published.submissions.length, 0, 'and refused');
  t.same(countsOf(svc), [{ question: 'mayor', counts: EXPECTED }], 'the published results are served');
  t.equal(svc.state, 'tallied');
});

t.test('a board tallied before start-up: nothing decrypted; the published result is served only if it verifies', async (t) => {
  const good = memoryBoardAccess(election, structuredClone(s.plan));
  const a = service(good);
  a.svc.start();
  await until(() => !a.svc.polling);
  t.equal(a.svc.state, 'tallied');
  t.equal(a.spy.opens + a.spy.decrypts, 0, 'nothing decrypted');
  t.equal(good.calls.submit, 0, 'nothing submitted');
  t.same(countsOf(a.svc), [{ question: 'mayor', counts: EXPECTED }], 'published results, verified');
  t.equal(a.svc.results?.questions[0]?.proof.c, (s.plan[closeAt + 1]!.payload as { ciphertexts: string[] }).ciphertexts[0], 'with the proof');

  const tampered = structuredClone(s.plan.slice(0, closeAt));
  appendTally(election, tampered, election.endMs, (res) => res.map((r) => ({ ...r, T: r.T + 1n })));
  const bad = memoryBoardAccess(election, tampered);
  const b = service(bad);
  t.same(await b.svc.tallyOnce(), { outcome: 'already-tallied' });
  t.equal(b.svc.results, undefined, 'a published result that does not verify is not served');
  t.match(b.lines.join('\n'), /does NOT verify/, 'and it is logged');
  b.svc.start();
  await until(() => !b.svc.polling);
  t.equal(b.svc.results, undefined, 'the poller stops without serving it');
  t.equal(b.spy.opens + b.spy.decrypts + bad.calls.submit, 0, 'nothing decrypted or submitted');
});

t.test('a board of another election is refused', async (t) => {
  const other = manifestJson({ ...spec, electionId: 'another-election' });
  const plan: PlannedEntry[] = [
    { type: 'setup', payload: setupPayload(other) as unknown as JsonValue, timestamp: T0 },
    { type: 'close', payload: closePayload({ reason: 'schedule', ballots: 0 }) as unknown as JsonValue, timestamp: election.endMs },
  ];
  const board = memoryBoardAccess(election, plan);
  const { svc, spy } = service(board);
  const o = await svc.tallyOnce();
  t.equal(o.outcome, 'refused');
  t.equal(o.outcome === 'refused' ? o.failures[0]?.check : undefined, 'election', 'the fingerprint differs');
  t.equal(spy.opens + spy.decrypts + board.calls.submit, 0, 'nothing decrypted or submitted');
});

t.test('an election without ballots tallies to zero', async (t) => {
  const plan: PlannedEntry[] = [
    { type: 'setup', payload: setupPayload(manifestJson(spec)) as unknown as JsonValue, timestamp: T0 },
    { type: 'close', payload: closePayload({ reason: 'schedule', ballots: 0 }) as unknown as JsonValue, timestamp: election.endMs },
  ];
  const board = memoryBoardAccess(election, plan);
  const { svc } = service(board);
  t.same(await svc.tallyOnce(), { outcome: 'tallied', ballotsCounted: 0 });
  t.same(countsOf(svc), [{ question: 'mayor', counts: { 'mayor-o0': 0, 'mayor-o1': 0, 'mayor-o2': 0 } }]);
  const r = await fullAudit(board);
  t.ok(r.ok, 'the audit passes');
});

t.test('construction: the key must be the election’s', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  throwsCode(t, () => new TallyService({ secretKey: paillierFixture('b'), election, board }), 'BAD_PRIVATE_KEY', 'another key');
  throwsCode(t, () => new TallyService({ share: shareFixture('b'), election, board }), 'BAD_PRIVATE_KEY', 'a share of another key (13.3a)');
  throwsCode(t, () => new TallyService({ share: shareFixture('a'), election, board, pollMs: 0 }), 'OUT_OF_RANGE', 'pollMs 0');
  const svc = new TallyService({ share: shareFixture('a'), election, board });
  const p = shareFixture('a').s.toString(16);
  const json = JSON.stringify(svc, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v));
  t.notMatch(json, p, 'the key is not serialized');
  const { inspect } = await import('node:util');
  t.notMatch(inspect(svc, { depth: 5 }), p, 'nor shown by inspect');
});
