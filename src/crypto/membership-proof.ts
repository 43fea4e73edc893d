/**
 * Ballot validity proof (spec/05-membership-proof.md): a non-interactive 1-out-of-|A|
 * disjunctive proof (Cramer–Damgård–Schoenmakers) that c encrypts some m ∈ A, i.e. that
 * u_m = c · (1+n)^(−m) mod n² is an n-th residue for one m ∈ A, without saying which.
 *
 * Each branch carries (a_m, e_m, z_m). Since tallyboard/2 the verification equation is SQUARED,
 * (z_m^n)^2 ≡ (a_m · u_m^(e_m))^2 (mod n²) (check 5.4g): it ignores an error of order 2 (−1,
 * or the square roots of 1 only the key holder knows), so that a batch verifier
 * (batch-membership.ts, spec §5.7) and this per-proof verifier reach the same verdict. The true
 * branch is a real sigma protocol run, the others are simulated, and the branch challenges must
 * add up (mod 2^t) to the Fiat–Shamir challenge e. Commitments a_m are PUBLISHED rather than
 * recomputed from (e_m, z_m) so that a verifier can batch many proofs.
 *
 * Soundness needs every e_m < 2^t < min(p, q): from two accepting answers to different
 * challenges, (u^2)^(e−e') = ((z/z')^2)^n and gcd(e − e', n) = 1, so u^2 is an n-th residue,
 * hence u is (n is odd; spec §5.1). Without the per-branch range check, a prover may use
 * e_m ≥ 2^t and forge (spec §5.5 gives the attack).
 *
 * Proving is split in two (spec §5.6): {@link precomputeMembership} does every exponentiation
 * that does not depend on the voter's choice (ρ^n and K − 1 random n-th powers w^n), and
 * {@link proveMembership} then costs K short exponentiations mod n — what makes pressing Cast
 * cheap. A simulated branch is z_k = w_k · r^(e_k) mod n with w_k uniform, so z_k is uniform in
 * Z*_n and independent of e_k, exactly as when z_k is drawn directly.
 *
 * "Strong" Fiat–Shamir: the challenge hashes the whole statement (election, question, token,
 * key, allowed set, ciphertext) and every commitment, so a proof cannot be replayed under
 * another token, question or election.
 *
 * Verification is pure: it takes values and returns a typed result naming the failed check.
 */
import { fromBytesBE, gcd, mod, modPow, randomBelow, randomUnit } from './bigint.js';
import { HASH_LEN, SPEC_VERSION, TAGS, transcript } from './hash.js';
import type { PaillierPublicKey } from './paillier.js';

/** Challenge length t in bits (spec §5.1). 2^t < min(p, q) holds for p, q ≥ 1024 bits. */
export const CHALLENGE_BITS = 256;
const TWO_T = 1n << BigInt(CHALLENGE_BITS);
/** Byte length of a challenge on the wire and in transcripts. */
export const CHALLENGE_LEN = CHALLENGE_BITS / 8;

/** One branch of the proof, for the allowed value m at the same index of A. */
export interface ProofBranch {
  /** a_m: commitment, in Z*_{n²} */
  readonly a: bigint;
  /** e_m: branch challenge, 0 ≤ e_m < 2^t */
  readonly e: bigint;
  /** z_m: response, 0 < z_m < n, gcd(z_m, n) = 1 */
  readonly z: bigint;
}

/** A membership proof: one branch per member of A, in A's (ascending) order. */
export type MembershipProof = readonly ProofBranch[];

/** What the challenge binds besides the statement itself (spec §5.3). */
export interface ProofContext {
  /** 32-byte election fingerprint */
  readonly fingerprint: Uint8Array;
  /** index of the question in the manifest, 0-based */
  readonly questionIndex: number;
  /** 32-byte Ed25519 public key of the voter's eligibility token */
  readonly tokenPublicKey: Uint8Array;
  /** 32-byte hash of the allowed set (spec §4.3) */
  readonly allowedSetHash: Uint8Array;
}

/** Result of verification: ok, or the spec check that failed. */
export type ProofCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly check: string; readonly branch?: number; readonly reason: string };

/**
 * Fiat–Shamir challenge e (spec §5.3):
 * e = H(membershipChallenge, STR(version) ‖ FIXED(fingerprint) ‖ U32(question) ‖ FIXED(token pk)
 *       ‖ BYTES(n) ‖ FIXED(allowedSetHash) ‖ INT(c, L_{n²}) ‖ LIST(INT(a_m, L_{n²}))),
 * read as a 256-bit big-endian integer (t = 256, so no truncation).
 */
export function membershipChallenge(pk: PaillierPublicKey, c: bigint, commitments: readonly bigint[], ctx: ProofContext): bigint {
  const w = transcript(TAGS.membershipChallenge)
    .str(SPEC_VERSION)
    .fixed(ctx.fingerprint, HASH_LEN)
    .u32(ctx.questionIndex)
    .fixed(ctx.tokenPublicKey, 32);
  pk.encode(w);
  w.fixed(ctx.allowedSetHash, HASH_LEN).int(c, pk.n2Len);
  w.list(commitments, (x, a) => x.int(a, pk.n2Len));
  return fromBytesBE(w.digest());
}

/**
 * Everything of a proof that does not depend on the encrypted value (spec §5.6): the real
 * branch's ρ and ρ^n, and K − 1 pairs (w, w^n) for the simulated branches. SECRET: it must be
 * used for one proof only and then dropped.
 */
export interface MembershipPrecomputation {
  /** number of branches K this precomputation serves */
  readonly size: number;
  readonly rho: bigint;
  /** ρ^n mod n², the real branch's commitment */
  readonly rhoN: bigint;
  /** w_k ∈ Z*_n, one per simulated branch */
  readonly w: readonly bigint[];
  /** W_k = w_k^n mod n² */
  readonly wN: readonly bigint[];
}

/**
 * The choice-independent part of a proof over K branches: K full exponentiations mod n².
 * @param pk - election public key
 * @param size - K = |A| ≥ 1
 * @param rng - randomness source (tests inject a deterministic one)
 * @throws RangeError if size is not a positive integer
 */
export function precomputeMembership(pk: PaillierPublicKey, size: number, rng?: (n: number) => Uint8Array): MembershipPrecomputation {
  if (!Number.isInteger(size) || size < 1) throw new RangeError('precomputeMembership: size must be a positive integer');
  const { n, n2 } = pk;
  const rho = randomUnit(n, rng);
  const w: bigint[] = [];
  for (let k = 1; k < size; k++) w.push(randomUnit(n, rng));
  return { size, rho, rhoN: modPow(rho, n, n2), w, wN: w.map((x) => modPow(x, n, n2)) };
}

/**
 * Prove that c = Enc(allowed[index]; r).
 * @param pk - election public key
 * @param c - the ciphertext, c = (1 + m·n)·r^n mod n² with m = allowed[index] (NOT checked: a
 *   wrong c gives a proof that does not verify)
 * @param r - its randomness, r ∈ Z*_n (secret)
 * @param allowed - the allowed set A, ascending, as returned by allowedSet()
 * @param index - position of the encrypted value in A
 * @param ctx - the context bound into the challenge
 * @param rng - randomness source (tests inject a deterministic one for known-answer vectors)
 * @param pre - a fresh {@link precomputeMembership} of size |A| (computed here when absent)
 * @throws RangeError if index is out of bounds or `pre` has the wrong size (caller bug)
 */
export function proveMembership(
  pk: PaillierPublicKey,
  c: bigint,
  r: bigint,
  allowed: readonly bigint[],
  index: number,
  ctx: ProofContext,
  rng?: (n: number) => Uint8Array,
  pre?: MembershipPrecomputation,
): MembershipProof {
  if (!Number.isInteger(index) || index < 0 || index >= allowed.length) throw new RangeError('proveMembership: index out of range');
  const p = pre ?? precomputeMembership(pk, allowed.length, rng);
  if (p.size !== allowed.length) throw new RangeError('proveMembership: precomputation of the wrong size');
  const { n, n2 } = pk;
  const mi = allowed[index]!;
  const a: bigint[] = new Array(allowed.length);
  const e: bigint[] = new Array(allowed.length);
  const z: bigint[] = new Array(allowed.length);
  // Simulated branches: z_k = w_k·r^(e_k) mod n, so z_k^n = W_k·(r^n)^(e_k) and
  // a_k = z_k^n · u_k^(−e_k) = W_k · ((1+n)^(m_k − m_i))^(e_k) = W_k · (1 + (m_k − m_i)·e_k·n) mod n²
  // (as c = (1+n)^(m_i)·r^n): no exponentiation mod n² once W_k is known.
  let s = 0;
  for (let k = 0; k < allowed.length; k++) {
    if (k === index) continue;
    const ek = randomBelow(TWO_T, rng);
    const wk = p.w[s]!;
    const Wk = p.wN[s]!;
    s++;
    z[k] = (wk * modPow(r, ek, n)) % n;
    a[k] = (Wk * (1n + mod((allowed[k]! - mi) * ek, n) * n)) % n2;
    e[k] = ek;
  }
  a[index] = p.rhoN;
  const challenge = membershipChallenge(pk, c, a, ctx);
  let rest = 0n;
  for (let k = 0; k < allowed.length; k++) if (k !== index) rest += e[k]!;
  const ei = (((challenge - rest) % TWO_T) + TWO_T) % TWO_T;
  e[index] = ei;
  // z_i = ρ · r^(e_i) mod n: z_i^n = ρ^n · (r^n)^(e_i) = a_i · u_i^(e_i) (mod n²).
  z[index] = (p.rho * modPow(r, ei, n)) % n;
  return a.map((ak, k) => ({ a: ak, e: e[k]!, z: z[k]! }));
}

/**
 * u_k^(e_k) mod n² for u_k = c·(1 + n)^(−m_k), without an inverse (spec §5.4g):
 * (1 + n)^(−m·e) ≡ 1 − m·e·n (mod n²), so u_k^(e_k) = c^(e_k) · (1 − e_k·m_k·n).
 * @param pk - election public key
 * @param cPowE - c^(e_k) mod n²
 * @param m - the allowed value m_k
 * @param e - the branch challenge e_k ≥ 0
 * @returns u_k^(e_k) mod n²
 */
export function uPow(pk: PaillierPublicKey, cPowE: bigint, m: bigint, e: bigint): bigint {
  const { n, n2 } = pk;
  return (cPowE * (1n + mod(-(m * e), n) * n)) % n2;
}

/**
 * Checks 5.4a–5.4f of a membership proof: counts, ranges and the Fiat–Shamir sum, in the
 * spec's order. With `gcds` false the coprimality parts of 5.4b–5.4d are left to the caller
 * (the batch verifier checks them for a whole chunk at once, spec §5.7).
 * Pure: never throws for any input values.
 */
export function checkMembershipStructure(
  pk: PaillierPublicKey,
  c: bigint,
  proof: MembershipProof,
  allowed: readonly bigint[],
  ctx: ProofContext,
  gcds = true,
): ProofCheck {
  const { n, n2 } = pk;
  if (proof.length !== allowed.length) {
    return { ok: false, check: '5.4a', reason: `expected ${allowed.length} branches, got ${proof.length}` };
  }
  const unitN2 = (x: bigint) => x > 0n && x < n2 && (!gcds || gcd(x, n) === 1n);
  if (!unitN2(c)) return { ok: false, check: '5.4b', reason: 'ciphertext c is not in Z*_{n²}' };
  for (let k = 0; k < proof.length; k++) {
    const { a, e, z } = proof[k]!;
    if (!unitN2(a)) return { ok: false, check: '5.4c', branch: k, reason: 'commitment a_m is not in Z*_{n²}' };
    if (!(z > 0n && z < n && (!gcds || gcd(z, n) === 1n))) return { ok: false, check: '5.4d', branch: k, reason: 'response z_m is not in Z*_n' };
    if (!(e >= 0n && e < TWO_T)) return { ok: false, check: '5.4e', branch: k, reason: 'branch challenge e_m is not in [0, 2^t)' };
  }
  const challenge = membershipChallenge(
    pk,
    c,
    proof.map((b) => b.a),
    ctx,
  );
  let sum = 0n;
  for (const b of proof) sum += b.e;
  if (sum % TWO_T !== challenge) {
    return { ok: false, check: '5.4f', reason: 'branch challenges do not add up to the Fiat–Shamir challenge' };
  }
  return { ok: true };
}

/**
 * Check 5.4g, one branch at a time: (z_k^n)^2 ≡ (a_k · u_k^(e_k))^2 (mod n²).
 * Precondition: checks 5.4a–5.4f passed (the values are in range).
 */
export function checkMembershipEquations(pk: PaillierPublicKey, c: bigint, proof: MembershipProof, allowed: readonly bigint[]): ProofCheck {
  const { n, n2 } = pk;
  for (let k = 0; k < proof.length; k++) {
    const { a, e, z } = proof[k]!;
    const lhs = modPow(z, n, n2);
    const rhs = (a * uPow(pk, modPow(c, e, n2), allowed[k]!, e)) % n2;
    // Squares, not the values: an error of order 2 (−1, or a square root of 1 built from the
    // factors) is accepted, so that a batch check agrees (spec §5.4g, §11.4).
    if ((lhs * lhs) % n2 !== (rhs * rhs) % n2) return { ok: false, check: '5.4g', branch: k, reason: '(z_m^n)^2 ≠ (a_m · u_m^(e_m))^2 (mod n²)' };
  }
  return { ok: true };
}

/**
 * Verify a membership proof (spec §5.4, checks 5.4a–5.4g, ranges before equations): the
 * per-proof reference verifier, whose verdicts the batch verifier must reproduce.
 * Pure: no I/O, never throws for any input values.
 * @param pk - validated election public key
 * @param c - the ciphertext (range-checked here, check 5.4b)
 * @param proof - the branches, in A's order
 * @param allowed - the allowed set A, ascending
 * @param ctx - the context; the caller derives it from the ballot and manifest, never from the proof
 */
export function verifyMembership(
  pk: PaillierPublicKey,
  c: bigint,
  proof: MembershipProof,
  allowed: readonly bigint[],
  ctx: ProofContext,
): ProofCheck {
  const s = checkMembershipStructure(pk, c, proof, allowed, ctx);
  if (!s.ok) return s;
  return checkMembershipEquations(pk, c, proof, allowed);
}
