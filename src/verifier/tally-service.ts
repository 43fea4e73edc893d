/**
 * The verification server's one job (issue #4, spec/08-tally.md): once the election is closed,
 * re-verify the whole board, decrypt the encrypted tally it recomputed itself, with proof, and
 * publish the `encrypted-tally` and `result` entries.
 *
 * The rule this file exists to enforce: the key holder never decrypts a product containing a
 * ciphertext it has not verified. A board operator who could slip an unverified ciphertext into
 * the product — a victim's ballot raised to a power, say — would learn that victim's vote from
 * the published total. So nothing the board says is trusted:
 *   - the full audit (auditor/audit.ts, stage 'tally': steps 1–8, every ballot proof, the
 *     revote rule) runs over the board as read, and the product is the auditor's own;
 *   - the auditor's second pass (revotes) is guarded against a board that changes between
 *     reads (the auditor re-verifies its second read, audit.ts);
 *   - the board must be THIS election's (same fingerprint as the configured manifest);
 *   - any failure means 'refused': logged loudly, nothing decrypted, nothing submitted.
 * Before submitting, the service checks its own opening against its own product (verifyTally),
 * so that it never publishes a result an auditor would reject.
 *
 * The key holder decrypts at most once, and only a board consistent with every checkpoint it
 * has seen (issue 10.1, spec §8.5): a ballot server serving forks must not be able to turn this
 * server into a decryption oracle. The poller records the board's signed checkpoint on every
 * tick during the election, each checked against the largest one recorded by an RFC 9162
 * consistency proof; the close checkpoint of the audited board is checked the same way; the
 * intent (close checkpoint and ciphertexts) is journaled BEFORE decrypting and the payloads
 * BEFORE submitting, so that after a crash or a refused submission the server only ever
 * re-submits what it decrypted (tally-journal.ts). An inconsistency raises a permanent alarm.
 *
 * Concurrency: at most one tally attempt runs at a time (one in-flight promise shared by the
 * poller and the admin route). Publication is idempotent on the board's side: a second tally
 * is refused with CONFLICT, which means another run published first ('already-tallied').
 *
 * Secrecy: the secret key lives in a #private field (not enumerable, not serialized, not shown
 * by util.inspect); it is used only by decryptTally and never logged or returned.
 */
import { audit, STEP_TITLES, type AuditReport, type BoardRecord } from '../../auditor/audit.js';
import { BallotVerifierPool } from '../../auditor/workers.js';
import type { PaillierSecretKey } from '../crypto/paillier.js';
import { TallyError, isTallyError } from '../errors.js';
import type { Election } from '../election/manifest.js';
import { encryptedTallyPayload, parseEncryptedTally, parseResult, resultPayload } from '../election/records.js';
import { resultsView, type ResultsView } from '../election/results-view.js';
import { decryptTally, verifyTally, type QuestionResult } from '../election/tally.js';
import { type BoardAccess, type BoardPhase } from './board-access.js';
import { verifyCheckpoint, type Checkpoint } from '../../bulletin/checkpoint.js';
import { verifyConsistency } from '../../bulletin/merkle/verify.js';
import { verifyCosignature } from '../../bulletin/cosignature.js';
import { toHex } from '../wire.js';
import { MemoryTallyJournal, sameIntent, type DecryptionIntent, type DecryptionRecord, type TallyJournal } from './tally-journal.js';

/** The logging the service needs; a pino / fastify logger fits. */
export interface VerifierLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** One reason a board was refused: a failed audit check, or a mismatch found by the service. */
export interface RefusalReason {
  /** the audit step (spec §10.2), when the failure is an audit failure */
  readonly step?: number;
  readonly title?: string;
  /** the most specific check id: 'B5', '5.4f', '8c', … or 'election' / 'tally' */
  readonly check: string;
  readonly height?: number;
  readonly reason: string;
}

/** What one tally attempt did. */
export type TallyOutcome =
  /** this run decrypted and published the tally */
  | { readonly outcome: 'tallied'; readonly ballotsCounted: number }
  /** the board already holds a tally (published by an earlier or concurrent run) */
  | { readonly outcome: 'already-tallied' }
  /** the election is not closed yet */
  | { readonly outcome: 'not-closed'; readonly phase: 'scheduled' | 'open' }
  /**
   * closed, but the close checkpoint does not carry the witnesses' quorum yet (spec §11.6):
   * nothing is decrypted until it does; `witnesses` names those whose cosignature is missing
   */
  | { readonly outcome: 'awaiting-witnesses'; readonly treeSize: number; readonly cosigned: readonly string[]; readonly witnesses: readonly string[]; readonly quorum: number }
  /** the board fails verification: nothing was decrypted or submitted */
  | { readonly outcome: 'refused'; readonly failures: readonly RefusalReason[] };

/**
 * The service's state, for the health route: 'pending' until a conclusive outcome, 'tallying'
 * while an attempt runs, then 'tallied', 'refused', or 'failed' (an error that polling does not
 * retry; see {@link TallyService.start}).
 */
export type TallyState = 'pending' | 'tallying' | 'tallied' | 'refused' | 'failed';

/** Options of the TallyService. */
export interface TallyServiceOptions {
  /** SECRET: the election's Paillier secret key */
  readonly secretKey: PaillierSecretKey;
  /** the election this server tallies (its configured manifest) */
  readonly election: Election;
  /** the board */
  readonly board: BoardAccess;
  /** logger (default: silent) */
  readonly logger?: VerifierLogger;
  /** poll interval after the end time, 10 ≤ pollMs ≤ 1 hour (default 2000) */
  readonly pollMs?: number;
  /** clock, ms since the epoch (default Date.now) */
  readonly now?: () => number;
  /**
   * Worker threads that verify the ballots during the audit (default 0: on the event loop;
   * the servers built by src/server/election-servers.ts use one per CPU). With workers the
   * server keeps answering (health, results) during a long tally instead of stalling for the
   * whole audit (issue 16.4).
   */
  readonly workers?: number;
  /**
   * The journal of checkpoints seen and of the one decryption (default: in memory, forgotten on
   * restart — only for tests and the one-process demo; `serve` uses tally-journal-file.ts).
   */
  readonly journal?: TallyJournal;
}

/** Refusal reasons listed at most (the audit report has the counts). */
const MAX_REASONS = 20;
/** setTimeout's largest delay. */
const MAX_DELAY = 2 ** 31 - 1;

const silent: VerifierLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function errorInfo(e: unknown): Record<string, unknown> {
  return isTallyError(e) ? { code: e.code, message: e.message } : { message: e instanceof Error ? e.message : String(e) };
}

/** The verification server's tally: see the file header. */
export class TallyService {
  readonly election: Election;
  readonly #sk: PaillierSecretKey;
  readonly #board: BoardAccess;
  readonly #log: VerifierLogger;
  readonly #pollMs: number;
  readonly #now: () => number;
  readonly #workers: number;
  readonly #journal: TallyJournal;
  /** ballot verifications dispatched to worker threads by past and current attempts (tests) */
  #dispatched = 0;
  #inflight: Promise<TallyOutcome> | undefined;
  #results: ResultsView | undefined;
  /** the board's published tally was audited and does NOT verify */
  #publishedInvalid = false;
  #state: TallyState = 'pending';
  #phase: BoardPhase | undefined;
  #polling = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param opts - see TallyServiceOptions
   * @throws TallyError BAD_PRIVATE_KEY if the secret key is not the election's
   *   (secretKey.publicKey.n ≠ election.paillier.n); OUT_OF_RANGE for a bad pollMs
   */
  constructor(opts: TallyServiceOptions) {
    if (opts.secretKey.publicKey.n !== opts.election.paillier.n) {
      throw new TallyError('BAD_PRIVATE_KEY', "the secret key is not the election's: its modulus differs from the manifest's keys.paillier.n");
    }
    const pollMs = opts.pollMs ?? 2000;
    if (!Number.isSafeInteger(pollMs) || pollMs < 10 || pollMs > 3_600_000) {
      throw new TallyError('OUT_OF_RANGE', `pollMs: expected an integer in [10, 3600000], got ${String(pollMs)}`);
    }
    this.election = opts.election;
    this.#sk = opts.secretKey;
    this.#board = opts.board;
    this.#log = opts.logger ?? silent;
    this.#pollMs = pollMs;
    this.#now = opts.now ?? Date.now;
    const workers = opts.workers ?? 0;
    if (!Number.isSafeInteger(workers) || workers < 0 || workers > 256) {
      throw new TallyError('OUT_OF_RANGE', `workers: expected an integer in [0, 256], got ${String(workers)}`);
    }
    this.#workers = workers;
    this.#journal = opts.journal ?? new MemoryTallyJournal();
  }

  /** Ballot verifications run on worker threads so far (0 when the service runs without workers). */
  get verificationsOnWorkers(): number {
    return this.#dispatched;
  }

  /** The published (or just decrypted and published) results, once known; each option with its id and count. */
  get results(): ResultsView | undefined {
    return this.#results;
  }

  /** See {@link TallyState}. */
  get state(): TallyState {
    return this.#inflight !== undefined ? 'tallying' : this.#state;
  }

  /** The election's phase as last seen on the board, if it was ever read. */
  get phase(): BoardPhase | undefined {
    return this.#phase;
  }

  /** Whether the poller started by {@link start} is active. */
  get polling(): boolean {
    return this.#polling;
  }

  /**
   * Run one tally attempt, or join the one in flight.
   * @returns the outcome (see TallyOutcome)
   * @throws TallyError BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE when the board cannot be read or
   *   written; BOARD_INVALID when it changes between two reads (nothing is decrypted then);
   *   the board's refusal of the submission other than CONFLICT; TALLY_OVERFLOW / INTERNAL if
   *   the decryption does not check out (nothing is submitted then)
   */
  tallyOnce(): Promise<TallyOutcome> {
    this.#inflight ??= this.#attempt().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /**
   * Start tallying without an operator: try now, then at the election's end time, then every
   * pollMs, until the board is tallied (by this or another run) and its results are loaded. A
   * refused board, a published tally that does not verify, and errors other than the board
   * being unavailable stop the poller (logged; the admin route can retry). Idempotent.
   */
  start(): void {
    if (this.#polling) return;
    this.#polling = true;
    void this.#tick();
  }

  /**
   * Stop polling and wait for an attempt in flight to settle.
   * @returns once no attempt is running
   */
  async stop(): Promise<void> {
    this.#polling = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inflight?.catch(() => undefined);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (!this.#polling) return;
    let retry = true;
    try {
      const o = await this.tallyOnce();
      // Keep going until the results are known, unless the published tally is known to be bad.
      retry = o.outcome === 'not-closed' || o.outcome === 'awaiting-witnesses' || (o.outcome === 'already-tallied' && this.#results === undefined && !this.#publishedInvalid);
    } catch (e) {
      retry = isTallyError(e, 'BOARD_UNAVAILABLE') || isTallyError(e, 'BOARD_BAD_RESPONSE');
      if (retry) this.#log.warn({ err: errorInfo(e) }, 'tally attempt failed; retrying');
      else this.#log.error({ err: errorInfo(e) }, 'tally attempt failed; polling stopped (POST /admin/tally to retry)');
    }
    if (!retry) this.#polling = false;
    if (!this.#polling) return;
    // During the election too: each tick records the board's checkpoint (spec §8.5), so that a
    // fork served at tally time is inconsistent with what this server saw.
    const wait = this.election.endMs - this.#now();
    this.#timer = setTimeout(() => void this.#tick(), wait > 0 ? Math.min(wait, this.#pollMs, MAX_DELAY) : this.#pollMs);
    this.#timer.unref();
  }

  async #attempt(): Promise<TallyOutcome> {
    try {
      const o = await this.#tally();
      this.#state = o.outcome === 'tallied' || o.outcome === 'already-tallied' ? 'tallied' : o.outcome === 'refused' ? 'refused' : 'pending';
      return o;
    } catch (e) {
      this.#state = isTallyError(e, 'BOARD_UNAVAILABLE') || isTallyError(e, 'BOARD_BAD_RESPONSE') ? 'pending' : 'failed';
      throw e;
    }
  }

  async #tally(): Promise<TallyOutcome> {
    const alarm = await this.#journal.alarm();
    if (alarm !== undefined) {
      const failures = [{ check: 'journal', reason: `this server saw an inconsistent board before and never decrypts again: ${alarm}` }];
      this.#log.error({ electionId: this.election.manifest.electionId, failures }, 'REFUSING TO DECRYPT: a fork or split view was recorded');
      return { outcome: 'refused', failures };
    }
    const status = await this.#board.status();
    this.#phase = status.phase;
    if (status.phase === 'scheduled' || status.phase === 'open') {
      const why = await this.#watch();
      if (why !== undefined) return this.#refuseInconsistent(why);
      return { outcome: 'not-closed', phase: status.phase };
    }
    if (status.phase === 'tallied') return this.#alreadyTallied();
    // Decrypted before: never again; only ever re-submit what was decrypted (spec §8.5).
    const done = await this.#journal.decryption();
    if (done?.published !== undefined) return this.#resubmit(done);

    // The witnesses' quorum on the close checkpoint (spec §11.6), before anything is read for
    // decryption. A poller: it waits for the cosignatures, however long they take, and says
    // whose it waits for; the audit below checks them again (8e) on the board it reads.
    if (this.election.witnessQuorum > 0 && done === undefined) {
      const waiting = await this.#awaitingWitnesses();
      if (waiting !== undefined) return waiting;
    }

    let close: Checkpoint | undefined;
    const { report, refusal } = await this.#audit('tally', (rec) => {
      if (rec.kind === 'checkpoint') close = rec.checkpoint;
    });
    if (!report.ok || refusal.length > 0 || report.tally === undefined) {
      // Tallied between the status and the read? Then the audit failed 8c, and that is fine.
      const again = await this.#board.status().catch(() => undefined);
      if (again?.phase === 'tallied') {
        this.#phase = 'tallied';
        return this.#alreadyTallied();
      }
      const failures = refusal.length > 0 ? refusal : [{ check: 'tally', reason: 'the audit did not pass or returned no encrypted tally' }];
      this.#log.error(
        { electionId: this.election.manifest.electionId, failures, failureCount: report.steps.reduce((s, x) => s + x.failureCount, 0) },
        'REFUSING TO DECRYPT: the board fails verification; nothing was decrypted or published',
      );
      return { outcome: 'refused', failures };
    }

    const { ciphertexts, ballotsCounted } = report.tally;
    if (ciphertexts.length !== this.election.questions.length) {
      throw new TallyError('INTERNAL', `the audit returned ${ciphertexts.length} tally ciphertexts for ${this.election.questions.length} questions`);
    }
    if (close === undefined || close.treeSize !== report.entries) {
      return { outcome: 'refused', failures: [{ check: 'tally', reason: 'the audited board has no checkpoint of its close' }] };
    }
    // The close must extend everything this server saw of the board (a fork does not).
    const why = await this.#observe(close, 'the board at its close');
    if (why !== undefined) return this.#refuseInconsistent(why);
    const intent: DecryptionIntent = { checkpoint: close, ciphertexts: ciphertexts.map((c) => c.toString(16)), ballotsCounted };
    if (done !== undefined && !sameIntent(done, intent)) {
      const failures = [
        {
          check: 'journal',
          reason:
            `this server already began decrypting another board (close at size ${done.checkpoint.treeSize}, root ${toHex(done.checkpoint.rootHash)}); ` +
            `it decrypts at most once, and this board (size ${close.treeSize}, root ${toHex(close.rootHash)}) differs`,
        },
      ];
      this.#log.error({ electionId: this.election.manifest.electionId, failures }, 'REFUSING TO DECRYPT: a second, different board');
      return { outcome: 'refused', failures };
    }
    // Journaled before decrypting: after a crash, only these ciphertexts may be decrypted again.
    await this.#journal.recordIntent(intent);
    const results = decryptTally(this.#sk, this.election, ciphertexts);
    // Never publish what an auditor would reject.
    const self = verifyTally(this.election, ciphertexts, results);
    if (!self.ok) throw new TallyError('INTERNAL', `the decryption does not verify against its own product (question ${self.question}, ${self.check})`);
    const published = { encryptedTally: encryptedTallyPayload(this.election, { ciphertexts, ballotsCounted }), result: resultPayload(this.election, results) };
    // Journaled before submitting: from now on this server only re-submits these payloads.
    await this.#journal.recordPublished(published);
    try {
      await this.#board.submitTally(published.encryptedTally, published.result);
    } catch (e) {
      if (!isTallyError(e, 'CONFLICT')) throw e;
      this.#log.warn({ err: errorInfo(e) }, 'the board refused the tally as a conflict: already tallied by another run');
      return this.#alreadyTallied();
    }
    this.#phase = 'tallied';
    this.#results = resultsView(this.election, results, ballotsCounted);
    this.#log.info({ electionId: this.election.manifest.electionId, ballotsCounted }, 'tally decrypted and published');
    return { outcome: 'tallied', ballotsCounted };
  }

  /**
   * Re-submit the recorded result (this server decrypted before; it never decrypts again).
   * A CONFLICT means the board holds a tally: load it as usual. A refusal other than the board
   * being unavailable means the ballot server's board is not the one decrypted: refused.
   */
  async #resubmit(done: DecryptionRecord): Promise<TallyOutcome> {
    const published = done.published!;
    try {
      await this.#board.submitTally(published.encryptedTally, published.result);
    } catch (e) {
      if (isTallyError(e, 'CONFLICT')) return this.#alreadyTallied();
      if (isTallyError(e, 'BOARD_UNAVAILABLE') || isTallyError(e, 'BOARD_BAD_RESPONSE')) throw e;
      const failures = [{ check: 'journal', reason: `the ballot server refuses the result this server decrypted before (${isTallyError(e) ? e.code : 'error'}); it never decrypts again` }];
      this.#log.error({ electionId: this.election.manifest.electionId, failures, err: errorInfo(e) }, 'REFUSING TO DECRYPT AGAIN: the board is not the one decrypted');
      return { outcome: 'refused', failures };
    }
    this.#phase = 'tallied';
    this.#results = resultsView(this.election, parseResult(this.election, published.result), done.ballotsCounted);
    this.#log.info({ electionId: this.election.manifest.electionId, ballotsCounted: done.ballotsCounted }, 'the recorded tally was re-submitted and published (no new decryption)');
    return { outcome: 'tallied', ballotsCounted: done.ballotsCounted };
  }

  /** Undefined when the board's latest checkpoint carries the quorum; otherwise the outcome. */
  async #awaitingWitnesses(): Promise<TallyOutcome | undefined> {
    const cp = await this.#board.checkpoint();
    const valid: string[] = [];
    for (const c of (await this.#board.cosignatures?.(cp.treeSize)) ?? []) {
      if (!valid.includes(c.name) && verifyCosignature(this.election.witnesses, this.election.boardKey, cp, c).ok) valid.push(c.name);
    }
    const quorum = this.election.witnessQuorum;
    if (valid.length >= quorum) return undefined;
    const missing = this.election.witnesses.map((w) => w.name).filter((n) => !valid.includes(n));
    this.#log.info(
      { electionId: this.election.manifest.electionId, treeSize: cp.treeSize, cosigned: valid, missing, quorum },
      `waiting for the witnesses: the close checkpoint (size ${cp.treeSize}) carries ${valid.length} of the ${quorum} cosignatures required before decrypting (missing: ${missing.join(', ')})`,
    );
    return { outcome: 'awaiting-witnesses', treeSize: cp.treeSize, cosigned: valid, witnesses: missing, quorum };
  }

  /**
   * During the election: record the board's latest checkpoint, checked against the largest seen.
   * @returns the inconsistency, if any (the board being unreachable is not one: logged only)
   */
  async #watch(): Promise<string | undefined> {
    try {
      return await this.#observe(await this.#board.checkpoint(), 'the board during the election');
    } catch (e) {
      if (!isTallyError(e, 'BOARD_UNAVAILABLE') && !isTallyError(e, 'BOARD_BAD_RESPONSE')) throw e;
      this.#log.warn({ err: errorInfo(e) }, 'could not read the board checkpoint; will retry');
      return undefined;
    }
  }

  /**
   * Check a checkpoint against the largest one recorded and record it (spec §8.5): the board
   * key's signature, this election, and an RFC 9162 consistency proof between the two sizes (the
   * same size needs the same root and chain head).
   * @returns why it is inconsistent, or undefined once it is recorded (or already was)
   * @throws TallyError BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE if the proof cannot be fetched
   */
  async #observe(cp: Checkpoint, what: string): Promise<string | undefined> {
    if (!verifyCheckpoint(this.election.boardKey, cp).ok) return `${what}: the checkpoint of size ${cp.treeSize} is not signed by the board key`;
    if (cp.electionId !== this.election.manifest.electionId) return `${what}: the checkpoint is for another election (${JSON.stringify(cp.electionId).slice(0, 80)})`;
    const largest = await this.#journal.largestCheckpoint();
    if (largest !== undefined) {
      if (cp.treeSize === largest.treeSize) {
        if (toHex(cp.rootHash) === toHex(largest.rootHash) && toHex(cp.chainHead) === toHex(largest.chainHead)) return undefined;
        return `${what}: two signed checkpoints of size ${cp.treeSize} with different roots (${toHex(largest.rootHash)} seen before, now ${toHex(cp.rootHash)})`;
      }
      const [small, big] = cp.treeSize < largest.treeSize ? [cp, largest] : [largest, cp];
      let proof;
      try {
        proof = await this.#board.consistency(small.treeSize, big.treeSize);
      } catch (e) {
        // Unreachable: try again later. Any other refusal: the board cannot prove that it
        // extends what it signed before (a rollback or a fork).
        if (!isTallyError(e) || isTallyError(e, 'BOARD_UNAVAILABLE') || isTallyError(e, 'BOARD_BAD_RESPONSE')) throw e;
        return `${what}: the board cannot prove that its checkpoint of size ${cp.treeSize} is consistent with the one of size ${largest.treeSize} seen before (${(e as TallyError).code})`;
      }
      const v = verifyConsistency(small.treeSize, big.treeSize, proof.hashes, small.rootHash, big.rootHash);
      if (!v.ok) {
        return `${what}: the signed checkpoint of size ${cp.treeSize} is not consistent with the one of size ${largest.treeSize} seen before (RFC 9162: ${v.reason})`;
      }
    }
    await this.#journal.recordCheckpoint(cp);
    return undefined;
  }

  /** A fork or split view: recorded for good, loudly logged; nothing is decrypted. */
  async #refuseInconsistent(why: string): Promise<TallyOutcome> {
    await this.#journal.raiseAlarm(why);
    const failures = [{ check: 'consistency', reason: why }];
    this.#log.error({ electionId: this.election.manifest.electionId, failures }, 'REFUSING TO DECRYPT: the board is inconsistent with checkpoints seen before (a fork or split view)');
    return { outcome: 'refused', failures };
  }

  /**
   * The board holds a tally: load its result for the API unless already known, after a full
   * audit (stage 'final', all ten steps) — a published result is shown only if it verifies.
   * A failure to load is logged, never thrown: the outcome is the same.
   */
  async #alreadyTallied(): Promise<TallyOutcome> {
    if (this.#results !== undefined) return { outcome: 'already-tallied' };
    let resultJson: unknown;
    let tallyJson: unknown;
    try {
      const { report, refusal } = await this.#audit('final', (rec) => {
        if (rec.kind !== 'entry') return;
        if (rec.entry.type === 'result' && resultJson === undefined) resultJson = rec.entry.payload;
        if (rec.entry.type === 'encrypted-tally' && tallyJson === undefined) tallyJson = rec.entry.payload;
      });
      if (refusal.length > 0 || !report.ok) {
        this.#publishedInvalid = true;
        this.#log.error({ failures: refusal }, 'the published tally does NOT verify; its results are not served');
      } else {
        const results: QuestionResult[] = parseResult(this.election, resultJson);
        const { ballotsCounted } = parseEncryptedTally(this.election, tallyJson);
        this.#results = resultsView(this.election, results, ballotsCounted);
        this.#log.info({ electionId: this.election.manifest.electionId, ballotsCounted }, 'the published tally verifies; results loaded');
      }
    } catch (e) {
      this.#log.warn({ err: errorInfo(e) }, 'could not load the published tally; will retry on the next attempt');
    }
    return { outcome: 'already-tallied' };
  }

  /** Audit the board as read now; refusal = the failures, plus an election mismatch. */
  async #audit(stage: 'tally' | 'final', tap?: (rec: BoardRecord) => void): Promise<{ report: AuditReport; refusal: RefusalReason[] }> {
    // The auditor re-verifies the chain on its second read and requires the same close entry,
    // so a board served differently the second time fails the audit (audit.ts, step 9).
    const records = this.#board.records();
    const first = tap === undefined ? records : tee(records, tap);
    // The pool lives for one audit: a tally runs rarely, and idle threads would hold memory.
    const pool = this.#workers > 0 ? new BallotVerifierPool({ workers: this.#workers }) : undefined;
    let report: AuditReport;
    try {
      report = await audit(pool ? pool.prefetch(first) : first, {
        stage,
        reopen: () => this.#board.records(),
        ...(pool ? { verifyBallot: pool.verifyBallot } : {}),
      });
    } finally {
      if (pool) {
        this.#dispatched += pool.stats.dispatched;
        await pool.close();
      }
    }
    const refusal: RefusalReason[] = [];
    for (const s of report.steps) {
      if (s.status !== 'fail') continue;
      for (const f of s.failures) {
        if (refusal.length < MAX_REASONS) refusal.push({ step: s.step, title: STEP_TITLES[s.step], check: f.check, ...(f.height !== undefined ? { height: f.height } : {}), reason: f.reason });
      }
    }
    if (report.fingerprint !== undefined && report.fingerprint !== this.election.fingerprintHex) {
      refusal.unshift({ check: 'election', reason: `the board is for another election: fingerprint ${report.fingerprint} (${String(report.electionId)}), this server's is ${this.election.fingerprintHex}` });
    } else if (report.fingerprint === undefined && refusal.length === 0) {
      refusal.push({ check: 'election', reason: 'the board has no valid setup entry' });
    }
    return { report, refusal };
  }
}

async function* tee(src: AsyncIterable<BoardRecord>, tap: (rec: BoardRecord) => void): AsyncGenerator<BoardRecord, void, undefined> {
  for await (const rec of src) {
    tap(rec);
    yield rec;
  }
}
