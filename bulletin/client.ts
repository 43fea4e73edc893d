/**
 * Client-side checks a voter or monitor runs against an untrusted board
 * (spec/09-board.md §9.5.3).
 *
 * Why it exists: the Merkle verifier alone checks hashes against a root; what makes the
 * answer mean anything is that the root and its size come from one checkpoint that the board
 * signed. These helpers tie the two together so a caller cannot forget either half:
 *
 * - {@link verifyCheckpointExtension}: a later checkpoint extends an earlier one (both
 *   signatures, same election, sizes and times ordered, RFC 9162 consistency proof). A
 *   monitor that keeps the last checkpoint it saw and calls this on every new one detects
 *   any rewrite of history, and holds two signed checkpoints as evidence.
 * - {@link verifyEntryInclusion}: an entry (e.g. my ballot) is in the board at its height,
 *   under a signed checkpoint.
 *
 * Pure: no I/O, never throws; failures are typed and carry expected and computed values.
 */
import { bytesEqual } from '../src/crypto/hash.js';
import { toHex } from '../src/wire.js';
import { verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { encodeEntry, type Entry } from './entry.js';
import { verifyConsistency, verifyInclusion } from './merkle/index.js';
import type { ConsistencyProof, InclusionProof } from './proofs.js';

/** Why a client check failed. */
export type ClientFailureReason =
  /** Inclusion: the checkpoint's signature does not verify. */
  | 'checkpoint-signature'
  /** Extension: the older checkpoint's signature does not verify. */
  | 'older-signature'
  /** The newer checkpoint's signature does not verify. */
  | 'newer-signature'
  /** The two checkpoints name different elections. */
  | 'election-mismatch'
  /** The newer checkpoint is smaller, or older in time, than the older one. */
  | 'not-newer'
  /** Equal sizes but different chain heads (equal roots are checked by the Merkle verifier). */
  | 'head-mismatch'
  /** The proof's sizes or index are not the ones of the checkpoints / entry. */
  | 'proof-mismatch'
  /** The entry itself is not encodable. */
  | 'bad-entry'
  /** The Merkle verifier rejected the proof; `merkleReason` says why. */
  | 'merkle';

/** A failed client check. */
export interface ClientFailure {
  readonly ok: false;
  readonly reason: ClientFailureReason;
  readonly message: string;
  /** Set when reason = 'merkle': the VerifyFailureReason of bulletin/merkle/verify.ts. */
  readonly merkleReason?: string;
  readonly expected?: string;
  readonly computed?: string;
}

/** Outcome of a client check. */
export type ClientResult = { readonly ok: true } | ClientFailure;

function fail(reason: ClientFailureReason, message: string, extra: Partial<ClientFailure> = {}): ClientFailure {
  return { ok: false, reason, message, ...extra };
}

/**
 * Checks that checkpoint `newer` extends checkpoint `older` (spec §9.5.3).
 *
 * @param boardPublicKey - the board's Ed25519 key, 32 bytes, obtained out of band (setup)
 * @param older - a checkpoint the client already trusts, treeSize ≥ 1
 * @param newer - the checkpoint to check, older.treeSize ≤ newer.treeSize
 * @param proof - consistency proof with size1 = older.treeSize and size2 = newer.treeSize
 * @returns `{ ok: true }` or a typed failure; never throws
 */
export function verifyCheckpointExtension(
  boardPublicKey: Uint8Array,
  older: Checkpoint,
  newer: Checkpoint,
  proof: ConsistencyProof,
): ClientResult {
  const s1 = verifyCheckpoint(boardPublicKey, older);
  if (!s1.ok) return fail('older-signature', `older checkpoint: ${s1.message}`);
  const s2 = verifyCheckpoint(boardPublicKey, newer);
  if (!s2.ok) return fail('newer-signature', `newer checkpoint: ${s2.message}`);
  if (older.electionId !== newer.electionId) {
    return fail('election-mismatch', 'the checkpoints are for different elections', { expected: older.electionId, computed: newer.electionId });
  }
  if (newer.treeSize < older.treeSize || newer.timestamp < older.timestamp) {
    return fail('not-newer', `checkpoint (${newer.treeSize}, ${newer.timestamp}) is not newer than (${older.treeSize}, ${older.timestamp})`);
  }
  if (typeof proof !== 'object' || proof === null || proof.size1 !== older.treeSize || proof.size2 !== newer.treeSize) {
    return fail('proof-mismatch', `the proof is not for sizes ${older.treeSize} → ${newer.treeSize}`);
  }
  if (older.treeSize === newer.treeSize && !bytesEqual(older.chainHead, newer.chainHead)) {
    return fail('head-mismatch', `two checkpoints at size ${older.treeSize} name different chain heads`, {
      expected: toHex(older.chainHead),
      computed: toHex(newer.chainHead),
    });
  }
  const r = verifyConsistency(older.treeSize, newer.treeSize, proof.hashes, older.rootHash, newer.rootHash);
  if (!r.ok) {
    return fail('merkle', r.message, {
      merkleReason: r.reason,
      ...(r.expected !== undefined ? { expected: r.expected } : {}),
      ...(r.computed !== undefined ? { computed: r.computed } : {}),
    });
  }
  return { ok: true };
}

/**
 * Checks that `entry` is on the board at its height, under `checkpoint` (spec §9.5.3).
 *
 * @param boardPublicKey - the board's Ed25519 key, 32 bytes
 * @param checkpoint - a checkpoint with treeSize > entry.height
 * @param entry - the entry as published (its canonical bytes are recomputed here)
 * @param proof - inclusion proof with index = entry.height and size = checkpoint.treeSize
 * @returns `{ ok: true }` or a typed failure; never throws
 */
export function verifyEntryInclusion(
  boardPublicKey: Uint8Array,
  checkpoint: Checkpoint,
  entry: Entry,
  proof: InclusionProof,
): ClientResult {
  const s = verifyCheckpoint(boardPublicKey, checkpoint);
  if (!s.ok) return fail('checkpoint-signature', `checkpoint: ${s.message}`);
  let leafHash: Uint8Array;
  try {
    leafHash = encodeEntry(entry).leafHash;
  } catch (e) {
    return fail('bad-entry', e instanceof Error ? e.message : String(e));
  }
  if (typeof proof !== 'object' || proof === null || proof.index !== entry.height || proof.size !== checkpoint.treeSize) {
    return fail('proof-mismatch', `the proof is not for entry ${entry.height} in the tree of size ${checkpoint.treeSize}`);
  }
  const r = verifyInclusion(leafHash, proof.index, proof.size, proof.hashes, checkpoint.rootHash);
  if (!r.ok) {
    return fail('merkle', r.message, {
      merkleReason: r.reason,
      ...(r.expected !== undefined ? { expected: r.expected } : {}),
      ...(r.computed !== undefined ? { computed: r.computed } : {}),
    });
  }
  return { ok: true };
}
