/**
 * Import and verification of a board export file (spec/09-board.md §9.7, §9.8).
 *
 * Why it reads lines itself instead of using node:readline: readline buffers a whole line
 * before handing it over (a file with no line feed would be read into memory entirely) and
 * silently turns invalid UTF-8 into U+FFFD. This reader counts the bytes of the current line
 * as chunks arrive and rejects it as soon as it passes 8 MiB — before decoding or parsing
 * it — and decodes with a fatal UTF-8 decoder. Memory is bounded by one line, one pending
 * store batch and the verifier's O(log n) state, whatever the number of entries.
 *
 * Every line is checked as it is read (B1–B14 of §9.8, via board-file.ts and the
 * ChainVerifier); the first bad line stops the import with TallyError BOARD_INVALID whose
 * details give the line number and the failed check. When a store is given, verified entries
 * are committed in batches and the final checkpoint with the last batch; if the file is
 * rejected part-way, the store is left without a checkpoint for its last entries — torn, so
 * that Board.open refuses it — and should be discarded.
 */
import { createReadStream } from 'node:fs';
import { TallyError } from '../src/errors.js';
import { MAX_LINE_BYTES, parseHeader, parseLine, parseRecord } from './board-file.js';
import type { Checkpoint } from './checkpoint.js';
import type { NodeHash } from './merkle/index.js';
import type { BoardStore, EntryRecord } from './store/interface.js';
import { ChainVerifier, boardFailure, type BoardFailure, type BoardHeader } from './verify.js';

/** Options of {@link importBoard}. */
export interface ImportOptions {
  /** An empty store to load the board into (to serve a read-only copy); omit to only verify. */
  readonly store?: BoardStore;
}

/** A verified (and possibly loaded) board. */
export interface ImportResult {
  readonly header: BoardHeader;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly chainHead: Uint8Array;
  readonly checkpoint: Checkpoint;
  /** Number of lines read (size + 2). */
  readonly lines: number;
}

/** Commit a pending store batch once it holds this many entry bytes or entries. */
const BATCH_BYTES = 1 << 20;
const BATCH_ENTRIES = 1024;

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

/**
 * The rejection of a board file: BOARD_INVALID with `details` = { line, check, height?,
 * reason, expected?, computed? }.
 * @param line - 1-based line number
 * @param f - the failed check
 */
export function boardInvalid(line: number, f: BoardFailure): TallyError {
  const { ok: _ok, ...rest } = f;
  return new TallyError('BOARD_INVALID', `line ${line}: ${f.check}: ${f.reason}`, { details: { line, ...rest } });
}

/**
 * Splits a byte stream into LF-terminated lines (spec §9.7.1), checking B1's framing: each
 * line at most `maxLineBytes` bytes (checked before the line is complete), valid UTF-8, and
 * the last line terminated.
 *
 * @param source - chunks of the file (strings are taken as UTF-8)
 * @param maxLineBytes - the cap, 1 ≤ maxLineBytes
 * @returns an async generator of { line (1-based), text }
 * @throws TallyError BOARD_INVALID (check B1) with the line number
 */
export async function* readLines(
  source: AsyncIterable<Uint8Array | string>,
  maxLineBytes: number = MAX_LINE_BYTES,
): AsyncGenerator<{ readonly line: number; readonly text: string }, void, undefined> {
  let parts: Uint8Array[] = [];
  let length = 0;
  let line = 1;
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? utf8.encode(raw) : raw;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (length + (end - start) > maxLineBytes) {
        throw boardInvalid(line, boardFailure('B1', `line longer than ${maxLineBytes} bytes`));
      }
      // A copy (Buffer#slice would be a view): a source may reuse its chunk buffers.
      parts.push(Uint8Array.prototype.slice.call(chunk, start, end));
      length += end - start;
      if (nl === -1) break;
      yield { line, text: decodeLine(parts, length, line) };
      parts = [];
      length = 0;
      line += 1;
      start = nl + 1;
    }
  }
  if (length > 0) throw boardInvalid(line, boardFailure('B1', 'the last line does not end with a line feed (truncated file?)'));
}

function decodeLine(parts: readonly Uint8Array[], length: number, line: number): string {
  const bytes = parts.length === 1 ? parts[0]! : new Uint8Array(length);
  if (parts.length !== 1) {
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
  }
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw boardInvalid(line, boardFailure('B1', 'not valid UTF-8'));
  }
}

/**
 * Verifies a board export as it streams in and, optionally, loads it into a store.
 *
 * @param source - the file's bytes in chunks (e.g. fs.createReadStream(path))
 * @param options - `store`: an empty store to load into (opened here if needed)
 * @returns the verified header, size, root, chain head and final checkpoint
 * @throws TallyError BOARD_INVALID with details { line, check, … } for the first bad line
 *   (a missing final checkpoint is reported at the line after the last); CONFLICT if the
 *   store is not empty; the store's own errors
 */
export async function importBoard(source: AsyncIterable<Uint8Array | string>, options: ImportOptions = {}): Promise<ImportResult> {
  const store = options.store;
  if (store !== undefined) await assertEmpty(store);
  let verifier: ChainVerifier | undefined;
  let header: BoardHeader | undefined;
  let result: ImportResult | undefined;
  let lastLine = 0;
  let pending: EntryRecord[] = [];
  let pendingNodes: NodeHash[] = [];
  let pendingBytes = 0;

  const flush = async (checkpoint?: Checkpoint): Promise<void> => {
    if (store === undefined) return;
    await store.commit({ entries: pending, nodes: pendingNodes, ...(checkpoint !== undefined ? { checkpoint } : {}) });
    pending = [];
    pendingNodes = [];
    pendingBytes = 0;
  };

  for await (const { line, text } of readLines(source)) {
    lastLine = line;
    const parsed = parseLine(text); // B1 first, as §9.8 orders the checks of a line
    if (!parsed.ok) throw boardInvalid(line, parsed);
    if (result !== undefined) throw boardInvalid(line, boardFailure('B9', 'a line follows the final checkpoint'));

    if (verifier === undefined) {
      const h = parseHeader(parsed.value);
      if ('ok' in h) throw boardInvalid(line, h);
      header = h;
      verifier = new ChainVerifier(h);
      if (verifier.failure !== undefined) throw boardInvalid(line, verifier.failure);
      continue;
    }

    const rec = parseRecord(parsed.value);
    if ('ok' in rec) throw boardInvalid(line, rec);
    if (rec.kind === 'entry') {
      const r = verifier.push(rec.entry, rec.hash);
      if (!r.ok) throw boardInvalid(line, r);
      if (store !== undefined) {
        pending.push({ height: rec.entry.height, hash: r.encoded.hash, bytes: r.encoded.bytes });
        pendingNodes.push(...r.nodes);
        pendingBytes += r.encoded.bytes.length;
        if (pendingBytes >= BATCH_BYTES || pending.length >= BATCH_ENTRIES) await flush();
      }
    } else {
      const r = verifier.finish(rec.checkpoint);
      if (!r.ok) throw boardInvalid(line, r);
      await flush(r.checkpoint);
      result = { header: header!, size: r.size, rootHash: r.rootHash, chainHead: r.chainHead, checkpoint: r.checkpoint, lines: line };
    }
  }

  if (verifier === undefined) throw boardInvalid(1, boardFailure('B2', 'the file is empty: no header line'));
  if (result === undefined) {
    const r = verifier.finish(undefined);
    throw boardInvalid(lastLine + 1, r.ok ? boardFailure('B9', 'the board has no final checkpoint') : r);
  }
  return result;
}

/**
 * {@link importBoard} over a file.
 * @param path - the export file
 * @param options - as for importBoard
 */
export async function importBoardFile(path: string, options: ImportOptions = {}): Promise<ImportResult> {
  const stream = createReadStream(path, { highWaterMark: 1 << 16 });
  try {
    return await importBoard(stream, options);
  } finally {
    stream.destroy();
  }
}

async function assertEmpty(store: BoardStore): Promise<void> {
  await store.open();
  const [head, last, cp] = await Promise.all([store.head(), store.lastEntryHeight(), store.latestCheckpoint()]);
  if (head !== undefined || last !== undefined || cp !== undefined) {
    throw new TallyError('CONFLICT', 'import: the target store is not empty');
  }
}
