/**
 * What every server does with hostile or broken clients (issue 16.3, 16.6, 16.9, 16.10,
 * 16.12): deeply nested JSON on every route in every role, client addresses behind a trusted
 * reverse proxy, request timeouts, refusals by the HTTP parser and the router in the catalog's
 * error form, and client disconnects that are not logged as server errors.
 */
import t from 'tap';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, paillierFixture } from './helpers/fixtures.js';
import type { ServerTimeouts } from '../src/http/common.js';

const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };
const fastScrypt = { N: 16, r: 1, p: 1 }; // tests only

async function servers(extra: { singleOrigin?: boolean; trustProxy?: string[]; timeouts?: ServerTimeouts; logs?: string[] } = {}) {
  const election = fixtureElection({ electionId: 'hardening' });
  const register = createMemoryRegister();
  const { generated } = await importVotersCsv(register, 'first_name,last_name,email,login\nAda,L,ada@example.org,ada\nBob,M,bob@example.org,bob\n', { scrypt: fastScrypt });
  const stream = new Writable({
    write(chunk, _e, cb) {
      extra.logs?.push(String(chunk));
      cb();
    },
  });
  const s = await buildElectionServers(
    {
      election,
      boardStore: new MemoryBoardStore(),
      boardSecretKey: boardKeyFixture().secretKey,
      register,
      issuerKey: blindRsaFixture(),
      issuanceSecret: new Uint8Array(32).fill(6),
      scrypt: fastScrypt,
      paillierKey: paillierFixture('a'),
    },
    {
      credentials,
      workers: 0,
      autoClose: false,
      ...(extra.singleOrigin ? { singleOrigin: true } : {}),
      ...(extra.trustProxy ? { trustProxy: extra.trustProxy } : {}),
      ...(extra.timeouts ? { timeouts: extra.timeouts } : {}),
      ...(extra.logs ? { logger: { level: 'info', stream } } : {}),
    },
  );
  return { s, generated };
}

/** Every POST route of an app, from fastify's own route table. */
function postRoutes(app: FastifyInstance): string[] {
  const out: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false, includeHooks: false, method: 'POST' }).split('\n')) {
    const m = /([\/][^\s(]*) \(POST\)/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

const DEEP_ARRAY = '['.repeat(6000) + ']'.repeat(6000);
const DEEP_OBJECT = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);

t.test('regression: deep JSON on every route in every role is refused in the catalog form, never a 500', async (t) => {
  const { s } = await servers({ singleOrigin: true });
  const roles: [string, FastifyInstance][] = [
    ['all (one origin, forwarding)', s.ballot],
    ['organization', s.org],
    ['verification', s.verifier],
  ];
  let checked = 0;
  for (const [role, app] of roles) {
    await app.ready();
    const urls = [...new Set(postRoutes(app))];
    t.ok(urls.length > 0, `${role}: has POST routes (${urls.join(', ')})`);
    for (const url of urls) {
      for (const [what, body] of [['array', DEEP_ARRAY], ['object', DEEP_OBJECT]] as const) {
        for (const authorization of [undefined, `Bearer ${credentials.adminToken}`, `Bearer ${credentials.serviceToken}`]) {
          const res = await app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) } });
          checked++;
          // A route without a body (POST /admin/close) may ignore it; none may fail with a 500.
          if (res.statusCode >= 500) t.fail(`${role} ${url} deep ${what}: ${res.statusCode} ${res.payload.slice(0, 200)}`);
          const err = res.json() as { error?: { code?: unknown } };
          if (res.statusCode >= 400 && typeof err.error?.code !== 'string') t.fail(`${role} ${url}: not the catalog's error form`);
        }
      }
    }
  }
  t.ok(checked >= 30, `${checked} requests refused cleanly`);
  // The forwarded login still works with an ordinary body (raw bytes forwarded as sent).
  const ok = await s.ballot.inject({ method: 'POST', url: '/api/org/login', payload: { login: 'nobody', password: 'x' } });
  t.equal(ok.statusCode, 401, 'an ordinary body is forwarded and judged by the organization server');
  await s.close();
});

t.test('regression: behind a trusted reverse proxy, each client has its own address', async (t) => {
  const { s, generated } = await servers({ singleOrigin: true, trustProxy: ['127.0.0.1'] });
  const login = (password: string, client: string, login = 'ada') =>
    s.ballot.inject({ method: 'POST', url: '/api/org/login', payload: { login, password }, remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': client } });
  // Client A exhausts its per-address budget (20 failures) through the proxy.
  for (let i = 0; i < 20; i++) await login(`wrong-${i}`, '198.51.100.7', `user${i}`);
  t.equal((await login('whatever', '198.51.100.7')).statusCode, 429, 'the guessing client is throttled');
  const ada = generated.find((g) => g.login === 'ada')!;
  t.equal((await login(ada.password, '203.0.113.9')).statusCode, 200, 'another client behind the same proxy logs in');
  // A peer that is NOT a trusted proxy cannot choose its address with the header.
  const spoof = await s.ballot.inject({ method: 'POST', url: '/api/org/login', payload: { login: 'bob', password: 'x' }, remoteAddress: '192.0.2.50', headers: { 'x-forwarded-for': '203.0.113.9' } });
  t.equal(spoof.statusCode, 401);
  await s.close();
});

/** Send raw bytes to a listening server; resolve with what came back when it closed. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1', () => c.write(bytes));
    let out = '';
    c.on('data', (d) => (out += String(d)));
    c.on('close', () => resolve(out));
    c.on('error', reject);
  });
}

t.test('regression: no request timeout — a client that stops mid-body gets 408 and is disconnected', async (t) => {
  const { s } = await servers({ timeouts: { headersMs: 200, requestMs: 200 } });
  const url = await s.ballot.listen({ host: '127.0.0.1', port: 0 });
  const port = Number(new URL(url).port);
  const answer = await raw(port, 'POST /api/ballots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"elect');
  t.match(answer, /^HTTP\/1\.1 408 /, '408 Request Timeout');
  t.match(answer, /"code":"REQUEST_TIMEOUT"/, 'in the catalog form');
  await s.close();
});

t.test('regression: 414 and 431 answers are in the catalog error form', async (t) => {
  const { s } = await servers();
  const url = await s.ballot.listen({ host: '127.0.0.1', port: 0 });
  const port = Number(new URL(url).port);
  const big = await raw(port, `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(big, /^HTTP\/1\.1 431 /, '431');
  t.match(big, /\{"error":\{"code":"HEADERS_TOO_LARGE","message":"[^"]+"\}\}/, '431 body in the catalog form');
  const long = await s.ballot.inject({ method: 'GET', url: `/api/ballots/${'a'.repeat(500)}` });
  t.equal(long.statusCode, 414, '414');
  t.same(Object.keys(long.json()), ['error']);
  t.equal(long.json().error.code, 'URI_TOO_LONG');
  await s.close();
});

t.test('regression: client disconnects are not logged as server errors', async (t) => {
  const logs: string[] = [];
  const { s } = await servers({ logs });
  const url = await s.ballot.listen({ host: '127.0.0.1', port: 0 });
  const port = Number(new URL(url).port);
  await new Promise<void>((resolve) => {
    const c = connect(port, '127.0.0.1', () => {
      c.write('POST /api/ballots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"election":"');
      setImmediate(() => c.destroy());
    });
    c.on('close', () => resolve());
  });
  // Wait until the server has handled the aborted request (it logs it), without guessing a time.
  for (let i = 0; i < 2000 && !logs.some((l) => /closed the connection/.test(l)); i++) await new Promise((r) => setTimeout(r, 5));
  const errors = logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
  t.same(errors, [], 'no error-level line');
  t.ok(logs.some((l) => /closed the connection/.test(l)), 'the disconnect is logged at info');
  await s.close();
});
