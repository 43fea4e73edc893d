/**
 * The verification server's HTTP surface (src/verifier/app.ts), through `app.inject()` over an
 * in-memory board: health, results (404 before the tally, the counts and the decryption proof
 * after), the admin route and its bearer token, refusals and an unavailable board as responses,
 * the OpenAPI document — and that the secret key (p, q) and the admin token appear in no log
 * line and no response.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { TallyError } from '../src/errors.js';
import { createBallot } from '../src/election/ballot.js';
import { ballotPayload } from '../src/election/records.js';
import { buildVerifierApp } from '../src/verifier/app.js';
import type { BoardAccess } from '../src/verifier/board-access.js';
import { TallyService, type VerifierLogger } from '../src/verifier/tally-service.js';
import { scenario, type PlannedEntry } from './helpers/election-board.js';
import { paillierFixture, shareFixture } from './helpers/fixtures.js';
import { memoryBoardAccess } from './helpers/verifier-board.js';

const spec = { electionId: 'verifier-app', revoting: true, maxVoters: 10, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] };
const s = scenario(spec, [[[0]], [[2]], [[1]]], [{ voter: 1, selection: [[0]] }]);
const election = s.election;
const closeAt = s.plan.findIndex((p) => p.type === 'close');
const closedPlan = (): PlannedEntry[] => structuredClone(s.plan.slice(0, closeAt + 1));
const ADMIN = 'admin-token-0123456789abcdef';

const secret = paillierFixture('a').toJSON();
// p, q, and the server's one share s_1 = d (derived from them; spec §13.11), hex and decimal.
const share = shareFixture('a').s;
const SECRETS = [secret.p, secret.q, BigInt(`0x${secret.p}`).toString(10), BigInt(`0x${secret.q}`).toString(10), share.toString(16), share.toString(10)];

/** Everything the server said: log lines (app and service) and response payloads. */
const said: string[] = [];

function setup(board: BoardAccess) {
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      said.push(chunk.toString('utf8'));
      cb();
    },
  });
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void said.push(JSON.stringify({ level, ...obj, msg }));
  const logger: VerifierLogger = { info: at('info'), warn: at('warn'), error: at('error') };
  const service = new TallyService({ secretKey: paillierFixture('a'), election, board, logger });
  const app = buildVerifierApp({ service, adminToken: ADMIN, logger: { level: 'trace', stream: logStream } });
  return { app, service };
}

async function call(app: FastifyInstance, method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const res = await app.inject({ method, url, headers });
  said.push(JSON.stringify(res.headers), res.payload);
  return res;
}
const admin = { authorization: `Bearer ${ADMIN}` };

t.test('results: 404 before the tally; the admin route requires its token; the tally; results with proofs after', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const { app } = setup(board);
  await app.ready();

  const h0 = await call(app, 'GET', '/api/verifier/health');
  t.equal(h0.statusCode, 200);
  t.same(h0.json(), { status: 'ok', tally: 'pending' }, 'health before anything ran');

  const r0 = await call(app, 'GET', '/api/verifier/results');
  t.equal(r0.statusCode, 404, 'results 404 before the tally');
  t.equal((r0.json() as { error: { code: string } }).error.code, 'NOT_FOUND');

  for (const [what, headers] of [
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer admin-token-0123456789abcdeX' }],
    ['a prefix of the token', { authorization: `Bearer ${ADMIN.slice(0, -1)}` }],
    ['another scheme', { authorization: `Basic ${ADMIN}` }],
  ] as const) {
    const res = await call(app, 'POST', '/admin/tally', headers);
    t.equal(res.statusCode, 401, `${what}: 401`);
    t.equal((res.json() as { error: { code: string } }).error.code, 'UNAUTHORIZED', `${what}: UNAUTHORIZED`);
  }
  t.equal(board.calls.status + board.calls.submit, 0, 'an unauthenticated request does nothing');

  const res = await call(app, 'POST', '/admin/tally', admin);
  t.equal(res.statusCode, 200, 'admin tally 200');
  t.same(res.json(), { outcome: 'tallied', ballotsCounted: 3 }, 'tallied, the revote applied');
  t.equal(board.submissions.length, 1);

  const h1 = await call(app, 'GET', '/api/verifier/health');
  t.same(h1.json(), { status: 'ok', phase: 'tallied', tally: 'tallied' }, 'health after');

  const r1 = await call(app, 'GET', '/api/verifier/results');
  t.equal(r1.statusCode, 200, 'results 200 after the tally');
  const body = r1.json() as {
    electionId: string;
    fingerprint: string;
    ballotsCounted: number;
    questions: { id: string; title: string; options: { id: string; title: string; count: number }[]; proof: { c: string; T: string; R: string } }[];
  };
  t.equal(body.electionId, 'verifier-app');
  t.equal(body.fingerprint, election.fingerprintHex);
  t.equal(body.ballotsCounted, 3);
  t.same(body.questions.map((q) => [q.id, q.title, q.options.map((o) => [o.id, o.title, o.count])]), [
    ['mayor', 'Question mayor', [['mayor-o0', 'Option 0', 2], ['mayor-o1', 'Option 1', 1], ['mayor-o2', 'Option 2', 0]]],
  ]);
  const proof = body.questions[0]!.proof;
  t.same(Object.keys(proof).sort(), ['T', 'c'], 'c and its plaintext T (the board holds the partial decryptions that prove T)');
  t.equal(proof.c, (board.plan[closeAt + 1]!.payload as { ciphertexts: string[] }).ciphertexts[0], 'c is the published encrypted tally');

  const again = await call(app, 'POST', '/admin/tally', admin);
  t.same(again.json(), { outcome: 'already-tallied' }, 'a second admin tally');
  t.equal(board.calls.submit, 1, 'submitted once');
  await app.close();
});

t.test('a refused board and an unavailable board, as responses', async (t) => {
  const plan = closedPlan();
  const ballotAt = plan.findIndex((p) => p.type === 'ballot');
  // Voter 2's ballot carrying voter 0's answers (an operator's forgery): fails step 6.
  const own = createBallot(election, [[1]], s.tokens[2]!);
  const victim = s.ballots[0]!.ballot;
  plan[ballotAt + 2]!.payload = ballotPayload(election, { ...own.ballot, answers: victim.answers }, own.tracker) as unknown as JsonValue;
  const board = memoryBoardAccess(election, plan);
  const { app } = setup(board);
  const res = await call(app, 'POST', '/admin/tally', admin);
  t.equal(res.statusCode, 200);
  const o = res.json() as { outcome: string; failures: { step: number; check: string; reason: string; height: number }[] };
  t.equal(o.outcome, 'refused', 'refused');
  t.equal(o.failures[0]?.step, 6, 'at step 6');
  t.equal(o.failures[0]?.height, ballotAt + 2, 'at the forged ballot');
  t.equal(board.calls.submit, 0, 'nothing submitted');
  const h = await call(app, 'GET', '/api/verifier/health');
  t.same(h.json(), { status: 'ok', phase: 'closed', tally: 'refused' });
  t.equal((await call(app, 'GET', '/api/verifier/results')).statusCode, 404, 'no results');
  await app.close();

  const down: BoardAccess = {
    status: async () => {
      throw new TallyError('BOARD_UNAVAILABLE', 'board status: cannot reach the ballot server at http://127.0.0.1:1');
    },
    records: () => {
      throw new Error('unreachable');
    },
    submitEncryptedTally: async () => undefined,
    submitPartialDecryption: async () => undefined,
    submitResult: async () => undefined,
    checkpoint: async () => {
      throw new TallyError('BOARD_UNAVAILABLE', 'board checkpoint: cannot reach the ballot server at http://127.0.0.1:1');
    },
    consistency: async () => {
      throw new TallyError('BOARD_UNAVAILABLE', 'consistency proof: cannot reach the ballot server at http://127.0.0.1:1');
    },
  };
  const d = setup(down);
  const r = await call(d.app, 'POST', '/admin/tally', admin);
  t.equal(r.statusCode, 503, '503');
  t.equal((r.json() as { error: { code: string } }).error.code, 'BOARD_UNAVAILABLE');
  await d.app.close();
});

t.test('OpenAPI document, unknown routes, closing stops the poller', async (t) => {
  const board = memoryBoardAccess(election, closedPlan().slice(0, closeAt));
  const { app, service } = setup(board);
  const doc = await call(app, 'GET', '/api/verifier/openapi.json');
  t.equal(doc.statusCode, 200);
  const spec = doc.json() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  t.match(spec.openapi, /^3\./);
  t.same(Object.keys(spec.paths).sort(), ['/admin/tally', '/api/verifier/health', '/api/verifier/results']);
  t.ok(spec.paths['/api/verifier/results']?.get?.responses['200'], 'results response documented');
  t.match(doc.payload, /TallyErrorResponse/, 'the shared error schema');

  const nf = await call(app, 'GET', '/api/verifier/nothing');
  t.equal(nf.statusCode, 404);
  t.equal((nf.json() as { error: { code: string } }).error.code, 'NOT_FOUND');

  service.start();
  t.ok(service.polling, 'polling');
  await app.close();
  t.notOk(service.polling, 'closing the app stops the poller');
});

t.test('a short admin token is refused at build time', async (t) => {
  const service = new TallyService({ secretKey: paillierFixture('a'), election, board: memoryBoardAccess(election, closedPlan()) });
  t.throws(() => buildVerifierApp({ service, adminToken: 'short' }), RangeError);
});

t.test('the secret key and the admin token appear in no log line and no response', async (t) => {
  const all = said.join('\n');
  t.ok(all.length > 1000 && /"level":(30|"info")/.test(all), `logs and responses were captured (${said.length} items)`);
  t.match(all, /tally combined and published/, 'the service log is included');
  t.match(all, /"reqId"/, 'the request log is included');
  for (const x of SECRETS) t.notOk(all.includes(x), `no ${x.slice(0, 8)}… (p or q, hex or decimal)`);
  t.notOk(all.includes(ADMIN), 'no admin token');
  t.notOk(all.includes(ADMIN.slice(0, -1)), 'no near-token either');
});
