/**
 * Witness cosignatures of board checkpoints (spec/09-board.md §9.9).
 *
 * Why it exists: the board key alone can sign any history, so a board operator can show
 * different boards to different people (a split view) or re-sign a fork. A witness is an
 * independent party that follows the board and cosigns a checkpoint only if it is consistent
 * with every checkpoint it cosigned before (src/witness/). A verifier that requires a quorum of
 * such cosignatures on a checkpoint accepts at most one history unless the operator and
 * several witnesses collude (spec §11.6).
 *
 * The format follows the C2SP cosignature/v1 conventions where they fit: the signed message
 * names the cosignature version (here through its domain tag), the witness's time, and the
 * checkpoint; the key id is derived from the witness's name and key. It deviates where the
 * board already has its own binary forms (spec §9.9.2 says exactly which bytes are signed):
 *
 *   message = H(TAGS.cosignature, STR(name) ‖ FIXED(boardPublicKey, 32) ‖ U64(time)
 *               ‖ FIXED(checkpointMessage(cp), 32))
 *   signature = Ed25519-Sign(witnessSecretKey, message)
 *   keyId = first 4 bytes of H(TAGS.witnessKeyId, STR(name) ‖ FIXED(witnessPublicKey, 32))
 *
 * Nothing here knows about elections: a witness is a (name, public key) pair, as the manifest
 * lists them. Verification is pure and never throws.
 */
import { HASH_LEN, TAGS, bytesEqual, transcript } from '../src/crypto/hash.js';
import { ED25519_PUBLIC_KEY_LEN, ED25519_SIGNATURE_LEN, ed25519PublicKey, ed25519Sign, ed25519Verify } from '../src/crypto/ed25519.js';
import { TallyError } from '../src/errors.js';
import { parseHex, toHex } from '../src/wire.js';
import { checkpointFromJson, checkpointMessage, checkpointToJson, verifyCheckpoint, type Checkpoint, type CheckpointJson } from './checkpoint.js';
import { assertExactKeys } from './entry.js';
import { parseCanonicalJson } from './canonical-json.js';

/** Byte length of a witness key id (as C2SP's 32-bit key id). */
export const WITNESS_KEY_ID_LEN = 4;
/** Longest witness name, in characters (all ASCII). */
export const WITNESS_NAME_MAX = 128;
/** Most witnesses a manifest may name, and so most cosignatures on one checkpoint. */
export const MAX_WITNESSES = 16;
/** A witness name: ASCII, starts with a letter or digit, then letters, digits and `. _ - : /`. */
export const WITNESS_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

/** A witness as the manifest names it. */
export interface Witness {
  readonly name: string;
  /** Ed25519 public key, 32 bytes (check 7.3a) */
  readonly publicKey: Uint8Array;
}

/**
 * A cosignature (spec §9.9.3): witness `name` states that at its time `time` it had verified
 * the board's checkpoint of size `treeSize` with root `rootHash`.
 */
export interface Cosignature {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  /** the witness's clock, milliseconds since the Unix epoch (informative) */
  readonly time: number;
  readonly signature: Uint8Array;
}

/** JSON wire form (spec §9.9.3). */
export interface CosignatureJson {
  readonly name: string;
  readonly keyId: string;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly time: number;
  readonly signature: string;
}

/** Why a cosignature does not count (spec §9.9.4, the reasons of check 8e). */
export type CosignatureFailureReason = 'unknown-witness' | 'key-id' | 'other-checkpoint' | 'bad-signature';

export type CosignatureResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: CosignatureFailureReason; readonly message: string };

/** Checks a witness name (spec §9.9.1). @throws TallyError MALFORMED */
export function aWitnessName(x: unknown, field = 'name'): string {
  if (typeof x !== 'string' || x.length === 0 || x.length > WITNESS_NAME_MAX || !WITNESS_NAME_RE.test(x)) {
    throw new TallyError('MALFORMED', `${field}: expected 1 to ${WITNESS_NAME_MAX} characters matching ${WITNESS_NAME_RE.source}`);
  }
  return x;
}

/** The 4-byte key id of a witness (spec §9.9.1). */
export function witnessKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  aWitnessName(name);
  return transcript(TAGS.witnessKeyId).str(name).fixed(publicKey, ED25519_PUBLIC_KEY_LEN).digest().slice(0, WITNESS_KEY_ID_LEN);
}

/**
 * The 32-byte message a witness signs (spec §9.9.2).
 * @param boardPublicKey - the board key the checkpoint is signed with (the manifest's keys.board)
 * @param cp - the checkpoint (its signature is not part of the message)
 * @param name - the witness's name
 * @param time - the witness's clock, ms
 * @throws TallyError MALFORMED for a field out of range
 */
export function cosignatureMessage(boardPublicKey: Uint8Array, cp: Checkpoint, name: string, time: number): Uint8Array {
  aWitnessName(name);
  if (!isU64(time)) throw new TallyError('MALFORMED', 'cosignature.time: expected integer milliseconds 0 ≤ t ≤ 2^53 − 1');
  return transcript(TAGS.cosignature)
    .str(name)
    .fixed(boardPublicKey, ED25519_PUBLIC_KEY_LEN)
    .u64(time)
    .fixed(checkpointMessage(cp), HASH_LEN)
    .digest();
}

/**
 * Signs a cosignature. This is the bare signature: the witness's safety rules (spec §9.9.4)
 * are enforced by src/witness/cosigner.ts, the only caller outside tests and vector generators.
 * @param secretKey - the witness's 32-byte Ed25519 seed (SECRET)
 */
export function signCosignature(secretKey: Uint8Array, name: string, boardPublicKey: Uint8Array, cp: Checkpoint, time: number): Cosignature {
  const message = cosignatureMessage(boardPublicKey, cp, name, time);
  return {
    name,
    keyId: witnessKeyId(name, ed25519PublicKey(secretKey)),
    treeSize: cp.treeSize,
    rootHash: cp.rootHash.slice(),
    time,
    signature: ed25519Sign(message, secretKey),
  };
}

/**
 * Verifies one cosignature of `cp` against the manifest's witnesses (spec §9.9.4), in order:
 * the name is a witness of the list (`unknown-witness`); the key id is the one derived from
 * that witness's name and key (`key-id`); the cosignature's treeSize and rootHash are the
 * checkpoint's (`other-checkpoint`); the signature verifies by §7.3 (`bad-signature`).
 * Pure; never throws. Does not verify the checkpoint's own signature.
 */
export function verifyCosignature(witnesses: readonly Witness[], boardPublicKey: Uint8Array, cp: Checkpoint, c: Cosignature): CosignatureResult {
  const w = witnesses.find((x) => x.name === c.name);
  if (!w) return { ok: false, reason: 'unknown-witness', message: `${JSON.stringify(String(c.name).slice(0, 80))} is not a witness of the manifest` };
  let keyId: Uint8Array;
  let message: Uint8Array;
  try {
    keyId = witnessKeyId(w.name, w.publicKey);
    message = cosignatureMessage(boardPublicKey, cp, c.name, c.time);
  } catch (e) {
    return { ok: false, reason: 'bad-signature', message: e instanceof Error ? e.message : String(e) };
  }
  if (!(c.keyId instanceof Uint8Array) || !bytesEqual(c.keyId, keyId)) {
    return { ok: false, reason: 'key-id', message: `the cosignature of ${c.name} names key id ${hexOr(c.keyId)}, the manifest's key has ${toHex(keyId)}` };
  }
  if (c.treeSize !== cp.treeSize || !(c.rootHash instanceof Uint8Array) || !bytesEqual(c.rootHash, cp.rootHash)) {
    return { ok: false, reason: 'other-checkpoint', message: `the cosignature of ${c.name} is for size ${c.treeSize} root ${hexOr(c.rootHash)}, not this checkpoint (size ${cp.treeSize} root ${toHex(cp.rootHash)})` };
  }
  if (!ed25519Verify(c.signature, message, w.publicKey)) {
    return { ok: false, reason: 'bad-signature', message: `the cosignature of ${c.name} does not verify under its key` };
  }
  return { ok: true };
}

/** Outcome of {@link checkQuorum}. */
export type QuorumResult =
  | { readonly ok: true; readonly names: readonly string[] }
  | { readonly ok: false; readonly reason: CosignatureFailureReason | 'below-quorum' | 'bad-checkpoint'; readonly message: string; readonly names: readonly string[] };

/**
 * Check 8e (spec §10.2): `cosignatures` are all valid cosignatures of `cp` by distinct
 * witnesses of the list, and at least `quorum` of them. Every listed cosignature must verify
 * (a verifier never passes on data it does not check): the first that does not is the
 * failure. With no witnesses (quorum 0) and no cosignatures, the rule holds vacuously.
 * Pure; never throws.
 */
export function checkQuorum(witnesses: readonly Witness[], quorum: number, boardPublicKey: Uint8Array, cp: Checkpoint, cosignatures: readonly Cosignature[]): QuorumResult {
  const names: string[] = [];
  const cpOk = verifyCheckpoint(boardPublicKey, cp);
  if (!cpOk.ok) return { ok: false, reason: 'bad-checkpoint', message: cpOk.message, names };
  for (const c of cosignatures) {
    if (names.includes(c.name)) return { ok: false, reason: 'unknown-witness', message: `two cosignatures by ${c.name}`, names };
    const r = verifyCosignature(witnesses, boardPublicKey, cp, c);
    if (!r.ok) return { ...r, names };
    names.push(c.name);
  }
  if (names.length < quorum) {
    const missing = witnesses.map((w) => w.name).filter((n) => !names.includes(n));
    return { ok: false, reason: 'below-quorum', message: `${names.length} of the ${quorum} witness cosignatures required (missing: ${missing.join(', ')})`, names };
  }
  return { ok: true, names };
}

/** JSON wire form of a cosignature. */
export function cosignatureToJson(c: Cosignature): CosignatureJson {
  return { name: c.name, keyId: toHex(c.keyId), treeSize: c.treeSize, rootHash: toHex(c.rootHash), time: c.time, signature: toHex(c.signature) };
}

/**
 * Parses a cosignature's JSON wire form: exactly its six members, each of its type and range.
 * Checks shapes only, not the signature. @throws TallyError MALFORMED
 */
export function cosignatureFromJson(x: unknown, field = 'cosignature'): Cosignature {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new TallyError('MALFORMED', `${field}: expected an object`);
  const o = x as Readonly<Record<string, unknown>>;
  assertExactKeys(o, ['name', 'keyId', 'treeSize', 'rootHash', 'time', 'signature'], field);
  const name = aWitnessName(o.name, `${field}.name`);
  if (!isU64(o.treeSize) || o.treeSize < 1) throw new TallyError('MALFORMED', `${field}.treeSize: expected an integer 1 ≤ treeSize ≤ 2^53 − 1`);
  if (!isU64(o.time)) throw new TallyError('MALFORMED', `${field}.time: expected integer milliseconds 0 ≤ t ≤ 2^53 − 1`);
  return {
    name,
    keyId: parseHex(o.keyId, `${field}.keyId`, WITNESS_KEY_ID_LEN),
    treeSize: o.treeSize,
    rootHash: parseHex(o.rootHash, `${field}.rootHash`, HASH_LEN),
    time: o.time,
    signature: parseHex(o.signature, `${field}.signature`, ED25519_SIGNATURE_LEN),
  };
}

/**
 * Parses the `cosignatures` list of a checkpoint (spec §9.9.3): an array of at most
 * {@link MAX_WITNESSES} cosignatures, names strictly ascending (so distinct), all for
 * `treeSize`. The length is checked before any element is parsed. @throws TallyError MALFORMED
 */
export function cosignatureListFromJson(x: unknown, treeSize: number, field = 'cosignatures'): Cosignature[] {
  if (!Array.isArray(x)) throw new TallyError('MALFORMED', `${field}: expected an array`);
  if (x.length > MAX_WITNESSES) throw new TallyError('MALFORMED', `${field}: at most ${MAX_WITNESSES} cosignatures, got ${x.length}`);
  const out = x.map((c, i) => cosignatureFromJson(c, `${field}[${i}]`));
  for (let i = 0; i < out.length; i++) {
    if (out[i]!.treeSize !== treeSize) throw new TallyError('MALFORMED', `${field}[${i}]: for tree size ${out[i]!.treeSize}, not ${treeSize}`);
    if (i > 0 && !(out[i - 1]!.name < out[i]!.name)) throw new TallyError('MALFORMED', `${field}: names must be strictly ascending`);
  }
  return out;
}

/** Sorts cosignatures by name (the order of spec §9.9.3; names are ASCII). */
export function sortCosignatures(list: readonly Cosignature[]): Cosignature[] {
  return [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Decodes a cosignature a store kept as canonical JSON (stores only: they hold verified ones).
 * @throws TallyError BOARD_CORRUPT when it does not decode or is for another size
 */
export function decodeStoredCosignature(text: string, treeSize: number): Cosignature {
  let c: Cosignature;
  try {
    c = cosignatureFromJson(parseCanonicalJson(text));
  } catch (e) {
    throw new TallyError('BOARD_CORRUPT', `board store: a cosignature at size ${treeSize} does not decode`, { cause: e });
  }
  if (c.treeSize !== treeSize) throw new TallyError('BOARD_CORRUPT', `board store: a cosignature stored under size ${treeSize} is for size ${c.treeSize}`);
  return c;
}

function isU64(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function hexOr(x: unknown): string {
  return x instanceof Uint8Array ? toHex(x) : String(x);
}

/** A checkpoint with the cosignatures it carries (spec §9.9.3): the checkpoint's members, plus
 *  `cosignatures` iff there is at least one. */
export type CosignedCheckpointJson = CheckpointJson & { readonly cosignatures?: readonly CosignatureJson[] };

/** The JSON form of a checkpoint with its cosignatures (sorted by name; member absent if none). */
export function cosignedCheckpointToJson(cp: Checkpoint, cosignatures: readonly Cosignature[]): CosignedCheckpointJson {
  return { ...checkpointToJson(cp), ...(cosignatures.length > 0 ? { cosignatures: sortCosignatures(cosignatures).map(cosignatureToJson) } : {}) };
}

/**
 * Parses a checkpoint that may carry cosignatures (spec §9.9.3): the checkpoint's six members,
 * and `cosignatures`, if present, a non-empty list as {@link cosignatureListFromJson} requires.
 * Shapes only: no signature is verified. @throws TallyError MALFORMED
 */
export function cosignedCheckpointFromJson(x: unknown, extraKeys: readonly string[] = []): { checkpoint: Checkpoint; cosignatures: Cosignature[] } {
  const has = typeof x === 'object' && x !== null && !Array.isArray(x) && Object.hasOwn(x, 'cosignatures');
  const checkpoint = checkpointFromJson(x, has ? [...extraKeys, 'cosignatures'] : extraKeys);
  if (!has) return { checkpoint, cosignatures: [] };
  const cosignatures = cosignatureListFromJson((x as { cosignatures: unknown }).cosignatures, checkpoint.treeSize, 'checkpoint.cosignatures');
  if (cosignatures.length === 0) throw new TallyError('MALFORMED', 'checkpoint.cosignatures: present but empty (the member is omitted when there is none)');
  return { checkpoint, cosignatures };
}
