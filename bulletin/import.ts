/**
 * Import and verification of a board export file (spec/09-board.md §9.7, §9.8).
 *
 * Lines are read by line-reader.ts (strict framing, 8 MiB cap checked before a line is decoded,
 * fatal UTF-8), the same reader the auditor uses in Node and in the browser. Memory is bounded by
 * one line, one pending store batch and the verifier's O(log n) state, whatever the number of
 * entries.
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
import { parseHeader, parseLine, parseRecord } from './board-file.js';
import { boardInvalid, readLines } from './line-reader.js';
import type { Checkpoint } from './checkpoint.js';
import type { NodeHash } from './merkle/index.js';
import type { BoardStore, EntryRecord } from './store/interface.js';
import { ChainVerifier, boardFailure, type BoardHeader } from './verify.js';

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
      // The witnesses' cosignatures ride along (shape-checked, B3); whether they verify is an
      // election question (check 8e, which needs the manifest's witnesses), not the board's.
      if (store !== undefined) for (const c of rec.cosignatures) await store.putCosignature(c);
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
