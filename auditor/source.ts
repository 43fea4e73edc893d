/**
 * Where the command-line auditor reads a board from: an export file on disk. The parsing itself
 * (bytes → records) is browser-safe and lives in records.ts; this module adds the Node file
 * source and re-exports the rest, so existing imports keep working.
 */
import { createReadStream } from 'node:fs';
import { boardRecords } from './records.js';
import type { BoardRecord } from './audit.js';

export { boardRecords, lineRecords } from './records.js';

/** Records of a board export file; call again to re-read (the auditor's second pass). */
export function fileRecords(path: string): () => AsyncIterable<BoardRecord> {
  return () => boardRecords(createReadStream(path));
}
