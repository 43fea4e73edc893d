/**
 * The monitor's state on disk (spec §10.7): a directory holding
 *
 * - `state.json`: the auditor's snapshot after the last verified checkpoint (chain head, Merkle
 *   frontier, counted set, running products, issuance count, step reports so far), that
 *   checkpoint, the alarms raised, and the final report once the board is complete. Replaced
 *   atomically: written to a temporary file in the same directory, fsync'd, renamed over the old
 *   one, and the directory fsync'd — after a kill -9 the file is the old state or the new one,
 *   never a mixture.
 * - `checkpoints.jsonl`: every checkpoint the monitor verified, one JSON line each, appended
 *   (and fsync'd) BEFORE the state that depends on it is saved, and the checkpoint that made it
 *   halt (M1, M2), marked `refused`: the evidence to compare with other monitors and to show
 *   anyone a fork (two signed checkpoints that cannot both be true). After a crash it may hold
 *   one checkpoint more than `state.json` names.
 *
 * `verify --board FILE --since DIR --save DIR` reads and writes the same format, so a state
 * saved by either can be resumed by the other.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditorSnapshot } from '../../auditor/audit.js';
import { checkpointFromJson, checkpointToJson, type Checkpoint, type CheckpointJson } from '../../bulletin/checkpoint.js';
import { TallyError } from '../errors.js';

/** `format` of a state file. */
export const MONITOR_STATE_FORMAT = 'tallyboard-monitor/1';

/** One alarm: a failed check, named by its spec identifier (spec §10.7). */
export interface Alarm {
  /** the check identifier: a step check of §10.2 (e.g. 'B5', '6d', '7b'), or M1/M2 of §10.7 */
  readonly check: string;
  /** the audit step (1–10) for a step check; absent for M1/M2 */
  readonly step?: number;
  /** the entry height concerned, or for M1/M2 the tree size of the refused checkpoint */
  readonly height?: number;
  readonly reason: string;
  /** ISO time the alarm was raised */
  readonly at: string;
}

/** The saved state. */
export interface MonitorState {
  readonly format: typeof MONITOR_STATE_FORMAT;
  /** where the board was read from (informative) */
  readonly source: string;
  /** the last checkpoint verified against the entries and the one before it (undefined at the start) */
  readonly checkpoint?: Checkpoint;
  /** the auditor after the entries `checkpoint` covers */
  readonly auditor: AuditorSnapshot;
  /** every alarm raised so far, oldest first */
  readonly alarms: readonly Alarm[];
  /**
   * set by an M1/M2 alarm or a chain failure: the board can no longer be followed (it is not an
   * extension of what was verified); a restarted monitor only reports it
   */
  readonly halted?: Alarm;
  /** once the board is complete (tallied): the final verdict */
  readonly final?: { readonly ok: boolean; readonly firstFailure?: { readonly step: number; readonly check: string; readonly height?: number } };
}

interface StateFile extends Omit<MonitorState, 'checkpoint'> {
  readonly checkpoint?: CheckpointJson;
}

const STATE = 'state.json';
const LOG = 'checkpoints.jsonl';

/** True when `dir` holds a saved state. */
export function hasState(dir: string): boolean {
  return existsSync(join(dir, STATE));
}

/**
 * Read a saved state.
 * @throws TallyError NOT_FOUND without one; MALFORMED for a file that is not a state
 */
export function loadState(dir: string): MonitorState {
  const p = join(dir, STATE);
  if (!existsSync(p)) throw new TallyError('NOT_FOUND', `no monitor state in ${dir} (expected ${STATE})`);
  let f: StateFile;
  try {
    f = JSON.parse(readFileSync(p, 'utf8')) as StateFile;
  } catch (e) {
    throw new TallyError('MALFORMED', `${p}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof f !== 'object' || f === null || f.format !== MONITOR_STATE_FORMAT || typeof f.auditor !== 'object' || !Array.isArray(f.alarms)) {
    throw new TallyError('MALFORMED', `${p}: not a ${MONITOR_STATE_FORMAT} state`);
  }
  const { checkpoint, ...rest } = f;
  return { ...rest, ...(checkpoint !== undefined ? { checkpoint: checkpointFromJson(checkpoint) } : {}) };
}

/** Write `text` to `path` atomically and durably: temporary file, fsync, rename, fsync of the directory. */
function writeAtomic(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  syncDir(dir);
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Save the state (atomically, see the module comment). */
export function saveState(dir: string, state: MonitorState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { checkpoint, ...rest } = state;
  const f: StateFile = { ...rest, ...(checkpoint !== undefined ? { checkpoint: checkpointToJson(checkpoint) } : {}) };
  writeAtomic(dir, STATE, `${JSON.stringify(f)}\n`);
}

/**
 * Append a checkpoint to the directory's log (fsync'd before returning): a verified one, or
 * with `refused` the check (M1, M2) it failed — the evidence of a fork.
 */
export function logCheckpoint(dir: string, cp: Checkpoint, source: string, refused?: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = openSync(join(dir, LOG), 'a', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ ...checkpointToJson(cp), seenAt: new Date().toISOString(), source, ...(refused !== undefined ? { refused } : {}) })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The checkpoints logged so far, verified and refused (for tests and for comparing monitors). */
export function loggedCheckpoints(dir: string): (Checkpoint & { readonly refused?: string })[] {
  const p = join(dir, LOG);
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const j = JSON.parse(l) as { refused?: unknown };
      const cp = checkpointFromJson(j, ['seenAt', 'source', 'refused'].filter((k) => Object.hasOwn(j, k)));
      return typeof j.refused === 'string' ? { ...cp, refused: j.refused } : cp;
    });
}
