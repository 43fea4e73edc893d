/**
 * Which node hashes a proof needs — without storage — and how to obtain any such hash from
 * the perfect-subtree hashes a log keeps (RFC 9162 §2.1.3.1, §2.1.4.1). Spec: §9.3.2–9.3.4.
 *
 * Why it is split this way: the shape of a proof depends only on the numbers (index, sizes),
 * never on the data, so the planning is pure arithmetic here and the store only answers
 * "give me the hash of leaves [start, end)". That keeps one proof algorithm for every storage
 * back-end, lets the planner be tested exhaustively against the RFC's recursive definitions,
 * and keeps the verifier (verify.ts) free of all of it.
 *
 * Two pieces, both built on the same tree definition (RFC 9162 §2.1.1: a tree of n > 1
 * leaves splits at k, the largest power of two < n):
 *
 * 1. Proof planners ({@link inclusionProofNodes}, {@link consistencyProofNodes}) list the
 *    subtree ranges [start, end) whose hashes form the proof, in wire order. Every range they
 *    emit is a node of the RFC tree of the given size: either a *perfect* subtree (2^L leaves
 *    starting at a multiple of 2^L) or a *right-edge* subtree (ending at the tree size).
 * 2. {@link rangeHash}: the hash of any range the planners emit, from O(log n) stored perfect
 *    nodes. A store holding every perfect node can therefore serve every proof.
 *
 * The append side — the frontier that produces those perfect nodes as leaves arrive — is
 * frontier.ts; it depends on this file (for {@link rangeNodes}), not the other way round.
 *
 * Node identifiers: the perfect node at *level* L and *index* i covers the leaves
 * [i·2^L, (i+1)·2^L). Level 0 nodes are leaf hashes; node (L+1, i) = hashChildren(node (L, 2i),
 * node (L, 2i+1)). A right-edge subtree is not a stored node; its hash is recomputed.
 *
 * All counts are JavaScript numbers restricted to safe integers (≤ 2^53 − 1); the arithmetic
 * below uses division and remainder, never 32-bit bitwise operators.
 */
import { aHash, emptyRoot, hashChildren } from './hasher.js';

/** Largest tree size this module accepts: Number.MAX_SAFE_INTEGER = 2^53 − 1. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * The leaves [start, end) of a subtree, 0 ≤ start < end. Its hash is MTH(D[start:end]).
 */
export interface SubtreeRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A perfect node: level L ≥ 0 and index i ≥ 0, covering leaves [i·2^L, (i+1)·2^L).
 */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** A perfect node together with its hash, as reported by MerkleFrontier.append (frontier.ts). */
export interface NodeHash extends NodeId {
  readonly hash: Uint8Array;
}

/**
 * Resolves a subtree range to MTH(D[start:end]). Called only with ranges produced by the
 * planners in this file; {@link rangeHash} is one way to implement it.
 */
export type SubtreeHashSource = (start: number, end: number) => Uint8Array | Promise<Uint8Array>;

/** Returns the stored hash of the perfect node (level, index). */
export type PerfectNodeSource = (level: number, index: number) => Uint8Array | Promise<Uint8Array>;

/** Synchronous {@link PerfectNodeSource}, for in-memory stores. */
export type PerfectNodeSourceSync = (level: number, index: number) => Uint8Array;

// ---------------------------------------------------------------------------------------
// Proof planners
// ---------------------------------------------------------------------------------------

/**
 * Subtrees whose hashes form the inclusion proof PATH(index, D[size]) (RFC 9162 §2.1.3.1),
 * in wire order: the leaf's sibling first, the root's child last.
 *
 * @param index - leaf index, 0 ≤ index < size
 * @param size - tree size, 1 ≤ size ≤ 2^53 − 1
 * @returns ⌈log2 size⌉ or fewer ranges; empty when size = 1
 * @throws {TypeError} if index or size is not a number
 * @throws {RangeError} if index or size is not a safe integer in the ranges above
 */
export function inclusionProofNodes(index: number, size: number): SubtreeRange[] {
  aCount(size, 'size', 1);
  aCount(index, 'index', 0);
  if (index >= size) throw new RangeError(`index: expected 0 ≤ index < size = ${size}, got ${index}`);
  // Walk from the root down to the leaf; at each split the proof needs the other side.
  // PATH(m, D[n]) puts the deeper part first, so the top-down list is reversed at the end.
  const topDown: SubtreeRange[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const mid = start + largestPowerOfTwoBelow(end - start);
    if (index < mid) {
      topDown.push({ start: mid, end });
      end = mid;
    } else {
      topDown.push({ start, end: mid });
      start = mid;
    }
  }
  return topDown.reverse();
}

/**
 * Subtrees whose hashes form the consistency proof PROOF(size1, D[size2]) =
 * SUBPROOF(size1, D[size2], true) (RFC 9162 §2.1.4.1), in wire order (deepest first).
 *
 * The RFC defines the proof for 0 < size1 < size2; for size1 = size2 this returns the empty
 * proof, which is what SUBPROOF(m, D[m], true) gives and what the verifier expects.
 *
 * @param size1 - the older tree size, 1 ≤ size1 ≤ size2
 * @param size2 - the newer tree size, size1 ≤ size2 ≤ 2^53 − 1
 * @returns the ranges, at most ⌈log2 size2⌉ + 1 of them
 * @throws {TypeError} if size1 or size2 is not a number
 * @throws {RangeError} if size1 = 0 (not provable, RFC 9162 §2.1.4), size1 > size2, or either
 *   is not a safe integer
 */
export function consistencyProofNodes(size1: number, size2: number): SubtreeRange[] {
  aCount(size2, 'size2', 1);
  aCount(size1, 'size1', 1);
  if (size1 > size2) throw new RangeError(`size1: expected 1 ≤ size1 ≤ size2 = ${size2}, got ${size1}`);
  // Iterative SUBPROOF(m, D[start:end], b). The recursive call always comes first in the
  // RFC's concatenation, so the top-down list is reversed at the end.
  const topDown: SubtreeRange[] = [];
  let m = size1;
  let start = 0;
  let end = size2;
  let b = true; // "the subtree D[start:end] is the one the old root was computed over"
  for (;;) {
    const n = end - start;
    if (m === n) {
      // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}.
      if (!b) topDown.push({ start, end });
      break;
    }
    const k = largestPowerOfTwoBelow(n);
    if (m <= k) {
      // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      topDown.push({ start: start + k, end });
      end = start + k;
    } else {
      // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      topDown.push({ start, end: start + k });
      m -= k;
      start += k;
      b = false;
    }
  }
  return topDown.reverse();
}

/**
 * Builds the inclusion proof for leaf `index` in the tree of `size` leaves.
 *
 * @param index - leaf index, 0 ≤ index < size
 * @param size - tree size, 1 ≤ size ≤ 2^53 − 1
 * @param getSubtreeHash - resolves each range of {@link inclusionProofNodes} to its hash
 * @returns the proof hashes in wire order
 * @throws {RangeError} (as a rejection) for arguments out of range, or if the source returns
 *   something that is not a 32-byte hash; rejects with whatever the source rejects with
 */
export async function buildInclusionProof(
  index: number,
  size: number,
  getSubtreeHash: SubtreeHashSource,
): Promise<Uint8Array[]> {
  return resolveRanges(inclusionProofNodes(index, size), getSubtreeHash);
}

/**
 * Builds the consistency proof between tree sizes `size1` and `size2`.
 *
 * @param size1 - the older tree size, 1 ≤ size1 ≤ size2
 * @param size2 - the newer tree size, size1 ≤ size2 ≤ 2^53 − 1
 * @param getSubtreeHash - resolves each range of {@link consistencyProofNodes} to its hash
 * @returns the proof hashes in wire order (empty when size1 = size2)
 * @throws {RangeError} (as a rejection) for sizes out of range, or if the source returns
 *   something that is not a 32-byte hash; rejects with whatever the source rejects with
 */
export async function buildConsistencyProof(
  size1: number,
  size2: number,
  getSubtreeHash: SubtreeHashSource,
): Promise<Uint8Array[]> {
  return resolveRanges(consistencyProofNodes(size1, size2), getSubtreeHash);
}

async function resolveRanges(
  ranges: readonly SubtreeRange[],
  getSubtreeHash: SubtreeHashSource,
): Promise<Uint8Array[]> {
  const hashes = await Promise.all(ranges.map((r) => getSubtreeHash(r.start, r.end)));
  return hashes.map((h, i) => {
    const r = ranges[i]!;
    return aHash(h, `hash of leaves [${r.start}, ${r.end})`);
  });
}

// ---------------------------------------------------------------------------------------
// Range hashes from perfect nodes
// ---------------------------------------------------------------------------------------

/**
 * The leaves covered by the perfect node (level, index): [index·2^level, (index+1)·2^level).
 *
 * @param level - 0 ≤ level ≤ 52
 * @param index - 0 ≤ index, with (index + 1)·2^level ≤ 2^53 − 1
 * @returns the range
 * @throws {RangeError} if the node lies beyond the largest supported tree
 */
export function nodeRange(level: number, index: number): SubtreeRange {
  aCount(level, 'level', 0);
  aCount(index, 'index', 0);
  if (level > 52) throw new RangeError(`level: expected 0 ≤ level ≤ 52, got ${level}`);
  const width = 2 ** level;
  const end = (index + 1) * width;
  if (end > MAX_TREE_SIZE) {
    throw new RangeError(`node (${level}, ${index}) lies beyond the largest supported tree`);
  }
  return { start: index * width, end };
}

/**
 * The perfect nodes, left to right, whose right fold is MTH(D[start:end]):
 * MTH = hashChildren(P₀, hashChildren(P₁, … P_last)).
 *
 * The decomposition follows the RFC split, so it exists only when `start` is a multiple of
 * k = the largest power of two < end − start (the range's split point) — true for every
 * range the proof planners emit and for every [0, n). For [0, n) the result is exactly the
 * frontier of a tree of n leaves, one node per set bit of n, largest first.
 *
 * @param start - first leaf, 0 ≤ start ≤ end
 * @param end - one past the last leaf, start ≤ end ≤ 2^53 − 1
 * @returns the nodes; empty when start = end; at most ⌈log2(end − start)⌉ + 1 nodes
 * @throws {RangeError} if the bounds are out of range or [start, end) is not aligned as above
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  aCount(end, 'end', 0);
  aCount(start, 'start', 0);
  if (start > end) throw new RangeError(`start: expected 0 ≤ start ≤ end = ${end}, got ${start}`);
  const nodes: NodeId[] = [];
  let s = start;
  let m = end - start;
  while (m > 0) {
    if (isPowerOfTwo(m) && s % m === 0) {
      nodes.push({ level: log2Exact(m), index: s / m });
      break;
    }
    const k = largestPowerOfTwoBelow(m);
    if (s % k !== 0) {
      throw new RangeError(
        `[${start}, ${end}) is not a subtree range: leaf ${s} is not a multiple of the split size ${k}`,
      );
    }
    nodes.push({ level: log2Exact(k), index: s / k });
    s += k;
    m -= k;
  }
  return nodes;
}

/**
 * MTH(D[start:end]) from stored perfect-node hashes, reading O(log n) of them.
 * Use it to implement the {@link SubtreeHashSource} the proof builders need, or to compute
 * the root of an earlier tree size (start = 0).
 *
 * @param start - first leaf, 0 ≤ start ≤ end; aligned as described in {@link rangeNodes}
 * @param end - one past the last leaf, start ≤ end ≤ 2^53 − 1
 * @param getPerfectNode - returns the stored hash of a perfect node
 * @returns the 32-byte hash; SHA-256("") when start = end
 * @throws {RangeError} (as a rejection) if the range is invalid or the source returns
 *   something that is not a 32-byte hash; rejects with whatever the source rejects with
 */
export async function rangeHash(
  start: number,
  end: number,
  getPerfectNode: PerfectNodeSource,
): Promise<Uint8Array> {
  const nodes = rangeNodes(start, end);
  const hashes = await Promise.all(nodes.map((n) => getPerfectNode(n.level, n.index)));
  return foldNodes(nodes, hashes);
}

/**
 * Synchronous {@link rangeHash}, for in-memory stores.
 *
 * @param start - first leaf, 0 ≤ start ≤ end; aligned as described in {@link rangeNodes}
 * @param end - one past the last leaf, start ≤ end ≤ 2^53 − 1
 * @param getPerfectNode - returns the stored hash of a perfect node
 * @returns the 32-byte hash; SHA-256("") when start = end
 * @throws {RangeError} if the range is invalid or the source returns a non-hash
 */
export function rangeHashSync(
  start: number,
  end: number,
  getPerfectNode: PerfectNodeSourceSync,
): Uint8Array {
  const nodes = rangeNodes(start, end);
  return foldNodes(
    nodes,
    nodes.map((n) => getPerfectNode(n.level, n.index)),
  );
}

/** Right fold of perfect-node hashes into the hash of the range they cover. */
function foldNodes(nodes: readonly NodeId[], hashes: readonly Uint8Array[]): Uint8Array {
  const checked = hashes.map((h, i) => {
    const n = nodes[i]!;
    return aHash(h, `hash of node (${n.level}, ${n.index})`);
  });
  return foldRight(checked);
}

/**
 * Right fold hashChildren(h₀, hashChildren(h₁, … h_last)) of already-checked 32-byte hashes:
 * the hash of the range covered by consecutive perfect nodes, largest first. Shared with
 * frontier.ts (MerkleFrontier.root); internal to bulletin/merkle, not exported by index.ts.
 *
 * @param hashes - 32-byte hashes, any count (the caller has checked them)
 * @returns a fresh 32-byte array; SHA-256("") when `hashes` is empty
 */
export function foldRight(hashes: readonly Uint8Array[]): Uint8Array {
  let acc = hashes[hashes.length - 1];
  if (acc === undefined) return emptyRoot();
  for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i]!, acc);
  return acc.slice();
}

// ---------------------------------------------------------------------------------------
// Arithmetic helpers (safe integers only; no 32-bit bitwise operators)
// ---------------------------------------------------------------------------------------

/** Largest power of two strictly less than n, for n ≥ 2 (the RFC's split point k). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

/** log2 of a power of two, exactly. */
function log2Exact(p: number): number {
  let level = 0;
  for (let k = 1; k < p; k *= 2) level++;
  return level;
}

/** Asserts a safe integer in [min, MAX_TREE_SIZE] and returns it. */
function aCount(value: unknown, title: string, min: number): number {
  if (typeof value !== 'number') throw new TypeError(`${title}: expected a number, got ${typeof value}`);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${title}: expected an integer ${min} ≤ ${title} ≤ 2^53 − 1, got ${value}`);
  }
  return value;
}
