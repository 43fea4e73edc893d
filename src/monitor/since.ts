/**
 * `verify --board FILE --since DIR [--save DIR]`: the monitor's incremental mode over a board
 * file (spec §10.7). Resumes the auditor from a saved state, checks that the file EXTENDS that
 * state — its header is the state's, and its first N entries hash to the saved checkpoint's
 * chain head and Merkle root (M2), which costs a hash per entry and no ballot verification —
 * then verifies only the entries after N, and finishes with the file's final checkpoint. The
 * report is the full audit's (same steps, same check identifiers, same verdict).
 */
import { Auditor, type AuditOptions, type AuditReport, type BoardRecord, type StepFailure, type StepNumber } from '../../auditor/audit.js';
import { ChainVerifier } from '../../bulletin/verify.js';
import { bytesEqual } from '../crypto/hash.js';
import { toHex } from '../wire.js';
import { MONITOR_STATE_FORMAT, loadState, logCheckpoint, saveState, type Alarm, type MonitorState } from './state.js';

export interface SinceOptions {
  /** the file's records (auditor/source.ts fileRecords) */
  readonly records: AsyncIterable<BoardRecord>;
  /** a name for the file, saved as the state's source */
  readonly source: string;
  /** the saved state to resume from (absent: a full audit, e.g. to `save` a first state) */
  readonly since?: string;
  /** where to save the state after the file's entries (may equal `since`) */
  readonly save?: string;
  readonly verifyBallot?: AuditOptions['verifyBallot'];
  /** the read-ahead feeding `verifyBallot` (the pool's or the inline batch verifier's prefetch) */
  readonly prefetch?: (src: AsyncIterable<BoardRecord>) => AsyncIterable<BoardRecord>;
  readonly onProgress?: (entries: number) => void;
  /** each step failure as it is found (the CLI prints it as an alarm line) */
  readonly onFailure?: (step: StepNumber, f: StepFailure) => void;
}

export type SinceResult =
  /** the file extends the state: the audit's report (of the whole board) */
  | { readonly ok: true; readonly report: AuditReport; readonly newEntries: number; readonly state: MonitorState }
  /** the file does not extend the saved state (M2), or the state is halted */
  | { readonly ok: false; readonly refused: Omit<Alarm, 'at'> };

/** Run the incremental audit of a file from a saved state. */
export async function verifySince(o: SinceOptions): Promise<SinceResult> {
  if (o.since === undefined) return fromScratch(o);
  const st = loadState(o.since);
  if (st.halted) return { ok: false, refused: { check: st.halted.check, reason: `the saved state is halted by an earlier alarm: ${st.halted.reason}`, ...(st.halted.height !== undefined ? { height: st.halted.height } : {}) } };
  const auditor = Auditor.restore(st.auditor, {
    keepCounted: true,
    ...(o.verifyBallot ? { verifyBallot: o.verifyBallot } : {}),
    ...(o.onFailure ? { onFailure: o.onFailure } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const header = auditor.boardHeader;
  const n = st.checkpoint?.treeSize ?? 0;
  const refuse = (reason: string, height?: number): SinceResult => ({ ok: false, refused: { check: 'M2', reason, ...(height !== undefined ? { height } : {}) } });

  const it = o.records[Symbol.asyncIterator]();
  // The prefix: entries [0, N) must be the ones verified before (hashes only).
  let prefix: ChainVerifier | undefined;
  let seen = 0;
  for (;;) {
    if (seen === n && prefix) break;
    const r = await it.next();
    if (r.done) return refuse(`the file ends after ${seen} entries, before the ${n} of the saved state`);
    const rec = r.value;
    if (rec.kind === 'header') {
      if (!header || rec.header.electionId !== header.electionId || !bytesEqual(rec.header.boardPublicKey, header.boardPublicKey)) {
        return refuse("the file's header (election id, board key) is not the saved state's");
      }
      prefix = new ChainVerifier(rec.header);
      continue;
    }
    if (!prefix) return refuse('the file does not start with a header');
    if (rec.kind !== 'entry') return refuse(`the file ends after ${seen} entries, before the ${n} of the saved state`, seen);
    const p = prefix.push(rec.entry, rec.hash);
    if (!p.ok) return refuse(`entry ${seen} is not the entry verified before (${p.check}: ${p.reason})`, seen);
    seen++;
  }
  if (st.checkpoint && (!bytesEqual(prefix.rootHash, st.checkpoint.rootHash) || !bytesEqual(prefix.chainHead, st.checkpoint.chainHead))) {
    return refuse(`the file's first ${n} entries have root ${toHex(prefix.rootHash)}, not the saved checkpoint's ${toHex(st.checkpoint.rootHash)}: it does not extend the saved state`, n);
  }

  // The new entries: verified, in batches, by the auditor resumed from the state.
  const tail = async function* (): AsyncGenerator<BoardRecord, void, undefined> {
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  };
  let state: MonitorState = st;
  let newEntries = 0;
  const src = o.prefetch ? o.prefetch(tail()) : tail();
  for await (const rec of src) {
    if (rec.kind === 'checkpoint' && !auditor.stopped) {
      // Checked at its size first, so the saved state names a verified checkpoint.
      if (auditor.checkpoint(rec.checkpoint)) {
        state = { format: MONITOR_STATE_FORMAT, source: o.source, checkpoint: rec.checkpoint, auditor: auditor.snapshot(), alarms: st.alarms };
        if (o.save !== undefined) {
          logCheckpoint(o.save, rec.checkpoint, o.source);
          saveState(o.save, state);
        }
      }
    }
    if (rec.kind === 'entry') newEntries++;
    await auditor.push(rec);
    if (auditor.stopped) break;
  }
  return { ok: true, report: await auditor.finish(), newEntries, state };
}

/** No saved state: the whole file through one auditor, saving the state at its checkpoint. */
async function fromScratch(o: SinceOptions): Promise<SinceResult> {
  const auditor = new Auditor({
    keepCounted: true,
    ...(o.verifyBallot ? { verifyBallot: o.verifyBallot } : {}),
    ...(o.onFailure ? { onFailure: o.onFailure } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  let state: MonitorState | undefined;
  let newEntries = 0;
  for await (const rec of o.prefetch ? o.prefetch(o.records) : o.records) {
    if (rec.kind === 'checkpoint' && !auditor.stopped && auditor.checkpoint(rec.checkpoint)) {
      state = { format: MONITOR_STATE_FORMAT, source: o.source, checkpoint: rec.checkpoint, auditor: auditor.snapshot(), alarms: [] };
      if (o.save !== undefined) {
        logCheckpoint(o.save, rec.checkpoint, o.source);
        saveState(o.save, state);
      }
    }
    if (rec.kind === 'entry') newEntries++;
    await auditor.push(rec);
    if (auditor.stopped) break;
  }
  const report = await auditor.finish();
  return { ok: true, report, newEntries, state: state ?? { format: MONITOR_STATE_FORMAT, source: o.source, auditor: auditor.snapshot(), alarms: [] } };
}
