/**
 * Tests of token issuance (src/org/issuance.ts through POST /api/org/token): the full blind
 * issuance against the fixture election with the voter-side `requestToken`/`completeToken`,
 * one token per voter (a second request and a concurrent one are refused and get no
 * signature), the pseudonymous reference, a failing or hanging bulletin board, the crash story
 * (an interrupted reservation blocks until its lease ends or an admin clears it; a lost lease
 * withholds the signature; "issued" is final) and input refusals.
 */
import t from 'tap';
import type { Test } from 'tap';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { verify } from '../src/crypto/blind-rsa.js';
import { tokenInputMessage } from '../src/election/ballot.js';
import { completeToken, requestToken } from '../src/election/token.js';
import type { Election } from '../src/election/manifest.js';
import { buildOrgApp, type OrgAppOptions } from '../src/org/app.js';
import { TokenIssuer } from '../src/org/issuance.js';
import { registerRef } from '../src/election/register.js';
import type { IssuedRef } from '../src/election/records.js';
import { testSalt } from './helpers/register.js';
import { hashPassword } from '../src/org/password.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import type { RegisterStore } from '../src/org/register-store.js';
import { parseHex, toHex } from '../src/wire.js';
import { throwsCode } from './helpers/assert.js';
import { blindRsaFixture, fixtureElection } from './helpers/fixtures.js';
import { TEST_SCRYPT, rejectsCode } from './helpers/register-contract.js';

const election = fixtureElection();
const issuerKey = blindRsaFixture();
const SECRET = new Uint8Array(32).fill(9);
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const EID = election.manifest.electionId;
const aliceRef = registerRef(EID, 'alice', Buffer.from(testSalt('alice'), 'hex'));

interface Setup {
  app: FastifyInstance;
  store: RegisterStore;
  clock: { now: number };
  /** references recorded on the "board", in order */
  records: string[];
  /** replace the board behaviour */
  board: { record: (items: readonly IssuedRef[]) => Promise<void> };
}

async function setup(overrides: Partial<OrgAppOptions> = {}): Promise<Setup> {
  const store = createMemoryRegister();
  const passwordHash = await hashPassword('voter-password', { params: TEST_SCRYPT });
  await store.addVoters(['alice', 'bob'].map((login) => ({ login, firstName: 'V', lastName: login, email: `${login}@example.org`, passwordHash, refSalt: testSalt(login) })));
  const clock = { now: T0 };
  const records: string[] = [];
  const board = {
    record: async (items: readonly IssuedRef[]): Promise<void> => {
      for (const it of items) records.push(toHex(it.ref));
    },
  };
  const app = buildOrgApp({
    store,
    election,
    issuerKey,
    issuanceSecret: SECRET,
    recordIssuance: (items) => board.record(items),
    commitRegister: async () => {},
    now: () => clock.now,
    scrypt: TEST_SCRYPT,
    ...overrides,
  });
  await app.ready();
  return { app, store, clock, records, board };
}

async function sessionFor(app: FastifyInstance, login: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/org/login', payload: { login, password: 'voter-password' } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.payload}`);
  return (res.json() as { session: string }).session;
}

function postToken(app: FastifyInstance, session: string | undefined, blindedMsg: string) {
  return app.inject({
    method: 'POST',
    url: '/api/org/token',
    payload: { blindedMsg },
    ...(session === undefined ? {} : { headers: { authorization: `Bearer ${session}` } }),
  });
}

function errorCode(res: { json: () => unknown }): string {
  return (res.json() as { error: { code: string } }).error.code;
}

/** Voter side: request, send, complete, and check the credential as a verifier would. */
function checkCredential(t: Test, e: Election, pending: ReturnType<typeof requestToken>, blindSigHex: string): void {
  const token = completeToken(e, pending, parseHex(blindSigHex, 'blindSig', pending.blindedMsg.length));
  const ok = verify(e.tokenIssuer, tokenInputMessage(e.fingerprint, token.credential), token.credential.signature);
  t.ok(ok, 'the unblinded credential verifies under the election token key');
}

t.test('end to end: one voter, one blind signature, a valid credential', async (t) => {
  const { app, records } = await setup();
  const session = await sessionFor(app, 'alice');
  const pending = requestToken(election);
  const res = await postToken(app, session, toHex(pending.blindedMsg));
  t.equal(res.statusCode, 200, '200');
  const { blindSig } = res.json() as { blindSig: string };
  t.match(blindSig, new RegExp(`^[0-9a-f]{${2 * pending.blindedMsg.length}}$`), 'k-byte hex');
  checkCredential(t, election, pending, blindSig);
  t.same(records, [toHex(aliceRef)], 'exactly one board record, the pseudonymous reference');
  t.notMatch(res.payload, /passwordHash|scrypt\$/, 'no password hash in the response');

  const me = await app.inject({ method: 'GET', url: '/api/org/me', headers: { authorization: `Bearer ${session}` } });
  t.same([(me.json() as { tokenIssued: boolean }).tokenIssued, (me.json() as { issuance: string }).issuance], [true, 'issued'], '/me says issued');
  await app.close();
});

t.test('a second request is refused with 409 and gets no signature', async (t) => {
  const { app, records } = await setup();
  const session = await sessionFor(app, 'alice');
  t.equal((await postToken(app, session, toHex(requestToken(election).blindedMsg))).statusCode, 200, 'first: 200');
  const again = await postToken(app, session, toHex(requestToken(election).blindedMsg));
  t.equal(again.statusCode, 409, 'second: 409');
  t.equal(errorCode(again), 'TOKEN_ALREADY_ISSUED', 'TOKEN_ALREADY_ISSUED');
  t.notMatch(again.payload, /blindSig/, 'no signature in the refusal');
  const session2 = await sessionFor(app, 'alice');
  t.equal((await postToken(app, session2, toHex(requestToken(election).blindedMsg))).statusCode, 409, 'a new session does not help');
  t.equal(records.length, 1, 'still one board record');
  t.equal((await postToken(app, await sessionFor(app, 'bob'), toHex(requestToken(election).blindedMsg))).statusCode, 200, 'another voter is unaffected');
  await app.close();
});

t.test('concurrent requests of one voter: exactly one succeeds', async (t) => {
  const { app, records, board } = await setup();
  // A slow board widens the window in which the two requests overlap.
  const fast = board.record;
  board.record = async (items) => {
    await new Promise((r) => setTimeout(r, 30));
    await fast(items);
  };
  const session = await sessionFor(app, 'alice');
  const results = await Promise.all(Array.from({ length: 5 }, () => postToken(app, session, toHex(requestToken(election).blindedMsg))));
  const statuses = results.map((r) => r.statusCode).sort();
  t.same(statuses, [200, 409, 409, 409, 409], 'one 200, the rest 409');
  t.same(results.filter((r) => r.statusCode === 409).map(errorCode), Array(4).fill('TOKEN_ALREADY_ISSUED'), 'refusals say already issued');
  t.equal(results.filter((r) => r.payload.includes('blindSig')).length, 1, 'one signature in all');
  t.equal(records.length, 1, 'one board record');
  await app.close();
});

t.test('the board failing: 503, nothing signed, and a retry succeeds', async (t) => {
  const { app, store, records, board } = await setup();
  const working = board.record;
  board.record = async () => {
    throw new Error('board unreachable');
  };
  const session = await sessionFor(app, 'alice');
  const pending = requestToken(election);
  const failed = await postToken(app, session, toHex(pending.blindedMsg));
  t.equal(failed.statusCode, 503, '503');
  t.equal(errorCode(failed), 'ISSUANCE_NOT_RECORDED', 'ISSUANCE_NOT_RECORDED');
  t.notMatch(failed.payload, /blindSig|board unreachable/, 'no signature, no internal detail');
  t.equal(await store.getIssuance(EID, 'alice'), undefined, 'the reservation was rolled back');

  board.record = working;
  const retry = await postToken(app, session, toHex(pending.blindedMsg));
  t.equal(retry.statusCode, 200, 'retry: 200');
  checkCredential(t, election, pending, (retry.json() as { blindSig: string }).blindSig);
  t.same(records, [toHex(aliceRef)], 'the same reference, recorded once the board is back');
  await app.close();
});

t.test('the board hanging: timeout, 503, nothing signed', async (t) => {
  const { app, store, board } = await setup({ issuance: { recordTimeoutMs: 50, leaseMs: 2000 } });
  board.record = () => new Promise<void>(() => {});
  const session = await sessionFor(app, 'alice');
  const res = await postToken(app, session, toHex(requestToken(election).blindedMsg));
  t.same([res.statusCode, errorCode(res)], [503, 'ISSUANCE_NOT_RECORDED'], '503 after the timeout');
  t.equal(await store.getIssuance(EID, 'alice'), undefined, 'reservation released');
  await app.close();
});

t.test('crash after reserving: blocked until the lease ends (or an admin clears it), then issued', async (t) => {
  const { app, store, clock, records } = await setup();
  // A previous process reserved and died before signing: its reservation is on disk.
  t.ok((await store.reserveIssuance(EID, 'alice', 'ab'.repeat(16), clock.now, 60_000)).ok, 'stale reservation planted');
  const session = await sessionFor(app, 'alice');
  const blocked = await postToken(app, session, toHex(requestToken(election).blindedMsg));
  t.same([blocked.statusCode, errorCode(blocked)], [409, 'ISSUANCE_PENDING'], 'within the lease: 409 ISSUANCE_PENDING');
  t.equal(blocked.headers['retry-after'], '60', 'Retry-After says when');
  t.equal(records.length, 0, 'nothing recorded');
  clock.now += 60_000;
  const pending = requestToken(election);
  const after = await postToken(app, session, toHex(pending.blindedMsg));
  t.equal(after.statusCode, 200, 'after the lease: 200');
  checkCredential(t, election, pending, (after.json() as { blindSig: string }).blindSig);

  t.ok((await store.reserveIssuance(EID, 'bob', 'cd'.repeat(16), clock.now, 60_000)).ok, 'stale reservation for bob');
  const bob = await sessionFor(app, 'bob');
  t.equal((await postToken(app, bob, toHex(requestToken(election).blindedMsg))).statusCode, 409, 'bob blocked');
  t.equal(await store.clearReservation(EID, 'bob'), true, 'admin clears the reservation');
  t.equal((await postToken(app, bob, toHex(requestToken(election).blindedMsg))).statusCode, 200, 'bob issued at once');
  await app.close();
});

t.test('crash after marking issued (lost response): refused, never a second token', async (t) => {
  const { app, store, clock, records } = await setup();
  const id = 'ef'.repeat(16);
  await store.reserveIssuance(EID, 'alice', id, clock.now, 60_000);
  await store.completeIssuance(EID, 'alice', id, clock.now);
  const session = await sessionFor(app, 'alice');
  const res = await postToken(app, session, toHex(requestToken(election).blindedMsg));
  t.same([res.statusCode, errorCode(res)], [409, 'TOKEN_ALREADY_ISSUED'], '409 TOKEN_ALREADY_ISSUED');
  t.equal(records.length, 0, 'nothing recorded');
  await app.close();
});

t.test('a request that loses its reservation while the board is slow withholds its signature', async (t) => {
  const { app, store, clock, board } = await setup();
  board.record = async () => {
    // Meanwhile the lease runs out and another holder (say, a second process) takes over.
    clock.now += 60_000;
    await store.reserveIssuance(EID, 'alice', '99'.repeat(16), clock.now, 60_000);
  };
  const session = await sessionFor(app, 'alice');
  const res = await postToken(app, session, toHex(requestToken(election).blindedMsg));
  t.same([res.statusCode, errorCode(res)], [409, 'ISSUANCE_PENDING'], '409 ISSUANCE_PENDING');
  t.notMatch(res.payload, /blindSig/, 'signature withheld');
  t.equal((await store.getIssuance(EID, 'alice'))?.reservation, '99'.repeat(16), 'the other holder keeps the reservation');
  await app.close();
});

t.test('input refusals happen before anything is reserved or recorded', async (t) => {
  const { app, store, clock, records } = await setup();
  const session = await sessionFor(app, 'alice');
  const k = requestToken(election).blindedMsg.length;
  const cases: [string, string, number, string][] = [
    ['one byte short', 'ab'.repeat(k - 1), 400, 'MALFORMED'],
    ['one byte long', 'ab'.repeat(k + 1), 400, 'MALFORMED'],
    ['upper-case hex', 'AB'.repeat(k), 400, 'MALFORMED'],
    ['not hex', 'zz'.repeat(k), 400, 'MALFORMED'],
    ['z ≥ n', 'ff'.repeat(k), 400, 'OUT_OF_RANGE'],
  ];
  for (const [why, hex, status, code] of cases) {
    const res = await postToken(app, session, hex);
    t.same([res.statusCode, errorCode(res)], [status, code], `${why}: ${status} ${code}`);
  }
  const noSession = await postToken(app, undefined, toHex(requestToken(election).blindedMsg));
  t.same([noSession.statusCode, errorCode(noSession)], [401, 'UNAUTHORIZED'], 'no session: 401');
  const badBodyNoSession = await postToken(app, undefined, 'xx');
  t.equal(badBodyNoSession.statusCode, 401, 'the session is checked before the body');
  clock.now += 15 * 60_000;
  const expired = await postToken(app, session, toHex(requestToken(election).blindedMsg));
  t.same([expired.statusCode, errorCode(expired)], [401, 'UNAUTHORIZED'], 'expired session: 401');
  t.equal(await store.getIssuance(EID, 'alice'), undefined, 'nothing reserved');
  t.equal(records.length, 0, 'nothing recorded');
  await app.close();
});

t.test('no tokens after the election has ended', async (t) => {
  const { app, clock, records } = await setup();
  clock.now = election.endMs;
  const session = await sessionFor(app, 'alice');
  const res = await postToken(app, session, toHex(requestToken(election).blindedMsg));
  t.same([res.statusCode, errorCode(res)], [410, 'ELECTION_CLOSED'], '410 ELECTION_CLOSED');
  t.equal(records.length, 0, 'nothing recorded');
  await app.close();
});

t.test('the register reference (spec §7.5)', async (t) => {
  const salt = new Uint8Array(32).fill(5);
  const ref = registerRef(EID, 'alice', salt);
  // Independent computation: SHA-256(STR(tag) ‖ STR(electionId) ‖ STR(login) ‖ salt).
  const str = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const expected = createHash('sha256').update(Buffer.concat([str('tallyboard/2/register-ref'), str(EID), str('alice'), Buffer.from(salt)])).digest();
  t.equal(toHex(ref), expected.toString('hex'), 'SHA-256(STR(tag) ‖ STR(electionId) ‖ STR(login) ‖ FIXED(salt, 32))');
  t.equal(toHex(registerRef(EID, 'alice', salt)), toHex(ref), 'stable');
  t.not(toHex(registerRef(EID, 'Alice', salt)), toHex(ref), 'depends on the login (case-sensitive)');
  t.not(toHex(registerRef('other-election', 'alice', salt)), toHex(ref), 'depends on the election');
  t.not(toHex(registerRef(EID, 'alice', new Uint8Array(32).fill(6))), toHex(ref), 'depends on the salt');
  throwsCode(t, () => registerRef(EID, 'alice', new Uint8Array(31)), 'OUT_OF_RANGE', '31-byte salt');
});

t.test('construction refuses a wrong key or secret', async (t) => {
  const store = createMemoryRegister();
  const base = { store, election, issuerKey, issuanceSecret: SECRET, recordIssuance: async () => {}, commitRegister: async () => {} };
  const otherElection: Election = { ...election, tokenIssuer: { n: election.tokenIssuer.n + 2n, e: election.tokenIssuer.e } };
  throwsCode(t, () => buildOrgApp({ ...base, election: otherElection }), 'BAD_PRIVATE_KEY', "issuer key is not the election's");
  throwsCode(t, () => buildOrgApp({ ...base, issuanceSecret: new Uint8Array(16) }), 'OUT_OF_RANGE', '16-byte secret');
  throwsCode(t, () => new TokenIssuer({ ...base, recordTimeoutMs: 10_000, leaseMs: 5000 }), 'OUT_OF_RANGE', 'lease shorter than the board timeout');
});

t.test('issuance batches (spec §7.4): one entry when full; a partial batch after the privacy window; a failed batch signs nothing', async (t) => {
  const store = createMemoryRegister();
  const passwordHash = await hashPassword('voter-password', { params: TEST_SCRYPT });
  const logins = ['v1', 'v2', 'v3', 'v4'];
  await store.addVoters(logins.map((login) => ({ login, firstName: 'V', lastName: login, email: `${login}@example.org`, passwordHash, refSalt: testSalt(login) })));
  const batches: string[][] = [];
  const issuer = new TokenIssuer({
    store,
    election,
    issuerKey,
    issuanceSecret: SECRET,
    now: () => T0,
    commitRegister: async () => {},
    recordIssuance: async (items) => void batches.push(items.map((i) => toHex(i.ref))),
    // The window is long: the first batch must go out because it is full, not because of time.
    batch: { size: 2, windowMs: 600_000 },
  });
  t.teardown(() => issuer.dispose());
  await Promise.all(['v1', 'v2'].map((l) => issuer.issue(l, requestToken(election).blindedMsg)));
  t.equal(batches.length, 1, 'two requests, one entry: published when full');
  t.equal(batches[0]!.length, 2, 'with both references');

  // A batch that does not fill waits for the window; dispose() ends the wait here (a server stopping).
  const lone = issuer.issue('v3', requestToken(election).blindedMsg);
  await new Promise((r) => setImmediate(r));
  issuer.dispose();
  await rejectsCode(t, lone, 'ISSUANCE_NOT_RECORDED', 'a pending batch at shutdown: refused, nothing signed');
  t.equal(await issuer.status('v3'), 'none', 'and the reservation released');

  // A partial batch is published after the window (a short one here).
  const quick = new TokenIssuer({
    store,
    election,
    issuerKey,
    issuanceSecret: SECRET,
    now: () => T0,
    commitRegister: async () => {},
    recordIssuance: async (items) => void batches.push(items.map((i) => toHex(i.ref))),
    batch: { size: 8, windowMs: 1 },
  });
  await quick.issue('v4', requestToken(election).blindedMsg);
  t.equal(batches.length, 2, 'one more entry');
  t.equal(batches[1]!.length, 1, 'with the one reference the window collected');
  throwsCode(t, () => new TokenIssuer({ store, election, issuerKey, issuanceSecret: SECRET, commitRegister: async () => {}, recordIssuance: async () => {}, batch: { size: 257, windowMs: 0 } }), 'OUT_OF_RANGE', 'a batch above 256');
});
