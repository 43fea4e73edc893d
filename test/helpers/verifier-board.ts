/**
 * A BoardAccess in memory, for the verification server's tests (src/verifier/board-access.ts):
 * the board is a plan of entries (test/helpers/election-board.ts), chained and signed with the
 * fixture board key by `buildBoard` whenever it is read, and the submitted tally is appended as
 * two more entries — as the ballot server would, refusing a second tally with CONFLICT.
 *
 * It counts what the service does (status calls, reads, submissions) so that tests can assert,
 * for instance, that a refused board was never submitted to.
 */
import type { BoardRecord } from '../../auditor/audit.js';
import type { JsonValue } from '../../bulletin/value-encoding.js';
import { TallyError } from '../../src/errors.js';
import type { Election } from '../../src/election/manifest.js';
import type { BoardAccess, BoardPhase, BoardStatus } from '../../src/verifier/board-access.js';
import { buildBoard, type PlannedEntry } from './election-board.js';
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import type { Cosignature } from '../../bulletin/cosignature.js';
import type { ConsistencyProof } from '../../bulletin/proofs.js';
import { encodeEntry } from '../../bulletin/entry.js';
import { buildConsistencyProof } from '../../bulletin/merkle/proof-builder.js';
import { rootFromLeafHashes } from '../../bulletin/merkle/frontier.js';
import { checkpointLine, entryLine, headerLine } from '../../bulletin/board-file.js';

/** The Merkle leaf hashes of a board's entries, in order. */
export function leafHashes(records: readonly BoardRecord[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const r of records) if (r.kind === 'entry') out.push(encodeEntry(r.entry).leafHash);
  return out;
}

export interface MemoryBoard extends BoardAccess {
  /** the entries, in board order (mutable: a test may append or forge) */
  readonly plan: PlannedEntry[];
  /** every accepted submission */
  readonly submissions: { encryptedTally: unknown; result: unknown }[];
  /** calls so far */
  readonly calls: { status: number; records: number; submit: number; checkpoint: number };
  /** the board's records as they are now */
  snapshot(): BoardRecord[];
}

export interface MemoryBoardOptions {
  /** report this phase instead of the one derived from the plan (a stale or lying status) */
  readonly phase?: BoardPhase;
  /** clock for 'scheduled' vs 'open' (default: the last entry's timestamp) */
  readonly now?: () => number;
}

/** The phase a plan is in, as the ballot server would report it. */
export function planPhase(election: Election, plan: readonly PlannedEntry[], now: number): BoardPhase {
  if (plan.some((p) => p.type === 'result')) return 'tallied';
  if (plan.some((p) => p.type === 'close')) return 'closed';
  return now < election.startMs ? 'scheduled' : 'open';
}

/**
 * A memory board over `plan` (taken as is, not copied).
 * @param election - the election of the plan's setup entry (for the phase and timestamps)
 * @param plan - the entries so far, starting with the setup entry
 */
export function memoryBoardAccess(election: Election, plan: PlannedEntry[], options: MemoryBoardOptions = {}): MemoryBoard {
  const submissions: { encryptedTally: unknown; result: unknown }[] = [];
  const calls = { status: 0, records: 0, submit: 0, checkpoint: 0 };
  const pending: { encryptedTally?: unknown } = {};
  const lastTs = () => plan[plan.length - 1]!.timestamp;
  const now = options.now ?? lastTs;
  return {
    plan,
    submissions,
    calls,
    snapshot: () => buildBoard(election, plan),
    async status(): Promise<BoardStatus> {
      calls.status++;
      return { size: plan.length, phase: options.phase ?? planPhase(election, plan, now()) };
    },
    async *records(): AsyncIterable<BoardRecord> {
      calls.records++;
      for (const r of buildBoard(election, plan)) yield r;
    },
    async checkpoint(): Promise<Checkpoint> {
      calls.checkpoint++;
      const recs = buildBoard(election, plan);
      const last = recs[recs.length - 1]!;
      if (last.kind !== 'checkpoint') throw new Error('buildBoard ends with a checkpoint');
      return last.checkpoint;
    },
    async consistency(size1: number, size2: number): Promise<ConsistencyProof> {
      const leaves = leafHashes(buildBoard(election, plan));
      if (!(size1 >= 1 && size1 <= size2 && size2 <= leaves.length)) throw new TallyError('OUT_OF_RANGE', `sizes ${size1} → ${size2}`);
      const hashes = await buildConsistencyProof(size1, size2, (a, b) => rootFromLeafHashes(leaves.slice(a, b)));
      return { size1, size2, hashes };
    },
    async cosignatures(): Promise<Cosignature[]> {
      return [];
    },
    async submitEncryptedTally(encryptedTally: unknown): Promise<void> {
      calls.submit++;
      const phase = planPhase(election, plan, now());
      if (phase === 'tallied') throw new TallyError('CONFLICT', 'the tally is already published');
      if (phase !== 'closed') throw new TallyError('CONFLICT', 'the election is not closed yet');
      if (plan.some((p) => p.type === 'encrypted-tally')) return;
      plan.push({ type: 'encrypted-tally', payload: structuredClone(encryptedTally) as JsonValue, timestamp: lastTs() + 1 });
      pending.encryptedTally = encryptedTally;
    },
    async submitPartialDecryption(partial: unknown): Promise<void> {
      if (plan.some((p) => p.type === 'result')) throw new TallyError('RESULT_PUBLISHED', 'the result is already published');
      if (plan.some((p) => p.type === 'partial-decryption' && JSON.stringify(p.payload) === JSON.stringify(partial))) return;
      plan.push({ type: 'partial-decryption', payload: structuredClone(partial) as JsonValue, timestamp: lastTs() + 1 });
    },
    async submitResult(result: unknown): Promise<void> {
      if (plan.some((p) => p.type === 'result')) throw new TallyError('CONFLICT', 'the tally is already published');
      plan.push({ type: 'result', payload: structuredClone(result) as JsonValue, timestamp: lastTs() + 1 });
      submissions.push({ encryptedTally: pending.encryptedTally, result });
    },
  };
}

/** The export file of a list of records, as bulletin/export.ts writes it. */
export function exportText(records: readonly BoardRecord[]): string {
  return records
    .map((r) => {
      if (r.kind === 'header') return headerLine(r.header);
      if (r.kind === 'entry') return entryLine(r.entry, r.hash!);
      if (r.kind === 'checkpoint') return checkpointLine(r.checkpoint);
      throw new Error('no invalid records in an export');
    })
    .map((l) => `${l}\n`)
    .join('');
}
