/**
 * The storage contract of the bulletin board (spec/09-board.md §9.6).
 *
 * Why an interface this small: the board's guarantees (append-only, no gaps, crash-safe,
 * torn tails detected) must not depend on which database sits underneath. Everything a store
 * does is "write one batch atomically" and "read back by key"; the board keeps the logic.
 * The embedded LevelDB store (level.ts) is the default and the in-memory one (memory.ts) is
 * for tests; the PostgreSQL one (pg.ts) is the server database several ballot servers share.
 * All three pass the same contract suite (test/board-store.contract.ts). A shared store adds one
 * thing, {@link SharedBoardStore.withAppendLock}: the place where appends by several processes
 * are sequenced (spec §9.6.6).
 *
 * What is stored, per append: the entry (its hash and its canonical bytes) under its height,
 * a hash → height index, the perfect Merkle nodes the append completed (keyed by level and
 * index; from these any root and any proof follow in O(log n) reads), the checkpoint for the
 * new size, and the head (size and chain head). Stores copy byte arrays on the way in and on
 * the way out, so neither side can alter the other's data by mutating an array.
 */
import { TallyError } from '../../src/errors.js';
import { bytesEqual } from '../../src/crypto/hash.js';
import type { Checkpoint } from '../checkpoint.js';
import type { Cosignature } from '../cosignature.js';
import type { NodeHash } from '../merkle/index.js';

/** A stored entry: its height, its hash and its canonical entry bytes (spec §9.1.5). */
export interface EntryRecord {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly bytes: Uint8Array;
}

/** The head of a stored board: how many entries it holds and the hash of the last one. */
export interface BoardHead {
  readonly size: number;
  readonly chainHead: Uint8Array;
}

/**
 * One atomic write (spec §9.6.1). The board commits one entry with its checkpoint per
 * append; an import may commit many entries at once and the checkpoint only with the last.
 *
 * Preconditions, checked by {@link planCommit} before anything is written:
 * - `entries` have consecutive heights starting at the store's current size;
 * - `checkpoint`, if present, has treeSize = the size after the batch and chainHead = the
 *   hash of the last entry after the batch;
 * - the batch is not empty (at least one entry or a checkpoint).
 * `nodes` are the perfect Merkle nodes completed by these entries (MerkleFrontier.append).
 */
export interface CommitBatch {
  readonly entries: readonly EntryRecord[];
  readonly nodes: readonly NodeHash[];
  readonly checkpoint?: Checkpoint;
}

/**
 * The storage interface. All methods are asynchronous; reads of absent keys resolve to
 * undefined (never throw); stored data that cannot be decoded rejects with BOARD_CORRUPT.
 */
export interface BoardStore {
  /** Opens the store (idempotent). @throws TallyError BOARD_CORRUPT for an unknown format */
  open(): Promise<void>;
  /** Closes the store; data persists for a later open. */
  close(): Promise<void>;

  /** The stored head, or undefined for an empty store. */
  head(): Promise<BoardHead | undefined>;
  /** Height of the last stored entry by key order (independent of the head), or undefined. */
  lastEntryHeight(): Promise<number | undefined>;
  /** The entry at `height`, 0 ≤ height ≤ 2^53 − 1, or undefined. */
  getEntry(height: number): Promise<EntryRecord | undefined>;
  /**
   * Entries with from ≤ height < to in ascending order, stopping after the first entry that
   * brings the total of `bytes` lengths to ≥ maxBytes (so at least one entry if any exists).
   * A missing height is skipped, not reported: the caller checks continuity.
   */
  readEntries(from: number, to: number, maxBytes: number): Promise<EntryRecord[]>;
  /** Height of the entry whose hash is `hash` (32 bytes), or undefined. */
  heightOf(hash: Uint8Array): Promise<number | undefined>;
  /** Hash of the perfect Merkle node (level, index), or undefined. */
  getNode(level: number, index: number): Promise<Uint8Array | undefined>;
  /** The checkpoint for tree size `treeSize`, or undefined. */
  getCheckpoint(treeSize: number): Promise<Checkpoint | undefined>;
  /** The checkpoint with the largest tree size by key order (independent of the head). */
  latestCheckpoint(): Promise<Checkpoint | undefined>;

  /**
   * Stores a witness cosignature (spec §9.9.5) of the checkpoint of size `c.treeSize`, durably,
   * replacing an earlier one by the same witness for that size (both are valid cosignatures of
   * the same checkpoint: the caller verified it against the manifest before). Cosignatures are
   * not part of the board's hash chain or Merkle tree; they ride along with the checkpoint.
   */
  putCosignature(c: Cosignature): Promise<void>;
  /** The cosignatures stored for the checkpoint of size `treeSize`, by name ascending. */
  getCosignatures(treeSize: number): Promise<Cosignature[]>;

  /**
   * Writes a batch atomically: after a crash either all of it is stored or none of it.
   * Durable stores resolve only once the batch is on stable storage.
   * @throws TallyError CONFLICT (before writing anything) if a precondition of
   *   {@link CommitBatch} fails
   */
  commit(batch: CommitBatch): Promise<void>;
}

/**
 * The section in which a shared store lets ONE writer append (spec/09-board.md §9.6.6): the
 * head as it stands once the writer holds the board's append lock, and a commit that goes into
 * the same database transaction. Nothing is durable until the section's function resolves; if
 * it throws, nothing it committed is kept.
 */
export interface AppendSection {
  /** The head with the lock held (undefined for an empty board). */
  readonly head: BoardHead | undefined;
  /** Writes a batch in the section's transaction (at most once per section). @throws CONFLICT as {@link BoardStore.commit} */
  commit(batch: CommitBatch): Promise<void>;
}

/**
 * A store that several processes append to at once (PostgreSQL). The board sequences appends
 * through {@link SharedBoardStore.withAppendLock} instead of trusting its in-process state: the
 * height, parent and Merkle frontier of the next entry follow from the locked head.
 */
export interface SharedBoardStore extends BoardStore {
  readonly shared: true;
  /**
   * Runs `fn` holding the board's append lock across every process sharing the store.
   * @returns what `fn` returns, once its commit (if any) is durable
   * @throws what `fn` throws (then nothing is written); TallyError INTERNAL for a database failure
   */
  withAppendLock<T>(fn: (section: AppendSection) => Promise<T>): Promise<T>;
}

/** True if several processes may append to `store` (see {@link SharedBoardStore}). */
export function isSharedStore(store: BoardStore): store is SharedBoardStore {
  return (store as Partial<SharedBoardStore>).shared === true && typeof (store as Partial<SharedBoardStore>).withAppendLock === 'function';
}

/**
 * Checks a batch against the current head and returns the head after it (spec §9.6.1).
 *
 * @param current - the store's head before the batch (undefined when empty)
 * @param batch - the batch to check
 * @returns the new head
 * @throws TallyError CONFLICT naming the violated precondition
 */
export function planCommit(current: BoardHead | undefined, batch: CommitBatch): BoardHead {
  let size = current?.size ?? 0;
  let chainHead = current?.chainHead ?? new Uint8Array(32);
  if (batch.entries.length === 0 && batch.checkpoint === undefined) {
    throw new TallyError('CONFLICT', 'commit: empty batch');
  }
  for (const e of batch.entries) {
    if (e.height !== size) {
      throw new TallyError('CONFLICT', `commit: expected an entry at height ${size}, got ${e.height}`, {
        details: { expected: size, got: e.height },
      });
    }
    if (!(e.hash instanceof Uint8Array) || e.hash.length !== 32 || !(e.bytes instanceof Uint8Array)) {
      throw new TallyError('CONFLICT', `commit: entry ${e.height} lacks a 32-byte hash or its bytes`);
    }
    size += 1;
    chainHead = e.hash;
  }
  const cp = batch.checkpoint;
  if (cp !== undefined) {
    if (cp.treeSize !== size) {
      throw new TallyError('CONFLICT', `commit: checkpoint for size ${cp.treeSize}, but the board will have ${size} entries`);
    }
    if (!bytesEqual(cp.chainHead, chainHead)) throw new TallyError('CONFLICT', `commit: checkpoint chain head is not the hash of entry ${size - 1}`);
  }
  for (const n of batch.nodes) {
    if (!(n.hash instanceof Uint8Array) || n.hash.length !== 32) throw new TallyError('CONFLICT', `commit: node (${n.level}, ${n.index}) is not a 32-byte hash`);
  }
  return { size, chainHead: chainHead.slice() };
}

/**
 * Rejection for stored data that does not decode.
 * @param what - what was being read
 * @param cause - the decoding error, if any
 */
export function corrupt(what: string, cause?: unknown): TallyError {
  return new TallyError('BOARD_CORRUPT', `board store: ${what}`, cause === undefined ? {} : { cause });
}
