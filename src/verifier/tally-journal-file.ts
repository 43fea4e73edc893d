/**
 * The verification server's journal on disk (see tally-journal.ts for why it exists).
 *
 *   DIR/checkpoints.jsonl   every checkpoint recorded, one JSON line each, appended and fsync'ed
 *   DIR/decryption.json     the decryption record (intent, then intent + published payloads)
 *   DIR/alarm.json          the first fork or split view seen, if any
 *
 * Each whole-file write goes to a temporary file that is fsync'ed, renamed over the old one, and
 * the directory fsync'ed: after a crash the file holds the old record or the new one, never a
 * torn one. Appends to checkpoints.jsonl are fsync'ed before the promise resolves; a torn last
 * line (a crash in the middle of an append) is ignored when the journal is opened, because the
 * checkpoint it held was never acted on (recording comes before any decision that uses it).
 *
 * Modes: the directory 0700 and every file 0600, whatever the umask: the contents are public,
 * but the journal is the server's own safety record and only the server writes it.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointFromJson, checkpointToJson, type Checkpoint } from '../../bulletin/checkpoint.js';
import { TallyError } from '../errors.js';
import { checkIntent, checkPublished, type DecryptionIntent, type DecryptionRecord, type TallyJournal } from './tally-journal.js';

/** Largest journal file read (the decryption record holds one ciphertext per question). */
const MAX_FILE_BYTES = 64 << 20;

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAtomic(dir: string, name: string, content: string): void {
  const tmp = join(dir, `.${name}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, join(dir, name));
  fsyncDir(dir);
}

function readJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  const bytes = readFileSync(path);
  if (bytes.length > MAX_FILE_BYTES) throw new TallyError('TOO_LARGE', `${path}: larger than ${MAX_FILE_BYTES} bytes`);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (e) {
    throw new TallyError('MALFORMED', `${path}: not JSON`, { cause: e });
  }
}

interface DecryptionFile {
  readonly checkpoint: unknown;
  readonly ciphertexts: readonly string[];
  readonly ballotsCounted: number;
  readonly published?: { readonly encryptedTally: unknown; readonly partialDecryption: unknown };
}

function decryptionFromFile(x: unknown, path: string): DecryptionRecord {
  const o = x as Partial<DecryptionFile> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    !Array.isArray(o.ciphertexts) ||
    !o.ciphertexts.every((c) => typeof c === 'string' && /^[0-9a-f]+$/.test(c)) ||
    typeof o.ballotsCounted !== 'number' ||
    !Number.isSafeInteger(o.ballotsCounted)
  ) {
    throw new TallyError('MALFORMED', `${path}: not a decryption record`);
  }
  return {
    checkpoint: checkpointFromJson(o.checkpoint),
    ciphertexts: o.ciphertexts,
    ballotsCounted: o.ballotsCounted,
    ...(o.published !== undefined ? { published: o.published } : {}),
  };
}

/**
 * The journal in directory `dir` (created 0700 if absent).
 * Opening reads the largest checkpoint and the records; nothing is kept open between calls.
 */
export class FileTallyJournal implements TallyJournal {
  readonly dir: string;
  #largest: Checkpoint | undefined;
  #count = 0;
  #decryption: DecryptionRecord | undefined;
  #alarm: string | undefined;

  /**
   * @param dir - the journal's directory
   * @throws TallyError MALFORMED / TOO_LARGE if a journal file is damaged (never ignored: a
   *   server that forgot what it decrypted could be made to decrypt again)
   */
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const cpPath = join(dir, 'checkpoints.jsonl');
    if (existsSync(cpPath)) {
      const bytes = readFileSync(cpPath);
      const lines = bytes.toString('utf8').split('\n');
      // The last element is '' after a complete final line, or a torn line after a crash.
      const complete = lines.slice(0, -1);
      for (const [i, line] of complete.entries()) {
        let cp: Checkpoint;
        try {
          cp = checkpointFromJson(JSON.parse(line) as unknown);
        } catch (e) {
          throw new TallyError('MALFORMED', `${cpPath}, line ${i + 1}: not a checkpoint`, { cause: e });
        }
        this.#count++;
        if (this.#largest === undefined || cp.treeSize >= this.#largest.treeSize) this.#largest = cp;
      }
    }
    const dec = readJson(join(dir, 'decryption.json'));
    if (dec !== undefined) this.#decryption = decryptionFromFile(dec, join(dir, 'decryption.json'));
    const alarm = readJson(join(dir, 'alarm.json')) as { reason?: unknown } | undefined;
    if (alarm !== undefined) this.#alarm = typeof alarm?.reason === 'string' ? alarm.reason : 'an alarm was recorded';
  }

  async largestCheckpoint(): Promise<Checkpoint | undefined> {
    return this.#largest;
  }

  async checkpointCount(): Promise<number> {
    return this.#count;
  }

  async recordCheckpoint(cp: Checkpoint): Promise<void> {
    const fd = openSync(join(this.dir, 'checkpoints.jsonl'), 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(checkpointToJson(cp))}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.#count++;
    if (this.#largest === undefined || cp.treeSize >= this.#largest.treeSize) this.#largest = cp;
  }

  async decryption(): Promise<DecryptionRecord | undefined> {
    return this.#decryption;
  }

  async recordIntent(intent: DecryptionIntent): Promise<void> {
    const next = checkIntent(this.#decryption, intent);
    if (next !== this.#decryption) this.#write(next);
    this.#decryption = next;
  }

  async recordPublished(published: { readonly encryptedTally: unknown; readonly partialDecryption: unknown }): Promise<void> {
    const next = checkPublished(this.#decryption, published);
    if (next !== this.#decryption) this.#write(next);
    this.#decryption = next;
  }

  async alarm(): Promise<string | undefined> {
    return this.#alarm;
  }

  async raiseAlarm(reason: string): Promise<void> {
    if (this.#alarm !== undefined) return;
    writeAtomic(this.dir, 'alarm.json', `${JSON.stringify({ reason })}\n`);
    this.#alarm = reason;
  }

  #write(rec: DecryptionRecord): void {
    const file: DecryptionFile = {
      checkpoint: checkpointToJson(rec.checkpoint),
      ciphertexts: rec.ciphertexts,
      ballotsCounted: rec.ballotsCounted,
      ...(rec.published !== undefined ? { published: rec.published } : {}),
    };
    writeAtomic(this.dir, 'decryption.json', `${JSON.stringify(file)}\n`);
  }
}
