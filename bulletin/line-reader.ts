/**
 * The strict line reader of board export files (spec/09-board.md §9.7.1, check B1), on its own
 * so that a browser can use it: the results page's in-browser audit reads the ballot server's
 * streamed export with exactly the reader the importer and the command-line auditor use.
 * Browser-safe: no `node:` import, only TextDecoder/TextEncoder and Uint8Array.
 *
 * Why it reads lines itself instead of using node:readline or splitting decoded text:
 * readline buffers a whole line before handing it over (a file with no line feed would be read
 * into memory entirely) and silently turns invalid UTF-8 into U+FFFD. This reader counts the
 * bytes of the current line as chunks arrive and rejects it as soon as it passes the cap
 * (8 MiB) — before decoding or parsing it — and decodes with a fatal UTF-8 decoder.
 */
import { TallyError } from '../src/errors.js';
import { MAX_LINE_BYTES } from './board-file.js';
import { boardFailure, type BoardFailure } from './verify.js';

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
