/**
 * A board export's bytes (a file, an HTTP response body) turned into the records `audit`
 * consumes, using the board's own strict line reader and parsers (spec §9.7), so that framing
 * and canonical-JSON failures are reported with their line number as failures of steps 1–3
 * instead of aborting the audit.
 *
 * Browser-safe (no `node:` import): the results page's in-browser audit (web/src/audit-worker.ts)
 * reads the ballot server's streamed export through this very function, so the browser and the
 * command line judge the same bytes the same way. Streams end to end: one line in memory at a
 * time, each line capped at 8 MiB before it is decoded (bulletin/line-reader.ts).
 */
import { readLines } from '../bulletin/line-reader.js';
import { parseHeader, parseLine, parseRecord } from '../bulletin/board-file.js';
import { isTallyError } from '../src/errors.js';
import type { BoardRecord } from './audit.js';

/**
 * Parse a board export's bytes into records. The first bad line becomes ONE `invalid` record and
 * reading stops there, so an audit fails at the right step without a cascade of follow-on
 * failures (every later height would be "wrong" after a removed line).
 */
export async function* boardRecords(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<BoardRecord, void, undefined> {
  try {
    for await (const { line, text } of readLines(source)) {
      const parsed = parseLine(text);
      if (!parsed.ok) {
        yield { kind: 'invalid', check: parsed.check, reason: parsed.reason, line };
        return;
      }
      if (line === 1) {
        const h = parseHeader(parsed.value);
        if ('ok' in h) {
          yield { kind: 'invalid', check: h.check, reason: h.reason, line };
          return;
        }
        yield { kind: 'header', header: h, line };
        continue;
      }
      const r = parseRecord(parsed.value);
      if ('ok' in r) {
        yield { kind: 'invalid', check: r.check, reason: r.reason, line };
        return;
      }
      if (r.kind === 'entry') yield { kind: 'entry', entry: r.entry, hash: r.hash, line, size: text.length };
      else yield { kind: 'checkpoint', checkpoint: r.checkpoint, cosignatures: r.cosignatures, line };
    }
  } catch (e) {
    // Only the reader's own framing verdicts (BOARD_INVALID, B1) are board content; a failing
    // source (a dropped connection, a read error) is not a verdict on the board and propagates.
    if (!isTallyError(e, 'BOARD_INVALID')) throw e;
    const d = (e.details ?? {}) as { line?: number; check?: string };
    yield { kind: 'invalid', check: d.check ?? 'B1', reason: e.message, ...(d.line !== undefined ? { line: d.line } : {}) };
  }
}

/** Records of lines already in memory (tests, small boards). */
export function lineRecords(lines: readonly string[]): () => AsyncIterable<BoardRecord> {
  return () =>
    boardRecords(
      (async function* () {
        for (const l of lines) yield `${l}\n`;
      })(),
    );
}
