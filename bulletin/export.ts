/**
 * Export of a board as a JSON Lines file (spec/09-board.md §9.7).
 *
 * Why streaming: a board may hold millions of entries and ballots of megabytes, so the
 * exporter writes each line as it reads the entry, honouring the destination's back-pressure,
 * and holds one page of entries at most. It exports a consistent snapshot: the size is fixed
 * when the export starts and the file ends with the checkpoint of exactly that size, so
 * appends that happen meanwhile are simply not part of this file.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { TallyError } from '../src/errors.js';
import type { Board } from './board.js';
import { checkpointLine, entryLine, headerLine } from './board-file.js';
import type { Checkpoint } from './checkpoint.js';

/** Summary of an export. */
export interface ExportSummary {
  /** Number of entries exported. */
  readonly size: number;
  /** The checkpoint on the last line. */
  readonly checkpoint: Checkpoint;
  /** Number of lines written (size + 2). */
  readonly lines: number;
}

/**
 * The lines of an export, without line feeds, as they are read from the board.
 *
 * @param board - an open board with at least one entry
 * @returns an async generator: header, one line per entry, the checkpoint of the size at
 *   the start of the export
 * @throws TallyError NOT_FOUND (on the first next()) when the board is empty
 */
export async function* exportLines(board: Board): AsyncGenerator<string, void, undefined> {
  const size = board.size;
  if (size === 0) throw new TallyError('NOT_FOUND', 'export: the board is empty (no checkpoint to end the file with)');
  // Fetched first, so the snapshot is fixed even if appends continue during the export.
  const checkpoint = await board.checkpointAt(size);
  yield headerLine({ electionId: board.electionId, boardPublicKey: board.publicKey });
  for await (const { entry, hash } of board.entries(0, size)) yield entryLine(entry, hash);
  // The cosignatures are read at the end: those that arrived during the export are included.
  yield checkpointLine(checkpoint, await board.cosignaturesAt(size));
}

/**
 * Writes an export to a writable stream, one line feed-terminated line at a time, waiting
 * for 'drain' when the stream is full. Does not end the stream.
 *
 * @param board - an open board with at least one entry
 * @param out - the destination
 * @returns the number of entries and lines, and the final checkpoint
 * @throws TallyError NOT_FOUND for an empty board; rejects with the stream's error
 */
export async function exportBoard(board: Board, out: Writable): Promise<ExportSummary> {
  const size = board.size;
  let lines = 0;
  for await (const line of exportLines(board)) {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
    lines += 1;
  }
  return { size, checkpoint: await board.checkpointAt(size), lines };
}

/**
 * Exports a board to a file (created or truncated).
 *
 * @param board - an open board with at least one entry
 * @param path - the file to write
 * @returns as {@link exportBoard}, once the file is flushed and closed
 */
export async function exportBoardFile(board: Board, path: string): Promise<ExportSummary> {
  const out = createWriteStream(path);
  try {
    const summary = await exportBoard(board, out);
    out.end();
    await finished(out);
    return summary;
  } catch (e) {
    out.destroy();
    throw e;
  }
}
