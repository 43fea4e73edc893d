/**
 * Board entries: the record type, its canonical bytes, its hash and its JSON wire form
 * (spec/09-board.md §9.1).
 *
 * Why one file: the entry bytes are at once the hash-chain input, the Merkle leaf input and
 * what the store keeps, so there must be exactly one function that produces them and one
 * that reads them back; everything else (board, verifier, export, import, stores) goes
 * through here. The board knows nothing about elections: `type` is one of six fixed strings
 * and `payload` is an opaque value of the restricted JSON model (value-encoding.ts).
 *
 *   entry bytes = U64(height) ‖ FIXED(parent, 32) ‖ STR(type) ‖ U64(timestamp)
 *                 ‖ BYTES(valueEncoding(payload))
 *   entry hash  = H(TAGS.boardEntry, entry bytes)          (the hash chain, §9.2)
 *   leaf hash   = SHA-256(0x00 ‖ entry bytes)              (the Merkle log, §9.3)
 */
import { canonical } from '../src/canonical.js';
import { HASH_LEN, TAGS, hashTagged } from '../src/crypto/hash.js';
import { TallyError } from '../src/errors.js';
import { parseHex, toHex } from '../src/wire.js';
import { hashLeaf } from './merkle/index.js';
import { decodeValue, encodeValue, VALUE_LIMITS, type JsonValue } from './value-encoding.js';

/** The seven entry types, exact strings (spec §9.1.1). Any other type is refused. */
export const ENTRY_TYPES = ['setup', 'register', 'token-issued', 'ballot', 'close', 'encrypted-tally', 'partial-decryption', 'result'] as const;

/** One of {@link ENTRY_TYPES}. */
export type EntryType = (typeof ENTRY_TYPES)[number];

/** The type of the genesis entry (height 0). */
export const GENESIS_TYPE: EntryType = 'setup';

/** Longest type string in bytes ("partial-decryption"). */
const MAX_TYPE_BYTES = Math.max(...ENTRY_TYPES.map((s) => s.length));

/** Largest possible entry bytes: fixed fields plus the largest payload encoding. */
export const MAX_ENTRY_BYTES = 8 + HASH_LEN + 4 + MAX_TYPE_BYTES + 8 + 4 + VALUE_LIMITS.maxEncodedBytes;

/**
 * A board entry (spec §9.1.1).
 * - height: 0 ≤ height ≤ 2^53 − 1, its position on the board
 * - parent: 32 bytes, the hash of entry height − 1 (32 zero bytes for height 0)
 * - type: one of {@link ENTRY_TYPES}
 * - timestamp: milliseconds since the Unix epoch, 0 ≤ timestamp ≤ 2^53 − 1
 * - payload: a value of the restricted JSON model
 */
export interface Entry {
  readonly height: number;
  readonly parent: Uint8Array;
  readonly type: EntryType;
  readonly timestamp: number;
  readonly payload: JsonValue;
}

/** An entry with its canonical bytes and both hashes computed from them. */
export interface EncodedEntry {
  readonly entry: Entry;
  /** The entry bytes: chain-hash input, Merkle leaf input, stored form. */
  readonly bytes: Uint8Array;
  /** H(TAGS.boardEntry, bytes). */
  readonly hash: Uint8Array;
  /** SHA-256(0x00 ‖ bytes). */
  readonly leafHash: Uint8Array;
}

/** JSON wire form of an entry (spec §9.1.4); hashes are lowercase hex. */
export interface EntryJson {
  readonly height: number;
  readonly parent: string;
  readonly type: string;
  readonly timestamp: number;
  readonly payload: JsonValue;
}

/** A fresh 32-byte zero hash: the genesis parent and the chain head of the empty board. */
export function zeroHash(): Uint8Array {
  return new Uint8Array(HASH_LEN);
}

/**
 * True iff `x` is one of the six entry types.
 * @param x - anything
 */
export function isEntryType(x: unknown): x is EntryType {
  return typeof x === 'string' && (ENTRY_TYPES as readonly string[]).includes(x);
}

/**
 * Checks the fixed fields of an entry (not the payload).
 * @throws TallyError MALFORMED naming the first bad field
 */
export function assertEntryFields(e: Entry): void {
  if (typeof e !== 'object' || e === null) throw new TallyError('MALFORMED', 'entry: expected an object');
  if (!isU64(e.height)) throw new TallyError('MALFORMED', `entry.height: expected an integer 0 ≤ height ≤ 2^53 − 1, got ${String(e.height)}`);
  if (!(e.parent instanceof Uint8Array) || e.parent.length !== HASH_LEN) {
    throw new TallyError('MALFORMED', 'entry.parent: expected a 32-byte hash');
  }
  if (!isEntryType(e.type)) {
    throw new TallyError('MALFORMED', `entry.type: expected one of ${ENTRY_TYPES.join(', ')}, got ${JSON.stringify(String(e.type)).slice(0, 80)}`);
  }
  if (!isU64(e.timestamp)) {
    throw new TallyError('MALFORMED', `entry.timestamp: expected integer milliseconds 0 ≤ t ≤ 2^53 − 1, got ${String(e.timestamp)}`);
  }
}

/**
 * The canonical entry bytes (spec §9.1.5).
 *
 * @param e - the entry; fields as documented on {@link Entry}
 * @param payloadEncoding - encodeValue(e.payload), if the caller already has it
 * @returns fresh bytes, at most {@link MAX_ENTRY_BYTES}
 * @throws TallyError MALFORMED for a bad field or payload; TOO_LARGE for an oversized payload
 */
export function entryBytes(e: Entry, payloadEncoding?: Uint8Array): Uint8Array {
  assertEntryFields(e);
  const value = payloadEncoding ?? encodeValue(e.payload, 'payload');
  return canonical().u64(e.height).fixed(e.parent, HASH_LEN).str(e.type).u64(e.timestamp).bytes(value).finish();
}

/**
 * The entry hash H(TAGS.boardEntry, bytes) (spec §9.1.6).
 * @param bytes - entry bytes as produced by {@link entryBytes}
 * @returns 32 bytes
 */
export function entryHash(bytes: Uint8Array): Uint8Array {
  return hashTagged(TAGS.boardEntry, bytes);
}

/**
 * Bytes, entry hash and Merkle leaf hash of an entry.
 * @param e - the entry
 * @param payloadEncoding - encodeValue(e.payload), if the caller already has it
 * @throws as {@link entryBytes}
 */
export function encodeEntry(e: Entry, payloadEncoding?: Uint8Array): EncodedEntry {
  const bytes = entryBytes(e, payloadEncoding);
  return { entry: e, bytes, hash: entryHash(bytes), leafHash: hashLeaf(bytes) };
}

/**
 * Reads entry bytes back, accepting only the canonical form: decodeEntry(b) re-encodes to b.
 *
 * @param bytes - 0 < length ≤ {@link MAX_ENTRY_BYTES}
 * @returns the entry (fresh arrays)
 * @throws TallyError MALFORMED for truncated or trailing bytes, an unknown type, an integer
 *   beyond 2^53 − 1 or a non-canonical payload; TOO_LARGE if longer than the maximum
 */
export function decodeEntry(bytes: Uint8Array): Entry {
  if (bytes.length > MAX_ENTRY_BYTES) throw new TallyError('TOO_LARGE', `entry: ${bytes.length} bytes exceeds ${MAX_ENTRY_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  const need = (n: number, what: string): void => {
    if (n > bytes.length - off) throw new TallyError('MALFORMED', `entry: truncated in ${what}`);
  };
  const u64 = (what: string): number => {
    need(8, what);
    const x = view.getBigUint64(off);
    off += 8;
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new TallyError('MALFORMED', `entry.${what}: exceeds 2^53 − 1`);
    return Number(x);
  };
  const u32 = (what: string): number => {
    need(4, what);
    const x = view.getUint32(off);
    off += 4;
    return x;
  };
  const height = u64('height');
  need(HASH_LEN, 'parent');
  const parent = bytes.slice(off, off + HASH_LEN);
  off += HASH_LEN;
  const typeLen = u32('type');
  if (typeLen > MAX_TYPE_BYTES) throw new TallyError('MALFORMED', 'entry.type: unknown type');
  need(typeLen, 'type');
  // Types are ASCII; a non-ASCII byte cannot match any of them.
  const type = String.fromCharCode(...bytes.subarray(off, off + typeLen));
  off += typeLen;
  if (!isEntryType(type)) throw new TallyError('MALFORMED', `entry.type: unknown type ${JSON.stringify(type)}`);
  const timestamp = u64('timestamp');
  const payloadLen = u32('payload');
  if (payloadLen !== bytes.length - off) {
    throw new TallyError('MALFORMED', `entry.payload: length ${payloadLen} but ${bytes.length - off} bytes remain`);
  }
  const payload = decodeValue(bytes.subarray(off), 'payload');
  return { height, parent, type, timestamp, payload };
}

/**
 * JSON wire form of an entry (spec §9.1.4).
 * @param e - a valid entry
 */
export function entryToJson(e: Entry): EntryJson {
  return { height: e.height, parent: toHex(e.parent), type: e.type, timestamp: e.timestamp, payload: e.payload };
}

/**
 * Parses the JSON wire form of an entry. Validates the fixed fields; the payload is checked
 * (model, depth, sizes) when the entry is encoded.
 *
 * @param x - a parsed JSON object with exactly the fields height, parent, type, timestamp,
 *   payload (`extraKeys` lists further keys the caller allows, e.g. "kind" and "hash")
 * @param extraKeys - keys that may also be present and are ignored here
 * @returns the entry
 * @throws TallyError MALFORMED naming the first bad or unexpected field
 */
export function entryFromJson(x: unknown, extraKeys: readonly string[] = []): Entry {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new TallyError('MALFORMED', 'entry: expected an object');
  const o = x as Readonly<Record<string, unknown>>;
  assertExactKeys(o, ['height', 'parent', 'type', 'timestamp', 'payload', ...extraKeys], 'entry');
  const entry: Entry = {
    height: o.height as number,
    parent: parseHex(o.parent, 'entry.parent', HASH_LEN),
    type: o.type as EntryType,
    timestamp: o.timestamp as number,
    payload: o.payload as JsonValue,
  };
  assertEntryFields(entry);
  return entry;
}

/**
 * Throws unless `o` has exactly the keys `keys` (each present, no other).
 * @throws TallyError MALFORMED naming the missing or unexpected key
 */
export function assertExactKeys(o: Readonly<Record<string, unknown>>, keys: readonly string[], what: string): void {
  for (const k of keys) if (!Object.hasOwn(o, k)) throw new TallyError('MALFORMED', `${what}: missing field ${JSON.stringify(k)}`);
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new TallyError('MALFORMED', `${what}: unexpected field ${JSON.stringify(k).slice(0, 80)}`);
  }
}

function isU64(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
