/**
 * The append side of the Merkle log: {@link MerkleFrontier}, the "compact range" [0, n) of a
 * tree of n leaves (RFC 9162 §2.1.1; spec §9.3). Spec names: MTH, D[0:n].
 *
 * Why a separate file: proof-builder.ts answers "which nodes does a proof need and what is the
 * hash of a range", pure arithmetic over node identifiers with no state. The frontier is the
 * one stateful piece: it holds O(log n) hashes, yields the root of the current size after each
 * append, and reports every perfect subtree an append completes, so a store can persist node
 * hashes (key (level, index)) as it goes and later serve any proof through rangeHash. Keeping
 * it apart lets the planner stay stateless and lets a store depend on the frontier without
 * reading the planners.
 *
 * Dependencies run one way: this file uses proof-builder.ts (rangeNodes for the node layout,
 * the shared right fold, MAX_TREE_SIZE) and hasher.ts; nothing there imports it. The public
 * names are re-exported unchanged by index.ts.
 *
 * All counts are JavaScript numbers restricted to safe integers (≤ 2^53 − 1).
 */
import { aHash, hashChildren } from './hasher.js';
import { MAX_TREE_SIZE, foldRight, rangeNodes, type NodeHash } from './proof-builder.js';

/**
 * Incremental Merkle tree state: the perfect subtrees that make up [0, size), one per set bit
 * of `size`, largest first. Appending a leaf merges equal-sized subtrees like binary carry.
 * Memory is O(log size); each append costs amortised O(1) hashes, O(log size) at worst.
 *
 * It does not keep node hashes: {@link append} returns the perfect nodes it completes, so the
 * caller persists them (e.g. under key (level, index)) and can later answer any proof with
 * rangeHash (proof-builder.ts). To resume after a restart, read the nodes {@link rangeNodes}(0, size)
 * from the store and pass them to {@link MerkleFrontier.fromNodes}.
 */
export class MerkleFrontier {
  #size = 0;
  /** Hashes of the nodes rangeNodes(0, #size), in that order. */
  #hashes: Uint8Array[] = [];

  /**
   * Rebuilds a frontier from stored node hashes.
   *
   * @param size - number of leaves already in the tree, 0 ≤ size ≤ 2^53 − 1
   * @param hashes - the hashes of the nodes {@link rangeNodes}(0, size), in that order
   *   (one per set bit of size, largest subtree first)
   * @returns a frontier whose root() is MTH of those leaves
   * @throws {RangeError} if the number of hashes is not popcount(size), or a hash is not
   *   32 bytes
   * @throws {TypeError} if a hash is not a Uint8Array
   */
  static fromNodes(size: number, hashes: readonly Uint8Array[]): MerkleFrontier {
    const ids = rangeNodes(0, size);
    if (hashes.length !== ids.length) {
      throw new RangeError(
        `hashes: a tree of ${size} leaves has ${ids.length} frontier nodes, got ${hashes.length}`,
      );
    }
    const f = new MerkleFrontier();
    f.#hashes = hashes.map((h, i) => aHash(h, `hashes[${i}]`).slice());
    f.#size = size;
    return f;
  }

  /** Number of leaves appended so far, 0 ≤ size ≤ 2^53 − 1. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash.
   *
   * @param leafHash - the leaf's hash (hashLeaf(data)), 32 bytes — not the raw data
   * @returns the perfect nodes this append completed, smallest first: always the leaf itself
   *   (level 0, index = old size), then one node per level merged. Fresh arrays, safe to keep.
   * @throws {TypeError} if leafHash is not a Uint8Array
   * @throws {RangeError} if leafHash is not 32 bytes, or the tree is at its maximum size
   */
  append(leafHash: Uint8Array): NodeHash[] {
    aHash(leafHash, 'leafHash');
    if (this.#size >= MAX_TREE_SIZE) throw new RangeError(`tree is full at ${MAX_TREE_SIZE} leaves`);
    let hash: Uint8Array = leafHash.slice();
    let level = 0;
    let index = this.#size;
    const completed: NodeHash[] = [{ level, index, hash: hash.slice() }];
    // Each trailing 1-bit of the old size is a perfect subtree of the same width as the one
    // just completed, immediately to its left: merge them (binary carry).
    let carry = this.#size;
    while (carry % 2 === 1) {
      const left = this.#hashes.pop()!; // present: one stored subtree per set bit
      hash = hashChildren(left, hash);
      level += 1;
      index = Math.floor(index / 2);
      completed.push({ level, index, hash: hash.slice() });
      carry = Math.floor(carry / 2);
    }
    this.#hashes.push(hash);
    this.#size += 1;
    return completed;
  }

  /**
   * The root hash of the tree of the current size, MTH(D[0:size]).
   *
   * @returns 32 bytes; SHA-256("") when size = 0
   */
  root(): Uint8Array {
    return foldRight(this.#hashes);
  }

  /**
   * The frontier nodes with their identifiers: the nodes of {@link rangeNodes}(0, size).
   *
   * @returns copies, largest subtree first
   */
  nodes(): NodeHash[] {
    const ids = rangeNodes(0, this.#size);
    return ids.map((id, i) => ({ ...id, hash: this.#hashes[i]!.slice() }));
  }

  /**
   * An independent copy, e.g. to compute a tentative root without committing the append.
   *
   * @returns a new frontier with the same state
   */
  clone(): MerkleFrontier {
    return MerkleFrontier.fromNodes(this.#size, this.#hashes);
  }
}

/**
 * MTH over a list of leaf hashes (RFC 9162 §2.1.1), in O(n) hashes and O(log n) memory.
 * For a sub-range D[start:end] pass the corresponding slice.
 *
 * @param leafHashes - leaf hashes (not raw data), each 32 bytes; any count ≤ 2^53 − 1
 * @returns the 32-byte root; SHA-256("") for an empty list
 * @throws {TypeError} if an element is not a Uint8Array
 * @throws {RangeError} if an element is not 32 bytes
 */
export function rootFromLeafHashes(leafHashes: Iterable<Uint8Array>): Uint8Array {
  const f = new MerkleFrontier();
  for (const h of leafHashes) f.append(h);
  return f.root();
}
