/**
 * Pure verifiers for Merkle log proofs: inclusion (RFC 9162 §2.1.3.2) and consistency
 * (RFC 9162 §2.1.4.2). Spec: spec/09-board.md §9.3.6–9.3.7.
 *
 * Why it is separate and small: this is the code an auditor has to trust. It touches no
 * storage and no network, imports only the hasher, and returns a typed result instead of
 * throwing, so that malformed input from an untrusted board is a reported failure, never a
 * crash. Structural checks (integer ranges, hash lengths, the exact proof length implied by
 * the sizes) come before any hashing, so a failure says *what* is wrong, and a root mismatch
 * carries both the expected and the computed root.
 *
 * What these checks do NOT do: an inclusion proof binds the leaf to `root`; it binds
 * `treeSize` only through the shape of the path, and some wrong sizes have the same shape
 * (for index 0, every size with the same bit length of size − 1). The tree size and the root
 * must therefore come together from one signed tree head; never pair a root with a size
 * obtained elsewhere.
 */
import { hashChildren, hashesEqual, isHash, toHex } from './hasher.js';

/** Lowercase hex string, 64 characters for a hash. */
export type Hex = string;

/** Why a proof was rejected. Each value is named in spec §9.3.6–9.3.7. */
export type VerifyFailureReason =
  /** An index or size is not a safe integer ≥ 0. */
  | 'invalid-number'
  /** A root, leaf hash or proof element is not a 32-byte Uint8Array. */
  | 'malformed-hash'
  /** Inclusion: index ≥ treeSize (including treeSize = 0). */
  | 'index-out-of-range'
  /** Consistency: size1 = 0; the RFC defines no proof from the empty tree. */
  | 'size1-zero'
  /** Consistency: size1 > size2. */
  | 'size1-exceeds-size2'
  /** Consistency: size1 = size2 but the proof is not empty. */
  | 'proof-not-empty'
  /** Consistency: size1 < size2 but the proof is empty (RFC 9162 §2.1.4.2 step 1). */
  | 'proof-empty'
  /** The proof has more hashes than the sizes allow. */
  | 'proof-too-long'
  /** The proof has fewer hashes than the sizes require. */
  | 'proof-too-short'
  /** Inclusion: the computed root ≠ the given root. Consistency with size1 = size2: root2 ≠ root1. */
  | 'root-mismatch'
  /** Consistency: the root recomputed for size1 ≠ root1. */
  | 'root1-mismatch'
  /** Consistency: the root recomputed for size2 ≠ root2. */
  | 'root2-mismatch';

/**
 * A rejected proof. For the *-mismatch reasons `expected` is the root the caller supplied and
 * `computed` is the root the proof leads to, both as lowercase hex.
 */
export interface VerifyFailure {
  readonly ok: false;
  readonly reason: VerifyFailureReason;
  /** Human-readable detail naming the values involved. */
  readonly message: string;
  readonly expected?: Hex;
  readonly computed?: Hex;
}

/** Outcome of a verification. */
export type VerifyResult = { readonly ok: true } | VerifyFailure;

/** Outcome of {@link rootFromInclusionProof}. */
export type RootResult = { readonly ok: true; readonly root: Uint8Array } | VerifyFailure;

/**
 * Recomputes the root implied by an inclusion proof (spec §9.3.6 steps 1–6: RFC 9162
 * §2.1.3.2 steps 1–4 and the sn = 0 check of step 5). Does NOT compare with any root: call {@link verifyInclusion}, or
 * compare the result with a root taken from a verified tree head yourself.
 *
 * @param leafHash - hashLeaf(entry bytes), 32 bytes
 * @param index - the leaf's index, 0 ≤ index < treeSize
 * @param treeSize - the tree size of the head the proof is for, 1 ≤ treeSize ≤ 2^53 − 1
 * @param proof - the inclusion path, leaf's sibling first, each element 32 bytes; its length
 *   must equal {@link inclusionProofLength}(index, treeSize)
 * @returns `{ ok: true, root }` or a failure with reason 'invalid-number', 'malformed-hash',
 *   'index-out-of-range', 'proof-too-long' or 'proof-too-short'; never throws
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): RootResult {
  return inclusionRoot(leafHash, index, treeSize, proof, undefined);
}

/**
 * Spec §9.3.6 steps 1–6. `root` is checked for shape only (step 3), so that both public
 * functions report malformed input in the order the spec lists it.
 */
function inclusionRoot(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array | undefined,
): RootResult {
  // §9.3.6 step 1.
  if (!isCount(index)) return fail('invalid-number', `index must be a safe integer ≥ 0, got ${String(index)}`);
  if (!isCount(treeSize)) {
    return fail('invalid-number', `treeSize must be a safe integer ≥ 0, got ${String(treeSize)}`);
  }
  // Step 2 (RFC step 1).
  if (index >= treeSize) {
    return fail('index-out-of-range', `index ${index} is not below treeSize ${treeSize}`);
  }
  // Step 3.
  if (!isHash(leafHash)) return fail('malformed-hash', 'leafHash is not a 32-byte Uint8Array');
  if (root !== undefined && !isHash(root)) return fail('malformed-hash', 'root is not a 32-byte Uint8Array');
  // Step 4.
  const shape = checkProofShape(proof, inclusionProofLength(index, treeSize), `index ${index} in a tree of ${treeSize}`);
  if (shape !== undefined) return shape;

  // Step 5 (RFC steps 2–4).
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    // Unreachable after checkProofShape; kept so the loop reads as RFC 9162 §2.1.3.2 step 4.
    if (sn === 0) return fail('proof-too-long', 'proof continues past the root');
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 6 (RFC step 5, first half; also unreachable after checkProofShape).
  if (sn !== 0) return fail('proof-too-short', 'proof ends below the root');
  return { ok: true, root: r.slice() };
}

/**
 * Verifies that `leafHash` is the leaf at `index` of the tree of `treeSize` leaves whose root
 * is `root` (RFC 9162 §2.1.3.2). `treeSize` and `root` must come from the same tree head.
 *
 * @param leafHash - hashLeaf(entry bytes), 32 bytes
 * @param index - the leaf's index, 0 ≤ index < treeSize
 * @param treeSize - 1 ≤ treeSize ≤ 2^53 − 1
 * @param proof - the inclusion path, leaf's sibling first, each element 32 bytes
 * @param root - the tree head's root hash, 32 bytes
 * @returns `{ ok: true }`, or a failure as for {@link rootFromInclusionProof}, or
 *   'root-mismatch' with `expected` = root and `computed` = the recomputed root; never throws
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): VerifyResult {
  const got = inclusionRoot(leafHash, index, treeSize, proof, root);
  if (!got.ok) return got;
  // Only reachable with root === undefined smuggled past the type checker.
  if (!isHash(root)) return fail('malformed-hash', 'root is not a 32-byte Uint8Array');
  // Step 7 (RFC step 5, second half).
  if (!hashesEqual(got.root, root)) {
    return fail(
      'root-mismatch',
      `the proof for index ${index} leads to a different root for tree size ${treeSize}`,
      root,
      got.root,
    );
  }
  return { ok: true };
}

/**
 * Verifies that the tree of `size2` leaves with root `root2` extends the tree of `size1`
 * leaves with root `root1` (RFC 9162 §2.1.4.2).
 *
 * Special cases, checked before any hashing: size1 > size2 fails; size1 = 0 fails
 * ('size1-zero': the RFC defines no such proof — a client that holds no earlier head has
 * nothing to check and must not call this); size1 = size2 requires an empty proof and
 * root1 = root2.
 *
 * @param size1 - the older size, 1 ≤ size1 ≤ size2
 * @param size2 - the newer size, size1 ≤ size2 ≤ 2^53 − 1
 * @param proof - the consistency path, deepest first, each element 32 bytes; its length must
 *   equal {@link consistencyProofLength}(size1, size2)
 * @param root1 - root of the older head, 32 bytes
 * @param root2 - root of the newer head, 32 bytes
 * @returns `{ ok: true }` or a failure: 'invalid-number', 'malformed-hash',
 *   'size1-exceeds-size2', 'size1-zero', 'proof-not-empty', 'root-mismatch' (size1 = size2;
 *   expected root1, computed root2), 'proof-empty', 'proof-too-long', 'proof-too-short',
 *   'root1-mismatch' (expected root1, computed from the proof), 'root2-mismatch' (expected
 *   root2, computed from the proof); never throws
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): VerifyResult {
  if (!isCount(size1)) return fail('invalid-number', `size1 must be a safe integer ≥ 0, got ${String(size1)}`);
  if (!isCount(size2)) return fail('invalid-number', `size2 must be a safe integer ≥ 0, got ${String(size2)}`);
  if (!isHash(root1)) return fail('malformed-hash', 'root1 is not a 32-byte Uint8Array');
  if (!isHash(root2)) return fail('malformed-hash', 'root2 is not a 32-byte Uint8Array');
  if (size1 > size2) return fail('size1-exceeds-size2', `size1 ${size1} is greater than size2 ${size2}`);
  if (size1 === 0) {
    return fail('size1-zero', 'no consistency proof exists from the empty tree (RFC 9162 §2.1.4)');
  }
  if (!Array.isArray(proof)) return fail('malformed-hash', 'proof is not an array');
  if (size1 === size2) {
    if (proof.length !== 0) {
      return fail('proof-not-empty', `size1 = size2 = ${size1} requires an empty proof, got ${proof.length} hashes`);
    }
    if (!hashesEqual(root1, root2)) {
      return fail('root-mismatch', `two different roots for the same size ${size1}`, root1, root2);
    }
    return { ok: true };
  }
  // Step 1.
  if (proof.length === 0) return fail('proof-empty', `size1 ${size1} < size2 ${size2} requires a non-empty proof`);
  const shape = checkProofShape(
    proof,
    consistencyProofLength(size1, size2),
    `sizes ${size1} → ${size2}`,
  );
  if (shape !== undefined) return shape;

  // Step 2.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // Step 3.
  let fn = size1 - 1;
  let sn = size2 - 1;
  // Step 4.
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = fr;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    // Unreachable after checkProofShape; kept so the loop reads as the RFC's step 6.
    if (sn === 0) return fail('proof-too-long', 'proof continues past the root');
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 7.
  if (sn !== 0) return fail('proof-too-short', 'proof ends below the root');
  if (!hashesEqual(fr, root1)) {
    return fail('root1-mismatch', `the proof leads to a different root for size1 ${size1}`, root1, fr);
  }
  if (!hashesEqual(sr, root2)) {
    return fail('root2-mismatch', `the proof leads to a different root for size2 ${size2}`, root2, sr);
  }
  return { ok: true };
}

/**
 * Number of hashes in the inclusion proof for (index, treeSize): the number of iterations of
 * RFC 9162 §2.1.3.2 step 4 before sn reaches 0. Lets a decoder bound a proof array before
 * decoding it.
 *
 * @param index - 0 ≤ index < treeSize
 * @param treeSize - 1 ≤ treeSize ≤ 2^53 − 1
 * @returns the proof length, 0 ≤ length ≤ 53
 * @throws {RangeError} if the arguments are not safe integers with 0 ≤ index < treeSize
 */
export function inclusionProofLength(index: number, treeSize: number): number {
  if (!isCount(index) || !isCount(treeSize) || index >= treeSize) {
    throw new RangeError(`expected integers 0 ≤ index < treeSize, got index ${index}, treeSize ${treeSize}`);
  }
  let fn = index;
  let sn = treeSize - 1;
  let length = 0;
  while (sn !== 0) {
    if (!isOdd(fn) && fn === sn) {
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    }
    fn = half(fn);
    sn = half(sn);
    length++;
  }
  return length;
}

/**
 * Number of hashes in the consistency proof for (size1, size2): as many as RFC 9162 §2.1.4.2
 * step 6 consumes before sn reaches 0, less the one the verifier prepends itself when size1
 * is a power of two (step 2). 0 when size1 = size2.
 *
 * @param size1 - 1 ≤ size1 ≤ size2
 * @param size2 - size1 ≤ size2 ≤ 2^53 − 1
 * @returns the proof length, 0 ≤ length ≤ 54
 * @throws {RangeError} if the arguments are not safe integers with 1 ≤ size1 ≤ size2
 */
export function consistencyProofLength(size1: number, size2: number): number {
  if (!isCount(size1) || !isCount(size2) || size1 === 0 || size1 > size2) {
    throw new RangeError(`expected integers 1 ≤ size1 ≤ size2, got size1 ${size1}, size2 ${size2}`);
  }
  if (size1 === size2) return 0;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let steps = 0;
  while (sn !== 0) {
    if (!isOdd(fn) && fn === sn) {
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    }
    fn = half(fn);
    sn = half(sn);
    steps++;
  }
  // The path the loop walks is [first element] + `steps` more; the first element is root1
  // itself (prepended by the verifier) when size1 is a power of two.
  return isPowerOfTwo(size1) ? steps : steps + 1;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** Checks the proof is an array of exactly `want` 32-byte hashes. */
function checkProofShape(proof: unknown, want: number, what: string): VerifyFailure | undefined {
  if (!Array.isArray(proof)) return fail('malformed-hash', 'proof is not an array');
  if (proof.length > want) {
    return fail('proof-too-long', `proof has ${proof.length} hashes; ${what} needs ${want}`);
  }
  if (proof.length < want) {
    return fail('proof-too-short', `proof has ${proof.length} hashes; ${what} needs ${want}`);
  }
  for (let i = 0; i < proof.length; i++) {
    if (!isHash(proof[i])) return fail('malformed-hash', `proof[${i}] is not a 32-byte Uint8Array`);
  }
  return undefined;
}

function fail(
  reason: VerifyFailureReason,
  message: string,
  expected?: Uint8Array,
  computed?: Uint8Array,
): VerifyFailure {
  return {
    ok: false,
    reason,
    message,
    ...(expected !== undefined ? { expected: toHex(expected) } : {}),
    ...(computed !== undefined ? { computed: toHex(computed) } : {}),
  };
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}
