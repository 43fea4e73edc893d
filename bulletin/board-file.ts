/**
 * The board export file: JSON Lines with exactly one byte form per record
 * (spec/09-board.md §9.7).
 *
 * Why a file of its own: the exporter writes these lines and the importer reads them, and the
 * grammar must be the same in both directions — including what is rejected. Each line is the
 * canonical JSON text (value-encoding.ts) of one record; a line that parses to a value whose
 * canonical text differs is rejected, so whitespace, key order, duplicate keys, number and
 * escape spellings cannot vary. Check ids refer to BOARD_CHECKS (verify.ts); functions here
 * return typed failures, never throw.
 *
 *   line 1:   {"boardPublicKey":hex64,"electionId":str,"format":"tallyboard-board/1"}
 *   entries:  {"hash":hex64,"height":int,"kind":"entry","parent":hex64,"payload":value,
 *              "timestamp":int,"type":str}
 *   last:     {"chainHead":hex64,"electionId":str,"kind":"checkpoint","rootHash":hex64,
 *              "signature":hex128,"timestamp":int,"treeSize":int}
 */
import { cosignedCheckpointFromJson, cosignatureToJson, sortCosignatures, type Cosignature } from './cosignature.js';
import { HASH_LEN } from '../src/crypto/hash.js';
import { ED25519_PUBLIC_KEY_LEN } from '../src/crypto/ed25519.js';
import { isTallyError } from '../src/errors.js';
import { parseHex, toHex } from '../src/wire.js';
import { parseCanonicalJson } from './canonical-json.js';
import { checkpointToJson, type Checkpoint } from './checkpoint.js';
import { assertExactKeys, entryFromJson, entryToJson, type Entry } from './entry.js';
import { canonicalJson, VALUE_LIMITS, type JsonValue } from './value-encoding.js';
import { boardFailure, type BoardFailure, type BoardHeader } from './verify.js';

/** The format string of line 1. */
export const BOARD_FILE_FORMAT = 'tallyboard-board/1';

/** Longest line accepted, in bytes, not counting the line feed (8 MiB). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/** Records wrap the payload in one object: one more level than a payload may have. */
const RECORD_MAX_DEPTH = VALUE_LIMITS.maxDepth + 1;

/** A record after the header. */
export type BoardFileRecord =
  | { readonly kind: 'entry'; readonly entry: Entry; readonly hash: Uint8Array }
  | { readonly kind: 'checkpoint'; readonly checkpoint: Checkpoint; readonly cosignatures: readonly Cosignature[] };

/**
 * Line 1 of an export.
 * @param h - electionId and board key
 * @returns the line, without its line feed
 */
export function headerLine(h: BoardHeader): string {
  return canonicalJson({ format: BOARD_FILE_FORMAT, electionId: h.electionId, boardPublicKey: toHex(h.boardPublicKey) });
}

/**
 * An entry line.
 * @param entry - a valid entry
 * @param hash - its hash
 * @returns the line, without its line feed
 */
export function entryLine(entry: Entry, hash: Uint8Array): string {
  return canonicalJson({ kind: 'entry', ...entryToJson(entry), hash: toHex(hash) }, RECORD_MAX_DEPTH);
}

/**
 * The final checkpoint line.
 * @param cp - a checkpoint
 * @returns the line, without its line feed
 */
export function checkpointLine(cp: Checkpoint, cosignatures: readonly Cosignature[] = []): string {
  // `cosignatures` is present iff there is at least one (spec §9.7.2, §9.9.3): one spelling.
  const cos = cosignatures.length > 0 ? { cosignatures: sortCosignatures(cosignatures).map(cosignatureToJson) } : {};
  return canonicalJson({ kind: 'checkpoint', ...checkpointToJson(cp), ...cos });
}

/**
 * B1: parses one line's text, which must be the canonical JSON text of its value.
 *
 * @param text - the line, decoded from UTF-8, without its line feed; length ≤ 8 MiB
 * @returns the value, or a B1 failure
 */
export function parseLine(text: string): { readonly ok: true; readonly value: JsonValue } | BoardFailure {
  let value: JsonValue;
  try {
    value = parseCanonicalJson(text, RECORD_MAX_DEPTH);
  } catch (e) {
    return boardFailure('B1', `not canonical JSON: ${messageOf(e)}`);
  }
  // The parser accepts only canonical text; re-serializing is the normative definition.
  if (canonicalJson(value, RECORD_MAX_DEPTH) !== text) return boardFailure('B1', 'not the canonical JSON text of its value');
  return { ok: true, value };
}

/**
 * B2: the header record.
 *
 * @param value - the parsed line 1
 * @returns the header, or a B2 failure (the key's validity as a curve point is checked by
 *   the ChainVerifier, also under B2)
 */
export function parseHeader(value: JsonValue): BoardHeader | BoardFailure {
  try {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return boardFailure('B2', 'line 1 is not a header object');
    const o = value as Readonly<Record<string, JsonValue>>;
    assertExactKeys(o, ['format', 'electionId', 'boardPublicKey'], 'header');
    if (o.format !== BOARD_FILE_FORMAT) {
      return boardFailure('B2', `unknown format ${JSON.stringify(o.format).slice(0, 80)}`, { expected: BOARD_FILE_FORMAT, computed: String(o.format).slice(0, 80) });
    }
    if (typeof o.electionId !== 'string') return boardFailure('B2', 'header.electionId: expected a string');
    return { electionId: o.electionId, boardPublicKey: parseHex(o.boardPublicKey, 'header.boardPublicKey', ED25519_PUBLIC_KEY_LEN) };
  } catch (e) {
    return boardFailure('B2', messageOf(e));
  }
}

/**
 * B3: an entry or checkpoint record — exactly its fields, each of the right type and range.
 * The payload's admissibility is checked when the verifier encodes the entry (also B3).
 *
 * @param value - a parsed line after the header
 * @returns the record, or a B3 failure
 */
export function parseRecord(value: JsonValue): BoardFileRecord | BoardFailure {
  try {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return boardFailure('B3', 'the line is not a record object');
    const o = value as Readonly<Record<string, JsonValue>>;
    if (o.kind === 'entry') {
      const entry = entryFromJson(o, ['kind', 'hash']);
      return { kind: 'entry', entry, hash: parseHex(o.hash, 'entry.hash', HASH_LEN) };
    }
    if (o.kind === 'checkpoint') return { kind: 'checkpoint', ...cosignedCheckpointFromJson(o, ['kind']) };
    return boardFailure('B3', `record kind must be "entry" or "checkpoint", got ${JSON.stringify(o.kind ?? null).slice(0, 80)}`);
  } catch (e) {
    const height = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>).height : undefined;
    return boardFailure('B3', messageOf(e), typeof height === 'number' ? { height } : {});
  }
}

function messageOf(e: unknown): string {
  if (isTallyError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
