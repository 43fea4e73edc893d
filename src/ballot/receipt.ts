/**
 * Ballot receipts (spec/10-verification.md §10.3): what a voter keeps after casting, and the
 * pure check that the ballot is on the board.
 *
 * A receipt carries the whole board entry of the ballot, a signed checkpoint and an inclusion
 * proof. The entry is needed because the Merkle leaf is a hash of the entry's bytes; with it a
 * voter recomputes the leaf, checks that it holds THEIR tracker, and checks the proof against
 * the checkpoint signed by the board key of the election (whose fingerprint binds that key).
 * Browser-safe: no `node:` imports.
 */
import { TallyError } from '../errors.js';
import { entryFromJson, entryToJson, type Entry, type EntryJson } from '../../bulletin/entry.js';
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import { cosignedCheckpointFromJson, cosignedCheckpointToJson, verifyCosignature, type Cosignature, type CosignedCheckpointJson } from '../../bulletin/cosignature.js';
import { inclusionProofFromJson, inclusionProofToJson, type InclusionProof, type InclusionProofJson } from '../../bulletin/proofs.js';
import { verifyEntryInclusion } from '../../bulletin/client.js';
import { parseHex, toHex } from '../wire.js';
import type { Election } from '../election/manifest.js';
import { parseBallotRecord } from '../election/records.js';
import { verifyBallot } from '../election/ballot.js';
import { bytesEqual } from '../crypto/hash.js';

export const RECEIPT_FORMAT = 'tallyboard-receipt/1';

/** A receipt in its JSON form, as saved to a file. */
export interface ReceiptJson {
  readonly format: typeof RECEIPT_FORMAT;
  readonly electionId: string;
  readonly fingerprint: string;
  readonly tracker: string;
  readonly height: number;
  readonly entry: EntryJson;
  readonly entryHash: string;
  /** the signed checkpoint, with the witness cosignatures available when issued (§9.9.3) */
  readonly checkpoint: CosignedCheckpointJson;
  readonly inclusionProof: InclusionProofJson;
  /** height of the earlier ballot this one replaced (revoting) */
  readonly replaces?: number;
}

export interface ReceiptParts {
  readonly tracker: Uint8Array;
  readonly entry: Entry;
  readonly entryHash: Uint8Array;
  readonly checkpoint: Checkpoint;
  /** cosignatures of `checkpoint` stored when the receipt was made */
  readonly cosignatures?: readonly Cosignature[];
  readonly inclusionProof: InclusionProof;
  readonly replaces?: number;
}

export function receiptToJson(election: Election, r: ReceiptParts): ReceiptJson {
  return {
    format: RECEIPT_FORMAT,
    electionId: election.manifest.electionId,
    fingerprint: election.fingerprintHex,
    tracker: toHex(r.tracker),
    height: r.entry.height,
    entry: entryToJson(r.entry),
    entryHash: toHex(r.entryHash),
    checkpoint: cosignedCheckpointToJson(r.checkpoint, r.cosignatures ?? []),
    inclusionProof: inclusionProofToJson(r.inclusionProof),
    ...(r.replaces !== undefined ? { replaces: r.replaces } : {}),
  };
}

/** Result of checking a receipt. */
export type ReceiptCheck =
  | {
      readonly ok: true;
      readonly tracker: string;
      readonly height: number;
      readonly treeSize: number;
      /** the receipt checkpoint's witness cosignatures (spec §9.9): valid ones by name, the
       *  others with the reason, and whether the valid ones reach the manifest's quorum */
      readonly witnesses: {
        readonly valid: readonly string[];
        readonly invalid: readonly { readonly name: string; readonly reason: string }[];
        readonly quorum: number;
        readonly hasQuorum: boolean;
      };
    }
  | { readonly ok: false; readonly reason: string };

/**
 * Check a receipt against an election (spec §10.3). Pure; never throws.
 * 1. the receipt is for this election (fingerprint);
 * 2. its entry is a ballot entry whose ballot verifies and whose tracker is the receipt's;
 * 3. the checkpoint is signed by the election's board key and the entry is included under it.
 */
export function verifyReceipt(election: Election, json: unknown): ReceiptCheck {
  try {
    const o = json as Partial<ReceiptJson> | null;
    if (typeof o !== 'object' || o === null || o.format !== RECEIPT_FORMAT) return { ok: false, reason: `not a ${RECEIPT_FORMAT} receipt` };
    if (o.fingerprint !== election.fingerprintHex) return { ok: false, reason: 'the receipt is for another election' };
    const tracker = parseHex(o.tracker, 'receipt.tracker', 32);
    const entry = entryFromJson(o.entry);
    const { checkpoint, cosignatures } = cosignedCheckpointFromJson(o.checkpoint);
    const proof = inclusionProofFromJson(o.inclusionProof);
    if (entry.type !== 'ballot') return { ok: false, reason: 'the receipt entry is not a ballot' };
    if (o.height !== entry.height) return { ok: false, reason: 'the receipt height is not its entry height' };
    const rec = parseBallotRecord(election, entry.payload);
    if (!bytesEqual(rec.tracker, tracker)) return { ok: false, reason: 'the entry holds another tracker' };
    const v = verifyBallot(election, rec.ballot);
    if (!v.ok) return { ok: false, reason: `the ballot does not verify (${v.check}: ${v.reason})` };
    if (!bytesEqual(v.tracker, tracker)) return { ok: false, reason: 'the tracker is not the hash of the ballot' };
    const inc = verifyEntryInclusion(election.boardKey, checkpoint, entry, proof);
    if (!inc.ok) return { ok: false, reason: `not included under the signed checkpoint: ${inc.message}` };
    // The checkpoint's signature verified above; each cosignature is reported, never fatal: a
    // receipt is valid without them (they may arrive later), and says how far it is witnessed.
    const valid: string[] = [];
    const invalid: { name: string; reason: string }[] = [];
    for (const c of cosignatures) {
      const r = verifyCosignature(election.witnesses, election.boardKey, checkpoint, c);
      if (r.ok) valid.push(c.name);
      else invalid.push({ name: c.name, reason: r.message });
    }
    const quorum = election.witnessQuorum;
    return { ok: true, tracker: toHex(tracker), height: entry.height, treeSize: checkpoint.treeSize, witnesses: { valid, invalid, quorum, hasQuorum: quorum > 0 && valid.length >= quorum } };
  } catch (e) {
    return { ok: false, reason: e instanceof TallyError ? e.message : `malformed receipt: ${e instanceof Error ? e.message : String(e)}` };
  }
}
