/**
 * "Check my receipt" on the public board page: is my ballot on the board, and does the board
 * today still contain the board my receipt's checkpoint signed? (spec/10-verification.md §10.3,
 * spec/09-board.md §9.5.3). The same answer `tallyboard receipt check RECEIPT --board URL`
 * gives, computed in the voter's browser.
 *
 * 1. The receipt itself (src/ballot/receipt.ts `verifyReceipt`): the election's fingerprint,
 *    the ballot verifies and holds the tracker, the checkpoint is signed by the election's board
 *    key and the entry is included under it; and the stated entry hash is the entry's.
 * 2. The board now: its latest checkpoint is signed by the same key and a consistency proof
 *    shows it extends the receipt's checkpoint. A board rewritten after the receipt was issued
 *    fails here.
 * 3. Whether it is the ballot that counts (issue #9.3): the entries after it, up to the latest
 *    checkpoint, re-hashed and chained (src/client/ballot-standing.ts), and whether the same
 *    token cast a later ballot that replaces it.
 *
 * The manifest comes from the server but is never trusted alone: it is fully re-validated
 * (parseManifest) and the receipt's fingerprint, which the voter got when casting, must be the
 * fingerprint of that manifest, which binds the board key. Network failures throw (they are
 * not an answer about the ballot); every verification failure is a `{ yes: false, reason }`.
 */
import { TallyError } from '../errors.js';
import { parseHex } from '../wire.js';
import { bytesEqual } from '../crypto/hash.js';
import { parseManifest, type Election } from '../election/manifest.js';
import { verifyReceipt, type ReceiptJson } from '../ballot/receipt.js';
import { encodeEntry, entryFromJson } from '../../bulletin/entry.js';
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import { cosignedCheckpointFromJson } from '../../bulletin/cosignature.js';
import { consistencyProofFromJson } from '../../bulletin/proofs.js';
import { verifyCheckpointExtension } from '../../bulletin/client.js';
import { ENTRIES_PAGE_MAX, type BoardApi } from './board-api.js';
import { ballotStanding, ballotTokenKey, type Standing } from '../client/ballot-standing.js';

/** Largest receipt accepted from a paste or a file (one ballot entry and its proofs). */
export const MAX_RECEIPT_CHARS = 8 * 1024 * 1024;

/** The answer to "is my ballot on the board?". */
export type ReceiptAnswer =
  | {
      readonly yes: true;
      readonly tracker: string;
      readonly height: number;
      /** size of the board's latest checkpoint, which extends the receipt's */
      readonly boardSize: number;
      /** when that checkpoint was signed, ms since the epoch */
      readonly signedAt: number;
      /** height of the earlier ballot this one replaced, if any */
      readonly replaces?: number;
      /** whether it is the ballot that counts, as of the latest checkpoint */
      readonly standing: Standing;
    }
  | { readonly yes: false; readonly reason: string };

const no = (reason: string): ReceiptAnswer => ({ yes: false, reason });

/**
 * Parse a pasted or uploaded receipt.
 * @param text - the receipt file's text
 * @returns the JSON value, or a reason the voter can act on
 */
export function parseReceiptText(text: string): { ok: true; json: unknown } | { ok: false; reason: string } {
  const t = text.trim();
  if (t === '') return { ok: false, reason: 'paste your receipt or choose its file first' };
  if (t.length > MAX_RECEIPT_CHARS) return { ok: false, reason: 'this is far larger than a receipt' };
  try {
    return { ok: true, json: JSON.parse(t) as unknown };
  } catch {
    return { ok: false, reason: 'this is not a receipt: a receipt is the JSON file the booth let you download (receipt-….json)' };
  }
}

/**
 * The receipt checked on its own against an election.
 * @returns the receipt's checkpoint and tracker, or the failure
 */
export function checkReceiptAlone(
  election: Election,
  json: unknown,
): { ok: true; tracker: string; height: number; checkpoint: Checkpoint; entryHash: Uint8Array; tokenKey: string; replaces?: number } | { ok: false; reason: string } {
  const v = verifyReceipt(election, json);
  if (!v.ok) return { ok: false, reason: v.reason };
  const r = json as ReceiptJson;
  const checkpoint = cosignedCheckpointFromJson(r.checkpoint).checkpoint;
  if (checkpoint.electionId !== election.manifest.electionId) return { ok: false, reason: "the receipt's checkpoint is for another election" };
  let stated: Uint8Array;
  try {
    stated = parseHex(r.entryHash, 'receipt.entryHash', 32);
  } catch (e) {
    return { ok: false, reason: `the receipt's entryHash is malformed: ${e instanceof Error ? e.message : String(e)}` };
  }
  const entry = entryFromJson(r.entry);
  const entryHash = encodeEntry(entry).hash;
  if (!bytesEqual(stated, entryHash)) return { ok: false, reason: "the receipt's entryHash is not the hash of its entry" };
  const tokenKey = ballotTokenKey(entry.type, entry.payload);
  if (tokenKey === undefined) return { ok: false, reason: "the receipt's entry is not a ballot" };
  return { ok: true, tracker: v.tracker, height: v.height, checkpoint, entryHash, tokenKey, ...(typeof r.replaces === 'number' ? { replaces: r.replaces } : {}) };
}

/**
 * Check a receipt against the live board.
 * @param api - the ballot server's public routes
 * @param receipt - the receipt's JSON (untrusted)
 * @param election - the election, if the caller has already validated it (else fetched here)
 * @param onProgress - called while the entries after the ballot are checked (done, total)
 * @throws TallyError BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE when the server cannot answer
 */
export async function checkReceiptOnBoard(api: BoardApi, receipt: unknown, election?: Election, onProgress?: (done: number, total: number) => void): Promise<ReceiptAnswer> {
  let e = election;
  if (e === undefined) {
    const info = await api.election();
    try {
      e = parseManifest(info.manifest);
    } catch (err) {
      return no(`the server's election manifest is not valid: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const alone = checkReceiptAlone(e, receipt);
  if (!alone.ok) return no(`the receipt does not verify: ${alone.reason}`);
  const older = alone.checkpoint;
  let latest: Checkpoint;
  try {
    latest = cosignedCheckpointFromJson(await api.checkpoint()).checkpoint;
  } catch (err) {
    if (err instanceof TallyError && err.code === 'MALFORMED') return no(`the server's latest checkpoint is malformed: ${err.message}`);
    throw err;
  }
  if (latest.treeSize < older.treeSize) {
    return no(`the board's latest checkpoint covers ${latest.treeSize} entries, fewer than the ${older.treeSize} your receipt's checkpoint signed`);
  }
  let proof;
  try {
    proof = consistencyProofFromJson(await api.consistency(older.treeSize, latest.treeSize));
  } catch (err) {
    if (err instanceof TallyError && (err.code === 'MALFORMED' || err.code === 'OUT_OF_RANGE')) return no(`the server's consistency proof is malformed: ${err.message}`);
    throw err;
  }
  const ext = verifyCheckpointExtension(e.boardKey, older, latest, proof);
  if (!ext.ok) return no(`the board no longer contains the board your receipt's checkpoint signed: ${ext.message}`);
  const standing = await ballotStanding({
    height: alone.height,
    entryHash: alone.entryHash,
    tokenKey: alone.tokenKey,
    latest,
    pageSize: ENTRIES_PAGE_MAX,
    page: async (from, limit) => (await api.entries(from, limit)).entries,
    ...(onProgress ? { onProgress } : {}),
  });
  if ('failed' in standing) return no(`the board's entries after your ballot do not check out: ${standing.reason}`);
  return {
    standing,
    yes: true,
    tracker: alone.tracker,
    height: alone.height,
    boardSize: latest.treeSize,
    signedAt: latest.timestamp,
    ...(alone.replaces !== undefined ? { replaces: alone.replaces } : {}),
  };
}
