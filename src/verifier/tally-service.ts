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
import { modInv } from '../crypto/bigint.js';
import { shareFromJson, shareToJson, type KeyShare } from '../crypto/threshold-paillier.js';
import { combineEntries, partialDecryptTally, verifyPartialDecryptionEntry, type PartialDecryptionEntry, type PartialDecryptionPayload, type PartialEntryCheck } from '../election/partial-decryption.js';
import { TallyError, isTallyError } from '../errors.js';
import type { Election } from '../election/manifest.js';
import { encryptedTallyPayload, parseEncryptedTally, parseResult, resultPayload } from '../election/records.js';
import { resultsView, type ResultsView } from '../election/results-view.js';
import { tallyResult, verifyTally, type QuestionResult } from '../election/tally.js';
import { type BoardAccess, type BoardPhase } from './board-access.js';
import { verifyCheckpoint, type Checkpoint } from '../../bulletin/checkpoint.js';
import { verifyConsistency } from '../../bulletin/merkle/verify.js';
import { verifyCosignature } from '../../bulletin/cosignature.js';
import { canonicalJson, type JsonValue } from '../../bulletin/value-encoding.js';
import { toHex } from '../wire.js';
import { MemoryTallyJournal, type DecryptionIntent, type DecryptionRecord, type TallyJournal } from './tally-journal.js';

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
  /** the encrypted tally is published, but fewer than k trustees' partial decryptions are on the board (spec §13.4) */
  | { readonly outcome: 'awaiting-trustees'; readonly have: number; readonly need: number }
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
  /**
   * SECRET: this server's key share, when it is also a trustee (spec §13.3); without one it
   * only coordinates: publishes the encrypted tally and combines the trustees' entries.
   */
  readonly share?: KeyShare;
  /**
   * SECRET, TRANSITIONAL (spec §13.11): the whole secret key of a 1-of-1 election key, as
   * `keygen` still writes it; the server derives its one share (s_1 = d) from it.
   */
  readonly secretKey?: PaillierSecretKey;
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
/** Partial-decryption checks remembered between polls (a few per trustee are ever legitimate). */
const PARTIAL_CHECKS_MAX = 1024;
/** setTimeout's largest delay. */
const MAX_DELAY = 2 ** 31 - 1;

const silent: VerifierLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function errorInfo(e: unknown): Record<string, unknown> {
  return isTallyError(e) ? { code: e.code, message: e.message } : { message: e instanceof Error ? e.message : String(e) };
}

/** The verification server's tally: see the file header. */
export class TallyService {
  readonly election: Election;
  readonly #share: KeyShare | undefined;
  readonly #board: BoardAccess;
  readonly #log: VerifierLogger;
  readonly #pollMs: number;
  readonly #now: () => number;
  readonly #workers: number;
  #partialsOnWorkers = 0;
  /** partial-decryption checks of earlier polls, by product and payload (see #combine) */
  readonly #partialChecks = new Map<string, PartialEntryCheck>();
  #tallyAudits = 0;
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
    if (opts.secretKey !== undefined && opts.secretKey.publicKey.n !== opts.election.paillier.n) {
      throw new TallyError('BAD_PRIVATE_KEY', "the secret key is not the election's: its modulus differs from the manifest's keys.election.n");
    }
    const share = opts.share ?? (opts.secretKey ? singleShareOf(opts.election, opts.secretKey) : undefined);
    if (share !== undefined) {
      // 13.3a: the share must be the one of v_i (a wrong file would only ever publish refused entries).
      shareFromJson(opts.election.threshold, shareToJson(opts.election.threshold, share));
    }
    const pollMs = opts.pollMs ?? 2000;
    if (!Number.isSafeInteger(pollMs) || pollMs < 10 || pollMs > 3_600_000) {
      throw new TallyError('OUT_OF_RANGE', `pollMs: expected an integer in [10, 3600000], got ${String(pollMs)}`);
    }
    this.election = opts.election;
    this.#share = share;
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

  /** Audits of the board before decrypting ('tally' stage) so far: one per election, not one per poll. */
  get tallyAudits(): number {
    return this.#tallyAudits;
  }

  /** Partial-decryption checks the combination ran on worker threads so far (0 without workers; the audits' own are not counted). */
  get partialChecksOnWorkers(): number {
    return this.#partialsOnWorkers;
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
      retry = o.outcome === 'not-closed' || o.outcome === 'awaiting-witnesses' || o.outcome === 'awaiting-trustees' || (o.outcome === 'already-tallied' && this.#results === undefined && !this.#publishedInvalid);
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

    // The witnesses' quorum on the close checkpoint (spec §11.6), before anything is read for
    // decryption. A poller: it waits for the cosignatures, however long they take, and says
    // whose it waits for; the audit below checks them again (8e) on the board it reads.
    if (this.election.witnessQuorum > 0 && done === undefined) {
      const waiting = await this.#awaitingWitnesses();
      if (waiting !== undefined) return waiting;
    }

    // Decrypted and published before (this run or an earlier one): the board up to its close was
    // audited then, and this server never decrypts again. While it waits for the trustees it only
    // checks that the board still extends what it saw and re-reads the partial decryptions, each
    // checked against its own product; re-auditing every ballot on every poll would keep the
    // machine busy for as long as the trustees take (minutes per poll on a large board).
    if (done?.published !== undefined) return this.#awaitTrustees({ ...done, published: done.published });

    let close: Checkpoint | undefined;
    const onBoard: { height: number; payload: unknown }[] = [];
    this.#tallyAudits++;
    const { report, refusal } = await this.#audit('tally', (rec) => {
      if (rec.kind === 'checkpoint') close = rec.checkpoint;
      if (rec.kind === 'entry' && rec.entry.type === 'partial-decryption' && onBoard.length < this.election.threshold.l) onBoard.push({ height: rec.entry.height, payload: rec.entry.payload });
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
    // The audited board ends at its close, or at the encrypted tally and partial decryptions
    // that follow it: its close checkpoint is the one recorded in the export before them.
    if (close === undefined || close.treeSize !== report.entries) {
      return { outcome: 'refused', failures: [{ check: 'tally', reason: 'the audited board has no checkpoint of its last entry' }] };
    }
    // The board must extend everything this server saw of it (a fork does not).
    const why = await this.#observe(close, 'the board at its close');
    if (why !== undefined) return this.#refuseInconsistent(why);
    const intent: DecryptionIntent = { checkpoint: done?.checkpoint ?? close, ciphertexts: ciphertexts.map((c) => c.toString(16)), ballotsCounted };
    if (done !== undefined && !sameProduct(done, intent)) {
      const failures = [
        {
          check: 'journal',
          reason:
            `this server already began decrypting another tally (close at size ${done.checkpoint.treeSize}, root ${toHex(done.checkpoint.rootHash)}); ` +
            `it decrypts at most once, and this board (size ${close.treeSize}, root ${toHex(close.rootHash)}) has another product`,
        },
      ];
      this.#log.error({ electionId: this.election.manifest.electionId, failures }, 'REFUSING TO DECRYPT: a second, different board');
      return { outcome: 'refused', failures };
    }
    const encryptedTally = encryptedTallyPayload(this.election, { ciphertexts, ballotsCounted });
    // Journaled before decrypting: after a crash, only these ciphertexts may be decrypted again.
    // (Decrypted before, with the payloads recorded: #awaitTrustees above re-submits them.)
    if (done === undefined) await this.#journal.recordIntent(intent);
    const own = this.#share !== undefined ? partialDecryptTally(this.election.threshold, this.#share, ciphertexts, this.election.fingerprint) : undefined;
    // Journaled before submitting: from now on this server only re-submits these payloads.
    await this.#journal.recordPublished({ encryptedTally, partialDecryption: own ?? null });
    const refused = await this.#submit(encryptedTally, own);
    if (refused !== undefined) return refused;
    return this.#combine(ciphertexts, ballotsCounted, own, onBoard);
  }

  /**
   * Submit the encrypted tally and this server's own partial decryption (both idempotent on the
   * board). @returns undefined once both are on the board; otherwise the outcome: already
   * tallied by another run, or refused by the ballot server
   * @throws TallyError BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE when the board cannot be reached
   */
  async #submit(encryptedTally: unknown, own: PartialDecryptionPayload | undefined): Promise<TallyOutcome | undefined> {
    try {
      await this.#board.submitEncryptedTally(encryptedTally);
      if (own !== undefined) await this.#board.submitPartialDecryption(own);
      return undefined;
    } catch (e) {
      if (isTallyError(e, 'BOARD_UNAVAILABLE') || isTallyError(e, 'BOARD_BAD_RESPONSE') || !isTallyError(e)) throw e;
      // Published by another run meanwhile: load it as usual (it is audited before it is served).
      const err = e as TallyError;
      const now = await this.#board.status().catch(() => undefined);
      if (err.code === 'RESULT_PUBLISHED' || now?.phase === 'tallied') {
        this.#phase = 'tallied';
        return this.#alreadyTallied();
      }
      const failures = [{ check: 'journal', reason: `the ballot server refuses what this server decrypted (${err.code}: ${err.message})` }];
      this.#log.error({ electionId: this.election.manifest.electionId, failures }, 'the ballot server refused the encrypted tally or this server\'s partial decryption');
      return { outcome: 'refused', failures };
    }
  }

  /**
   * After this server published its encrypted tally (and its partial decryption, as a trustee):
   * re-submit them (idempotent: the board may have lost neither, or a restart may not know),
   * check the board's latest checkpoint extends everything seen (spec §8.5), read the partial
   * decryptions on the board and combine. No ballot is re-verified: the decryption was decided on
   * the audit of the close, and a result is published only if it verifies against this server's
   * own product (#combine), whichever board its partial decryptions came from.
   */
  async #awaitTrustees(done: DecryptionRecord & { readonly published: NonNullable<DecryptionRecord['published']> }): Promise<TallyOutcome> {
    const why = await this.#observe(await this.#board.checkpoint(), 'the board after its close');
    if (why !== undefined) return this.#refuseInconsistent(why);
    const ciphertexts = done.ciphertexts.map((c) => BigInt('0x' + c));
    const own = (done.published.partialDecryption ?? undefined) as PartialDecryptionPayload | undefined;
    const onBoard: { height: number; payload: unknown }[] = [];
    for await (const rec of this.#board.records()) {
      if (rec.kind === 'entry' && rec.entry.type === 'partial-decryption' && onBoard.length < this.election.threshold.l) onBoard.push({ height: rec.entry.height, payload: rec.entry.payload });
    }
    const refused = await this.#submit(done.published.encryptedTally, own);
    if (refused !== undefined) return refused;
    return this.#combine(ciphertexts, done.ballotsCounted, own, onBoard);
  }

  /**
   * Combine: verify every partial decryption read from the board (and this server's own)
   * against this server's own product; with k valid ones from distinct trustees, combine the k
   * smallest indices, check the result as an auditor would, and submit it (spec §13.4).
   */
  async #combine(ciphertexts: readonly bigint[], ballotsCounted: number, own: PartialDecryptionPayload | undefined, onBoard: readonly { height: number; payload: unknown }[]): Promise<TallyOutcome> {
    const e = this.election;
    const verified = new Map<number, PartialDecryptionEntry>();
    const entries = [...(own ? [{ height: -1, payload: own as unknown }] : []), ...onBoard];
    // While it waits for the trustees the service polls: an entry checked on an earlier poll is
    // not checked again. Keyed by the product and the payload's canonical JSON; bounded (a board
    // serving new payloads on every poll only empties it).
    const product = ciphertexts.map((c) => c.toString(16)).join(',');
    const keyOf = (payload: unknown): string | undefined => {
      try {
        return `${product}\n${canonicalJson(payload as JsonValue)}`;
      } catch {
        return undefined;
      }
    };
    // What to check now: each payload not checked on an earlier poll, once (this server's own
    // entry is also on the board). A payload without a key is checked every time.
    const keys: (string | object)[] = entries.map((pd) => keyOf(pd.payload) ?? pd);
    const todo = new Map<string | object, unknown>();
    entries.forEach((pd, i) => {
      const k = keys[i]!;
      if (typeof k !== 'string' || !this.#partialChecks.has(k)) todo.set(k, pd.payload);
    });
    // Each entry costs seconds of exponentiations with several questions: on worker threads,
    // side by side, so that the event loop keeps answering (as for the ballots, #audit).
    const pool = this.#workers > 0 && todo.size > 0 ? new BallotVerifierPool({ workers: Math.min(this.#workers, todo.size) }) : undefined;
    const fresh = new Map<string | object, PartialEntryCheck>();
    try {
      const pending = [...todo].map(async ([k, payload]) => {
        fresh.set(k, await (pool ? pool.verifyPartialDecryption(e, ciphertexts, payload) : Promise.resolve(verifyPartialDecryptionEntry(e.threshold, e.fingerprint, ciphertexts, payload))));
      });
      await Promise.all(pending);
    } finally {
      if (pool) {
        this.#partialsOnWorkers += pool.stats.partials;
        await pool.close();
      }
    }
    const checks = keys.map((k) => fresh.get(k) ?? this.#partialChecks.get(k as string)!);
    if (this.#partialChecks.size + fresh.size > PARTIAL_CHECKS_MAX) this.#partialChecks.clear();
    for (const [k, v] of fresh) if (typeof k === 'string') this.#partialChecks.set(k, v);
    for (const [i, pd] of entries.entries()) {
      const v = checks[i]!;
      if (!v.ok) {
        this.#log.warn({ height: pd.height, check: v.check, question: v.question }, 'a partial decryption on the board does not verify; it is not combined');
        continue;
      }
      if (!verified.has(v.entry.trustee)) verified.set(v.entry.trustee, v.entry);
    }
    if (verified.size < e.threshold.k) {
      this.#log.info({ have: verified.size, need: e.threshold.k }, 'waiting for the trustees\' partial decryptions');
      return { outcome: 'awaiting-trustees', have: verified.size, need: e.threshold.k };
    }
    const combination = combineEntries(e.threshold, [...verified.values()], e.questions.length);
    const result = tallyResult(e, ciphertexts, combination);
    // Never publish what an auditor would reject.
    const self = verifyTally(e, ciphertexts, result, verified, ballotsCounted);
    if (!self.ok) throw new TallyError('INTERNAL', `the combination does not verify against its own product (question ${self.question}, ${self.check})`);
    try {
      await this.#board.submitResult(resultPayload(e, result));
    } catch (err) {
      if (!isTallyError(err, 'CONFLICT')) throw err;
      this.#log.warn({ err: errorInfo(err) }, 'the board refused the result as a conflict: already tallied by another run');
      return this.#alreadyTallied();
    }
    this.#phase = 'tallied';
    this.#results = resultsView(e, result.results, ballotsCounted);
    this.#log.info({ electionId: e.manifest.electionId, ballotsCounted, trustees: combination.trustees }, 'tally combined and published');
    return { outcome: 'tallied', ballotsCounted };
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
        const results: QuestionResult[] = [...parseResult(this.election, resultJson).results];
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
        ...(pool ? { verifyBallot: pool.verifyBallot, verifyPartialDecryption: pool.verifyPartialDecryption } : {}),
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

/** Whether two intents name the same product (the board may have grown by the tally entries since). */
function sameProduct(a: DecryptionIntent, b: DecryptionIntent): boolean {
  return a.ballotsCounted === b.ballotsCounted && a.ciphertexts.length === b.ciphertexts.length && a.ciphertexts.every((c, i) => c === b.ciphertexts[i]);
}

/**
 * TRANSITIONAL: the one share s_1 = d of a 1-of-1 election key from its whole secret key
 * (d ≡ 0 mod p′q′, d ≡ 1 mod n, spec §13.3, as the 1-of-1 dealing computes it).
 * @throws TallyError BAD_PRIVATE_KEY if the election key is not 1-of-1
 */
export function singleShareOf(election: Election, sk: PaillierSecretKey): KeyShare {
  if (election.threshold.l !== 1) throw new TallyError('BAD_PRIVATE_KEY', 'a whole secret key only stands for the one share of a 1-of-1 election key; give this server its share file');
  const j = sk.toJSON();
  const p = BigInt('0x' + j.p);
  const q = BigInt('0x' + j.q);
  const m = ((p - 1n) / 2n) * ((q - 1n) / 2n);
  return { index: 1, s: m * modInv(m, sk.publicKey.n) };
}

async function* tee(src: AsyncIterable<BoardRecord>, tap: (rec: BoardRecord) => void): AsyncGenerator<BoardRecord, void, undefined> {
  for await (const rec of src) {
    tap(rec);
    yield rec;
  }
}
