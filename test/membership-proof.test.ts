/**
 * Membership proofs (spec §5): prove→verify for every member of A, and mutation vectors, each
 * rejected by the check the spec names for it.
 */
import t, { type Test } from 'tap';
import { proveMembership, verifyMembership, CHALLENGE_BITS, membershipChallenge, type MembershipProof, type ProofContext } from '../src/crypto/membership-proof.js';
import { modInv, modPow, randomUnit } from '../src/crypto/bigint.js';
import { allowedSet } from '../src/election/ballot-encoding.js';
import { allowedSetHash } from '../src/election/manifest.js';
import { paillierFixture } from './helpers/fixtures.js';

const sk = paillierFixture('a');
const pk = sk.publicKey;
const { n, n2 } = pk;
const TWO_T = 1n << BigInt(CHALLENGE_BITS);
const b = 7; // B = 128 > maxVoters = 100
const shape = { options: 3, min: 0, max: 2 };
const A = allowedSet(shape, b);
const ctx: ProofContext = {
  fingerprint: new Uint8Array(32).fill(1),
  questionIndex: 0,
  tokenPublicKey: new Uint8Array(32).fill(2),
  allowedSetHash: allowedSetHash(pk, A),
};

t.equal(A.length, 7, '|A| for 3 options choose 0..2');

t.test('prove→verify for every member of A', async (t) => {
  for (let i = 0; i < A.length; i++) {
    const { c, r } = pk.encryptFresh(A[i]!);
    const proof = proveMembership(pk, c, r, A, i, ctx);
    t.same(verifyMembership(pk, c, proof, A, ctx), { ok: true }, `member ${i} (m = ${A[i]})`);
  }
});

// One honest proof to mutate.
const m0 = A[3]!;
const { c, r } = pk.encryptFresh(m0);
const proof = proveMembership(pk, c, r, A, 3, ctx);
t.same(verifyMembership(pk, c, proof, A, ctx), { ok: true }, 'base proof verifies');

function withBranch(p: MembershipProof, k: number, patch: Partial<{ a: bigint; e: bigint; z: bigint }>): MembershipProof {
  return p.map((br, i) => (i === k ? { ...br, ...patch } : br));
}

function expectCheck(t: Test, res: ReturnType<typeof verifyMembership>, check: string, msg: string): void {
  t.equal(res.ok, false, `${msg}: rejected`);
  if (!res.ok) t.equal(res.check, check, `${msg}: by check ${check} (${res.reason})`);
}

t.test('mutation vectors', async (t) => {
  const br = proof[1]!;
  const cases: { name: string; c?: bigint; proof?: MembershipProof; ctx?: ProofContext; check: string }[] = [
    { name: 'flipped bit in c', c: c ^ (1n << 5n), check: '5.4f' },
    { name: 'flipped bit in a_m', proof: withBranch(proof, 1, { a: br.a ^ (1n << 100n) }), check: '5.4f' },
    { name: 'flipped bit in z_m', proof: withBranch(proof, 1, { z: br.z ^ (1n << 3n) }), check: '5.4g' },
    { name: 'flipped bit in e_m', proof: withBranch(proof, 1, { e: br.e ^ (1n << 17n) }), check: '5.4f' },
    {
      name: 'e_m moved between branches (sum kept)',
      proof: withBranch(withBranch(proof, 1, { e: (br.e + 1n) % TWO_T }), 2, { e: (proof[2]!.e - 1n + TWO_T) % TWO_T }),
      check: '5.4g',
    },
    { name: 'e_m ≥ 2^t with a compensating sum', proof: withBranch(proof, 1, { e: br.e + TWO_T }), check: '5.4e' },
    { name: 'e_m < 0', proof: withBranch(proof, 1, { e: br.e - TWO_T }), check: '5.4e' },
    { name: 'z ≥ n (z + n in place of z)', proof: withBranch(proof, 1, { z: br.z + n }), check: '5.4d' },
    { name: 'z = n', proof: withBranch(proof, 1, { z: n }), check: '5.4d' },
    { name: 'z = 0', proof: withBranch(proof, 1, { z: 0n }), check: '5.4d' },
    { name: 'gcd(z, n) ≠ 1', proof: withBranch(proof, 1, { z: BigInt('0x' + sk.toJSON().p) }), check: '5.4d' },
    { name: 'a_m = 0', proof: withBranch(proof, 1, { a: 0n }), check: '5.4c' },
    { name: 'a_m ≥ n²', proof: withBranch(proof, 1, { a: br.a + n2 }), check: '5.4c' },
    { name: 'gcd(c, n) ≠ 1', c: n, check: '5.4b' },
    { name: 'c = 0', c: 0n, check: '5.4b' },
    { name: 'c ≥ n²', c: c + n2, check: '5.4b' },
    { name: 'c = n²', c: n2, check: '5.4b' },
    { name: 'truncated proof', proof: proof.slice(0, -1), check: '5.4a' },
    { name: 'extra branch', proof: [...proof, proof[0]!], check: '5.4a' },
    { name: 'branches reordered', proof: [proof[1]!, proof[0]!, ...proof.slice(2)], check: '5.4f' },
    { name: 'moved to another token', ctx: { ...ctx, tokenPublicKey: new Uint8Array(32).fill(3) }, check: '5.4f' },
    { name: 'moved to another question', ctx: { ...ctx, questionIndex: 1 }, check: '5.4f' },
    { name: 'moved to another election', ctx: { ...ctx, fingerprint: new Uint8Array(32).fill(9) }, check: '5.4f' },
  ];
  for (const k of cases) {
    expectCheck(t, verifyMembership(pk, k.c ?? c, k.proof ?? proof, A, k.ctx ?? ctx), k.check, k.name);
  }
});

t.test('a ciphertext of m ∉ A with a proof built honestly over the wrong set', async (t) => {
  const B = 1n << BigInt(b);
  const bad: [string, bigint][] = [
    ['2·B^j (two votes for one option)', 2n * B],
    ['B^k (beyond the last option)', B ** 3n],
    ['n − 1 (a negative vote)', n - 1n],
  ];
  for (const [name, m] of bad) {
    const { c: cb, r: rb } = pk.encryptFresh(m);
    // The forger replaces one member of A by m, keeps the size, and binds the REAL set's hash.
    const wrongSet = [m, ...A.slice(1)];
    const forged = proveMembership(pk, cb, rb, wrongSet, 0, ctx);
    expectCheck(t, verifyMembership(pk, cb, forged, A, ctx), '5.4g', name);
    // Bound to the wrong set's hash instead, the challenge differs.
    const forged2 = proveMembership(pk, cb, rb, wrongSet, 0, { ...ctx, allowedSetHash: allowedSetHash(pk, wrongSet) });
    expectCheck(t, verifyMembership(pk, cb, forged2, A, ctx), '5.4f', `${name}, wrong set hash`);
  }
});

t.test('the per-branch range check 0 ≤ e_m < 2^t is what stops a forgery (spec §5.5)', async (t) => {
  // Forge a proof that c = Enc(1000) is in {0, 1, 2}: branch 0 uses e_0 = λ·n, a multiple of n,
  // so u_0^(e_0) = (u_0^λ)^n is an n-th residue whatever u_0 is.
  const set = [0n, 1n, 2n];
  const small: ProofContext = { ...ctx, allowedSetHash: allowedSetHash(pk, set) };
  const { c: cf } = pk.encryptFresh(1000n);
  const cInv = modInv(cf, n2);
  const branches: { a: bigint; e: bigint; z: bigint }[] = [];
  for (let k = 1; k < set.length; k++) {
    const e = 5n + BigInt(k);
    const z = randomUnit(n);
    const uInv = (cInv * (1n + set[k]! * n)) % n2;
    branches[k] = { a: (modPow(z, n, n2) * modPow(uInv, e, n2)) % n2, e, z };
  }
  const rho = randomUnit(n);
  const a0 = modPow(rho, n, n2);
  const chal = membershipChallenge(pk, cf, [a0, branches[1]!.a, branches[2]!.a], small);
  const rest = branches[1]!.e + branches[2]!.e;
  const lambda = ((((chal - rest) % TWO_T) + TWO_T) % TWO_T) * modInv(n, TWO_T) % TWO_T;
  const e0 = lambda * n;
  const u0 = (cf * pk.gInversePow(0n)) % n2;
  branches[0] = { a: a0, e: e0, z: ((rho * modPow(u0, lambda, n2)) % n2) % n };
  const forged = branches as MembershipProof;
  // Every equation and the challenge sum hold: only the range check catches it.
  const sum = forged.reduce((s, x) => s + x.e, 0n) % TWO_T;
  t.equal(sum, chal, 'branch challenges add up to the Fiat–Shamir challenge mod 2^t');
  for (let k = 0; k < 3; k++) {
    const { a, e, z } = forged[k]!;
    const u = (cf * pk.gInversePow(set[k]!)) % n2;
    t.equal(modPow(z, n, n2), (a * modPow(u, e, n2)) % n2, `equation of branch ${k} holds`);
  }
  expectCheck(t, verifyMembership(pk, cf, forged, set, small), '5.4e', 'forged proof of 1000 ∈ {0,1,2}');
});
