/**
 * The HTTP board access (src/verifier/board-access.ts) against a small fastify stub of the
 * ballot server on a real loopback port: the status, the streamed JSONL export (written with
 * bulletin's export line functions, served in odd-sized chunks), the tally submission with its
 * bearer token, a whole tally over HTTP that the auditor then accepts, and every way the
 * ballot server can fail — a catalog error body mapped back to its code (409 CONFLICT), a
 * refused service token, a 5xx, a non-protocol answer, a bad export line, an unreachable server
 * and a silent one.
 */
import t from 'tap';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { audit, type BoardRecord } from '../auditor/audit.js';
import { TallyError, isTallyError } from '../src/errors.js';
import { registerErrorHandling } from '../src/http/error-handler.js';
import { httpBoardAccess, type BoardAccess } from '../src/verifier/board-access.js';
import { boardRecords } from '../auditor/source.js';
import { TallyService } from '../src/verifier/tally-service.js';
import { rejectsCode, throwsCode } from './helpers/assert.js';
import { scenario, type PlannedEntry } from './helpers/election-board.js';
import { manifestJson, paillierFixture } from './helpers/fixtures.js';
import { memoryBoardAccess, type MemoryBoard, exportText } from './helpers/verifier-board.js';

const spec = { electionId: 'verifier-http', revoting: true, maxVoters: 10, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] };
const s = scenario(spec, [[[0]], [[2]], [[1]]], [{ voter: 1, selection: [[0]] }]);
const election = s.election;
const closeAt = s.plan.findIndex((p) => p.type === 'close');
const closedPlan = (): PlannedEntry[] => structuredClone(s.plan.slice(0, closeAt + 1));
const SERVICE_TOKEN = 'service-token-0123456789abcdef';


/** Bytes in chunks of `size`, so that lines straddle chunks. */
function* chunked(text: string, size = 777): Generator<Buffer> {
  const b = Buffer.from(text, 'utf8');
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

interface Stub {
  app: FastifyInstance;
  baseUrl: string;
  /** Authorization headers seen, per route */
  auth: { election: (string | undefined)[]; export: (string | undefined)[]; tally: (string | undefined)[] };
  /** change the export (default: the board's export file) */
  exportOverride?: { text?: string; contentType?: string; stall?: boolean };
  failStatus?: { code: number; body: string; contentType: string };
  /** never answer /api/election */
  hang?: boolean;
}

/** A ballot server stub over a memory board, listening on 127.0.0.1 (port chosen by the OS). */
async function stub(board: MemoryBoard): Promise<Stub> {
  const app = Fastify({ forceCloseConnections: true });
  registerErrorHandling(app);
  const st: Stub = { app, baseUrl: '', auth: { election: [], export: [], tally: [] } };
  app.addHook('onRequest', async (_req, reply) => {
    if (st.failStatus) return reply.code(st.failStatus.code).type(st.failStatus.contentType).send(st.failStatus.body);
    return undefined;
  });
  app.get('/api/election', async (req) => {
    st.auth.election.push(req.headers.authorization);
    if (st.hang) return new Promise<never>(() => undefined);
    const { phase, size } = await board.status();
    const ballots = board.plan.filter((p) => p.type === 'ballot').length;
    const tokensIssued = board.plan.filter((p) => p.type === 'token-issued').length;
    return {
      manifest: manifestJson(spec),
      fingerprint: election.fingerprintHex,
      status: { phase, boardSize: size, ballots, ballotsCounted: 3, tokensIssued, serverTime: new Date().toISOString() },
    };
  });
  app.get('/api/board/export', async (req, reply) => {
    st.auth.export.push(req.headers.authorization);
    const o = st.exportOverride;
    const text = o?.text ?? exportText(board.snapshot());
    reply.type(o?.contentType ?? 'application/x-ndjson');
    if (o?.stall) {
      // The first line, then silence.
      const stalled = new Readable({ read() {} });
      stalled.push(text.slice(0, text.indexOf('\n') + 1));
      return reply.send(stalled);
    }
    return reply.send(Readable.from(chunked(text)));
  });
  app.post('/internal/encrypted-tally', async (req, reply) => {
    st.auth.tally.push(req.headers.authorization);
    if (req.headers.authorization !== `Bearer ${SERVICE_TOKEN}`) throw new TallyError('UNAUTHORIZED', 'service credential required');
    await board.submitEncryptedTally(req.body);
    return reply.code(201).send({ height: board.plan.length - 1, existing: false });
  });
  app.post('/api/partial-decryptions', async (req, reply) => {
    await board.submitPartialDecryption(req.body);
    return reply.code(201).send({ height: board.plan.length - 1, hash: '00'.repeat(32), existing: false });
  });
  app.post('/internal/result', async (req, reply) => {
    st.auth.tally.push(req.headers.authorization);
    if (req.headers.authorization !== `Bearer ${SERVICE_TOKEN}`) throw new TallyError('UNAUTHORIZED', 'service credential required');
    await board.submitResult(req.body);
    return reply.code(201).send({ height: board.plan.length - 1, existing: false });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  st.baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return st;
}

async function collect(src: AsyncIterable<BoardRecord>): Promise<BoardRecord[]> {
  const out: BoardRecord[] = [];
  for await (const r of src) out.push(r);
  return out;
}

const access = (baseUrl: string, extra: { serviceToken?: string; timeoutMs?: number } = {}): BoardAccess =>
  httpBoardAccess({ baseUrl, serviceToken: extra.serviceToken ?? SERVICE_TOKEN, ...(extra.timeoutMs !== undefined ? { timeoutMs: extra.timeoutMs } : {}) });

t.test('status and the streamed export', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const st = await stub(board);
  t.teardown(() => st.app.close());
  const b = access(st.baseUrl);
  t.same(await b.status(), { phase: 'closed', size: closeAt + 1 }, 'status');

  const got = await collect(b.records());
  const want = board.snapshot();
  t.equal(got.length, want.length, 'one record per line');
  t.same(got.map((r) => [r.kind, r.line]), want.map((r) => [r.kind, r.line]), 'kinds and line numbers');
  t.same(
    got.map((r) => (r.kind === 'entry' ? Buffer.from(r.hash!).toString('hex') : r.kind)),
    want.map((r) => (r.kind === 'entry' ? Buffer.from(r.hash!).toString('hex') : r.kind)),
    'the same entries',
  );
  // Leaving early (as the auditor's second pass does) releases the response.
  for await (const r of b.records()) if (r.kind === 'entry') break;
  t.same(st.auth.election.concat(st.auth.export), new Array(3).fill(undefined), 'the service token is never sent on public routes');
});

t.test('a whole tally over HTTP; the auditor accepts the result; a second submission is CONFLICT', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const st = await stub(board);
  t.teardown(() => st.app.close());
  const b = access(st.baseUrl);
  const service = new TallyService({ secretKey: paillierFixture('a'), election, board: b });
  t.same(await service.tallyOnce(), { outcome: 'tallied', ballotsCounted: 3 });
  t.equal(board.submissions.length, 1, 'submitted through /internal/encrypted-tally, /api/partial-decryptions, /internal/result');
  t.same(st.auth.tally, [`Bearer ${SERVICE_TOKEN}`, `Bearer ${SERVICE_TOKEN}`], 'with the service token (encrypted tally, result)');
  t.same(await b.status(), { phase: 'tallied', size: closeAt + 4 }, 'close, encrypted tally, partial decryption, result');

  const r = await audit(b.records(), { reopen: () => b.records() });
  t.ok(r.ok, 'the full audit over HTTP passes');
  t.same(r.steps.map((x) => x.status), new Array(10).fill('pass'));
  t.same(r.results, [{ question: 'mayor', counts: { 'mayor-o0': 2, 'mayor-o1': 1, 'mayor-o2': 0 } }]);

  const last = board.submissions[0]!;
  try {
    await b.submitResult(last.result);
    t.fail('expected CONFLICT');
  } catch (e) {
    t.ok(isTallyError(e, 'CONFLICT'), 'the 409 error body becomes TallyError CONFLICT');
    t.match((e as Error).message, /already published/, 'with the ballot server’s message');
    t.same((e as TallyError).details, { upstreamStatus: 409, upstreamCode: 'CONFLICT' });
  }
  t.same(await service.tallyOnce(), { outcome: 'already-tallied' });
  t.equal(board.submissions.length, 1, 'nothing more submitted');
});

t.test('error answers of the ballot server', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const st = await stub(board);
  t.teardown(() => st.app.close());
  const b = access(st.baseUrl);

  await rejectsCode(t, access(st.baseUrl, { serviceToken: 'not-the-service-token' }).submitEncryptedTally({}), 'BOARD_UNAVAILABLE', 'a refused service token is a configuration fault, not the caller’s 401');
  t.equal(board.calls.submit, 0);

  st.failStatus = { code: 500, contentType: 'application/json', body: JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }) };
  await rejectsCode(t, b.status(), 'BOARD_UNAVAILABLE', 'a 5xx error body');
  st.failStatus = { code: 502, contentType: 'text/html', body: '<html>bad gateway</html>' };
  await rejectsCode(t, b.status(), 'BOARD_UNAVAILABLE', 'a proxy’s 502 page');
  await rejectsCode(t, collect(b.records()), 'BOARD_UNAVAILABLE', 'the export behind a failing proxy');
  st.failStatus = { code: 404, contentType: 'text/html', body: '<html>not found</html>' };
  await rejectsCode(t, b.status(), 'BOARD_BAD_RESPONSE', 'a 404 page: not the ballot server');
  st.failStatus = { code: 200, contentType: 'application/json', body: '{"hello":"world"}' };
  await rejectsCode(t, b.status(), 'BOARD_BAD_RESPONSE', 'a 200 that is not a status');
  delete st.failStatus;

  st.exportOverride = { contentType: 'text/plain' };
  await rejectsCode(t, collect(b.records()), 'BOARD_BAD_RESPONSE', 'an export that is not application/x-ndjson');
  delete st.exportOverride;
});

t.test('a bad export line is an audit failure, and the board is refused', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const st = await stub(board);
  t.teardown(() => st.app.close());
  const b = access(st.baseUrl);
  const text = exportText(board.snapshot());
  const lines = text.split('\n');

  st.exportOverride = { text: lines.map((l, i) => (i === 3 ? l.replace('{"hash"', '{ "hash"') : l)).join('\n') };
  const recs = await collect(b.records());
  const bad = recs[recs.length - 1];
  t.same(bad?.kind === 'invalid' ? [bad.check, bad.line] : bad, ['B1', 4], 'an invalid record (B1) at line 4');
  t.match(bad?.kind === 'invalid' ? bad.reason : '', /canonical/, 'saying why');
  t.equal(recs.length, 4, 'and reading stops there');

  const { sk, opens } = (() => {
    const sk = paillierFixture('a');
    const counter = { n: 0 };
    const open = sk.open.bind(sk);
    sk.open = (c) => (counter.n++, open(c));
    return { sk, opens: counter };
  })();
  const service = new TallyService({ secretKey: sk, election, board: b });
  const o = await service.tallyOnce();
  t.equal(o.outcome, 'refused', 'refused');
  t.equal(o.outcome === 'refused' ? o.failures[0]?.check : undefined, 'B1');
  t.equal(opens.n, 0, 'nothing decrypted');
  t.equal(board.calls.submit, 0, 'nothing submitted');

  st.exportOverride = { text: text.slice(0, -1) };
  const truncated = await collect(b.records());
  const last = truncated[truncated.length - 1];
  t.equal(last?.kind, 'invalid', 'a file without its final line feed');
  t.equal(last?.kind === 'invalid' ? last.check : undefined, 'B1');
  t.equal(last?.line, lines.length - 1, 'at the last line');
  delete st.exportOverride;
});

t.test('an unreachable ballot server is BOARD_UNAVAILABLE', async (t) => {
  // A port that was just listening and is now closed.
  const tmp = Fastify();
  await tmp.listen({ host: '127.0.0.1', port: 0 });
  const port = (tmp.server.address() as AddressInfo).port;
  await tmp.close();
  const b = access(`http://127.0.0.1:${port}`);
  for (const [what, p] of [
    ['status', b.status()],
    ['export', collect(b.records())],
    ['tally', b.submitEncryptedTally({})],
  ] as const) {
    try {
      await p;
      t.fail(`${what}: expected BOARD_UNAVAILABLE`);
    } catch (e) {
      t.ok(isTallyError(e, 'BOARD_UNAVAILABLE'), `${what}: BOARD_UNAVAILABLE`);
      t.match((e as Error).message, new RegExp(`cannot reach the ballot server at http://127\\.0\\.0\\.1:${port}`), `${what}: a clear message`);
      t.equal((e as TallyError).status, 503, `${what}: 503`);
      t.notMatch((e as Error).message, SERVICE_TOKEN, `${what}: no token in the message`);
    }
  }

  const svc = new TallyService({ secretKey: paillierFixture('a'), election, board: b });
  await rejectsCode(t, svc.tallyOnce(), 'BOARD_UNAVAILABLE', 'the service reports it');
  t.equal(svc.state, 'pending', 'and will try again');
});

t.test('a silent ballot server times out', async (t) => {
  const board = memoryBoardAccess(election, closedPlan());
  const st = await stub(board);
  t.teardown(() => st.app.close());

  st.hang = true;
  await rejectsCode(t, access(st.baseUrl, { timeoutMs: 200 }).status(), 'BOARD_UNAVAILABLE', 'no answer');
  st.exportOverride = { stall: true };
  const b = access(st.baseUrl, { timeoutMs: 200 });
  const got: BoardRecord[] = [];
  try {
    for await (const r of b.records()) got.push(r);
    t.fail('expected a timeout');
  } catch (e) {
    t.ok(isTallyError(e, 'BOARD_UNAVAILABLE'), 'an export that stalls mid-stream: BOARD_UNAVAILABLE');
    t.match((e as Error).message, /did not answer within 200 ms/);
  }
  t.same(got.map((r) => r.kind), ['header'], 'after what had arrived');
});

t.test('options are validated', async (t) => {
  throwsCode(t, () => httpBoardAccess({ baseUrl: 'not a url', serviceToken: SERVICE_TOKEN }), 'OUT_OF_RANGE', 'a bad URL');
  throwsCode(t, () => httpBoardAccess({ baseUrl: 'ftp://example.org', serviceToken: SERVICE_TOKEN }), 'OUT_OF_RANGE', 'not http');
  throwsCode(t, () => httpBoardAccess({ baseUrl: 'http://user:pw@example.org', serviceToken: SERVICE_TOKEN }), 'OUT_OF_RANGE', 'credentials in the URL');
  throwsCode(t, () => httpBoardAccess({ baseUrl: 'http://example.org', serviceToken: 'short' }), 'OUT_OF_RANGE', 'a short token');
  throwsCode(t, () => httpBoardAccess({ baseUrl: 'http://example.org', serviceToken: 'with a space in it 0123' }), 'OUT_OF_RANGE', 'a token with a space');
  throwsCode(t, () => httpBoardAccess({ baseUrl: 'http://example.org', serviceToken: SERVICE_TOKEN, timeoutMs: 5 }), 'OUT_OF_RANGE', 'a tiny timeout');
});

t.test('boardRecords over a file-like stream', async (t) => {
  const recs = buildRecords();
  const got = await collect(boardRecords(Readable.from(chunked(exportText(recs), 5))));
  t.equal(got.length, recs.length, 'tiny chunks reassemble into lines');
  const bad = await collect(boardRecords(Readable.from(['{"not":"a header"}\n', 'ignored\n'])));
  t.same(bad.map((r) => [r.kind, r.kind === 'invalid' ? r.check : '', r.line]), [['invalid', 'B2', 1]], 'a bad header stops the read');
});

function buildRecords(): BoardRecord[] {
  return memoryBoardAccess(election, closedPlan()).snapshot();
}
