/**
 * Issuance survives a kill (issue 16.7, spec §7.4): a voter whose organization server died at
 * any point of the issuance — before the board record, after it, after signing, after the
 * register said "issued", or whose response was lost — gets their signature by retrying with
 * the same blinded message, at once, from the restarted server; and issuance stays once-only
 * (another blinded message is refused, the board counts one reference per voter).
 *
 * A "kill" is simulated by abandoning the first server's issuer in the middle of a step (a
 * promise that never settles) and building a new issuer over the same register, which is what
 * a restart over the durable register does.
 */
import { testSalt } from './helpers/register.js';
import type { IssuedRef } from '../src/election/records.js';
import t from 'tap';
import { completeToken, requestToken } from '../src/election/token.js';
import { TokenIssuer } from '../src/org/issuance.js';
import { hashPassword } from '../src/org/password.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import type { RegisterStore } from '../src/org/register-store.js';
import { toHex } from '../src/wire.js';
import { blindRsaFixture, fixtureElection } from './helpers/fixtures.js';
import { rejectsCode, TEST_SCRYPT } from './helpers/register-contract.js';

const election = fixtureElection();
const issuerKey = blindRsaFixture();
const SECRET = new Uint8Array(32).fill(9);
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

type KillPoint = 'before-record' | 'after-record' | 'before-complete' | 'after-complete' | 'response-lost';
const VOTERS: [string, KillPoint][] = [
  ['ada', 'before-record'],
  ['bea', 'after-record'],
  ['cyd', 'before-complete'],
  ['dan', 'after-complete'],
  ['eve', 'response-lost'],
];

t.test('regression: a kill during issuance — every voter can still get a token, once', async (t) => {
  const register = createMemoryRegister();
  const passwordHash = await hashPassword('voter-password', { params: TEST_SCRYPT });
  await register.addVoters(VOTERS.map(([login]) => ({ login, firstName: 'V', lastName: login, email: `${login}@example.org`, passwordHash, refSalt: testSalt(login) })));
  const board = new Map<string, number>(); // ref → times recorded (the board is idempotent per ref)
  const record = async (items: readonly IssuedRef[]): Promise<void> => {
    for (const { ref } of items) board.set(toHex(ref), (board.get(toHex(ref)) ?? 0) + 1);
  };

  // The first server, which dies at a different point for each voter.
  let killAt: KillPoint = 'before-record';
  const dying: RegisterStore = Object.assign(Object.create(register) as RegisterStore, {
    completeIssuance: async (...args: Parameters<RegisterStore['completeIssuance']>) => {
      if (killAt === 'before-complete') return never<boolean>();
      const done = await register.completeIssuance(...args);
      if (killAt === 'after-complete') return never<boolean>();
      return done;
    },
  });
  const first = new TokenIssuer({
    store: dying,
    election,
    issuerKey,
    issuanceSecret: SECRET,
    now: () => T0,
    commitRegister: async () => {},
    recordIssuance: async (items) => {
      if (killAt === 'before-record') return never<void>();
      await record(items);
      if (killAt === 'after-record') return never<void>();
    },
    recordTimeoutMs: 5_000,
  });
  const pendings = new Map<string, ReturnType<typeof requestToken>>();
  for (const [login, point] of VOTERS) {
    killAt = point;
    const pending = requestToken(election);
    pendings.set(login, pending);
    const attempt = first.issue(login, pending.blindedMsg);
    if (point === 'response-lost') {
      await attempt; // signed and stored, but the voter never sees the answer
    } else {
      attempt.catch(() => undefined); // never settles: the process died here
    }
    // Let the dying request reach its kill point.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  }

  // The restarted server: same register, same board, a clock that has NOT passed any lease.
  const second = new TokenIssuer({ store: register, election, issuerKey, issuanceSecret: SECRET, now: () => T0 + 1000, recordIssuance: record, commitRegister: async () => {} });
  for (const [login, point] of VOTERS) {
    const pending = pendings.get(login)!;
    const blindSig = await second.issue(login, pending.blindedMsg);
    const token = completeToken(election, pending, blindSig); // verifies the signature
    t.equal(token.credential.publicKey.length, 32, `${login} (killed ${point}): a valid token after one retry, without waiting`);
    t.equal(await second.status(login), 'issued');
    // Once-only: another blinded message is refused; the same one gets the same answer.
    await rejectsCode(t, second.issue(login, requestToken(election).blindedMsg), 'TOKEN_ALREADY_ISSUED', `${login}: a second token is refused`);
    t.equal(toHex(await second.issue(login, pending.blindedMsg)), toHex(blindSig), `${login}: the same request, the same signature`);
  }
  t.equal(board.size, VOTERS.length, 'one reference per voter on the board');
  t.same([...board.keys()].sort(), (await Promise.all(VOTERS.map(async ([l]) => toHex(await second.refOf(l))))).sort(), 'exactly the voters’ references');
});
