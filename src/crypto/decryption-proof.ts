/**
 * Proof of correct decryption (spec/08-tally.md §8.2).
 *
 * With g = n + 1 the key holder can open a ciphertext completely: it recovers the plaintext T
 * AND the randomness R with c = (1+n)^T · R^n mod n². Publishing (T, R) lets anyone check the
 * decryption with a single exponentiation, and because Enc is a bijection from Z_n × Z*_n onto
 * Z*_{n²} (gcd(n, φ(n)) = 1, proven by the key proof), no other (T', R') opens the same c.
 *
 * Revealing R is safe for the tally: R is the product of every ballot's randomness mod n, which
 * says nothing about any single ballot. It must never be done for a single ballot's ciphertext.
 */
import { gcd, modPow } from './bigint.js';
import type { PaillierPublicKey, PaillierSecretKey } from './paillier.js';

/** An opening of a ciphertext: plaintext T and randomness R (spec field names). */
export interface DecryptionProof {
  /** T: the plaintext, 0 ≤ T < n */
  readonly T: bigint;
  /** R: the randomness, 0 < R < n, gcd(R, n) = 1 */
  readonly R: bigint;
}

/** Result of verification: ok, or the spec check that failed. */
export type DecryptionCheck = { readonly ok: true } | { readonly ok: false; readonly check: string; readonly reason: string };

/**
 * Open c: decrypt it and recover its randomness. Only for aggregate (tally) ciphertexts.
 * @param sk - the election secret key
 * @param c - ciphertext in Z*_{n²}
 */
export function proveDecryption(sk: PaillierSecretKey, c: bigint): DecryptionProof {
  const { m, r } = sk.open(c);
  return { T: m, R: r };
}

/**
 * Verify an opening (spec §8.2, checks 8.2a–8.2d). Pure; never throws.
 * @param pk - validated public key
 * @param c - the tally ciphertext the verifier recomputed itself from the board
 * @param proof - the published (T, R)
 */
export function verifyDecryption(pk: PaillierPublicKey, c: bigint, proof: DecryptionProof): DecryptionCheck {
  const { T, R } = proof;
  if (!pk.isUnitModN2(c)) return { ok: false, check: '8.2a', reason: 'tally ciphertext is not in Z*_{n²}' };
  if (!(T >= 0n && T < pk.n)) return { ok: false, check: '8.2b', reason: 'T is not in [0, n)' };
  if (!(R > 0n && R < pk.n && gcd(R, pk.n) === 1n)) return { ok: false, check: '8.2c', reason: 'R is not in Z*_n' };
  const expected = (((1n + T * pk.n) % pk.n2) * modPow(R, pk.n, pk.n2)) % pk.n2;
  if (expected !== c) return { ok: false, check: '8.2d', reason: '(1+n)^T · R^n ≠ c (mod n²)' };
  return { ok: true };
}
