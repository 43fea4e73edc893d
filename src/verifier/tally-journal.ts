/**
 * The key holder's memory (issue 10.1, spec §8.5 and §11.3): every board checkpoint the
 * verification server has seen, and the one decryption it has made.
 *
 * Why it exists: the key holder's answer to a board is a decryption, and a decryption of the
 * wrong product leaks votes. A ballot server that serves the verification server a re-signed
 * fork holding one victim's ballot and a close would learn that vote from the "result"; with a
 * fresh fork per attempt it would learn every vote. Two rules close that, and both need state
 * that survives a restart:
 *   1. **Decrypt at most once.** Before decrypting, the server writes down WHAT it is about to
 *      decrypt (the close checkpoint and the ciphertexts: the "intent"); after decrypting, the
 *      payloads it will publish (the "result"). From then on it only ever re-submits that result,
 *      and a crash between the two lets it decrypt the SAME ciphertexts again, which reveals
 *      nothing new. Any other board is refused.
 *   2. **Decrypt only a board consistent with everything seen.** Each checkpoint the server sees
 *      (while polling during the election, and the close checkpoint of the board it audits) is
 *      checked against the largest one recorded, by an RFC 9162 consistency proof, and recorded.
 *      A fork is inconsistent with what the server saw of the real board; on the first
 *      inconsistency an alarm is recorded and the server never decrypts again.
 *
 * Two implementations: in memory (tests, the demo) and on disk (tally-journal-file.ts, what
 * `serve` uses). The journal stores public data only (signed checkpoints, ciphertexts, the
 * published result): no secret.
 */
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import { TallyError } from '../errors.js';

/** What the server decided to decrypt, written BEFORE it decrypts (rule 1). */
export interface DecryptionIntent {
  /** the signed checkpoint of the audited board, ending at its close entry */
  readonly checkpoint: Checkpoint;
  /** the recomputed encrypted tally, one ciphertext per question (lowercase hex, as on the board) */
  readonly ciphertexts: readonly string[];
  /** ballots in the product */
  readonly ballotsCounted: number;
}

/** The decryption record: the intent, and the payloads once decrypted. */
export interface DecryptionRecord extends DecryptionIntent {
  /** the `encrypted-tally` payload and this server's `partial-decryption` payload (null when it holds no share), as submitted (spec §8.5) */
  readonly published?: { readonly encryptedTally: unknown; readonly partialDecryption: unknown };
}

/** The verification server's persistent memory of checkpoints and its one decryption. */
export interface TallyJournal {
  /** @returns the largest checkpoint recorded (the last one recorded at that size), if any */
  largestCheckpoint(): Promise<Checkpoint | undefined>;
  /** @returns how many checkpoints have been recorded */
  checkpointCount(): Promise<number>;
  /**
   * Record a checkpoint the caller has verified (signature, and consistency with the largest).
   * Durable when the promise resolves.
   */
  recordCheckpoint(cp: Checkpoint): Promise<void>;
  /** @returns the decryption record, if the server ever began a decryption */
  decryption(): Promise<DecryptionRecord | undefined>;
  /**
   * Record the intent to decrypt. Durable when the promise resolves; only then may the caller
   * decrypt.
   * @throws TallyError CONFLICT if a different intent is already recorded (never overwritten)
   */
  recordIntent(intent: DecryptionIntent): Promise<void>;
  /**
   * Record the payloads about to be published, for the recorded intent.
   * @throws TallyError CONFLICT without an intent, or if other payloads are already recorded
   */
  recordPublished(published: { readonly encryptedTally: unknown; readonly partialDecryption: unknown }): Promise<void>;
  /** @returns the recorded alarm (a fork or split view was seen), if any */
  alarm(): Promise<string | undefined>;
  /** Record an alarm: from then on the server never decrypts. The first alarm is kept. */
  raiseAlarm(reason: string): Promise<void>;
}

/** Whether two intents name the same board and the same product. */
export function sameIntent(a: DecryptionIntent, b: DecryptionIntent): boolean {
  return (
    a.checkpoint.treeSize === b.checkpoint.treeSize &&
    bytesEq(a.checkpoint.rootHash, b.checkpoint.rootHash) &&
    a.ballotsCounted === b.ballotsCounted &&
    a.ciphertexts.length === b.ciphertexts.length &&
    a.ciphertexts.every((c, i) => c === b.ciphertexts[i])
  );
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Canonical JSON of a payload, to compare two records of the same publication. */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The journal in memory: for tests and the one-process demo (lost with the process). */
export class MemoryTallyJournal implements TallyJournal {
  #largest: Checkpoint | undefined;
  #count = 0;
  #decryption: DecryptionRecord | undefined;
  #alarm: string | undefined;

  async largestCheckpoint(): Promise<Checkpoint | undefined> {
    return this.#largest;
  }

  async checkpointCount(): Promise<number> {
    return this.#count;
  }

  async recordCheckpoint(cp: Checkpoint): Promise<void> {
    this.#count++;
    if (this.#largest === undefined || cp.treeSize >= this.#largest.treeSize) this.#largest = cp;
  }

  async decryption(): Promise<DecryptionRecord | undefined> {
    return this.#decryption;
  }

  async recordIntent(intent: DecryptionIntent): Promise<void> {
    this.#decryption = checkIntent(this.#decryption, intent);
  }

  async recordPublished(published: { readonly encryptedTally: unknown; readonly partialDecryption: unknown }): Promise<void> {
    this.#decryption = checkPublished(this.#decryption, published);
  }

  async alarm(): Promise<string | undefined> {
    return this.#alarm;
  }

  async raiseAlarm(reason: string): Promise<void> {
    this.#alarm ??= reason;
  }
}

/**
 * The record after recording `intent`: the same record if the intent is already there.
 * @throws TallyError CONFLICT for a different intent
 */
export function checkIntent(current: DecryptionRecord | undefined, intent: DecryptionIntent): DecryptionRecord {
  if (current === undefined) return { checkpoint: intent.checkpoint, ciphertexts: [...intent.ciphertexts], ballotsCounted: intent.ballotsCounted };
  if (!sameIntent(current, intent)) {
    throw new TallyError('CONFLICT', 'this verification server already decided to decrypt another board; it decrypts at most once');
  }
  return current;
}

/**
 * The record after recording `published`.
 * @throws TallyError CONFLICT without an intent, or for other payloads
 */
export function checkPublished(current: DecryptionRecord | undefined, published: { readonly encryptedTally: unknown; readonly partialDecryption: unknown }): DecryptionRecord {
  if (current === undefined) throw new TallyError('CONFLICT', 'no decryption intent is recorded');
  if (current.published !== undefined) {
    if (sameJson(current.published, published)) return current;
    throw new TallyError('CONFLICT', 'another result is already recorded for this decryption');
  }
  return { ...current, published };
}
