/**
 * The public bulletin board: an append-only, hash-chained, Merkle-logged, signed record of an
 * election (spec/09-board.md).
 *
 * Why it is built this way:
 * - Appends are serialized by a promise-chain mutex, so two concurrent appends can never
 *   take the same height or leave a gap; each append is ONE atomic store batch (entry, hash
 *   index, completed Merkle nodes, checkpoint, head), acknowledged only after the store says
 *   it is durable. A crash therefore loses at most unacknowledged appends.
 * - In memory the board keeps only O(log n) state (size, chain head, last timestamp, Merkle
 *   frontier); entries are read from the store in pages, proofs from O(log n) stored nodes.
 * - It knows nothing about elections: types are six fixed strings, payloads are opaque values
 *   of the restricted JSON model. The ballot server and the auditor give them meaning.
 * - Fail-stop: opening re-checks the stored tail (recover.ts) and refuses a torn or corrupt
 *   store; if a commit fails, the in-memory state may no longer match the store, so the
 *   board refuses further appends until it is reopened (and re-checked).
 *
 * A board opened with only the public key is a read-only replica (e.g. an imported copy).
 *
 * Several writers (spec §9.6.6): on a SHARED store (PostgreSQL, store/pg.ts) other processes
 * append too, so the in-process state is only a cache. Each append runs inside the store's
 * append section (one database transaction holding the board's lock): the board first catches
 * up to the locked head — reading the entries others appended, checking that they chain onto
 * what it knew and that the rebuilt Merkle root is the one their signed checkpoint states — and
 * only then builds its entry on that head. Observers registered with {@link Board.onSync} see
 * the foreign entries, in order, before the append's guard runs, so a caller (the ballot box)
 * decides on the board as it really is.
 *
 * The guard (spec §9.6.6, shared with the end-time rule of §10): `append` takes an optional
 * `guard(timestampMs, head)` that runs inside the serialized section after the head is known and
 * the entry's timestamp is fixed, before anything is built. ONE clock reading thus decides both
 * the entry's timestamp and whatever the guard checks against it; a guard that throws aborts the
 * append with nothing written.
 */
import type { Cosignature } from './cosignature.js';
import { bytesEqual } from '../src/crypto/hash.js';
import { ED25519_SECRET_KEY_LEN, ed25519PublicKey, isValidEd25519PublicKey } from '../src/crypto/ed25519.js';
import { TallyError } from '../src/errors.js';
import { aElectionId, signCheckpoint, type Checkpoint } from './checkpoint.js';
import { GENESIS_TYPE, encodeEntry, isEntryType, ENTRY_TYPES, type Entry, type EntryType } from './entry.js';
import { buildConsistencyProof, buildInclusionProof, rangeHash, type MerkleFrontier } from './merkle/index.js';
import type { ConsistencyProof, InclusionProof } from './proofs.js';
import { decodeStoredEntry, recoverBoardState, type RecoveryDepth } from './recover.js';
import { isSharedStore, type AppendSection, type BoardHead, type BoardStore, type SharedBoardStore } from './store/interface.js';
import { entryHash } from './entry.js';
import { hashLeaf } from './merkle/index.js';
import { verifyCheckpoint } from './checkpoint.js';
import { encodeValue, type JsonValue } from './value-encoding.js';

/** Options of {@link Board.open}. */
export interface BoardOptions {
  /** The election this board records, 1 to 256 UTF-8 bytes. */
  readonly electionId: string;
  /** 32-byte Ed25519 seed that signs checkpoints; omit for a read-only replica. */
  readonly boardSecretKey?: Uint8Array;
  /** The board's public key; required for a replica, checked against the secret key if both. */
  readonly boardPublicKey?: Uint8Array;
  /** Clock in milliseconds since the Unix epoch (default Date.now), for tests. */
  readonly now?: () => number;
  /** How much of the store to re-check on open (default 'tail'; see recover.ts). */
  readonly verify?: RecoveryDepth;
}

/** An entry with its hash, as read from the board. */
export interface BoardEntry {
  readonly entry: Entry;
  readonly hash: Uint8Array;
}

/** What an acknowledged append returns. */
export interface AppendResult {
  readonly entry: Entry;
  readonly hash: Uint8Array;
  /** The checkpoint for the new size (treeSize = entry.height + 1). */
  readonly checkpoint: Checkpoint;
}

/**
 * Runs inside the append section once the head and the entry's timestamp are fixed (spec
 * §9.6.6); throwing aborts the append, nothing written.
 * @param timestampMs - the entry's timestamp: max(clock, previous entry's timestamp)
 * @param head - the board before the entry: size (= the new entry's height) and chain head
 */
export type AppendGuard = (timestampMs: number, head: BoardHead) => void | Promise<void>;

/** A payload computed inside the append section (after the guard), from the same reading. */
export type PayloadThunk = (timestampMs: number, head: BoardHead) => JsonValue;

/** Told, in order and inside the append section, about entries other writers appended. */
export type SyncListener = (entries: readonly BoardEntry[]) => void | Promise<void>;

/** Bytes read from the store per page by {@link Board.entries}. */
const PAGE_BYTES = 1 << 20;

/** The bulletin board. Create with {@link Board.open}; release with {@link Board.close}. */
export class Board {
  readonly #store: BoardStore;
  readonly #electionId: string;
  readonly #publicKey: Uint8Array;
  readonly #secretKey: Uint8Array | undefined;
  readonly #now: () => number;
  #size: number;
  #head: Uint8Array;
  #lastTimestamp: number;
  #frontier: MerkleFrontier;
  /** Tail of the append mutex: every append runs after the previous one settled. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #broken: unknown = undefined;
  readonly #listeners: SyncListener[] = [];

  private constructor(
    store: BoardStore,
    electionId: string,
    publicKey: Uint8Array,
    secretKey: Uint8Array | undefined,
    now: () => number,
    state: { size: number; chainHead: Uint8Array; lastTimestamp: number; frontier: MerkleFrontier },
  ) {
    this.#store = store;
    this.#electionId = electionId;
    this.#publicKey = publicKey;
    this.#secretKey = secretKey;
    this.#now = now;
    this.#size = state.size;
    this.#head = state.chainHead;
    this.#lastTimestamp = state.lastTimestamp;
    this.#frontier = state.frontier;
  }

  /**
   * Opens the store and recovers the board, checking the stored tail (spec §9.6.3).
   *
   * @param store - a board store (opened here if needed); the board owns it until close()
   * @param options - election, keys, clock, verification depth
   * @returns the board, ready to append (or read-only without a secret key)
   * @throws TallyError MALFORMED for bad options; BOARD_CORRUPT for a torn or corrupt store;
   *   CONFLICT if the store holds another election
   */
  static async open(store: BoardStore, options: BoardOptions): Promise<Board> {
    const electionId = aElectionId(options.electionId, 'options.electionId');
    let publicKey: Uint8Array;
    let secretKey: Uint8Array | undefined;
    if (options.boardSecretKey !== undefined) {
      if (!(options.boardSecretKey instanceof Uint8Array) || options.boardSecretKey.length !== ED25519_SECRET_KEY_LEN) {
        throw new TallyError('MALFORMED', 'options.boardSecretKey: expected a 32-byte Ed25519 seed');
      }
      secretKey = options.boardSecretKey.slice();
      publicKey = ed25519PublicKey(secretKey);
      if (options.boardPublicKey !== undefined && !bytesEqual(options.boardPublicKey, publicKey)) {
        throw new TallyError('MALFORMED', 'options.boardPublicKey does not match options.boardSecretKey');
      }
    } else if (options.boardPublicKey !== undefined) {
      if (!isValidEd25519PublicKey(options.boardPublicKey)) throw new TallyError('MALFORMED', 'options.boardPublicKey: not a valid Ed25519 public key');
      publicKey = options.boardPublicKey.slice();
    } else {
      throw new TallyError('MALFORMED', 'options: a boardSecretKey (or, for a read-only replica, a boardPublicKey) is required');
    }
    await store.open();
    const depth = options.verify ?? 'tail';
    // On a shared store, recover under the append lock: no writer moves the head mid-check.
    const state = isSharedStore(store)
      ? await store.withAppendLock(() => recoverBoardState(store, electionId, publicKey, depth))
      : await recoverBoardState(store, electionId, publicKey, depth);
    return new Board(store, electionId, publicKey, secretKey, options.now ?? Date.now, state);
  }

  /** The election this board records. */
  get electionId(): string {
    return this.#electionId;
  }

  /** The board's Ed25519 public key (a copy). */
  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  /** True for a replica opened without the secret key. */
  get readOnly(): boolean {
    return this.#secretKey === undefined;
  }

  /** Number of acknowledged entries. */
  get size(): number {
    return this.#size;
  }

  /** The chain head: hash of the last entry, 32 zero bytes when empty (a copy). */
  get head(): Uint8Array {
    return this.#head.slice();
  }

  /** True if other processes may append to this board's store (spec §9.6.6). */
  get shared(): boolean {
    return isSharedStore(this.#store);
  }

  /**
   * Registers a listener for entries appended by other writers of a shared store. It is called
   * inside the append section (or {@link Board.refresh}), in height order, with the board's size
   * already covering the entries, before any guard; it must not append. Throwing fails the
   * append (or refresh) that is catching up.
   */
  onSync(listener: SyncListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Catches up with entries other writers appended (shared stores; a no-op otherwise), so that
   * reads see the board as stored. Serialized with appends.
   * @throws TallyError BOARD_CORRUPT if the stored board does not extend what this board knew
   */
  async refresh(): Promise<void> {
    this.#assertOpen();
    const store = this.#store;
    if (!isSharedStore(store)) return;
    await this.#enqueue(async () => {
      if (this.#broken !== undefined) throw new TallyError('INTERNAL', 'board: a previous failure; reopen the board', { cause: this.#broken });
      await this.#syncTo(store, await store.head());
    });
  }

  /**
   * Appends an entry and resolves once it, its Merkle nodes and its checkpoint are durably
   * committed (spec §9.6.1). Concurrent calls are serialized in call order; on a shared store,
   * also with every other writer (§9.6.6).
   *
   * @param type - one of ENTRY_TYPES; the first entry (height 0) must be 'setup'
   * @param payload - a value of the restricted JSON model (depth ≤ 16, ≤ 4 MiB encoded), or a
   *   function computing it inside the section (after the guard) from the timestamp and head
   * @param guard - runs inside the section with the entry's timestamp and the head before it;
   *   throwing aborts the append with nothing written (the error is passed on unchanged)
   * @returns the entry, its hash and the new checkpoint
   * @throws TallyError MALFORMED for an unknown type, a bad payload or a non-setup genesis;
   *   TOO_LARGE for an oversized payload; CONFLICT if the board is closed or read-only;
   *   BOARD_CORRUPT if a shared store's new entries do not extend this board;
   *   INTERNAL if the store failed (the board then refuses appends until reopened);
   *   whatever `guard` throws
   */
  async append(type: EntryType, payload: JsonValue | PayloadThunk, guard?: AppendGuard): Promise<AppendResult> {
    this.#assertWritable();
    if (!isEntryType(type)) {
      throw new TallyError('MALFORMED', `type: expected one of ${ENTRY_TYPES.join(', ')}, got ${JSON.stringify(String(type)).slice(0, 80)}`);
    }
    // Encode now: a bad payload fails fast, and later mutation by the caller cannot change it.
    const fixed = typeof payload === 'function' ? undefined : { payload, encoding: encodeValue(payload, 'payload') };
    const store = this.#store;
    if (!isSharedStore(store)) {
      return this.#enqueue(() => this.#appendLocked(type, fixed ?? (payload as PayloadThunk), guard, (batch) => store.commit(batch)));
    }
    return this.#enqueue(async () => {
      this.#assertNotBroken();
      let pending: (() => AppendResult) | undefined;
      const result = await store.withAppendLock(async (section) => {
        await this.#syncTo(store, section.head);
        // The state is advanced only once the transaction has committed (below).
        return this.#appendLocked(type, fixed ?? (payload as PayloadThunk), guard, (batch) => section.commit(batch), (apply) => (pending = apply));
      });
      pending?.();
      return result;
    });
  }

  /**
   * Brings the in-process state to a shared store's `head`: reads the entries appended since,
   * checks they chain onto the known head, rebuilds the frontier from their leaves and checks the
   * root and chain head against their signed checkpoint, then tells the listeners.
   */
  async #syncTo(store: SharedBoardStore, head: BoardHead | undefined): Promise<void> {
    const target = head?.size ?? 0;
    if (target === this.#size) {
      if (target > 0 && !bytesEqual(head!.chainHead, this.#head)) this.#fail(`the stored chain head at size ${target} is not the one this board appended`);
      return;
    }
    if (target < this.#size) this.#fail(`the stored board has ${target} entries, fewer than the ${this.#size} this board knew`);
    while (this.#size < target) {
      const from = this.#size;
      const page = await store.readEntries(from, target, PAGE_BYTES);
      if (page.length === 0) this.#fail(`entry ${from} is missing`);
      const frontier = this.#frontier.clone();
      let parent = this.#head;
      let last = this.#lastTimestamp;
      const seen: BoardEntry[] = [];
      for (const rec of page) {
        const h = from + seen.length;
        if (rec.height !== h) this.#fail(`entry ${h} is missing`);
        const entry = decodeStoredEntry(rec);
        if (!bytesEqual(entryHash(rec.bytes), rec.hash)) this.#fail(`entry ${h}: stored hash is not the hash of its bytes`);
        if (!bytesEqual(entry.parent, parent)) this.#fail(`entry ${h} does not link to entry ${h - 1} (a fork)`);
        if (entry.timestamp < last) this.#fail(`entry ${h}: timestamp goes backwards`);
        frontier.append(hashLeaf(rec.bytes));
        parent = rec.hash;
        last = entry.timestamp;
        seen.push({ entry, hash: rec.hash });
      }
      const size = from + seen.length;
      const cp = await store.getCheckpoint(size);
      if (cp !== undefined) {
        if (!bytesEqual(cp.rootHash, frontier.root()) || !bytesEqual(cp.chainHead, parent) || cp.electionId !== this.#electionId) {
          this.#fail(`checkpoint ${size} does not match the entries stored before it`);
        }
        if (!verifyCheckpoint(this.#publicKey, cp).ok) this.#fail(`checkpoint ${size} is not signed by the board key`);
      } else if (size === target) {
        this.#fail(`no checkpoint for the stored head (size ${size})`);
      }
      this.#frontier = frontier;
      this.#size = size;
      this.#head = parent;
      this.#lastTimestamp = last;
      for (const l of this.#listeners) await l(seen);
    }
  }

  /** Fail-stop on a shared store that does not extend this board: refuse appends until reopened. */
  #fail(message: string): never {
    const e = new TallyError('BOARD_CORRUPT', `board store: ${message}`);
    this.#broken = e;
    throw e;
  }

  #assertNotBroken(): void {
    if (this.#broken !== undefined) {
      throw new TallyError('INTERNAL', 'board: a previous commit failed; reopen the board', { cause: this.#broken });
    }
  }

  async #appendLocked(
    type: EntryType,
    payload: { payload: JsonValue; encoding: Uint8Array } | PayloadThunk,
    guard: AppendGuard | undefined,
    commit: (batch: Parameters<AppendSection['commit']>[0]) => Promise<void>,
    defer?: (apply: () => AppendResult) => void,
  ): Promise<AppendResult> {
    // Queued before close() or a failed commit? close() waits for the queue; a failure stops it.
    this.#assertNotBroken();
    const height = this.#size;
    if (height === 0 && type !== GENESIS_TYPE) {
      throw new TallyError('MALFORMED', `the first entry must have type "${GENESIS_TYPE}", got "${type}"`);
    }
    // The ONE clock reading of this append: the guard and the entry both use it.
    const timestamp = Math.max(this.#now(), this.#lastTimestamp);
    const before: BoardHead = { size: height, chainHead: this.#head.slice() };
    if (guard !== undefined) await guard(timestamp, before);
    let value: JsonValue;
    let payloadEncoding: Uint8Array;
    if (typeof payload === 'function') {
      value = payload(timestamp, before);
      payloadEncoding = encodeValue(value, 'payload');
    } else {
      value = payload.payload;
      payloadEncoding = payload.encoding;
    }
    const entry: Entry = { height, parent: this.#head.slice(), type, timestamp, payload: value };
    const enc = encodeEntry(entry, payloadEncoding);
    const frontier = this.#frontier.clone();
    const nodes = frontier.append(enc.leafHash);
    const checkpoint = signCheckpoint(this.#secretKey!, {
      electionId: this.#electionId,
      treeSize: height + 1,
      rootHash: frontier.root(),
      chainHead: enc.hash,
      timestamp,
    });
    try {
      await commit({ entries: [{ height, hash: enc.hash, bytes: enc.bytes }], nodes, checkpoint });
    } catch (e) {
      if (defer !== undefined) {
        // A shared store's section rolls back: nothing was written, and the next append
        // re-reads the head anyway, so the board stays usable.
        throw new TallyError('INTERNAL', `board: committing entry ${height} failed; nothing was written`, { cause: e });
      }
      this.#broken = e;
      throw new TallyError('INTERNAL', `board: committing entry ${height} failed; reopen the board to re-check the store`, { cause: e });
    }
    const result: AppendResult = { entry, hash: enc.hash.slice(), checkpoint };
    const apply = (): AppendResult => {
      this.#frontier = frontier;
      this.#size = height + 1;
      this.#head = enc.hash;
      this.#lastTimestamp = timestamp;
      return result;
    };
    if (defer === undefined) return apply();
    defer(apply);
    return result;
  }

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #assertWritable(): void {
    this.#assertOpen();
    if (this.#secretKey === undefined) throw new TallyError('CONFLICT', 'board: read-only replica (opened without the secret key)');
    if (this.#broken !== undefined) {
      throw new TallyError('INTERNAL', 'board: a previous commit failed; reopen the board', { cause: this.#broken });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new TallyError('CONFLICT', 'board: closed');
  }

  // -------------------------------------------------------------------------------------
  // Reading
  // -------------------------------------------------------------------------------------

  /**
   * The entries with from ≤ height < to, in order, read from the store in pages of about
   * 1 MiB: memory stays bounded whatever the board's size.
   *
   * @param from - first height, 0 ≤ from ≤ to
   * @param to - one past the last height, from ≤ to ≤ size (default: the size at the call)
   * @returns an async iterator of entries with their hashes
   * @throws TallyError OUT_OF_RANGE (on the first next()) for bad bounds; BOARD_CORRUPT if
   *   an entry is missing or does not decode
   */
  async *entries(from = 0, to: number = this.#size): AsyncGenerator<BoardEntry, void, undefined> {
    this.#assertOpen();
    aCount(from, 'from');
    aCount(to, 'to');
    if (from > to || to > this.#size) {
      throw new TallyError('OUT_OF_RANGE', `entries: expected 0 ≤ from ≤ to ≤ ${this.#size}, got [${from}, ${to})`);
    }
    let h = from;
    while (h < to) {
      const page = await this.#store.readEntries(h, to, PAGE_BYTES);
      if (page.length === 0 || page[0]!.height !== h) throw corruptMissing(h);
      for (const rec of page) {
        if (rec.height !== h) throw corruptMissing(h);
        yield { entry: decodeStoredEntry(rec), hash: rec.hash };
        h += 1;
      }
    }
  }

  /**
   * The entry at a height.
   * @param height - 0 ≤ height < size
   * @throws TallyError OUT_OF_RANGE for a bad number; NOT_FOUND if height ≥ size
   */
  async entryAt(height: number): Promise<BoardEntry> {
    this.#assertOpen();
    aCount(height, 'height');
    if (height >= this.#size) throw new TallyError('NOT_FOUND', `no entry at height ${height} (the board has ${this.#size})`);
    const rec = await this.#store.getEntry(height);
    if (rec === undefined) throw corruptMissing(height);
    return { entry: decodeStoredEntry(rec), hash: rec.hash };
  }

  /**
   * The entry with a given hash.
   * @param hash - 32 bytes
   * @throws TallyError MALFORMED unless 32 bytes; NOT_FOUND if no acknowledged entry has it
   */
  async entryByHash(hash: Uint8Array): Promise<BoardEntry> {
    this.#assertOpen();
    if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new TallyError('MALFORMED', 'hash: expected 32 bytes');
    const height = await this.#store.heightOf(hash);
    if (height === undefined || height >= this.#size) throw new TallyError('NOT_FOUND', 'no entry with this hash');
    return this.entryAt(height);
  }

  /**
   * The checkpoint of the current size.
   * @throws TallyError NOT_FOUND when the board is empty
   */
  async latestCheckpoint(): Promise<Checkpoint> {
    return this.checkpointAt(this.#size);
  }

  /**
   * The checkpoint made when the board reached `size` entries.
   * @param size - 1 ≤ size ≤ this.size
   * @throws TallyError OUT_OF_RANGE for a bad number; NOT_FOUND if no checkpoint of that size
   *   is stored (size 0, beyond the board, or not kept by a replica)
   */
  async checkpointAt(size: number): Promise<Checkpoint> {
    this.#assertOpen();
    aCount(size, 'size');
    const cp = size >= 1 && size <= this.#size ? await this.#store.getCheckpoint(size) : undefined;
    if (cp === undefined) throw new TallyError('NOT_FOUND', `no checkpoint for tree size ${size}`);
    return cp;
  }

  /**
   * Stores a witness cosignature with the checkpoint it cosigns (spec §9.9.5). The caller (the
   * ballot server) has verified it against the manifest's witnesses; the board checks only
   * that it names a stored checkpoint and that checkpoint's root. Works on a read-only replica
   * too: cosignatures are not entries.
   * @throws TallyError NOT_FOUND (no checkpoint of that size), BAD_COSIGNATURE (another root)
   */
  async addCosignature(c: Cosignature): Promise<void> {
    const cp = await this.checkpointAt(c.treeSize);
    if (!bytesEqual(cp.rootHash, c.rootHash)) {
      throw new TallyError('BAD_COSIGNATURE', `the cosignature of ${c.name} is for another root than the board's checkpoint of size ${c.treeSize}`);
    }
    await this.#store.putCosignature(c);
  }

  /** The stored cosignatures of the checkpoint of size `size`, by witness name (spec §9.9.5). */
  async cosignaturesAt(size: number): Promise<Cosignature[]> {
    this.#assertOpen();
    aCount(size, 'size');
    return this.#store.getCosignatures(size);
  }

  // -------------------------------------------------------------------------------------
  // Proofs (spec §9.5.2)
  // -------------------------------------------------------------------------------------

  /**
   * Inclusion proof of the entry at `height` in the tree of a stored checkpoint.
   *
   * @param height - 0 ≤ height < treeSize
   * @param treeSize - size of a stored checkpoint, 1 ≤ treeSize ≤ size (default: size)
   * @returns { index: height, size: treeSize, hashes } — verify against checkpointAt(treeSize)
   * @throws TallyError OUT_OF_RANGE for bad numbers or height ≥ treeSize; NOT_FOUND if no
   *   checkpoint of that size is stored; BOARD_CORRUPT if a stored node is missing
   */
  async inclusionProof(height: number, treeSize: number = this.#size): Promise<InclusionProof> {
    aCount(height, 'height');
    await this.checkpointAt(treeSize);
    if (height >= treeSize) throw new TallyError('OUT_OF_RANGE', `height ${height} is not below tree size ${treeSize}`);
    const hashes = await buildInclusionProof(height, treeSize, (s, e) => rangeHash(s, e, this.#node));
    return { index: height, size: treeSize, hashes };
  }

  /**
   * Consistency proof between two stored checkpoints.
   *
   * @param size1 - the older size, 1 ≤ size1 ≤ size2
   * @param size2 - the newer size, size1 ≤ size2 ≤ size (default: size)
   * @returns { size1, size2, hashes } — verify with client.verifyCheckpointExtension
   * @throws TallyError OUT_OF_RANGE for bad numbers or size1 > size2; NOT_FOUND if either
   *   checkpoint is not stored; BOARD_CORRUPT if a stored node is missing
   */
  async consistencyProof(size1: number, size2: number = this.#size): Promise<ConsistencyProof> {
    aCount(size1, 'size1');
    aCount(size2, 'size2');
    if (size1 > size2) throw new TallyError('OUT_OF_RANGE', `size1 ${size1} exceeds size2 ${size2}`);
    await Promise.all([this.checkpointAt(size1), this.checkpointAt(size2)]);
    const hashes = await buildConsistencyProof(size1, size2, (s, e) => rangeHash(s, e, this.#node));
    return { size1, size2, hashes };
  }

  /** Stored perfect node, or BOARD_CORRUPT: every node below the size was committed. */
  readonly #node = async (level: number, index: number): Promise<Uint8Array> => {
    const h = await this.#store.getNode(level, index);
    if (h === undefined) {
      throw new TallyError('BOARD_CORRUPT', `board store: Merkle node (${level}, ${index}) is missing`, { details: { level, index } });
    }
    return h;
  };

  /**
   * Waits for queued appends to settle, then closes the store. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#store.close();
  }
}

function aCount(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
    throw new TallyError('OUT_OF_RANGE', `${field}: expected an integer 0 ≤ ${field} ≤ 2^53 − 1, got ${String(x)}`);
  }
  return x;
}

function corruptMissing(height: number): TallyError {
  return new TallyError('BOARD_CORRUPT', `board store: entry ${height} is missing`, { details: { height } });
}
