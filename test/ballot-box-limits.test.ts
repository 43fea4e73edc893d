/**
 * The ballot server applies at the door the tallyboard/2 rules the auditor would otherwise fail
 * the whole election on (issue 10.3, 10.5):
 * - a new (non-revote) ballot needs a token issuance on the board for it (check 7c at every
 *   prefix): anyone holding the issuer key could otherwise void the election with one ballot
 *   more than the tokens issued;
 * - mixed-order Ed25519 values (a token key A + T, a ballot signature with R + T) are refused,
 *   because the server uses the one verification procedure of spec §7.3.
 */
import { recordTestIssuance } from './helpers/register.js';
import t from 'tap';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { BallotBox } from '../src/ballot/ballot-box.js';
import { buildBallotApp } from '../src/ballot/app.js';
import { ballotBody, ballotSigningMessage, ballotToJson, createBallot, parseBallot } from '../src/election/ballot.js';
import { toHex } from '../src/wire.js';
import { audit } from '../auditor/audit.js';
import { boardRecordsFromLines } from './helpers/board-records.js';
import { boardKeyFixture, fixtureElection, fixtureToken, seededRng } from './helpers/fixtures.js';
import { ballotForKey } from './helpers/kat.js';
import { mixedOrderKeyAndSignature, signWithTorsionR } from './helpers/ed25519-mixed.js';

const OPEN = Date.parse('2026-06-01T12:00:00.000Z');

async function setup(revoting: boolean) {
  const election = fixtureElection({ electionId: 'ballot-limits', revoting, questions: [{ id: 'q', options: 2, min: 1, max: 1 }] });
  const board = await Board.open(new MemoryBoardStore(), { electionId: election.manifest.electionId, boardSecretKey: boardKeyFixture().secretKey, now: () => OPEN });
  const box = await BallotBox.open({ board, election, now: () => OPEN });
  const app = buildBallotApp({ box, adminToken: 'admin-token-0123456789', serviceToken: 'service-token-0123456789', autoClose: false });
  const post = (body: unknown) => app.inject({ method: 'POST', url: '/api/ballots', payload: body as object });
  return { election, board, box, app, post };
}

t.test('regression: a new ballot beyond the tokens issued is refused at the door (7c); a revote is not', async (t) => {
  const { election, board, box, app, post } = await setup(true);
  await recordTestIssuance(box, new Uint8Array(32).fill(1));
  const a = fixtureToken(election);
  const b = fixtureToken(election);
  t.equal((await post(ballotToJson(election, createBallot(election, [[0]], a).ballot))).statusCode, 201, 'the first token votes');
  const size = board.size;
  const extra = await post(ballotToJson(election, createBallot(election, [[1]], b).ballot));
  t.same([extra.statusCode, extra.json().error.code, extra.json().error.details?.check], [409, 'CONFLICT', '7c'], 'a second token with one issuance: refused');
  t.equal(board.size, size, 'nothing was appended');
  t.equal((await post(ballotToJson(election, createBallot(election, [[1]], a).ballot))).statusCode, 201, 'a revote of the first token is still accepted');
  await recordTestIssuance(box, new Uint8Array(32).fill(2));
  t.equal((await post(ballotToJson(election, createBallot(election, [[1]], b).ballot))).statusCode, 201, 'after a second issuance the second token votes');
  // What the server appended passes 7c at every prefix.
  await app.inject({ method: 'POST', url: '/admin/close', headers: { authorization: 'Bearer admin-token-0123456789' } });
  const lines = (await app.inject({ method: 'GET', url: '/api/board/export' })).body.trimEnd().split('\n');
  const src = boardRecordsFromLines(lines);
  const r = await audit(src(), { reopen: src, stage: 'tally' });
  t.same(r.steps.slice(0, 8).map((s) => s.status), new Array(8).fill('pass'), 'steps 1–8 pass on the board the server wrote');
  await app.close();
});

t.test('regression: the ballot server refuses mixed-order Ed25519 ballots (7.3a, 7.3b)', async (t) => {
  const { election, box, app, post } = await setup(false);
  for (let i = 0; i < 3; i++) await recordTestIssuance(box, new Uint8Array(32).fill(i + 1));
  const rng = seededRng('ballot-box mixed order');
  const token = fixtureToken(election, rng);
  const honest = createBallot(election, [[0]], token, rng);
  const json = ballotToJson(election, honest.ballot) as any;
  json.signature = toHex(signWithTorsionR(token.secretKey, ballotSigningMessage(ballotBody(election, parseBallot(election, json)))));
  const r1 = await post(json);
  t.same([r1.statusCode, r1.json().error.code, r1.json().error.details?.check], [403, 'BAD_BALLOT_SIGNATURE', '6.5d'], 'R + T: refused');
  const seed = rng(32);
  const key = mixedOrderKeyAndSignature(seed, new Uint8Array(0)).publicKey;
  const forged = ballotForKey(election, [[1]], key, (m) => mixedOrderKeyAndSignature(seed, m).signature, rng);
  const r2 = await post(ballotToJson(election, forged));
  t.same([r2.json().error?.code, r2.json().error?.details?.check], ['BAD_TOKEN', '6.5b'], 'token key A + T: refused');
  t.equal((await post(ballotToJson(election, honest.ballot))).statusCode, 201, 'the honest ballot is accepted');
  await app.close();
});
