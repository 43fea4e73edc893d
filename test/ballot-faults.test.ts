/**
 * The ballot server under load and faults (issue 16): the end-time race, cheap refusals of
 * replayed ballots, and the bounded verification queue.
 *
 * Each test pins the behaviour it guards without timing: clocks are injected, verification is
 * counted or held back by the test, never measured.
 */
import { toHex } from '../src/wire.js';
import { recordTestIssuance, TestRegister, testRef } from './helpers/register.js';
import t from 'tap';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { BallotBox, type BallotVerifyFn } from '../src/ballot/ballot-box.js';
import { buildBallotApp } from '../src/ballot/app.js';
import { buildBallotServer } from '../src/server/election-servers.js';
import { ballotToJson, createBallot, verifyBallot } from '../src/election/ballot.js';
import { BoundedQueue } from '../src/http/bounded-queue.js';
import { boardKeyFixture, fixtureElection, fixtureToken } from './helpers/fixtures.js';
import { rejectsCode } from './helpers/assert.js';
import type { Election } from '../src/election/manifest.js';

const ADMIN = 'admin-token-0123456789';
const SERVICE = 'service-token-0123456789';
const END = '2026-06-01T12:00:00.000Z';
const END_MS = Date.parse(END);

async function open(election: Election, clocks: { box: () => number; board: () => number }, verify?: BallotVerifyFn) {
  const board = await Board.open(new MemoryBoardStore(), { electionId: election.manifest.electionId, boardSecretKey: boardKeyFixture().secretKey, now: clocks.board });
  const box = await BallotBox.open({ board, election, now: clocks.box, ...(verify ? { verifyBallot: verify } : {}) });
  // Tokens issued before any ballot (check 7c holds at every prefix, spec §10.2).
  for (let i = 0; i < 8; i++) await recordTestIssuance(box, new Uint8Array(32).fill(i + 1));
  return { board, box };
}

const vote = (election: Election, sel: number[][] = [[0]]) => createBallot(election, sel, fixtureToken(election));

t.test('regression: end-time race — the open decision and the entry timestamp are one clock reading', async (t) => {
  const election = fixtureElection({ electionId: 'race', end: END });
  // The ballot box's own clock reads just before the end; the board's reading, the one that
  // becomes the timestamp, is AT the end. The old code decided "open" on the first and stamped
  // the second: a receipt for an entry that fails check 6d, and an election that can never be
  // tallied.
  const { board, box } = await open(election, { box: () => END_MS - 1, board: () => END_MS });
  const sizeBefore = board.size;
  const b = vote(election);
  let receiptTimestamp: number | undefined;
  try {
    const r = await box.cast(ballotToJson(election, b.ballot));
    receiptTimestamp = r.entry.timestamp;
  } catch (e) {
    t.equal((e as { code?: string }).code, 'ELECTION_CLOSED', 'refused as closed');
  }
  if (receiptTimestamp !== undefined) t.ok(receiptTimestamp < END_MS, `an acknowledged ballot is stamped before the end (got ${receiptTimestamp})`);
  else t.equal(board.size, sizeBefore, 'nothing was written');
  t.equal(receiptTimestamp, undefined, 'with the board clock at the end, the ballot is refused');

  // And just before the end by the board's clock, the same ballot is accepted and stamped so.
  const ok = await open(election, { box: () => END_MS + 5, board: () => END_MS - 1 });
  await rejectsCode(t, ok.box.cast(ballotToJson(election, b.ballot)), 'ELECTION_CLOSED', 'the early advisory check still refuses what the box sees as late');
  const ok2 = await open(election, { box: () => END_MS - 2, board: () => END_MS - 1 });
  const r2 = await ok2.box.cast(ballotToJson(election, b.ballot));
  t.equal(r2.entry.timestamp, END_MS - 1, 'accepted, stamped with the reading that decided');
});

t.test('board append guard: sees the entry timestamp and head, and aborts with nothing written', async (t) => {
  let now = 1_000;
  const board = await Board.open(new MemoryBoardStore(), { electionId: 'guard', boardSecretKey: boardKeyFixture().secretKey, now: () => now });
  await board.append('setup', { a: 1 });
  const seen: { ts: number; head: Uint8Array }[] = [];
  const headBefore = board.head;
  now = 2_000;
  const a = await board.append('close', { b: 2 }, (ts, head) => void seen.push({ ts, head: head.chainHead }));
  t.equal(seen.length, 1);
  t.equal(seen[0]!.ts, a.entry.timestamp, 'the guard saw the timestamp the entry carries');
  t.same(seen[0]!.head, headBefore, 'and the head the entry extends');
  t.same(a.entry.parent, headBefore);
  const size = board.size;
  await t.rejects(board.append('close', { c: 3 }, () => {
    throw new Error('no');
  }), /no/);
  t.equal(board.size, size, 'a throwing guard writes nothing');
  const after = await board.append('close', { d: 4 });
  t.equal(after.entry.height, size, 'the next append takes the height the aborted one did not');
  await board.close();
});

t.test('regression: replay flood is refused before any proof verification', async (t) => {
  const election = fixtureElection({ electionId: 'replay' });
  let verifications = 0;
  const counting: BallotVerifyFn = async (e, b) => {
    verifications++;
    return verifyBallot(e, b);
  };
  const now = () => Date.parse('2026-06-01T00:00:00.000Z');
  const { box } = await open(election, { box: now, board: now }, counting);
  const token = fixtureToken(election);
  const b = createBallot(election, [[0]], token);
  const json = ballotToJson(election, b.ballot);
  await box.cast(json);
  t.equal(verifications, 1, 'the honest ballot was verified (by the injected verifier)');
  for (let i = 0; i < 20; i++) await rejectsCode(t, box.cast(json), 'TOKEN_USED', `replay ${i} refused`);
  t.equal(verifications, 1, 'no replay reached proof verification');

  // Same token, another ballot, without revoting: refused on the token alone (7b).
  const other = createBallot(election, [[1]], token);
  await rejectsCode(t, box.cast(ballotToJson(election, other.ballot)), 'TOKEN_USED', 'second ballot of a used token');
  t.equal(verifications, 1, 'a used token (no revoting) costs no verification either');
});

t.test('regression: verification queue is bounded — 503 SERVER_BUSY with Retry-After when full', async (t) => {
  const election = fixtureElection({ electionId: 'busy' });
  // One verification at a time, one waiting: the test holds the running one back.
  const queue = new BoundedQueue({ concurrency: 1, maxWaiting: 1, what: 'ballot verification' });
  const held: (() => void)[] = [];
  let hold = true;
  const slow: BallotVerifyFn = (e, b) =>
    queue.run(
      () =>
        new Promise((resolve) => {
          const go = () => resolve(verifyBallot(e, b));
          if (hold) held.push(go);
          else go();
        }),
    );
  const now = () => Date.parse('2026-06-01T00:00:00.000Z');
  const { box } = await open(election, { box: now, board: now }, slow);
  const app = buildBallotApp({ box, adminToken: ADMIN, serviceToken: SERVICE, autoClose: false });
  const ballots = [vote(election), vote(election), vote(election)].map((b) => ballotToJson(election, b.ballot));
  const first = app.inject({ method: 'POST', url: '/api/ballots', payload: ballots[0] as object });
  const second = app.inject({ method: 'POST', url: '/api/ballots', payload: ballots[1] as object });
  // Wait until the first is running and the second waits (the queue reports it; no sleeping).
  while (queue.running < 1 || queue.waiting < 1) await new Promise((r) => setImmediate(r));
  const third = await app.inject({ method: 'POST', url: '/api/ballots', payload: ballots[2] as object });
  t.equal(third.statusCode, 503, 'the third is refused while one runs and one waits');
  t.equal(third.json().error.code, 'SERVER_BUSY');
  t.match(third.headers['retry-after'], /^[1-9][0-9]*$/, 'with a Retry-After in whole seconds');
  const health = await app.inject({ method: 'GET', url: '/api/health' });
  t.equal(health.statusCode, 200, 'health answers while verification is saturated');
  hold = false;
  for (const go of held.splice(0)) go();
  t.equal((await first).statusCode, 201);
  // The second started once the first finished, unheld now.
  t.equal((await second).statusCode, 201);
  const retry = await app.inject({ method: 'POST', url: '/api/ballots', payload: ballots[2] as object });
  t.equal(retry.statusCode, 201, 'the refused ballot, retried, is accepted');
  await app.close();
});

t.test('regression: ballot proofs are checked on worker threads in the built ballot server', async (t) => {
  const election = fixtureElection({ electionId: 'workers' });
  const { app, box, workers } = await buildBallotServer(
    { election, boardStore: new MemoryBoardStore(), boardSecretKey: boardKeyFixture().secretKey },
    { credentials: { adminToken: ADMIN, serviceToken: SERVICE }, workers: 1, autoClose: false, now: () => Date.parse('2026-06-01T00:00:00.000Z') },
  );
  // Tokens issued before the ballots (check 7c holds at every prefix, spec §10.2).
  for (let i = 0; i < 2; i++) await recordTestIssuance(box, new Uint8Array(32).fill(i + 1));
  t.ok(workers, 'the server has a worker pool');
  t.equal(workers!.started, false, 'no thread before the server is ready');
  await app.ready();
  t.equal(workers!.started, true, 'threads start when the server is ready');
  const ok = await app.inject({ method: 'POST', url: '/api/ballots', payload: ballotToJson(election, vote(election).ballot) as object });
  t.equal(ok.statusCode, 201);
  const bad = structuredClone(ballotToJson(election, vote(election).ballot)) as unknown as { answers: { proof: { z: string }[] }[] };
  const z = bad.answers[0]!.proof[0]!.z;
  bad.answers[0]!.proof[0]!.z = z.slice(0, -1) + (z.endsWith('1') ? '2' : '1');
  const refused = await app.inject({ method: 'POST', url: '/api/ballots', payload: bad as object });
  t.equal(refused.json().error.code, 'BAD_BALLOT_SIGNATURE', 'a tampered ballot is refused by the worker, as in the main thread');
  t.equal(workers!.dispatched, 2, 'both ballots were verified on the worker thread');
  await app.close();
});

t.test('regression: one credential per role — each service credential opens only its own route', async (t) => {
  const election = fixtureElection({ electionId: 'roles' });
  const now = () => Date.parse('2026-06-01T00:00:00.000Z');
  const { box } = await open(election, { box: now, board: now });
  const before = box.status.tokensIssued;
  const ORG = 'org-credential-0123456789';
  const VERIFIER = 'verifier-credential-0123456789';
  const app = buildBallotApp({ box, adminToken: ADMIN, orgToken: ORG, verifierToken: VERIFIER, autoClose: false });
  const item = new TestRegister(Math.min(election.manifest.maxVoters, 255)).item(testRef(9));
  const payload = { refs: [{ ref: toHex(item.ref), index: item.index, path: item.path.map(toHex) }] };
  const issued = (cred: string) => app.inject({ method: 'POST', url: '/internal/token-issued', payload, headers: { authorization: `Bearer ${cred}` } });
  const commit = (cred: string) => app.inject({ method: 'POST', url: '/internal/register', payload: { voters: 1, root: '00'.repeat(32) }, headers: { authorization: `Bearer ${cred}` } });
  t.equal((await commit(VERIFIER)).statusCode, 401, 'a compromised verification server cannot commit a register');
  const tally = (cred: string) => app.inject({ method: 'POST', url: '/internal/encrypted-tally', payload: {}, headers: { authorization: `Bearer ${cred}` } });
  const result = (cred: string) => app.inject({ method: 'POST', url: '/internal/result', payload: {}, headers: { authorization: `Bearer ${cred}` } });
  t.equal((await issued(VERIFIER)).statusCode, 401, 'a compromised verification server cannot record issuances');
  t.equal((await issued(ADMIN)).statusCode, 401, 'nor can the admin credential');
  t.equal((await issued(ORG)).statusCode, 200, 'the organization can');
  t.equal((await tally(ORG)).statusCode, 401, 'the organization cannot submit a tally');
  t.equal((await result(ORG)).statusCode, 401, 'nor a result');
  t.not((await tally(VERIFIER)).statusCode, 401, 'the verification server passes the credential check of its route');
  t.equal(box.status.tokensIssued, before + 1, 'only the organization’s record was appended');
  await app.close();
});

t.test('regression: the OpenAPI document declares the bearer security of /admin and /internal routes', async (t) => {
  const election = fixtureElection({ electionId: 'openapi' });
  const now = () => Date.parse('2026-06-01T00:00:00.000Z');
  const { box } = await open(election, { box: now, board: now });
  const app = buildBallotApp({ box, adminToken: ADMIN, serviceToken: SERVICE, autoClose: false });
  const doc = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as { paths: Record<string, { post?: { security?: unknown } }> };
  for (const p of ['/admin/close', '/internal/token-issued', '/internal/encrypted-tally', '/internal/result']) t.same(doc.paths[p]?.post?.security, [{ bearer: [] }], `${p} declares its credential`);
  await app.close();
});
