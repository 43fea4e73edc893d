/**
 * Tests of the organization server's HTTP surface (src/org/app.ts) other than token issuance
 * (test/org-issuance.test.ts): login and sessions, the same answer for an unknown login and a
 * wrong password, failed-login rate limits per login and per address, /me, /health, the
 * OpenAPI document, schema refusals, the shared error mapping (src/http/error-handler.ts),
 * the session table (src/org/sessions.ts) and log redaction. All through `app.inject()`.
 */
import { testSalt } from './helpers/register.js';
import t from 'tap';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { TallyError } from '../src/errors.js';
import { buildOrgApp, type OrgAppOptions } from '../src/org/app.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { hashPassword, type ScryptParams } from '../src/org/password.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { SessionStore } from '../src/org/sessions.js';
import { mapError } from '../src/http/error-handler.js';
import { blindRsaFixture, fixtureElection } from './helpers/fixtures.js';
import { TEST_SCRYPT } from './helpers/register-contract.js';

const election = fixtureElection();
const issuerKey = blindRsaFixture();
const T0 = Date.parse('2026-03-01T00:00:00.000Z');

interface Setup {
  app: FastifyInstance;
  clock: { now: number };
}

async function setup(overrides: Partial<OrgAppOptions> = {}, scrypt: ScryptParams = TEST_SCRYPT): Promise<Setup> {
  const store = createMemoryRegister();
  await store.addVoters([
    { login: 'alice', firstName: 'Alice', lastName: 'Liddell', email: 'alice@example.org', passwordHash: await hashPassword('alice-password', { params: scrypt }), refSalt: testSalt('alice') },
    { login: 'bob', firstName: 'Bob', lastName: 'Builder', email: 'bob@example.org', passwordHash: await hashPassword('bob-password!', { params: scrypt }), refSalt: testSalt('bob') },
  ]);
  const clock = { now: T0 };
  const app = buildOrgApp({
    store,
    election,
    issuerKey,
    issuanceSecret: new Uint8Array(32).fill(9),
    recordIssuance: async () => {},
    commitRegister: async () => {},
    now: () => clock.now,
    scrypt,
    ...overrides,
  });
  await app.ready();
  return { app, clock };
}

function login(app: FastifyInstance, login: string, password: string, remoteAddress = '10.0.0.1') {
  return app.inject({ method: 'POST', url: '/api/org/login', payload: { login, password }, remoteAddress });
}

t.test('health and OpenAPI document', async (t) => {
  const { app } = await setup();
  const health = await app.inject({ method: 'GET', url: '/api/org/health' });
  t.equal(health.statusCode, 200, 'health 200');
  t.same(health.json(), { status: 'ok' }, 'health body');

  const doc = await app.inject({ method: 'GET', url: '/api/org/openapi.json' });
  t.equal(doc.statusCode, 200, 'openapi 200');
  const spec = doc.json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>> };
  t.match(spec.openapi, /^3\./, 'OpenAPI 3');
  t.same(Object.keys(spec.paths).sort(), ['/api/org/health', '/api/org/login', '/api/org/me', '/api/org/register/proof/{ref}', '/api/org/token'], 'every route but the document itself');
  t.ok(spec.paths['/api/org/token']?.post?.requestBody, 'token request body documented');
  t.ok(spec.paths['/api/org/login']?.post?.responses['200'], 'login response documented');
  t.match(doc.payload, /TallyErrorResponse/, 'the shared error schema is referenced');
  await app.close();
});

t.test('login: success, session, /me without the password hash', async (t) => {
  const { app } = await setup();
  const res = await login(app, 'alice', 'alice-password');
  t.equal(res.statusCode, 200, 'login 200');
  const body = res.json() as { session: string; expiresAt: number };
  t.match(body.session, /^[0-9a-f]{64}$/, '256-bit hex session');
  t.equal(body.expiresAt, T0 + 15 * 60_000, 'expires in 15 minutes');
  t.same(Object.keys(body).sort(), ['expiresAt', 'session'], 'nothing else');

  const me = await app.inject({ method: 'GET', url: '/api/org/me', headers: { authorization: `Bearer ${body.session}` } });
  t.equal(me.statusCode, 200, '/me 200');
  t.same(me.json(), {
    login: 'alice',
    firstName: 'Alice',
    lastName: 'Liddell',
    email: 'alice@example.org',
    electionId: election.manifest.electionId,
    tokenIssued: false,
    issuance: 'none',
  }, '/me body');
  t.notMatch(me.payload, /passwordHash|scrypt\$/, 'no password hash in /me');
  t.notMatch(res.payload, /passwordHash|scrypt\$/, 'no password hash in login');
  await app.close();
});

t.test('an unknown login and a wrong password look the same', async (t) => {
  const { app } = await setup();
  const wrong = await login(app, 'alice', 'not-the-password');
  const unknown = await login(app, 'mallory', 'not-the-password');
  t.equal(wrong.statusCode, 401, 'wrong password 401');
  t.equal(unknown.statusCode, unknown.statusCode, 'unknown login same status');
  t.equal(unknown.statusCode, 401, 'unknown login 401');
  t.equal(unknown.payload, wrong.payload, 'byte-identical bodies');
  t.same(wrong.json(), { error: { code: 'UNAUTHORIZED', message: 'invalid login or password' } }, 'body');
  t.equal(wrong.headers['www-authenticate'], unknown.headers['www-authenticate'], 'same WWW-Authenticate');
  await app.close();
});

t.test('an unknown login costs a scrypt verification like a wrong password', async (t) => {
  // Moderate cost so that a skipped verification would be obvious: ~10–30 ms per attempt.
  const params = { N: 2 ** 12, r: 8, p: 1 };
  const { app } = await setup({ rateLimit: { perLogin: { max: 1000, timeWindowMs: 60_000 }, perIp: { max: 1000, timeWindowMs: 60_000 } } }, params);
  const time = async (l: string): Promise<number> => {
    const start = performance.now();
    const res = await login(app, l, 'not-the-password');
    if (res.statusCode !== 401) t.fail(`expected 401, got ${res.statusCode}`);
    return performance.now() - start;
  };
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const wrong: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 7; i++) {
    wrong.push(await time('alice'));
    unknown.push(await time(`nobody${i}`));
  }
  const ratio = median(unknown) / median(wrong);
  t.ok(ratio > 0.5 && ratio < 2, `median times within a factor 2 (unknown/wrong = ${ratio.toFixed(2)})`);
  await app.close();
});

t.test('failed logins are limited per (login, address) (5/min); successes are not counted', async (t) => {
  const { app } = await setup();
  for (let i = 0; i < 10; i++) {
    const ok = await login(app, 'bob', 'bob-password!');
    if (ok.statusCode !== 200) t.fail(`successful login ${i} got ${ok.statusCode}`);
  }
  t.pass('10 successful logins in a row are not limited');
  for (let i = 0; i < 5; i++) t.equal((await login(app, 'alice', `wrong-${i}`)).statusCode, 401, `failure ${i + 1}: 401`);
  const limited = await login(app, 'alice', 'alice-password');
  t.equal(limited.statusCode, 429, 'the 6th attempt is refused, even with the right password');
  t.equal((limited.json() as { error: { code: string } }).error.code, 'RATE_LIMITED', 'RATE_LIMITED');
  t.match((limited.json() as { error: { message: string } }).error.message, /^too many failed login attempts; retry in \d+ s$/, 'clear, uniform message');
  t.match(limited.headers['retry-after'] ?? '', /^\d+$/, 'Retry-After header');
  t.equal((await login(app, 'bob', 'bob-password!')).statusCode, 200, 'another login from the same address still works');
  await app.close();
});

t.test('unknown logins are limited the same way (no existence oracle)', async (t) => {
  const { app } = await setup();
  for (let i = 0; i < 5; i++) await login(app, 'ghost', `wrong-${i}`);
  const limited = await login(app, 'ghost', 'whatever');
  t.equal(limited.statusCode, 429, '429 for an unknown login too');
  await app.close();
});

t.test('failed logins are limited per address (20/min)', async (t) => {
  const { app } = await setup();
  let n = 0;
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 4; j++) {
      const res = await login(app, `user${i}`, 'wrong-password', '10.0.0.7');
      if (res.statusCode === 401) n++;
    }
  }
  t.equal(n, 20, '20 failures across 5 logins (4 each, under the per-login limit)');
  const limited = await login(app, 'alice', 'alice-password', '10.0.0.7');
  t.equal(limited.statusCode, 429, 'the 21st attempt from that address is refused');
  t.match((limited.json() as { error: { message: string } }).error.message, /^too many failed login attempts; retry in \d+ s$/, 'the same message as the per-login limit');
  t.equal((await login(app, 'alice', 'alice-password', '10.0.0.8')).statusCode, 200, 'another address is not affected');
  await app.close();
});

t.test('sessions: missing, malformed, unknown and expired give 401', async (t) => {
  const { app, clock } = await setup();
  const me = (authorization?: string) =>
    app.inject({ method: 'GET', url: '/api/org/me', ...(authorization === undefined ? {} : { headers: { authorization } }) });
  const expect401 = async (res: Awaited<ReturnType<typeof me>>, why: string): Promise<void> => {
    t.equal(res.statusCode, 401, `${why}: 401`);
    t.equal((res.json() as { error: { code: string } }).error.code, 'UNAUTHORIZED', `${why}: UNAUTHORIZED`);
  };
  await expect401(await me(), 'no header');
  await expect401(await me('Basic abc'), 'not bearer');
  await expect401(await me(`Bearer ${'0'.repeat(64)}`), 'unknown session');
  await expect401(await me(`Bearer ${'A'.repeat(64)}`), 'upper-case session');
  const { session } = (await login(app, 'alice', 'alice-password')).json() as { session: string };
  t.equal((await me(`Bearer ${session}`)).statusCode, 200, 'valid session');
  clock.now += 15 * 60_000 - 1;
  t.equal((await me(`Bearer ${session}`)).statusCode, 200, 'valid 1 ms before expiry');
  clock.now += 1;
  await expect401(await me(`Bearer ${session}`), 'expired');
  await app.close();
});

t.test('schema refusals: 400 MALFORMED, 413 TOO_LARGE, 404 NOT_FOUND', async (t) => {
  const { app } = await setup();
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/api/org/login', payload: payload as object });
  const code = (res: { json: () => unknown }) => (res.json() as { error: { code: string } }).error.code;
  for (const [why, payload] of [
    ['missing password', { login: 'alice' }],
    ['extra member', { login: 'alice', password: 'alice-password', admin: true }],
    ['login with a space', { login: 'al ice', password: 'x' }],
    ['number instead of string', { login: 'alice', password: 12345678901 }],
    ['empty password', { login: 'alice', password: '' }],
  ] as const) {
    const res = await post(payload);
    t.equal(res.statusCode, 400, `${why}: 400`);
    t.equal(code(res), 'MALFORMED', `${why}: MALFORMED`);
  }
  const invalidJson = await app.inject({ method: 'POST', url: '/api/org/login', headers: { 'content-type': 'application/json' }, payload: '{"login":' });
  t.same([invalidJson.statusCode, code(invalidJson)], [400, 'MALFORMED'], 'invalid JSON: 400 MALFORMED');
  const big = await post({ login: 'alice', password: 'x'.repeat(20_000) });
  t.same([big.statusCode, code(big)], [413, 'TOO_LARGE'], 'body over 16 KiB: 413 TOO_LARGE');
  const nf = await app.inject({ method: 'GET', url: '/api/org/nothing' });
  t.same([nf.statusCode, code(nf)], [404, 'NOT_FOUND'], 'unknown route: 404 NOT_FOUND');
  t.notMatch(invalidJson.payload + big.payload + nf.payload, /at .*\.(js|ts):\d+/, 'no stack traces');
  await app.close();
});

t.test('generated passwords from a CSV import work for login', async (t) => {
  const store = createMemoryRegister();
  const { generated } = await importVotersCsv(store, 'first_name,last_name,email,login\nCarol,Ann,carol@example.org,carol\n', { scrypt: TEST_SCRYPT });
  const app = buildOrgApp({ store, election, issuerKey, issuanceSecret: new Uint8Array(32), recordIssuance: async () => {}, commitRegister: async () => {}, scrypt: TEST_SCRYPT, now: () => T0 });
  const res = await login(app, 'carol', generated[0]!.password);
  t.equal(res.statusCode, 200, 'generated password logs in');
  await app.close();
});

t.test('logs never contain passwords or session tokens', async (t) => {
  let logs = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs += chunk.toString();
      cb();
    },
  });
  const { app } = await setup({ logger: { level: 'trace', stream } });
  const ok = await login(app, 'alice', 'alice-password');
  const { session } = ok.json() as { session: string };
  await login(app, 'alice', 'secret-wrong-guess');
  await app.inject({ method: 'GET', url: '/api/org/me', headers: { authorization: `Bearer ${session}` } });
  app.log.info({ password: 'logged-by-mistake', req: { headers: { authorization: `Bearer ${session}` } } }, 'redaction probe');
  t.ok(logs.length > 0, 'something was logged');
  t.notMatch(logs, 'alice-password', 'no password');
  t.notMatch(logs, 'secret-wrong-guess', 'no failed guess');
  t.notMatch(logs, 'logged-by-mistake', 'a password field is redacted');
  t.notMatch(logs, session, 'no session token');
  t.match(logs, '[redacted]', 'redaction marker present');
  await app.close();
});

t.test('error mapping (src/http/error-handler.ts)', async (t) => {
  t.same(mapError(new TallyError('TOKEN_ALREADY_ISSUED', 'once only', { details: { a: 1 } })), {
    status: 409,
    body: { error: { code: 'TOKEN_ALREADY_ISSUED', message: 'once only', details: { a: 1 } } },
    serverFault: false,
  }, 'TallyError: catalog status, code, message, details');
  const validation = Object.assign(new Error('body/login must match pattern'), { validation: [{}], statusCode: 400, code: 'FST_ERR_VALIDATION' });
  t.same(mapError(validation).body, { error: { code: 'MALFORMED', message: 'body/login must match pattern' } }, 'validation: MALFORMED with its message');
  const secret = new Error('ECONNREFUSED 10.1.2.3:5432 password=hunter2');
  t.same(mapError(secret), { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } }, serverFault: true }, 'anything else: generic 500');
  t.same(mapError('a string').status, 500, 'non-Error: 500');
  t.equal(mapError(new TallyError('ISSUANCE_NOT_RECORDED', 'x')).serverFault, true, '503 is a server fault');
});

t.test('session table (src/org/sessions.ts)', async (t) => {
  let now = 1000;
  const s = new SessionStore({ ttlMs: 1000, maxPerLogin: 2, maxSessions: 3, now: () => now });
  const a1 = s.create('a');
  const a2 = s.create('a');
  const a3 = s.create('a');
  t.equal(s.lookup(a1.session), undefined, "a login's oldest session goes beyond maxPerLogin");
  t.equal(s.lookup(a2.session)?.login, 'a', 'a2 live');
  t.equal(s.lookup(a3.session)?.login, 'a', 'a3 live');
  const b1 = s.create('b');
  const c1 = s.create('c');
  t.equal(s.size, 3, 'bounded by maxSessions');
  t.equal(s.lookup(a2.session), undefined, 'the globally oldest went first');
  t.equal(s.lookup(c1.session)?.login, 'c', 'newest live');
  t.equal(s.revoke(b1.session), true, 'revoke');
  t.equal(s.lookup(b1.session), undefined, 'revoked');
  now += 1000;
  t.equal(s.lookup(c1.session), undefined, 'expired at ttl');
  s.create('d');
  t.equal(s.size, 1, 'expired sessions swept on create');
  t.equal(s.lookup('not a token'), undefined, 'garbage is unknown');
  t.throws(() => new SessionStore({ ttlMs: 5 }), 'ttl below 1 s refused');
});

t.test('regression: login lockout — wrong passwords from one address never lock the voter out elsewhere', async (t) => {
  const { app } = await setup();
  for (let i = 0; i < 5; i++) t.equal((await login(app, 'alice', `wrong-${i}`, '10.6.6.6')).statusCode, 401, `attacker failure ${i + 1}`);
  const attacker = await login(app, 'alice', 'alice-password', '10.6.6.6');
  t.equal(attacker.statusCode, 429, 'the guessing address is throttled for this login');
  const voter = await login(app, 'alice', 'alice-password', '10.0.0.42');
  t.equal(voter.statusCode, 200, 'the voter, from another address, logs in with the correct password');
  const voterWrong = await login(app, 'alice', 'typo', '10.0.0.43');
  t.equal(voterWrong.statusCode, 401, 'a typo from another address is an ordinary 401, not a 429');
  // Uniform errors: the per-pair and the per-address 429 have the same code and message form.
  const { app: app2 } = await setup({ rateLimit: { perLogin: { max: 50, timeWindowMs: 60_000 }, perIp: { max: 3, timeWindowMs: 60_000 } } });
  for (let i = 0; i < 3; i++) await login(app2, `user${i}`, 'wrong-password', '10.0.0.9');
  const byIp = (await login(app2, 'alice', 'alice-password', '10.0.0.9')).json() as { error: { code: string; message: string } };
  const byPair = attacker.json() as { error: { code: string; message: string } };
  t.equal(byIp.error.code, byPair.error.code);
  t.equal(byIp.error.message.replace(/\d+/g, 'N'), byPair.error.message.replace(/\d+/g, 'N'), 'one message whichever limit applied');
  await app.close();
  await app2.close();
});

t.test('regression: login attempts in flight count against the address budget', async (t) => {
  const { app } = await setup({}, { N: 1024, r: 8, p: 1 });
  // 40 simultaneous wrong attempts from one address, each for another login (so only the
  // per-address budget of 20 applies): before, all 40 ran, since each peeked at an untouched
  // counter.
  const res = await Promise.all(Array.from({ length: 40 }, (_, i) => login(app, `user${i}`, 'wrong-password', '10.1.1.1')));
  const codes = res.map((r) => r.statusCode);
  const ran = codes.filter((c) => c === 401).length;
  t.ok(ran <= 20, `at most 20 attempts ran (${ran})`);
  t.equal(ran + codes.filter((c) => c === 429).length, 40, 'the rest were refused with 429');
  await app.close();
});

t.test('regression: concurrent logins under a memory ceiling — hashing is capped, the overflow gets 503', async (t) => {
  const params = { N: 2 ** 14, r: 8, p: 1 };
  const { app } = await setup({ loginConcurrency: 2, loginQueue: 3 }, params);
  const hashing = (app as unknown as { loginHashing: { concurrency: number; maxWaiting: number; stats: { started: number; refused: number; peakRunning: number; peakWaiting: number } } }).loginHashing;
  // Each from its own address, so that no rate limit interferes: only the hashing cap does.
  const res = await Promise.all(Array.from({ length: 12 }, (_, i) => login(app, i % 2 ? 'alice' : 'bob', i % 2 ? 'alice-password' : 'wrong-password', `10.2.0.${i + 1}`)));
  const busy = res.filter((r) => r.statusCode === 503);
  t.ok(hashing.stats.peakRunning <= 2, `at most 2 hashes ran at once (${hashing.stats.peakRunning}): ≤ 2 × ${(128 * params.N * params.r) >> 20} MiB`);
  t.ok(hashing.stats.peakWaiting <= 3, `at most 3 waited (${hashing.stats.peakWaiting})`);
  t.equal(busy.length, hashing.stats.refused, 'every refusal by the cap is a 503');
  t.equal(hashing.stats.started + hashing.stats.refused, 12, 'every attempt either ran or was refused');
  for (const r of busy) {
    t.equal((r.json() as { error: { code: string } }).error.code, 'SERVER_BUSY');
    t.match(r.headers['retry-after'] ?? '', /^[1-9]\d*$/, 'with Retry-After');
  }
  for (const [i, r] of res.entries()) if (r.statusCode !== 503) t.equal(r.statusCode, i % 2 ? 200 : 401, `attempt ${i} that ran got its true answer`);
  await app.close();
});
