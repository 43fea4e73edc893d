/**
 * The live monitor (spec §10.7): follows a board during the election, verifies each new entry
 * once with the auditor's own per-entry logic, and checks that every checkpoint extends the one
 * before it.
 *
 * Why this shape:
 * - It drives {@link Auditor} (auditor/audit.ts) record by record and saves its snapshot: the
 *   step rules live in ONE place, so every check the auditor gains (new entry types, new step
 *   checks) is a check the monitor makes, with the same identifiers, and the final verdict is
 *   the full audit's by construction (spec §10.7 says why).
 * - Per poll, in this order: the latest checkpoint (M1: signed by the board key, this election,
 *   not older than the last one); the RFC 9162 consistency proof from the last verified
 *   checkpoint (M2) BEFORE any new entry is read, so a re-signed fork is named as such and no
 *   entry of it is ever judged; then the new entries, through the batch verifier; then the
 *   checkpoint against the entries (B10–B14 at that size); then the hook; then the state is
 *   saved atomically. A crash anywhere before the save repeats this poll from the last saved
 *   state: no entry before it is read again.
 * - Alarms: any failed check, with its identifier and height, as it is found. M1/M2 and the
 *   chain checks B1–B14 halt the monitor (the board is no longer an extension of what it
 *   verified, so there is nothing sound to continue from); a failed step check (4–10) is raised
 *   and the monitor keeps following, so the final report lists everything the full audit lists.
 */
import { Auditor, type AuditOptions, type AuditReport, type BallotVerifier, type BoardRecord, type StepFailure, type StepNumber } from '../../auditor/audit.js';
import { InlineBatchVerifier } from '../../auditor/inline-batch.js';
import type { BallotVerifierPool } from '../../auditor/workers.js';
import { verifyCheckpointExtension } from '../../bulletin/client.js';
import { verifyCheckpoint, type Checkpoint } from '../../bulletin/checkpoint.js';
import { bytesEqual } from '../crypto/hash.js';
import { parseManifest } from '../election/manifest.js';
import { TallyError } from '../errors.js';
import { toHex } from '../wire.js';
import type { LiveBoard } from './live-board.js';
import { MONITOR_STATE_FORMAT, hasState, loadState, logCheckpoint, saveState, type Alarm, type MonitorState } from './state.js';

/**
 * Called for every checkpoint the monitor has verified as consistent with everything it saw
 * before: signed (M1), an extension of the last verified checkpoint (M2), and matching the
 * entries read (B10–B14), whose step checks have been run. Awaited before the monitor saves
 * its state and moves on. `state` is the state about to be saved (its `checkpoint` is this
 * one; its `alarms` list any step failure found so far — a witness may refuse to cosign
 * those). After a crash between the hook and the save the same checkpoint may be passed again:
 * the hook must be idempotent. A hook that throws stops the monitor (the state is not saved).
 */
export type OnVerifiedCheckpoint = (checkpoint: Checkpoint, state: MonitorState) => Promise<void>;

/** Called for every alarm, before the monitor continues (print it, run the --hook command). */
export type OnAlarm = (alarm: Alarm) => Promise<void>;

export interface MonitorOptions {
  readonly board: LiveBoard;
  /** the state directory */
  readonly stateDir: string;
  /** the election expected (hex fingerprint): a board of another election is refused */
  readonly fingerprint?: string;
  readonly onVerifiedCheckpoint?: OnVerifiedCheckpoint;
  readonly onAlarm?: OnAlarm;
  /** progress: a checkpoint verified */
  readonly onProgress?: (p: { readonly size: number; readonly newEntries: number; readonly seconds: number; readonly phase: string }) => void;
  /** ballot verification: a worker pool (its prefetch and verifyBallot); default: batches in this thread */
  readonly pool?: BallotVerifierPool;
  /** largest number of entries verified between two saved states (default 2000) */
  readonly segment?: number;
}

/** What one poll did. */
export interface PollResult {
  /** entries verified in this poll */
  readonly newEntries: number;
  /** the board's tree size now verified */
  readonly size: number;
  /** the final report, once the board is complete (phase tallied) */
  readonly report?: AuditReport;
  /** set when the monitor halted (M1, M2 or a chain failure) */
  readonly halted?: Alarm;
}

const DEFAULT_SEGMENT = 2000;

export class Monitor {
  readonly #o: MonitorOptions;
  #state: MonitorState | undefined;
  #auditor: Auditor | undefined;
  /** failures found while pushing a record, raised after it */
  #pending: { step: StepNumber; f: StepFailure }[] = [];
  /** the ballot verifier the auditor uses, and the read-ahead that feeds that same verifier */
  readonly #verifyBallot: BallotVerifier;
  readonly #prefetch: (src: AsyncIterable<BoardRecord>) => AsyncIterable<BoardRecord>;

  constructor(options: MonitorOptions) {
    this.#o = options;
    const pool = options.pool;
    if (pool) {
      this.#verifyBallot = pool.verifyBallot;
      this.#prefetch = (src) => pool.prefetch(src);
    } else {
      const inline = new InlineBatchVerifier();
      this.#verifyBallot = inline.verifyBallot;
      this.#prefetch = (src) => inline.prefetch(src);
    }
  }

  /** The state as last saved or built (undefined before the first poll). */
  get state(): MonitorState | undefined {
    return this.#state;
  }

  #auditorOptions(): AuditOptions {
    return {
      verifyBallot: this.#verifyBallot,
      ...(this.#o.pool ? { verifyPartialDecryption: this.#o.pool.verifyPartialDecryption } : {}),
      keepCounted: true,
      onFailure: (step: StepNumber, f: StepFailure) => void this.#pending.push({ step, f }),
    };
  }

  /** Load the saved state, or start one from the server's manifest. */
  async #open(): Promise<void> {
    if (this.#state) return;
    const options = this.#auditorOptions();
    if (hasState(this.#o.stateDir)) {
      const st = loadState(this.#o.stateDir);
      this.#state = st;
      this.#auditor = Auditor.restore(st.auditor, options);
      return;
    }
    // The header (election id and board key) comes from the manifest the server publishes; the
    // setup entry at height 0 is then checked against it (4c), and --fingerprint anchors it.
    const e = await this.#o.board.election();
    const election = parseManifest(e.manifest);
    if (this.#o.fingerprint !== undefined && election.fingerprintHex !== this.#o.fingerprint) {
      throw new TallyError('CONFLICT', `the board serves election ${election.fingerprintHex}, not the expected ${this.#o.fingerprint}`);
    }
    const a = new Auditor(options);
    await a.push({ kind: 'header', header: { electionId: election.manifest.electionId, boardPublicKey: election.boardKey } });
    this.#auditor = a;
    this.#state = { format: MONITOR_STATE_FORMAT, source: this.#o.board.source, auditor: a.snapshot(), alarms: [] };
  }

  async #raise(a: Omit<Alarm, 'at'>): Promise<Alarm> {
    const alarm: Alarm = { ...a, at: new Date().toISOString() };
    this.#state = { ...this.#state!, alarms: [...this.#state!.alarms, alarm] };
    await this.#o.onAlarm?.(alarm);
    return alarm;
  }

  async #flushFailures(): Promise<void> {
    const list = this.#pending;
    this.#pending = [];
    for (const { step, f } of list) {
      await this.#raise({ check: f.check, step, ...(f.height !== undefined ? { height: f.height } : {}), reason: f.reason });
    }
  }

  /** Halt on an M1/M2 alarm: the refused checkpoint logged, the state saved, so a restart reports it and goes no further. */
  async #halt(a: Omit<Alarm, 'at'>, refused?: Checkpoint): Promise<PollResult> {
    if (refused) logCheckpoint(this.#o.stateDir, refused, this.#o.board.source, a.check);
    const alarm = await this.#raise(a);
    this.#state = { ...this.#state!, halted: alarm };
    saveState(this.#o.stateDir, this.#state);
    return { newEntries: 0, size: this.#auditor!.size, halted: alarm };
  }

  /** The chain failed (its alarm is raised already): halt on it. */
  #haltOnChain(): PollResult {
    const alarms = this.#state!.alarms;
    const alarm = alarms[alarms.length - 1] ?? { check: 'B2', reason: 'the board chain failed', at: new Date().toISOString() };
    this.#state = { ...this.#state!, halted: alarm, auditor: this.#auditor!.snapshot() };
    saveState(this.#o.stateDir, this.#state);
    return { newEntries: 0, size: this.#state.checkpoint?.treeSize ?? 0, halted: alarm };
  }

  /**
   * One poll: catch up with the board's latest checkpoint (in segments), and if the board is
   * complete, give the final report. Network failures throw (BOARD_UNAVAILABLE…) and change
   * nothing saved; failed checks are alarms, never exceptions.
   */
  async poll(): Promise<PollResult> {
    await this.#open();
    const st0 = this.#state!;
    if (st0.halted) return { newEntries: 0, size: st0.checkpoint?.treeSize ?? 0, halted: st0.halted };
    const auditor = this.#auditor!;
    const header = auditor.boardHeader!;
    let total = 0;
    for (;;) {
      // The phase BEFORE the checkpoint: once tallied, the board grows no more, so the
      // checkpoint fetched after it is the final one.
      const { phase } = await this.#o.board.election();
      const latest = await this.#o.board.checkpoint();
      const last = this.#state!.checkpoint;
      const segment = this.#o.segment ?? DEFAULT_SEGMENT;
      let cp = latest;
      if (last && latest.treeSize - last.treeSize > segment) {
        try {
          cp = await this.#o.board.checkpoint(last.treeSize + segment);
        } catch {
          cp = latest; // a server that keeps only some checkpoints: take the latest
        }
      } else if (!last && latest.treeSize > segment) {
        try {
          cp = await this.#o.board.checkpoint(segment);
        } catch {
          cp = latest;
        }
      }
      // M1: the checkpoint is the board's, for this election, and not older than the last.
      const sig = verifyCheckpoint(header.boardPublicKey, cp);
      if (!sig.ok) return this.#halt({ check: 'M1', height: cp.treeSize, reason: `the checkpoint's signature does not verify under the board key: ${sig.message}` }, cp);
      if (cp.electionId !== header.electionId) return this.#halt({ check: 'M1', height: cp.treeSize, reason: `the checkpoint names election ${JSON.stringify(cp.electionId).slice(0, 100)}` }, cp);
      if (last) {
        if (cp.treeSize < last.treeSize || cp.timestamp < last.timestamp) {
          return this.#halt({ check: 'M1', height: cp.treeSize, reason: `the checkpoint (${cp.treeSize} entries, time ${cp.timestamp}) is older than the one verified before (${last.treeSize}, ${last.timestamp})` }, cp);
        }
        // M2: an extension of the last verified checkpoint (RFC 9162 §2.1.4), before any entry.
        if (cp.treeSize === last.treeSize) {
          if (!bytesEqual(cp.rootHash, last.rootHash) || !bytesEqual(cp.chainHead, last.chainHead)) {
            return this.#halt({ check: 'M2', height: cp.treeSize, reason: `two signed checkpoints of ${cp.treeSize} entries with different roots or heads (a fork): ${toHex(last.rootHash)} then ${toHex(cp.rootHash)}` }, cp);
          }
        } else {
          const proof = await this.#o.board.consistency(last.treeSize, cp.treeSize);
          const ext = verifyCheckpointExtension(header.boardPublicKey, last, cp, proof);
          if (!ext.ok) {
            return this.#halt({ check: 'M2', height: cp.treeSize, reason: `the checkpoint of ${cp.treeSize} entries does not extend the one of ${last.treeSize} verified before (a fork or a rewritten history): ${ext.message}` }, cp);
          }
        }
      }
      const from = auditor.size;
      const grew = cp.treeSize > from;
      if (grew) {
        const started = performance.now();
        const newEntries = await this.#readEntries(from, cp.treeSize);
        // B10–B14 at this size: the checkpoint is the one of the entries just verified.
        if (!auditor.stopped) auditor.checkpoint(cp);
        await this.#flushFailures();
        if (auditor.stopped) return this.#haltOnChain();
        await this.#flushFailures();
        total += newEntries;
        logCheckpoint(this.#o.stateDir, cp, this.#o.board.source);
        const next: MonitorState = { ...this.#state!, checkpoint: cp, auditor: auditor.snapshot() };
        await this.#o.onVerifiedCheckpoint?.(cp, next);
        this.#state = next;
        saveState(this.#o.stateDir, next);
        this.#o.onProgress?.({ size: cp.treeSize, newEntries, seconds: (performance.now() - started) / 1000, phase });
        if (cp !== latest) continue; // more segments to catch up
      }
      if (!last && !grew) {
        // The first checkpoint of an empty state covers nothing new: impossible (size ≥ 1).
        throw new TallyError('BOARD_BAD_RESPONSE', 'the board has no entries yet');
      }
      if (phase === 'tallied' && cp === latest && auditor.size === latest.treeSize) {
        return { newEntries: total, size: auditor.size, report: await this.#final(latest) };
      }
      return { newEntries: total, size: auditor.size };
    }
  }

  /** The final report: the saved auditor, finished with the final checkpoint. */
  async #final(cp: Checkpoint): Promise<AuditReport> {
    // Finish a COPY: the saved state stays the incremental one, so a restart finishes again.
    const options = this.#auditorOptions();
    const a = Auditor.restore(this.#state!.auditor, options);
    // With the witnesses' cosignatures of the final checkpoint, as the export carries them (8e).
    const cosignatures = (await this.#o.board.cosignatures?.(cp.treeSize)) ?? [];
    await a.push({ kind: 'checkpoint', checkpoint: cp, cosignatures });
    const report = await a.finish();
    await this.#flushFailures();
    this.#state = {
      ...this.#state!,
      final: { ok: report.ok, ...(report.firstFailure ? { firstFailure: report.firstFailure } : {}) },
    };
    saveState(this.#o.stateDir, this.#state);
    return report;
  }

  /** Read entries [from, to) once, in pages, through the batch verifier into the auditor. */
  async #readEntries(from: number, to: number): Promise<number> {
    const board = this.#o.board;
    const auditor = this.#auditor!;
    const prefetch = this.#prefetch;
    let n = 0;
    const source = async function* (): AsyncGenerator<BoardRecord, void, undefined> {
      let h = from;
      while (h < to) {
        const page = await board.entries(h, to - h);
        if (page.length === 0) throw new TallyError('BOARD_BAD_RESPONSE', `/api/board/entries: no entry at height ${h}, below the checkpoint's ${to}`);
        for (const { entry, hash } of page.slice(0, to - h)) {
          yield { kind: 'entry', entry, hash };
          h++;
        }
      }
    };
    for await (const rec of prefetch(source())) {
      await auditor.push(rec);
      n++;
      await this.#flushFailures();
      if (auditor.stopped) break;
    }
    return n;
  }
}
