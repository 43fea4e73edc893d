/**
 * Batch verification of check 5.4g over many membership proofs (spec §5.7): one random linear
 * combination (Bellare–Garay–Rabin's small-exponent test) of the squared equations
 * (z_j^n)^2 ≡ (a_j · u_j^(e_j))^2 of every branch j of every proof in the batch.
 *
 * With δ_j drawn by the verifier, uniform in [0, 2^λ), λ = 128, and, for proof b with
 * ciphertext c_b, E_b = Σ_{j in b} δ_j·e_j:
 *
 *   ((∏ z_j^(δ_j) mod n)^n)^2 ≡ (∏ a_j^(δ_j) · ∏_b c_b^(E_b) · (1 − n·Σ_j δ_j·e_j·m_j))^2  (mod n²)
 *
 * Why it is cheap: z^n mod n² depends only on z mod n, so the z's are combined mod n and ONE
 * exponentiation by n serves the whole batch; u_j^(e_j) = c^(e_j)·(1 − e_j·m_j·n), so only the
 * c's need real exponentiations, one per proof, and all products are bucket-method
 * multi-exponentiations (multiexp.ts).
 *
 * Why it agrees with the per-proof verifier: if every branch satisfies 5.4g, the error of
 * each equation squares to 1 and the batch holds for EVERY δ. If a branch's error ε has
 * ε^2 ≠ 1, the batch holds with probability at most 1/ord(ε^2) + 2^(−λ) over the choice of its
 * δ (spec §5.7 and §11.4 state the assumption that makes ord(ε^2) large). The δ are drawn from
 * the platform CSPRNG by default and never derived from the data: a voter who could predict
 * them could choose errors that cancel.
 *
 * A failed batch is bisected down to single proofs; the caller then runs the per-proof
 * verifier on each culprit, so that reports are the per-proof verifier's.
 *
 * Browser-safe, pure (its only input besides the values is the randomness source).
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { fromBytesBE, modPow } from './bigint.js';
import { multiExp } from './multiexp.js';
import type { MembershipProof } from './membership-proof.js';
import type { PaillierPublicKey } from './paillier.js';

/** λ: bit length of the random batch exponents δ (spec §5.7). */
export const BATCH_EXPONENT_BITS = 128;
const DELTA_BYTES = BATCH_EXPONENT_BITS / 8;

/** One proof of a batch: a ciphertext, its proof and the allowed set it is checked against. */
export interface BatchProof {
  readonly c: bigint;
  readonly proof: MembershipProof;
  readonly allowed: readonly bigint[];
}

/**
 * Does the batch equation hold for these proofs, under fresh random δ?
 * Precondition: checks 5.4a–5.4f (and the coprimality parts of 5.4b–5.4d) passed for every
 * proof, so every value is a unit in range.
 * @param pk - election public key
 * @param proofs - the proofs to combine (the empty batch holds)
 * @param rng - source of the δ (default: the platform CSPRNG; tests inject one)
 * @returns true if the combined squared equation holds; always true when every proof passes 5.4g
 */
export function batchEquationHolds(pk: PaillierPublicKey, proofs: readonly BatchProof[], rng: (n: number) => Uint8Array = randomBytes): boolean {
  const { n, n2 } = pk;
  let branches = 0;
  for (const p of proofs) branches += p.proof.length;
  if (branches === 0) return true;
  const random = rng(DELTA_BYTES * branches);
  const zs: bigint[] = new Array(branches);
  const as: bigint[] = new Array(branches);
  const deltas: bigint[] = new Array(branches);
  const cs: bigint[] = new Array(proofs.length);
  const cExps: bigint[] = new Array(proofs.length);
  let s = 0n;
  let j = 0;
  proofs.forEach((p, b) => {
    let eb = 0n;
    p.proof.forEach((br, k) => {
      const d = fromBytesBE(random.subarray(j * DELTA_BYTES, (j + 1) * DELTA_BYTES));
      const de = d * br.e;
      zs[j] = br.z;
      as[j] = br.a;
      deltas[j] = d;
      eb += de;
      s += de * p.allowed[k]!;
      j++;
    });
    cs[b] = p.c;
    cExps[b] = eb;
  });
  const zProduct = multiExp(zs, deltas, n);
  const lhs = modPow(zProduct, n, n2);
  const aProduct = multiExp(as, deltas, n2);
  const cProduct = multiExp(cs, cExps, n2);
  // ∏ (1 − e_j·m_j·n)^(δ_j) ≡ 1 − n·Σ δ_j·e_j·m_j (mod n²)
  const gTerm = 1n + ((n - (s % n)) % n) * n;
  const rhs = (((aProduct * cProduct) % n2) * gTerm) % n2;
  return (lhs * lhs) % n2 === (rhs * rhs) % n2;
}

/**
 * Batch-checks groups of proofs (a group is, for instance, all the answers of one ballot) and
 * names the groups that fail: the whole set is checked at once, and a failed set is split in
 * halves, each checked under fresh δ, down to single groups.
 * Precondition: as for {@link batchEquationHolds}.
 * @param pk - election public key
 * @param groups - the groups, each a list of proofs
 * @param rng - source of the δ (default: the platform CSPRNG)
 * @returns the indices of the groups whose batch failed, ascending. Every group with a proof
 *   failing 5.4g is listed except with the probability bounded in spec §5.7; a group whose
 *   proofs all pass 5.4g is never listed.
 */
export function batchFailingGroups(
  pk: PaillierPublicKey,
  groups: readonly (readonly BatchProof[])[],
  rng: (n: number) => Uint8Array = randomBytes,
): number[] {
  const failing: number[] = [];
  const visit = (lo: number, hi: number): void => {
    if (hi <= lo) return;
    if (batchEquationHolds(pk, groups.slice(lo, hi).flat(), rng)) return;
    if (hi - lo === 1) {
      failing.push(lo);
      return;
    }
    const mid = (lo + hi) >>> 1;
    visit(lo, mid);
    visit(mid, hi);
  };
  visit(0, groups.length);
  return failing;
}
