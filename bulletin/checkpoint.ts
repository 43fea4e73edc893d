/**
 * Signed checkpoints of the bulletin board (spec/09-board.md §9.4).
 *
 * Why it exists: a Merkle root means nothing without the tree size it was computed at, and
 * neither means anything unless someone is accountable for them. A checkpoint binds the
 * election, the tree size, the root at that size and the chain head at that size (the hash of
 * the last entry) under the board's Ed25519 key, so that a voter holding one checkpoint can
 * later demand a consistency proof from any newer one: a board that rewrites history must
 * sign two checkpoints that contradict each other, which is evidence anyone can publish.
 *
 *   message   = H(TAGS.checkpoint, STR(electionId) ‖ U64(treeSize) ‖ FIXED(rootHash, 32)
 *                 ‖ FIXED(chainHead, 32) ‖ U64(timestamp))
 *   signature = Ed25519-Sign(boardSecretKey, message)        (RFC 8032, 64 bytes)
 *
 * {@link verifyCheckpoint} is pure and never throws; it returns a typed result.
 */
import { HASH_LEN, TAGS, transcript } from '../src/crypto/hash.js';
import {
  ED25519_SIGNATURE_LEN,
  ed25519Sign,
  ed25519Verify,
  isValidEd25519PublicKey,
} from '../src/crypto/ed25519.js';
import { TallyError } from '../src/errors.js';
import { parseHex, toHex } from '../src/wire.js';
import { assertExactKeys } from './entry.js';

/** Longest electionId accepted, in UTF-8 bytes. */
export const MAX_ELECTION_ID_BYTES = 256;

/**
 * A signed checkpoint (spec §9.4.1).
 * - electionId: 1 to 256 UTF-8 bytes, well-formed
 * - treeSize: number of entries covered, 0 ≤ treeSize ≤ 2^53 − 1
 * - rootHash: MTH of entries [0, treeSize), 32 bytes
 * - chainHead: hash of entry treeSize − 1 (32 zero bytes for treeSize = 0), 32 bytes
 * - timestamp: milliseconds since the Unix epoch, 0 ≤ timestamp ≤ 2^53 − 1
 * - signature: Ed25519 over {@link checkpointMessage}, 64 bytes
 */
export interface Checkpoint {
  readonly electionId: string;
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  readonly chainHead: Uint8Array;
  readonly timestamp: number;
  readonly signature: Uint8Array;
}

/** A checkpoint before signing. */
export type UnsignedCheckpoint = Omit<Checkpoint, 'signature'>;

/** JSON wire form (spec §9.4.3): byte strings as lowercase hex. */
export interface CheckpointJson {
  readonly electionId: string;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly chainHead: string;
  readonly timestamp: number;
  readonly signature: string;
}

/** Why a checkpoint was rejected. */
export type CheckpointFailureReason = 'malformed' | 'bad-public-key' | 'bad-signature';

/** Outcome of {@link verifyCheckpoint}. */
export type CheckpointResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: CheckpointFailureReason; readonly message: string };

const utf8 = new TextEncoder();

/**
 * Checks an electionId: a well-formed string of 1 to 256 UTF-8 bytes.
 * @param x - anything
 * @param field - name used in the error message
 * @returns x, typed
 * @throws TallyError MALFORMED otherwise
 */
export function aElectionId(x: unknown, field = 'electionId'): string {
  if (typeof x !== 'string' || x.length === 0 || x.length > MAX_ELECTION_ID_BYTES || !x.isWellFormed()) {
    throw new TallyError('MALFORMED', `${field}: expected a non-empty well-formed string of at most ${MAX_ELECTION_ID_BYTES} bytes`);
  }
  if (utf8.encode(x).length > MAX_ELECTION_ID_BYTES) {
    throw new TallyError('MALFORMED', `${field}: longer than ${MAX_ELECTION_ID_BYTES} UTF-8 bytes`);
  }
  return x;
}

function assertFields(cp: UnsignedCheckpoint): void {
  if (typeof cp !== 'object' || cp === null) throw new TallyError('MALFORMED', 'checkpoint: expected an object');
  aElectionId(cp.electionId, 'checkpoint.electionId');
  if (!isU64(cp.treeSize)) throw new TallyError('MALFORMED', `checkpoint.treeSize: expected an integer 0 ≤ treeSize ≤ 2^53 − 1, got ${String(cp.treeSize)}`);
  if (!isHashBytes(cp.rootHash)) throw new TallyError('MALFORMED', 'checkpoint.rootHash: expected 32 bytes');
  if (!isHashBytes(cp.chainHead)) throw new TallyError('MALFORMED', 'checkpoint.chainHead: expected 32 bytes');
  if (!isU64(cp.timestamp)) throw new TallyError('MALFORMED', `checkpoint.timestamp: expected integer milliseconds 0 ≤ t ≤ 2^53 − 1, got ${String(cp.timestamp)}`);
}

/**
 * The 32-byte message a checkpoint signature covers (spec §9.4.2).
 *
 * @param cp - the checkpoint fields (a signature, if present, is ignored)
 * @returns H(TAGS.checkpoint, STR(electionId) ‖ U64(treeSize) ‖ FIXED(rootHash) ‖
 *   FIXED(chainHead) ‖ U64(timestamp))
 * @throws TallyError MALFORMED for a field out of its range
 */
export function checkpointMessage(cp: UnsignedCheckpoint): Uint8Array {
  assertFields(cp);
  return transcript(TAGS.checkpoint)
    .str(cp.electionId)
    .u64(cp.treeSize)
    .fixed(cp.rootHash, HASH_LEN)
    .fixed(cp.chainHead, HASH_LEN)
    .u64(cp.timestamp)
    .digest();
}

/**
 * Signs a checkpoint with the board key.
 *
 * @param boardSecretKey - 32-byte Ed25519 seed
 * @param cp - the fields to sign
 * @returns the signed checkpoint (copies of the byte fields)
 * @throws TallyError MALFORMED for a field out of its range
 */
export function signCheckpoint(boardSecretKey: Uint8Array, cp: UnsignedCheckpoint): Checkpoint {
  const message = checkpointMessage(cp);
  return {
    electionId: cp.electionId,
    treeSize: cp.treeSize,
    rootHash: cp.rootHash.slice(),
    chainHead: cp.chainHead.slice(),
    timestamp: cp.timestamp,
    signature: ed25519Sign(message, boardSecretKey),
  };
}

/**
 * Verifies a checkpoint's signature under the board's public key (strict RFC 8032). Pure.
 * Does NOT check what the checkpoint claims (size, root, head) against any data: that is
 * the job of the chain verifier (verify.ts) or of proofs (client.ts).
 *
 * @param boardPublicKey - 32 bytes, a canonical point not of small order
 * @param cp - the checkpoint
 * @returns `{ ok: true }`, or a failure with reason 'malformed', 'bad-public-key' or
 *   'bad-signature'; never throws
 */
export function verifyCheckpoint(boardPublicKey: Uint8Array, cp: Checkpoint): CheckpointResult {
  let message: Uint8Array;
  try {
    message = checkpointMessage(cp);
  } catch (e) {
    return { ok: false, reason: 'malformed', message: e instanceof Error ? e.message : String(e) };
  }
  if (!(cp.signature instanceof Uint8Array) || cp.signature.length !== ED25519_SIGNATURE_LEN) {
    return { ok: false, reason: 'malformed', message: 'checkpoint.signature: expected 64 bytes' };
  }
  if (!isValidEd25519PublicKey(boardPublicKey)) {
    return { ok: false, reason: 'bad-public-key', message: 'the board public key is not a valid Ed25519 key' };
  }
  if (!ed25519Verify(cp.signature, message, boardPublicKey)) {
    return { ok: false, reason: 'bad-signature', message: `the signature of the checkpoint at tree size ${cp.treeSize} does not verify under the board key` };
  }
  return { ok: true };
}

/**
 * JSON wire form of a checkpoint.
 * @param cp - a checkpoint
 */
export function checkpointToJson(cp: Checkpoint): CheckpointJson {
  return {
    electionId: cp.electionId,
    treeSize: cp.treeSize,
    rootHash: toHex(cp.rootHash),
    chainHead: toHex(cp.chainHead),
    timestamp: cp.timestamp,
    signature: toHex(cp.signature),
  };
}

/**
 * Parses the JSON wire form of a checkpoint. Checks shapes and ranges, not the signature.
 *
 * @param x - an object with exactly the six fields (plus `extraKeys`)
 * @param extraKeys - keys that may also be present and are ignored (e.g. "kind")
 * @returns the checkpoint
 * @throws TallyError MALFORMED naming the first bad or unexpected field
 */
export function checkpointFromJson(x: unknown, extraKeys: readonly string[] = []): Checkpoint {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new TallyError('MALFORMED', 'checkpoint: expected an object');
  const o = x as Readonly<Record<string, unknown>>;
  assertExactKeys(o, ['electionId', 'treeSize', 'rootHash', 'chainHead', 'timestamp', 'signature', ...extraKeys], 'checkpoint');
  const cp: Checkpoint = {
    electionId: o.electionId as string,
    treeSize: o.treeSize as number,
    rootHash: parseHex(o.rootHash, 'checkpoint.rootHash', HASH_LEN),
    chainHead: parseHex(o.chainHead, 'checkpoint.chainHead', HASH_LEN),
    timestamp: o.timestamp as number,
    signature: parseHex(o.signature, 'checkpoint.signature', ED25519_SIGNATURE_LEN),
  };
  assertFields(cp);
  return cp;
}

function isU64(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isHashBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === HASH_LEN;
}
