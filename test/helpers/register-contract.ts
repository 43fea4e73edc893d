/**
 * The contract every RegisterStore implementation must meet (src/org/register-store.ts), as
 * one suite run against each implementation by test/org-register.test.ts, in the manner of
 * @fastify/rate-limit's store tests: a new implementation passes this file or is not done.
 *
 * Also exports the small helpers the org tests share: an async `rejectsCode` (tap's
 * `t.rejects` takes no predicate) and a cheap scrypt parameter set for test passwords.
 */
import { testSalt } from './register.js';
import type { Test } from 'tap';
import { isTallyError, type ErrorCode } from '../../src/errors.js';
import { hashPassword, type ScryptParams } from '../../src/org/password.js';
import type { RegisterStore } from '../../src/org/register-store.js';
import type { Voter } from '../../src/org/voter.js';

/** scrypt parameters for tests: cheap, and visibly not production (N=16). */
export const TEST_SCRYPT: ScryptParams = { N: 16, r: 1, p: 1 };

/** Assert that `p` rejects with a TallyError of `code` (and, if given, a message containing `needle`). */
export async function rejectsCode(t: Test, p: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode, msg: string, needle?: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    const ok = isTallyError(e, code) && (needle === undefined || e.message.includes(needle));
    t.ok(ok, `${msg}: rejects with ${code}${needle ? ` (${needle})` : ''}`, ok ? {} : { got: e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : e });
    return;
  }
  t.fail(`${msg}: expected ${code}, it resolved`);
}

/** A test store and how to dispose of it; `reopen` (persistent stores) closes and reopens it. */
export interface RegisterHarness {
  readonly store: RegisterStore;
  readonly reopen?: () => Promise<RegisterStore>;
  readonly cleanup: () => Promise<void>;
}

let cachedHash: Promise<string> | undefined;
/** One cheap hash shared by the contract's voters (hashing is not what is tested here). */
function testHash(): Promise<string> {
  return (cachedHash ??= hashPassword('correct horse battery', { params: TEST_SCRYPT }));
}

/** A valid voter with the given login. */
export async function testVoter(login: string, extra: Partial<Voter> = {}): Promise<Voter> {
  return { login, firstName: 'Ada', lastName: 'Lovelace', email: `${login.replace(/[^A-Za-z0-9]/g, 'x')}@example.org`, passwordHash: await testHash(), refSalt: testSalt(login), ...extra };
}

const E1 = 'election-1';
const E2 = 'election-2';
const R1 = '11'.repeat(16);
const R2 = '22'.repeat(16);
const R3 = '33'.repeat(16);

/**
 * Run the contract suite.
 * @param t - parent test
 * @param name - implementation name, for test titles
 * @param make - creates a fresh, empty store for one subtest
 */
export function registerContract(t: Test, name: string, make: () => Promise<RegisterHarness>): void {
  const withStore = (title: string, fn: (t: Test, h: RegisterHarness) => Promise<void>): void => {
    t.test(`${name}: ${title}`, async (t) => {
      const h = await make();
      try {
        await fn(t, h);
      } finally {
        await h.cleanup();
      }
    });
  };

  withStore('an empty register', async (t, { store }) => {
    t.equal(await store.getVoter('alice'), undefined, 'no voter');
    t.equal(await store.countVoters(), 0, 'count 0');
    t.same([...(await store.existingLogins(['alice', 'bob']))], [], 'no existing logins');
    t.equal(await store.getIssuance(E1, 'alice'), undefined, 'no issuance');
  });

  withStore('voters round-trip; logins are case-sensitive', async (t, { store }) => {
    const a = await testVoter('alice', { firstName: 'Zoë', lastName: "O'Brien-Łukasz" });
    const b = await testVoter('Alice');
    await store.addVoters([a, b]);
    t.same(await store.getVoter('alice'), a, 'alice read back');
    t.same(await store.getVoter('Alice'), b, 'Alice is another voter');
    t.equal(await store.getVoter('ALICE'), undefined, 'ALICE is unknown');
    t.equal(await store.countVoters(), 2, 'count 2');
    t.same([...(await store.existingLogins(['alice', 'bob', 'Alice']))].sort(), ['Alice', 'alice'], 'existing subset');
  });

  withStore('reference salts are stored and listed (the register commitment, spec §7.5)', async (t, { store }) => {
    t.same(await store.listRefSalts(), [], 'an empty register lists nothing');
    const voters = [await testVoter('alice'), await testVoter('bob'), await testVoter('Carol')];
    await store.addVoters(voters);
    const listed = (await store.listRefSalts()).sort((a, b) => (a.login < b.login ? -1 : 1));
    t.same(listed, voters.map((v) => ({ login: v.login, refSalt: v.refSalt })).sort((a, b) => (a.login < b.login ? -1 : 1)), 'every voter with their salt');
    t.equal((await store.getVoter('bob'))!.refSalt, voters[1]!.refSalt, 'read back with the voter');
    await rejectsCode(t, store.addVoters([await testVoter('dora', { refSalt: 'AB'.repeat(32) })]), 'MALFORMED', 'an upper-case salt');
    await rejectsCode(t, store.addVoters([await testVoter('erin', { refSalt: 'ab'.repeat(31) })]), 'MALFORMED', 'a short salt');
    await rejectsCode(t, store.addVoters([{ ...(await testVoter('fred')), refSalt: undefined } as unknown as Voter]), 'MALFORMED', 'no salt');
  });

  withStore('addVoters is all or nothing', async (t, { store }) => {
    await store.addVoters([await testVoter('alice')]);
    await rejectsCode(t, store.addVoters([await testVoter('bob'), await testVoter('alice'), await testVoter('carol')]), 'CONFLICT', 'existing login');
    t.equal(await store.getVoter('bob'), undefined, 'bob not added');
    t.equal(await store.getVoter('carol'), undefined, 'carol not added');
    await rejectsCode(t, store.addVoters([await testVoter('dave'), await testVoter('dave')]), 'MALFORMED', 'repeated login in a batch');
    await rejectsCode(t, store.addVoters([await testVoter('erin'), await testVoter('bad login')]), 'MALFORMED', 'invalid login in a batch');
    await rejectsCode(t, store.addVoters([await testVoter('frank', { email: 'not-an-email' })]), 'MALFORMED', 'invalid e-mail');
    await rejectsCode(t, store.addVoters([await testVoter('gina', { passwordHash: 'plaintext' })]), 'MALFORMED', 'not a scrypt hash');
    await rejectsCode(t, store.addVoters([{ ...(await testVoter('hank')), extra: 1 } as unknown as Voter]), 'MALFORMED', 'extra member');
    t.equal(await store.countVoters(), 1, 'still only alice');
  });

  withStore('arguments are validated', async (t, { store }) => {
    await store.addVoters([await testVoter('alice')]);
    await rejectsCode(t, store.getVoter('al ice'), 'MALFORMED', 'getVoter bad login');
    await rejectsCode(t, store.getVoter('x'.repeat(65)), 'MALFORMED', 'getVoter long login');
    await rejectsCode(t, store.reserveIssuance('bad id!', 'alice', R1, 0, 1000), 'MALFORMED', 'bad election id');
    await rejectsCode(t, store.reserveIssuance(E1, 'alice', 'XYZ', 0, 1000), 'MALFORMED', 'bad reservation id');
    await rejectsCode(t, store.reserveIssuance(E1, 'alice', R1, -1, 1000), 'OUT_OF_RANGE', 'negative time');
    await rejectsCode(t, store.reserveIssuance(E1, 'alice', R1, 0, 0), 'OUT_OF_RANGE', 'zero lease');
    await rejectsCode(t, store.completeIssuance(E1, 'alice', 'nothex', 0), 'MALFORMED', 'complete bad id');
    await rejectsCode(t, store.reserveIssuance(E1, 'nobody', R1, 0, 1000), 'NOT_FOUND', 'unknown voter');
    t.equal(await store.getIssuance(E1, 'alice'), undefined, 'nothing reserved by the refused calls');
  });

  withStore('reserve → complete → issued is final', async (t, { store }) => {
    await store.addVoters([await testVoter('alice')]);
    const r = await store.reserveIssuance(E1, 'alice', R1, 1000, 60_000);
    t.ok(r.ok, 'first reservation succeeds');
    t.same(await store.getIssuance(E1, 'alice'), { state: 'reserved', reservation: R1, reservedAt: 1000, issuedAt: null }, 'reserved record');
    const again = await store.reserveIssuance(E1, 'alice', R2, 2000, 60_000);
    t.same(again.ok ? 'ok' : [again.reason, again.reason === 'pending' ? again.retryAfterMs : -1], ['pending', 59_000], 'second reservation pending, with the time left');
    t.equal(await store.completeIssuance(E1, 'alice', R2, 3000), false, 'complete with the wrong id does nothing');
    t.equal(await store.completeIssuance(E1, 'alice', R1, 3000), true, 'complete with the right id');
    t.same(await store.getIssuance(E1, 'alice'), { state: 'issued', reservation: R1, reservedAt: 1000, issuedAt: 3000 }, 'issued record');
    const after = await store.reserveIssuance(E1, 'alice', R3, 10_000_000, 60_000);
    t.same(after.ok ? 'ok' : after.reason, 'issued', 'reserve after issuance: issued, even long after');
    t.equal(await store.completeIssuance(E1, 'alice', R1, 4000), false, 'complete twice: false');
    t.equal(await store.releaseIssuance(E1, 'alice', R1), false, 'release of an issued record: refused');
    t.equal(await store.clearReservation(E1, 'alice'), false, 'admin clear never touches issued');
    t.equal((await store.getIssuance(E1, 'alice'))?.state, 'issued', 'still issued');
  });

  withStore('release gives the reservation back, only to its holder', async (t, { store }) => {
    await store.addVoters([await testVoter('alice')]);
    t.ok((await store.reserveIssuance(E1, 'alice', R1, 0, 60_000)).ok, 'reserved');
    t.equal(await store.releaseIssuance(E1, 'alice', R2), false, 'release by another id: refused');
    t.equal(await store.releaseIssuance(E1, 'alice', R1), true, 'release by the holder');
    t.equal(await store.getIssuance(E1, 'alice'), undefined, 'back to none');
    t.ok((await store.reserveIssuance(E1, 'alice', R2, 1, 60_000)).ok, 'reservable again');
  });

  withStore('an expired reservation is taken over, and only the new holder completes', async (t, { store }) => {
    await store.addVoters([await testVoter('alice')]);
    t.ok((await store.reserveIssuance(E1, 'alice', R1, 0, 1000)).ok, 'R1 reserves at 0');
    const early = await store.reserveIssuance(E1, 'alice', R2, 999, 1000);
    t.same(early.ok ? 'ok' : [early.reason, early.reason === 'pending' ? early.retryAfterMs : -1], ['pending', 1], 'at 999: pending, 1 ms left');
    t.ok((await store.reserveIssuance(E1, 'alice', R2, 1000, 1000)).ok, 'at 1000: R2 takes over');
    t.equal(await store.completeIssuance(E1, 'alice', R1, 1001), false, 'the old holder cannot complete');
    t.equal(await store.releaseIssuance(E1, 'alice', R1), false, 'nor release');
    t.equal(await store.completeIssuance(E1, 'alice', R2, 1002), true, 'the new holder completes');
  });

  withStore('clearReservation (admin) removes a reservation', async (t, { store }) => {
    await store.addVoters([await testVoter('alice')]);
    t.equal(await store.clearReservation(E1, 'alice'), false, 'nothing to clear');
    t.ok((await store.reserveIssuance(E1, 'alice', R1, 0, 60_000)).ok, 'reserved');
    t.equal(await store.clearReservation(E1, 'alice'), true, 'cleared');
    t.equal(await store.completeIssuance(E1, 'alice', R1, 1), false, 'the cleared holder cannot complete');
    t.ok((await store.reserveIssuance(E1, 'alice', R2, 2, 60_000)).ok, 'reservable at once');
  });

  withStore('elections are independent', async (t, { store }) => {
    await store.addVoters([await testVoter('alice'), await testVoter('bob')]);
    t.ok((await store.reserveIssuance(E1, 'alice', R1, 0, 60_000)).ok, 'E1 alice');
    t.ok(await store.completeIssuance(E1, 'alice', R1, 1), 'E1 alice issued');
    t.ok((await store.reserveIssuance(E2, 'alice', R2, 2, 60_000)).ok, 'E2 alice is separate');
    t.ok((await store.reserveIssuance(E1, 'bob', R3, 3, 60_000)).ok, 'E1 bob is separate');
  });

  withStore('concurrent reservations: exactly one wins', async (t, { store }) => {
    await store.addVoters([await testVoter('alice')]);
    const ids = Array.from({ length: 20 }, (_, i) => i.toString(16).padStart(2, '0').repeat(16));
    const outcomes = await Promise.all(ids.map((id) => store.reserveIssuance(E1, 'alice', id, 5, 60_000)));
    t.equal(outcomes.filter((o) => o.ok).length, 1, 'one ok');
    const winner = ids[outcomes.findIndex((o) => o.ok)]!;
    const completes = await Promise.all(ids.map((id) => store.completeIssuance(E1, 'alice', id, 6)));
    t.same(completes.map((c, i) => (c ? ids[i] : null)).filter((x) => x !== null), [winner], 'only the winner completes');
  });

  withStore('state survives a reopen (persistent stores)', async (t, h) => {
    if (h.reopen === undefined) {
      t.pass('not a persistent store');
      return;
    }
    await h.store.addVoters([await testVoter('alice'), await testVoter('bob')]);
    t.ok((await h.store.reserveIssuance(E1, 'alice', R1, 0, 60_000)).ok, 'alice reserved');
    t.ok(await h.store.completeIssuance(E1, 'alice', R1, 1), 'alice issued');
    t.ok((await h.store.reserveIssuance(E1, 'bob', R2, 2, 60_000)).ok, 'bob reserved');
    const store = await h.reopen();
    t.same(await store.getVoter('alice'), await testVoter('alice'), 'voter persisted');
    t.equal(await store.countVoters(), 2, 'count persisted');
    t.equal((await store.getIssuance(E1, 'alice'))?.state, 'issued', 'issued persisted');
    t.equal((await store.getIssuance(E1, 'bob'))?.state, 'reserved', 'reservation persisted');
    const r = await store.reserveIssuance(E1, 'alice', R3, 10, 60_000);
    t.same(r.ok ? 'ok' : r.reason, 'issued', 'no second token after restart');
  });
}
