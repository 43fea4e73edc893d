/**
 * NAIVE reference Merkle tree, written straight from the recursive definitions of RFC 9162
 * §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF / SUBPROOF). TESTS ONLY.
 *
 * Why it exists: the production code (bulletin/merkle/) is iterative, works on numbers and
 * stored node hashes, and is therefore easy to get subtly wrong. This file is deliberately the
 * opposite — slow, recursive, over the list of leaf *inputs*, sharing no code with production
 * (it calls SHA-256 itself instead of importing the hasher) — so that agreement between the
 * two is evidence, not tautology. Do not optimise it and do not import it from non-test code.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** HASH(x) = SHA-256(x), over the concatenation of the parts. */
function HASH(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    buf.set(p, off);
    off += p.length;
  }
  return sha256(buf);
}

/** k: the largest power of two smaller than n, for n > 1 (RFC 9162 §2.1.1). */
function splitPoint(n: number): number {
  if (n < 2) throw new RangeError(`splitPoint needs n > 1, got ${n}`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * MTH(D[n]), the Merkle Tree Hash of a list of leaf inputs (RFC 9162 §2.1.1):
 * MTH({}) = HASH(); MTH({d(0)}) = HASH(0x00 || d(0));
 * MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
 *
 * @param D - the leaf inputs (raw entries, not hashes)
 * @returns the 32-byte tree hash
 */
export function MTH(D: readonly Uint8Array[]): Uint8Array {
  const n = D.length;
  if (n === 0) return HASH();
  if (n === 1) return HASH(Uint8Array.of(0x00), D[0]!);
  const k = splitPoint(n);
  return HASH(Uint8Array.of(0x01), MTH(D.slice(0, k)), MTH(D.slice(k, n)));
}

/**
 * PATH(m, D[n]), the inclusion proof for leaf m (RFC 9162 §2.1.3.1):
 * PATH(0, {d(0)}) = {};
 * for m < k: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]);
 * for m ≥ k: PATH(m, D[n]) = PATH(m − k, D[k:n]) : MTH(D[0:k]).
 *
 * @param m - leaf index, 0 ≤ m < D.length
 * @param D - the leaf inputs
 * @returns the proof hashes
 */
export function PATH(m: number, D: readonly Uint8Array[]): Uint8Array[] {
  const n = D.length;
  if (!(m >= 0 && m < n)) throw new RangeError(`PATH needs 0 ≤ m < n, got m=${m}, n=${n}`);
  if (n === 1) return [];
  const k = splitPoint(n);
  if (m < k) return [...PATH(m, D.slice(0, k)), MTH(D.slice(k, n))];
  return [...PATH(m - k, D.slice(k, n)), MTH(D.slice(0, k))];
}

/**
 * PROOF(m, D[n]) = SUBPROOF(m, D[n], true), the consistency proof (RFC 9162 §2.1.4.1).
 *
 * @param m - the older size, 0 < m ≤ D.length
 * @param D - the leaf inputs of the newer tree
 * @returns the proof hashes
 */
export function PROOF(m: number, D: readonly Uint8Array[]): Uint8Array[] {
  if (!(m > 0 && m <= D.length)) throw new RangeError(`PROOF needs 0 < m ≤ n, got m=${m}, n=${D.length}`);
  return SUBPROOF(m, D, true);
}

/**
 * SUBPROOF(m, D[n], b) (RFC 9162 §2.1.4.1):
 * SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])};
 * for m ≤ k: SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n]);
 * for m > k: SUBPROOF(m, D[n], b) = SUBPROOF(m − k, D[k:n], false) : MTH(D[0:k]).
 *
 * @param m - 0 < m ≤ D.length
 * @param D - the leaf inputs of the current subtree
 * @param b - whether the subtree is the one the old root was computed over
 * @returns the proof hashes
 */
export function SUBPROOF(m: number, D: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = D.length;
  if (m === n) return b ? [] : [MTH(D)];
  const k = splitPoint(n);
  if (m <= k) return [...SUBPROOF(m, D.slice(0, k), b), MTH(D.slice(k, n))];
  return [...SUBPROOF(m - k, D.slice(k, n), false), MTH(D.slice(0, k))];
}

/**
 * The leaf hash MTH({d}) = HASH(0x00 || d), for feeding the production code, which works on
 * leaf hashes.
 *
 * @param d - a leaf input
 * @returns its 32-byte leaf hash
 */
export function leafHashRef(d: Uint8Array): Uint8Array {
  return MTH([d]);
}
