/**
 * The pure verifier of a whole board: checks B2–B14 of spec/09-board.md §9.8.
 *
 * Why it is shaped as a streaming class: a board may hold millions of entries, and an auditor
 * must be able to check it while reading it, in O(log n) memory — the previous entry's hash
 * and timestamp plus a Merkle frontier are all the state the checks need. It does no I/O and
 * never throws: the caller (import.ts, an auditor, a test) feeds it the header, the entries in
 * order and the final checkpoint, and gets typed results whose check ids are the spec's.
 *
 * B1 (line framing and canonical JSON), and the record shapes of B2/B3 and the position rule
 * B9, concern the export file and are checked by import.ts before values reach this class;
 * they are listed here so that the table below is the complete, ordered list.
 */
import { bytesEqual } from '../src/crypto/hash.js';
import { isValidEd25519PublicKey } from '../src/crypto/ed25519.js';
import { isTallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import { aElectionId, verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { GENESIS_TYPE, encodeEntry, zeroHash, type EncodedEntry, type Entry } from './entry.js';
import { MerkleFrontier, type NodeHash } from './merkle/index.js';

/** The board checks in the order a verifier applies them (spec §9.8). */
export const BOARD_CHECKS = {
  B1: 'every line is LF-terminated, at most 8 MiB, valid UTF-8, and the canonical JSON text of its value',
  B2: 'the first line is the header: format "tallyboard-board/1", a valid electionId, a valid Ed25519 boardPublicKey',
  B3: 'every later line is an entry or checkpoint record with exactly its fields, each in range; payloads are admissible values',
  B4: 'entry heights are 0, 1, 2, … in order',
  B5: 'the parent of entry 0 is 32 zero bytes; the parent of entry i > 0 is the hash of entry i − 1',
  B6: 'entry 0 has type "setup"',
  B7: 'timestamps never decrease',
  B8: 'the published hash of each entry equals H(TAGS.boardEntry, entry bytes)',
  B9: 'the last line, and only the last line, is a checkpoint record',
  B10: 'the checkpoint electionId equals the header electionId',
  B11: 'the checkpoint treeSize equals the number of entries, and is at least 1',
  B12: 'the checkpoint rootHash equals the Merkle root recomputed over all entries',
  B13: 'the checkpoint chainHead equals the hash of the last entry',
  B14: 'the checkpoint signature verifies under the header boardPublicKey',
} as const;

/** A check id, 'B1' … 'B14'. */
export type BoardCheckId = keyof typeof BOARD_CHECKS;

/** The header of a board: what a verifier must know before the first entry (spec §9.7). */
export interface BoardHeader {
  /** 1 to 256 UTF-8 bytes. */
  readonly electionId: string;
  /** Ed25519 public key, 32 bytes, canonical, not of small order. */
  readonly boardPublicKey: Uint8Array;
}

/**
 * A failed board check. `height` is the entry concerned, if any. For a failed comparison,
 * as in the Merkle verifier: `expected` is the value the published record states (a height,
 * a parent, a hash, a root, a size) and `computed` is the value recomputed from the entries
 * verified so far; hashes as lowercase hex.
 */
export interface BoardFailure {
  readonly ok: false;
  readonly check: BoardCheckId;
  readonly height?: number;
  readonly reason: string;
  readonly expected?: string;
  readonly computed?: string;
}

/** An accepted entry: its encoding and the perfect Merkle nodes it completed. */
export interface PushOk {
  readonly ok: true;
  readonly encoded: EncodedEntry;
  readonly nodes: readonly NodeHash[];
}

/** A board that passed every check. */
export interface BoardVerified {
  readonly ok: true;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly chainHead: Uint8Array;
  readonly checkpoint: Checkpoint;
}

/**
 * Builds a failure record (for callers that check B1/B3/B9 themselves, such as import.ts).
 * @param check - the check id
 * @param reason - what is wrong, in words
 * @param extra - optional height, expected and computed values
 */
export function boardFailure(
  check: BoardCheckId,
  reason: string,
  extra: { height?: number; expected?: string; computed?: string } = {},
): BoardFailure {
  return { ok: false, check, reason, ...extra };
}

/**
 * Streaming verifier of one board. Usage: `new ChainVerifier(header)`, then `push(entry)` for
 * entries 0, 1, 2, … in order, then `finish(checkpoint)` once. After the first failure every
 * call returns that failure; after `finish` the verifier is closed.
 */
export class ChainVerifier {
  readonly #header: BoardHeader;
  #failure: BoardFailure | undefined;
  #finished = false;
  #size = 0;
  #head: Uint8Array = zeroHash();
  #lastTimestamp = 0;
  #frontier = new MerkleFrontier();

  /**
   * @param header - electionId and board key; checked here (B2), a failure is reported by
   *   the first call to push or finish and by {@link failure}
   */
  constructor(header: BoardHeader) {
    this.#header = header;
    try {
      aElectionId(header.electionId, 'header.electionId');
    } catch (e) {
      this.#failure = boardFailure('B2', messageOf(e));
      return;
    }
    if (!isValidEd25519PublicKey(header.boardPublicKey)) {
      this.#failure = boardFailure('B2', 'header.boardPublicKey is not a valid Ed25519 public key (32 bytes, canonical, not of small order)');
    }
  }

  /**
   * A verifier that continues from a {@link snapshot} (the monitor's saved state, spec §10.7):
   * as if the entries the snapshot covers had just been pushed.
   * @throws TypeError/RangeError for a snapshot of the wrong shape (the caller's own file)
   */
  static resume(header: BoardHeader, snap: ChainSnapshot): ChainVerifier {
    const v = new ChainVerifier(header);
    if (v.#failure) return v;
    if (!Number.isSafeInteger(snap.size) || snap.size < 0 || !Number.isSafeInteger(snap.lastTimestamp) || snap.lastTimestamp < 0) {
      throw new RangeError('chain snapshot: bad size or timestamp');
    }
    v.#frontier = MerkleFrontier.fromNodes(snap.size, snap.frontier.map((h) => fromHexStrict(h)));
    v.#size = snap.size;
    v.#head = fromHexStrict(snap.head);
    v.#lastTimestamp = snap.lastTimestamp;
    return v;
  }

  /** The state after the entries pushed so far, as JSON (undefined after a failure or finish). */
  snapshot(): ChainSnapshot | undefined {
    if (this.#failure || this.#finished) return undefined;
    return { size: this.#size, head: toHex(this.#head), lastTimestamp: this.#lastTimestamp, frontier: this.#frontier.nodes().map((n) => toHex(n.hash)) };
  }

  /** The first failure, if any. */
  get failure(): BoardFailure | undefined {
    return this.#failure;
  }

  /** Number of entries accepted so far. */
  get size(): number {
    return this.#size;
  }

  /** Hash of the last accepted entry (32 zero bytes before the first). */
  get chainHead(): Uint8Array {
    return this.#head.slice();
  }

  /** Merkle root of the entries accepted so far. */
  get rootHash(): Uint8Array {
    return this.#frontier.root();
  }

  /**
   * Checks the next entry (B3–B8) and folds it into the chain and the tree.
   *
   * @param entry - the entry expected at height = {@link size}
   * @param publishedHash - the hash the publisher claims for it (checked by B8), if any
   * @returns the entry's encoding and completed Merkle nodes, or the failure
   */
  push(entry: Entry, publishedHash?: Uint8Array): PushOk | BoardFailure {
    if (this.#failure) return this.#failure;
    if (this.#finished) return this.#fail(boardFailure('B9', 'an entry follows the final checkpoint', { height: this.#size }));
    const height = this.#size;
    // B3: fields in range and payload admissible; this also yields the bytes and hashes.
    let encoded: EncodedEntry;
    try {
      encoded = encodeEntry(entry);
    } catch (e) {
      return this.#fail(boardFailure('B3', messageOf(e), { height }));
    }
    if (entry.height !== height) {
      return this.#fail(boardFailure('B4', `the entry at position ${height} states height ${entry.height}`, {
        height,
        expected: String(entry.height),
        computed: String(height),
      }));
    }
    if (!bytesEqual(entry.parent, this.#head)) {
      return this.#fail(boardFailure('B5', height === 0 ? 'the genesis parent is not 32 zero bytes' : `the parent is not the hash of entry ${height - 1}`, {
        height,
        expected: toHex(entry.parent),
        computed: toHex(this.#head),
      }));
    }
    if (height === 0 && entry.type !== GENESIS_TYPE) {
      return this.#fail(boardFailure('B6', `entry 0 has type "${entry.type}", not "${GENESIS_TYPE}"`, { height }));
    }
    if (entry.timestamp < this.#lastTimestamp) {
      return this.#fail(boardFailure('B7', `timestamp ${entry.timestamp} is before the previous entry's ${this.#lastTimestamp}`, { height }));
    }
    if (publishedHash !== undefined && !bytesEqual(publishedHash, encoded.hash)) {
      return this.#fail(boardFailure('B8', 'the published hash is not the hash of the entry', {
        height,
        expected: hexOrWhat(publishedHash),
        computed: toHex(encoded.hash),
      }));
    }
    const nodes = this.#frontier.append(encoded.leafHash);
    this.#size += 1;
    this.#head = encoded.hash;
    this.#lastTimestamp = entry.timestamp;
    return { ok: true, encoded, nodes };
  }

  /**
   * Checks the final checkpoint against everything pushed (B9–B14) and closes the verifier.
   *
   * @param checkpoint - the board's final checkpoint, or undefined when there is none (B9)
   * @returns the verified size, root and head, or the failure
   */
  finish(checkpoint: Checkpoint | undefined): BoardVerified | BoardFailure {
    if (this.#failure) return this.#failure;
    if (this.#finished) return this.#fail(boardFailure('B9', 'a second checkpoint'));
    this.#finished = true;
    if (checkpoint === undefined) return this.#fail(boardFailure('B9', 'the board has no final checkpoint'));
    return this.check(checkpoint);
  }

  /**
   * Checks a checkpoint of the entries pushed so far (B10–B14) WITHOUT closing the verifier:
   * a live monitor checks each checkpoint it fetches this way, then pushes more entries
   * (spec §10.7). A failure is the verifier's failure, as for {@link finish}.
   *
   * @param cp - a checkpoint claimed for the current size
   */
  check(cp: Checkpoint): BoardVerified | BoardFailure {
    if (this.#failure) return this.#failure;
    if (cp.electionId !== this.#header.electionId) {
      return this.#fail(boardFailure('B10', `the checkpoint is for election ${JSON.stringify(String(cp.electionId)).slice(0, 300)}, the header for ${JSON.stringify(this.#header.electionId)}`));
    }
    if (cp.treeSize !== this.#size || this.#size < 1) {
      return this.#fail(boardFailure('B11', this.#size < 1 ? 'the board has no entries' : `the checkpoint covers ${cp.treeSize} entries, the board has ${this.#size}`, {
        expected: String(cp.treeSize),
        computed: String(this.#size),
      }));
    }
    const root = this.#frontier.root();
    if (!(cp.rootHash instanceof Uint8Array) || !bytesEqual(cp.rootHash, root)) {
      return this.#fail(boardFailure('B12', 'the checkpoint root is not the Merkle root of the entries', {
        expected: hexOrWhat(cp.rootHash),
        computed: toHex(root),
      }));
    }
    if (!(cp.chainHead instanceof Uint8Array) || !bytesEqual(cp.chainHead, this.#head)) {
      return this.#fail(boardFailure('B13', 'the checkpoint chain head is not the hash of the last entry', {
        height: this.#size - 1,
        expected: hexOrWhat(cp.chainHead),
        computed: toHex(this.#head),
      }));
    }
    const sig = verifyCheckpoint(this.#header.boardPublicKey, cp);
    if (!sig.ok) return this.#fail(boardFailure('B14', sig.message));
    return { ok: true, size: this.#size, rootHash: root, chainHead: this.#head.slice(), checkpoint: cp };
  }

  #fail(f: BoardFailure): BoardFailure {
    this.#failure = f;
    return f;
  }
}

/** The JSON state of a {@link ChainVerifier} between two entries (spec §10.7). */
export interface ChainSnapshot {
  readonly size: number;
  /** hash of the last entry, hex (zeros before the first) */
  readonly head: string;
  readonly lastTimestamp: number;
  /** the Merkle frontier's node hashes, hex, largest subtree first */
  readonly frontier: readonly string[];
}

function fromHexStrict(h: unknown): Uint8Array {
  if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) throw new TypeError('chain snapshot: expected 64 lowercase hex digits');
  return Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
}

/**
 * Verifies a whole board held in memory or produced by a synchronous iterator.
 *
 * @param header - electionId and board key
 * @param entries - the entries in board order, each optionally with its published hash
 * @param checkpoint - the final checkpoint (undefined fails B9)
 * @returns the verified summary or the first failure; never throws
 */
export function verifyBoard(
  header: BoardHeader,
  entries: Iterable<Entry | { readonly entry: Entry; readonly hash?: Uint8Array }>,
  checkpoint: Checkpoint | undefined,
): BoardVerified | BoardFailure {
  const v = new ChainVerifier(header);
  for (const item of entries) {
    const r = 'entry' in item ? v.push(item.entry, item.hash) : v.push(item);
    if (!r.ok) return r;
  }
  return v.finish(checkpoint);
}

function hexOrWhat(x: unknown): string {
  return x instanceof Uint8Array ? toHex(x) : typeof x;
}

function messageOf(e: unknown): string {
  if (isTallyError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
