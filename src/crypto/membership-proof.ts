/**
 * Ballot validity proof (spec/05-membership-proof.md): a non-interactive 1-out-of-|A|
 * disjunctive proof (Cramer–Damgård–Schoenmakers) that c encrypts some m ∈ A, i.e. that
 * u_m = c · (1+n)^(−m) mod n² is an n-th residue for one m ∈ A, without saying which.
 *
 * Each branch carries (a_m, e_m, z_m) with z_m^n ≡ a_m · u_m^(e_m) (mod n²). The true branch is
 * a real sigma protocol run, the others are simulated, and the branch challenges must add up
 * (mod 2^t) to the Fiat–Shamir challenge e. Commitments a_m are PUBLISHED rather than
 * recomputed from (e_m, z_m) so that a verifier can later batch many proofs.
 *
 * Soundness needs every e_m < 2^t < min(p, q): from two accepting answers to different
 * challenges, u^(e−e') = (z/z')^n and gcd(e − e', n) = 1, so u is an n-th residue. Without the
 * per-branch range check, a prover may use e_m ≥ 2^t and forge (spec §5.5 gives the attack).
 *
 * "Strong" Fiat–Shamir: the challenge hashes the whole statement (election, question, token,
 * key, allowed set, ciphertext) and every commitment, so a proof cannot be replayed under
 * another token, question or election.
 *
 * Verification is pure: it takes values and returns a typed result naming the failed check.
 */
import { fromBytesBE, gcd, modInv, modPow, randomBelow, randomUnit } from './bigint.js';
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
 * Prove that c = Enc(allowed[index]; r).
 * @param pk - election public key
 * @param c - the ciphertext, c = (1 + m·n)·r^n mod n² with m = allowed[index]
 * @param r - its randomness, r ∈ Z*_n (secret)
 * @param allowed - the allowed set A, ascending, as returned by allowedSet()
 * @param index - position of the encrypted value in A
 * @param ctx - the context bound into the challenge
 * @param rng - randomness source (tests inject a deterministic one for known-answer vectors)
 * @throws RangeError if index is out of bounds (caller bug)
 */
export function proveMembership(
  pk: PaillierPublicKey,
  c: bigint,
  r: bigint,
  allowed: readonly bigint[],
  index: number,
  ctx: ProofContext,
  rng?: (n: number) => Uint8Array,
): MembershipProof {
  if (!Number.isInteger(index) || index < 0 || index >= allowed.length) throw new RangeError('proveMembership: index out of range');
  const { n, n2 } = pk;
  const cInv = modInv(c, n2);
  const a: bigint[] = new Array(allowed.length);
  const e: bigint[] = new Array(allowed.length);
  const z: bigint[] = new Array(allowed.length);
  // Simulated branches: pick e_m, z_m; set a_m = z_m^n · u_m^(−e_m), with u_m^(−1) = c^(−1)·(1 + m·n).
  for (let k = 0; k < allowed.length; k++) {
    if (k === index) continue;
    const ek = randomBelow(TWO_T, rng);
    const zk = randomUnit(n, rng);
    const uInv = (cInv * ((1n + allowed[k]! * n) % n2)) % n2;
    a[k] = (modPow(zk, n, n2) * modPow(uInv, ek, n2)) % n2;
    e[k] = ek;
    z[k] = zk;
  }
  // Real branch: commit to ρ^n.
  const rho = randomUnit(n, rng);
  a[index] = modPow(rho, n, n2);
  const challenge = membershipChallenge(pk, c, a, ctx);
  let rest = 0n;
  for (let k = 0; k < allowed.length; k++) if (k !== index) rest += e[k]!;
  const ei = (((challenge - rest) % TWO_T) + TWO_T) % TWO_T;
  e[index] = ei;
  // z_i = ρ · r^(e_i) mod n: z_i^n = ρ^n · (r^n)^(e_i) = a_i · u_i^(e_i) (mod n²).
  z[index] = (rho * modPow(r, ei, n)) % n;
  return a.map((ak, k) => ({ a: ak, e: e[k]!, z: z[k]! }));
}

/**
 * Verify a membership proof (spec §5.4, checks 5.4a–5.4g, ranges before equations).
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
  const { n, n2 } = pk;
  if (proof.length !== allowed.length) {
    return { ok: false, check: '5.4a', reason: `expected ${allowed.length} branches, got ${proof.length}` };
  }
  if (!pk.isUnitModN2(c)) return { ok: false, check: '5.4b', reason: 'ciphertext c is not in Z*_{n²}' };
  for (let k = 0; k < proof.length; k++) {
    const { a, e, z } = proof[k]!;
    if (!pk.isUnitModN2(a)) return { ok: false, check: '5.4c', branch: k, reason: 'commitment a_m is not in Z*_{n²}' };
    if (!(z > 0n && z < n && gcd(z, n) === 1n)) return { ok: false, check: '5.4d', branch: k, reason: 'response z_m is not in Z*_n' };
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
  const cInv = modInv(c, n2);
  for (let k = 0; k < proof.length; k++) {
    const { a, e, z } = proof[k]!;
    // Compare z^n · u^(−e) with a rather than z^n with a·u^e: same cost, and u^(−1) is cheap.
    const uInv = (cInv * ((1n + allowed[k]! * n) % n2)) % n2;
    const lhs = (modPow(z, n, n2) * modPow(uInv, e, n2)) % n2;
    if (lhs !== a) return { ok: false, check: '5.4g', branch: k, reason: 'z_m^n ≠ a_m · u_m^(e_m) (mod n²)' };
  }
  return { ok: true };
}
