/**
 * The ballot server (issue #4): casting with its checks in order and their status codes,
 * receipts that verify, no trace of a refused ballot, the revote rule, the close (including a
 * ballot in flight), idempotent issuance records, the tally submission, a restart that loses
 * nothing, and a final board the auditor accepts.
 */
import { recordTestIssuance, TestRegister, testRef } from './helpers/register.js';
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { LevelBoardStore } from '../bulletin/store/level.js';
import type { BoardStore } from '../bulletin/store/interface.js';
import { BallotBox } from '../src/ballot/ballot-box.js';
import { buildBallotApp } from '../src/ballot/app.js';
import { verifyReceipt } from '../src/ballot/receipt.js';
import { ballotToJson, createBallot, ballotBody, ballotSigningMessage } from '../src/election/ballot.js';
import { ed25519Sign } from '../src/crypto/ed25519.js';
import { decryptTally } from '../src/election/tally.js';
import { encryptedTallyPayload, resultPayload } from '../src/election/records.js';
import { toHex } from '../src/wire.js';
import { audit } from '../auditor/audit.js';
import { boardKeyFixture, fixtureElection, fixtureToken, shareFixture, type ElectionSpec } from './helpers/fixtures.js';
import { flipHexDigit } from './helpers/mutate.js';
import { rejectsCode } from './helpers/assert.js';
import { boardRecordsFromLines } from './helpers/board-records.js';
import type { Election } from '../src/election/manifest.js';

const ADMIN = 'admin-token-0123456789';
const SERVICE = 'service-token-0123456789';
const OPEN = Date.parse('2026-06-01T12:00:00.000Z');

/** `issued`: token issuances recorded first (idempotent per reference, so a reopen adds none). */
async function setup(spec: ElectionSpec = {}, store: BoardStore = new MemoryBoardStore(), issued = 0) {
  const election = fixtureElection({ electionId: 'ballot-test', ...spec });
  const clock = { now: OPEN };
  const board = await Board.open(store, { electionId: election.manifest.electionId, boardSecretKey: boardKeyFixture().secretKey, now: () => clock.now });
  const box = await BallotBox.open({ board, election, now: () => clock.now });
  // A new ballot needs an issuance on the board before it (check 7c at every prefix).
  for (let i = 0; i < issued; i++) await recordTestIssuance(box, new Uint8Array(32).fill(i + 1));
  const app = buildBallotApp({ box, adminToken: ADMIN, serviceToken: SERVICE, autoClose: false });
  return { election, clock, board, box, app };
}

const vote = (election: Election, sel: number[][] = [[0]]) => createBallot(election, sel, fixtureToken(election));
const post = (app: Awaited<ReturnType<typeof setup>>['app'], body: unknown) => app.inject({ method: 'POST', url: '/api/ballots', payload: body as object });

t.test('a valid ballot gets a receipt that verifies', async (t) => {
  const { election, app, board } = await setup({}, undefined, 1);
  const b = vote(election, [[2]]);
  const res = await post(app, ballotToJson(election, b.ballot));
  t.equal(res.statusCode, 201);
  const receipt = res.json();
  t.equal(receipt.tracker, toHex(b.tracker));
  t.equal(receipt.height, 3, 'height 3: entry 0 is the setup, entry 1 the register, entry 2 the issuance');
  t.has(verifyReceipt(election, receipt), { ok: true, tracker: toHex(b.tracker), height: 3, treeSize: 4, witnesses: { valid: [], quorum: 0, hasQuorum: false } });
  const again = await app.inject({ method: 'GET', url: `/api/ballots/${receipt.tracker}` });
  t.equal(again.statusCode, 200);
  t.ok(verifyReceipt(election, again.json()).ok, 'receipt looked up by tracker verifies');
  t.equal(board.size, 4);
  const tampered = structuredClone(receipt);
  tampered.entry.payload.tracker = flipHexDigit(tampered.entry.payload.tracker, 3);
  t.equal(verifyReceipt(election, tampered).ok, false, 'a tampered receipt fails');
  t.equal((await app.inject({ method: 'GET', url: `/api/ballots/${'0'.repeat(64)}` })).statusCode, 404);
  await app.close();
});

t.test('refusals: typed errors in the issue’s order, never a 500, no trace on the board', async (t) => {
  const { election, app, board, clock } = await setup({}, undefined, 1);
  const good = vote(election);
  const json = ballotToJson(election, good.ballot);
  const cases: [string, () => unknown, number, string, (() => void)?][] = [
    ['not yet open', () => json, 425, 'ELECTION_NOT_OPEN', () => (clock.now = election.startMs - 1)],
    ['after the end time', () => json, 410, 'ELECTION_CLOSED', () => (clock.now = election.endMs)],
    ['forged token signature', () => ({ ...json, token: { ...json.token, signature: flipHexDigit(json.token.signature, 20) } }), 403, 'BAD_TOKEN'],
    ['ballot signature broken', () => ({ ...json, signature: flipHexDigit(json.signature, 7) }), 403, 'BAD_BALLOT_SIGNATURE'],
    ['malformed proof (wrong hex length)', () => ({ ...json, answers: [{ ...json.answers[0]!, c: json.answers[0]!.c.slice(2) }] }), 400, 'MALFORMED'],
    ['wrong number of answers', () => ({ ...json, answers: [] }), 400, 'MALFORMED'],
    ['unknown field', () => ({ ...json, extra: 1 }), 400, 'MALFORMED'],
    ['another election', () => ({ ...json, election: flipHexDigit(json.election, 0) }), 422, 'WRONG_ELECTION'],
  ];
  for (const [name, body, status, code, before] of cases) {
    clock.now = OPEN;
    before?.();
    const res = await post(app, body());
    t.equal(res.statusCode, status, `${name}: ${status}`);
    t.equal(res.json().error?.code, code, `${name}: ${code}`);
  }
  clock.now = OPEN;
  const notJson = await app.inject({ method: 'POST', url: '/api/ballots', headers: { 'content-type': 'application/json' }, payload: '{"election":' });
  t.equal(notJson.statusCode, 400, 'broken JSON: 400');
  // An invalid proof, re-signed by the token holder: 422 naming the question.
  const token = fixtureToken(election);
  const enc = createBallot(election, [[1]], token);
  const bad = { ...enc.ballot, answers: [{ ...enc.ballot.answers[0]!, c: enc.ballot.answers[0]!.c ^ 4n }] };
  const sig = ed25519Sign(ballotSigningMessage(ballotBody(election, bad)), token.secretKey);
  const res = await post(app, ballotToJson(election, { ...bad, signature: sig }));
  t.equal(res.statusCode, 422);
  t.equal(res.json().error.code, 'INVALID_PROOF');
  t.equal(res.json().error.details.question, 0, 'names the question');
  t.equal(board.size, 3, 'no refused ballot reached the board (setup, register and issuance only)');
  t.equal((await post(app, json)).statusCode, 201, 'the good ballot is still accepted');
  const twice = await post(app, json);
  t.same([twice.statusCode, twice.json().error.code], [409, 'TOKEN_USED'], 'the same ballot twice: 409');
  await app.close();
});

t.test('a second ballot with the same token: refused, or replacing with revoting', async (t) => {
  for (const revoting of [false, true]) {
    const { election, app, box } = await setup({ revoting }, undefined, 1);
    const token = fixtureToken(election);
    const first = createBallot(election, [[0]], token);
    const second = createBallot(election, [[1]], token);
    t.equal((await post(app, ballotToJson(election, first.ballot))).statusCode, 201);
    const res = await post(app, ballotToJson(election, second.ballot));
    if (revoting) {
      t.equal(res.statusCode, 201, 'revoting: accepted');
      t.equal(res.json().replaces, 3, 'receipt says which ballot it replaces');
      t.equal(box.runningTally.ballotsCounted, 1, 'one counted ballot');
      t.same(decryptTally(election, shareFixture('a'), [...box.runningTally.ciphertexts]).result.results[0]!.counts, [0n, 1n, 0n, 0n], 'running tally holds only the second ballot');
    } else {
      t.same([res.statusCode, res.json().error.code], [409, 'TOKEN_USED'], 'no revoting: 409');
    }
    await app.close();
  }
});

t.test('a ballot in flight when the close lands is refused', async (t) => {
  const { election, box, board } = await setup();
  const json = ballotToJson(election, vote(election).ballot);
  const closing = box.close('admin'); // requested first: holds the lock
  const inFlight = box.cast(json); // passes the open check and verifies before the close entry exists
  await closing;
  await rejectsCode(t, inFlight, 'ELECTION_CLOSED', 'the in-flight ballot');
  t.equal(board.size, 2, 'setup and close only');
  t.equal((await board.entryAt(1)).entry.type, 'close');
});

t.test('service and admin routes', async (t) => {
  const { app, box } = await setup();
  const reg = new TestRegister(4);
  const wire = (r: Uint8Array) => {
    const it = reg.item(r);
    return { refs: [{ ref: toHex(it.ref), index: it.index, path: it.path.map(toHex) }] };
  };
  const auth = { authorization: `Bearer ${SERVICE}` };
  t.equal((await app.inject({ method: 'POST', url: '/internal/token-issued', payload: wire(testRef(1)) })).statusCode, 401, 'no service credential');
  const early = await app.inject({ method: 'POST', url: '/internal/token-issued', headers: auth, payload: wire(testRef(1)) });
  t.equal(early.json().error.code, 'CONFLICT', 'no issuance before the register is committed');
  t.equal((await app.inject({ method: 'GET', url: '/api/board/register' })).statusCode, 404, 'no register yet');
  const commit = { voters: reg.tree.size, root: toHex(reg.tree.root) };
  t.equal((await app.inject({ method: 'POST', url: '/internal/register', payload: commit })).statusCode, 401, 'committing needs the credential');
  t.same((await app.inject({ method: 'POST', url: '/internal/register', headers: auth, payload: commit })).json(), { height: 1, existing: false });
  t.same((await app.inject({ method: 'POST', url: '/internal/register', headers: auth, payload: commit })).json(), { height: 1, existing: true }, 'the same commitment again: idempotent');
  const other = await app.inject({ method: 'POST', url: '/internal/register', headers: auth, payload: { ...commit, voters: 3 } });
  t.same([other.statusCode, other.json().error.code], [409, 'REGISTER_MISMATCH'], 'another register is refused');
  t.same((await app.inject({ method: 'GET', url: '/api/board/register' })).json(), { height: 1, ...commit }, 'the register as published');
  const first = await app.inject({ method: 'POST', url: '/internal/token-issued', headers: auth, payload: wire(testRef(1)) });
  t.same(first.json(), { height: 2, count: 1, existing: false });
  const retry = await app.inject({ method: 'POST', url: '/internal/token-issued', headers: auth, payload: wire(testRef(1)) });
  t.same(retry.json(), { height: 2, count: 1, existing: true }, 'idempotent per reference');
  const invented = wire(testRef(2));
  invented.refs[0]!.ref = 'ee'.repeat(32);
  const refused = await app.inject({ method: 'POST', url: '/internal/token-issued', headers: auth, payload: invented });
  t.same([refused.statusCode, refused.json().error.code], [422, 'NOT_IN_REGISTER'], 'a reference outside the register is refused');
  t.equal(box.status.tokensIssued, 1);
  t.same((await app.inject({ method: 'GET', url: `/api/board/issuance/${toHex(testRef(1))}` })).json(), { ref: toHex(testRef(1)), issued: true, height: 2, count: 1 }, "the voter's check: issued, at height 2");
  t.same((await app.inject({ method: 'GET', url: `/api/board/issuance/${toHex(testRef(2))}` })).json(), { ref: toHex(testRef(2)), issued: false }, "the voter's check: not issued");
  t.equal((await app.inject({ method: 'POST', url: '/admin/close', headers: auth })).statusCode, 401, 'the service credential is not the admin one');
  const closed = await app.inject({ method: 'POST', url: '/admin/close', headers: { authorization: `Bearer ${ADMIN}` } });
  t.same(closed.json(), { height: 3, phase: 'closed' });
  const late = await app.inject({ method: 'POST', url: '/internal/token-issued', headers: auth, payload: wire(testRef(3)) });
  t.equal(late.json().error.code, 'ELECTION_CLOSED', 'no issuance after the close');
  const doc = await app.inject({ method: 'GET', url: '/api/openapi.json' });
  t.equal(doc.json().openapi, '3.0.3', 'OpenAPI document served');
  t.ok(doc.json().paths['/api/ballots'], 'documents the ballot route');
  await app.close();
});

t.test('tally submission, results, export, and a full audit of the board', async (t) => {
  const { election, app, box, board } = await setup({ revoting: true, maxVoters: 10 });
  const auth = { authorization: `Bearer ${SERVICE}` };
  const tokens = [0, 1, 2].map(() => fixtureToken(election));
  for (let i = 0; i < tokens.length; i++) {
    await recordTestIssuance(box, testRef(i + 1));
    await post(app, ballotToJson(election, createBallot(election, [[i]], tokens[i]!).ballot));
  }
  await post(app, ballotToJson(election, createBallot(election, [[3]], tokens[0]!).ballot)); // revote
  t.equal((await app.inject({ method: 'GET', url: '/api/results' })).statusCode, 404, 'no results before the tally');
  const tallyBody = () => {
    const c = [...box.runningTally.ciphertexts];
    const { partial, result } = decryptTally(election, shareFixture('a'), c);
    return { encryptedTally: encryptedTallyPayload(election, { ciphertexts: c, ballotsCounted: 3 }), partial, result: resultPayload(election, result) };
  };
  const body = tallyBody();
  const early = await app.inject({ method: 'POST', url: '/internal/encrypted-tally', headers: auth, payload: body.encryptedTally });
  t.equal(early.json().error.code, 'CONFLICT', 'no tally before the close');
  const earlyPartial = await app.inject({ method: 'POST', url: '/api/partial-decryptions', payload: body.partial });
  t.same([earlyPartial.statusCode, earlyPartial.json().error.code], [409, 'TALLY_NOT_READY'], 'no partial decryption before the encrypted tally');
  await box.close('admin');
  const et = await app.inject({ method: 'POST', url: '/internal/encrypted-tally', headers: auth, payload: body.encryptedTally });
  t.equal(et.statusCode, 201, 'the encrypted tally is appended');
  t.equal((await app.inject({ method: 'POST', url: '/internal/encrypted-tally', headers: auth, payload: body.encryptedTally })).json().existing, true, 'the same encrypted tally again: existing');
  const noShares = await app.inject({ method: 'POST', url: '/internal/result', headers: auth, payload: body.result });
  t.same([noShares.statusCode, noShares.json().error.code], [409, 'TOO_FEW_PARTIAL_DECRYPTIONS'], 'no result before k partial decryptions');
  const forged = structuredClone(body.partial) as { trustee: number; partials: { ci: string; e: string; z: string }[] };
  forged.partials[0]!.e = forged.partials[0]!.e.slice(0, -1) + (forged.partials[0]!.e.endsWith('0') ? '1' : '0');
  const refused = await app.inject({ method: 'POST', url: '/api/partial-decryptions', payload: forged });
  t.same([refused.statusCode, refused.json().error.code, refused.json().error.details?.check, refused.json().error.details?.question], [422, 'BAD_PARTIAL_DECRYPTION', '13.4f', 0], 'regression: the ballot server refuses a bad partial decryption at the door');
  const sizeBefore = board.size;
  const pd = await app.inject({ method: 'POST', url: '/api/partial-decryptions', payload: body.partial });
  t.equal(pd.statusCode, 201, 'a valid partial decryption is appended');
  t.equal(board.size, sizeBefore + 1);
  const retry = await app.inject({ method: 'POST', url: '/api/partial-decryptions', payload: body.partial });
  t.same([retry.statusCode, retry.json().existing, retry.json().height, retry.json().hash], [200, true, pd.json().height, pd.json().hash], 'an identical retry returns the existing entry');
  const other = tallyBody().partial; // fresh randomness: another valid entry of the same trustee
  const second = await app.inject({ method: 'POST', url: '/api/partial-decryptions', payload: other });
  t.same([second.statusCode, second.json().error.code], [409, 'CONFLICT'], 'at most one entry per trustee');
  const wrong = structuredClone(body.result) as any;
  wrong.results[0].counts[0] += 1;
  const bad = await app.inject({ method: 'POST', url: '/internal/result', headers: auth, payload: wrong });
  t.same([bad.statusCode, bad.json().error.code], [422, 'BAD_RESULT'], 'a wrong result is refused');
  const ok = await app.inject({ method: 'POST', url: '/internal/result', headers: auth, payload: body.result });
  t.equal(ok.statusCode, 201);
  const late = await app.inject({ method: 'POST', url: '/api/partial-decryptions', payload: other });
  t.same([late.statusCode, late.json().error.code], [410, 'RESULT_PUBLISHED'], 'no partial decryption after the result');
  const twice = await app.inject({ method: 'POST', url: '/internal/result', headers: auth, payload: wrong });
  t.same([twice.statusCode, twice.json().error.code], [409, 'CONFLICT'], 'never published twice');
  const results = (await app.inject({ method: 'GET', url: '/api/results' })).json();
  t.same(results.questions[0].options.map((o: { count: number }) => o.count), [0, 1, 1, 1], 'counts with the revote applied');
  const exp = await app.inject({ method: 'GET', url: '/api/board/export' });
  t.match(exp.headers['content-type'], /ndjson/);
  const lines = exp.body.trimEnd().split('\n');
  t.equal(lines.length, board.size + 2, 'header, every entry, checkpoint');
  const recs = boardRecordsFromLines(lines);
  const report = await audit(recs(), { reopen: recs });
  t.ok(report.ok, `the exported board passes the audit (${report.steps.filter((s) => s.status !== 'pass').map((s) => `${s.step}:${s.failures[0]?.reason}`).join('; ')})`);
  const page = (await app.inject({ method: 'GET', url: '/api/board/entries?from=1&limit=2' })).json();
  t.same([page.from, page.entries.length, page.entries[0].type, page.entries[1].type], [1, 2, 'register', 'token-issued'], 'paged entries');
  const cp = (await app.inject({ method: 'GET', url: '/api/board/checkpoint?size=3' })).json();
  t.equal(cp.treeSize, 3, 'checkpoint at a past size');
  const cons = await app.inject({ method: 'GET', url: `/api/board/proof/consistency?size1=3` });
  t.equal(cons.json().size2, board.size, 'consistency proof to the latest size');
  t.equal((await app.inject({ method: 'GET', url: '/api/board/proof/inclusion?height=999' })).statusCode, 400, 'inclusion proof out of range is a 4xx');
  await app.close();
});

t.test('restart over LevelDB loses nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-ballot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spec = { revoting: false };
  const s1 = await setup(spec, new LevelBoardStore(dir), 2);
  const token = fixtureToken(s1.election);
  const b = createBallot(s1.election, [[1]], token);
  const receipt = (await post(s1.app, ballotToJson(s1.election, b.ballot))).json();
  await post(s1.app, ballotToJson(s1.election, vote(s1.election, [[2]]).ballot));
  const tally1 = s1.box.runningTally;
  await s1.app.close();
  await s1.board.close();

  const s2 = await setup(spec, new LevelBoardStore(dir), 2);
  t.equal(s2.board.size, 6, 'setup, register, two issuances and two ballots');
  t.same(s2.box.runningTally, tally1, 'running tally rebuilt');
  const again = await s2.app.inject({ method: 'GET', url: `/api/ballots/${receipt.tracker}` });
  t.equal(again.statusCode, 200, 'receipt still found');
  const reuse = await post(s2.app, ballotToJson(s2.election, createBallot(s2.election, [[0]], token).ballot));
  t.equal(reuse.json().error?.code, 'TOKEN_USED', 'token reuse still refused after the restart');
  await s2.app.close();
  await s2.board.close();
});
