/**
 * A trustee's one job (spec/13-trustees.md, trustee commands): once the election is closed and
 * the coordinator has posted the `encrypted-tally`, verify the whole board ITSELF, decrypt its
 * share of the product it recomputed ITSELF, with proof, and post the `partial-decryption`.
 *
 * Why a trustee trusts nothing it is served: a partial decryption of the wrong ciphertext is a
 * decryption oracle. A ballot server (or coordinator) that got k trustees to partially decrypt a
 * victim's ballot raised to a power would learn that vote. So, as the verification server does
 * (tally-service.ts, spec §8.5), the trustee:
 *   - runs the auditor's steps 1–8 over the board as read (stage 'tally': every ballot proof,
 *     the revote rule, the close) and recomputes the encrypted tally; the board's
 *     `encrypted-tally` must be exactly that product (check 8c), else nothing is decrypted;
 *   - accepts the board only if its election uses THIS trustee's threshold key (and, when given,
 *     has the expected fingerprint);
 *   - decrypts at most once: the intent (close checkpoint, ciphertexts) is journaled before it
 *     decrypts, the payload before it posts; afterwards it only ever re-posts that payload. A
 *     crash in between lets it decrypt the SAME ciphertexts again, which reveals nothing new;
 *   - decrypts only a board consistent with every checkpoint it has seen (RFC 9162; `serve`
 *     records one per poll during the election); an inconsistency raises a permanent alarm.
 *
 * The journal is the verification server's (tally-journal.ts / tally-journal-file.ts): the
 * record's `published.encryptedTally` is the board's encrypted-tally payload that was decrypted
 * and `published.partialDecryption` the trustee's entry.
 *
 * The share never enters this file: the caller gives a {@link TrusteeDecryptor}, a closure over
 * the share (cli/cmd-trustee.ts builds it from the share file), which is called only after every
 * rule above holds.
 */
import { audit, STEP_TITLES, type BoardRecord } from '../../auditor/audit.js';
import { BallotVerifierPool } from '../../auditor/workers.js';
import { verifyCheckpoint, type Checkpoint } from '../../bulletin/checkpoint.js';
import { checkQuorum } from '../../bulletin/cosignature.js';
import { TallyError, isTallyError } from '../errors.js';
import { parseSetup, parseEncryptedTally } from '../election/records.js';
import type { Election } from '../election/manifest.js';
import { toHex } from '../wire.js';
import { observeCheckpoint } from '../verifier/checkpoint-guard.js';
import type { BoardPhase } from '../verifier/board-access.js';
import { MemoryTallyJournal, type TallyJournal } from '../verifier/tally-journal.js';
import type { RefusalReason, VerifierLogger } from '../verifier/tally-service.js';
import type { TrusteeBoard } from './trustee-board.js';

/** What a trustee can do with its share; built by the caller around the (secret) share. */
export interface TrusteeDecryptor {
  /** this trustee's index i, 1 ≤ i ≤ l */
  readonly index: number;
  /**
   * Why `election` is not one this share decrypts (its manifest's threshold key is another), or
   * undefined when it is.
   */
  mismatch(election: Election): string | undefined;
  /**
   * SECRET USE: the `partial-decryption` entry payload for the question tallies `ciphertexts`
   * (one per question, in the manifest's order). Call only on a verified product.
   */
  partial(election: Election, ciphertexts: readonly bigint[]): unknown;
}

/** What one attempt did. */
export type TrusteeOutcome =
  /** this trustee's partial decryption is on the board (posted now, or an identical earlier post) */
  | { readonly outcome: 'posted'; readonly height: number; readonly existing: boolean; readonly ballotsCounted: number }
  /** the election is not closed yet */
  | { readonly outcome: 'not-closed'; readonly phase: 'scheduled' | 'open' }
  /** closed, but the coordinator has not posted the encrypted tally yet */
  | { readonly outcome: 'waiting' }
  /** the result is already published: nothing left to decrypt */
  | { readonly outcome: 'already-tallied' }
  /** the board fails verification or is inconsistent: nothing was decrypted or posted */
  | { readonly outcome: 'refused'; readonly failures: readonly RefusalReason[] };

/** Options of the TrusteeService. */
export interface TrusteeServiceOptions {
  readonly decryptor: TrusteeDecryptor;
  readonly board: TrusteeBoard;
  /** the election's fingerprint (lowercase hex) the trustee expects, if it knows it */
  readonly fingerprint?: string;
  /** checkpoints seen and the one decryption (default: in memory; the CLI keeps it on disk) */
  readonly journal?: TallyJournal;
  readonly logger?: VerifierLogger;
  /** poll interval of `start`, 10 ≤ pollMs ≤ 1 hour (default 5000) */
  readonly pollMs?: number;
  /** worker threads verifying ballots in the audit (default 0: this thread) */
  readonly workers?: number;
  /** clock, ms since the epoch (default Date.now) */
  readonly now?: () => number;
  /** called after each entry the audit reads (progress for a person) */
  readonly onProgress?: (entries: number) => void;
}

const MAX_REASONS = 20;
const MAX_DELAY = 2 ** 31 - 1;
const silent: VerifierLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function errorInfo(e: unknown): Record<string, unknown> {
  return isTallyError(e) ? { code: e.code, message: e.message } : { message: e instanceof Error ? e.message : String(e) };
}

/** A trustee's decryption service: see the file header. */
export class TrusteeService {
  readonly #d: TrusteeDecryptor;
  readonly #board: TrusteeBoard;
  readonly #journal: TallyJournal;
  readonly #log: VerifierLogger;
  readonly #pollMs: number;
  readonly #workers: number;
  readonly #now: () => number;
  readonly #fingerprint: string | undefined;
  readonly #onProgress: ((n: number) => void) | undefined;
  #election: Election | undefined;
  #inflight: Promise<TrusteeOutcome> | undefined;
  #polling = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #finished: ((o: TrusteeOutcome | Error) => void) | undefined;
  #phase: BoardPhase | undefined;

  /** @throws TallyError OUT_OF_RANGE for a bad pollMs, workers or fingerprint */
  constructor(opts: TrusteeServiceOptions) {
    const pollMs = opts.pollMs ?? 5000;
    if (!Number.isSafeInteger(pollMs) || pollMs < 10 || pollMs > 3_600_000) throw new TallyError('OUT_OF_RANGE', `pollMs: expected an integer in [10, 3600000], got ${String(pollMs)}`);
    const workers = opts.workers ?? 0;
    if (!Number.isSafeInteger(workers) || workers < 0 || workers > 256) throw new TallyError('OUT_OF_RANGE', `workers: expected an integer in [0, 256], got ${String(workers)}`);
    if (opts.fingerprint !== undefined && !/^[0-9a-f]{64}$/.test(opts.fingerprint)) throw new TallyError('OUT_OF_RANGE', 'fingerprint: expected 64 lowercase hex digits');
    this.#d = opts.decryptor;
    this.#board = opts.board;
    this.#journal = opts.journal ?? new MemoryTallyJournal();
    this.#log = opts.logger ?? silent;
    this.#pollMs = pollMs;
    this.#workers = workers;
    this.#now = opts.now ?? Date.now;
    this.#fingerprint = opts.fingerprint;
    this.#onProgress = opts.onProgress;
  }

  /** The election, once read from the board and accepted. */
  get election(): Election | undefined {
    return this.#election;
  }

  /** The phase last seen on the board. */
  get phase(): BoardPhase | undefined {
    return this.#phase;
  }

  /**
   * One attempt (or join the one in flight): `tallyboard trustee decrypt`.
   * @throws TallyError BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE for the network; the ballot
   *   server's refusal of the post other than those handled (see TrusteeOutcome)
   */
  decryptOnce(): Promise<TrusteeOutcome> {
    this.#inflight ??= this.#attempt().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /**
   * Decrypt without an operator (`tallyboard trustee serve`): try now, then at the end time,
   * then every pollMs (recording the board's checkpoint on each tick during the election),
   * until the partial decryption is posted, the result is published, or the board is refused.
   * The network being unavailable is retried; any other error stops.
   * @returns the final outcome (or the error that stopped it)
   */
  run(): Promise<TrusteeOutcome> {
    if (this.#polling) throw new TallyError('CONFLICT', 'already running');
    this.#polling = true;
    return new Promise<TrusteeOutcome>((resolve, reject) => {
      this.#finished = (o) => (o instanceof Error ? reject(o) : resolve(o));
      void this.#tick();
    });
  }

  /** Stop `run` (it resolves with the outcome 'waiting' if nothing concluded) and wait for an attempt in flight. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inflight?.catch(() => undefined);
    if (this.#polling) this.#finish({ outcome: 'waiting' });
  }

  #finish(o: TrusteeOutcome | Error): void {
    this.#polling = false;
    const f = this.#finished;
    this.#finished = undefined;
    f?.(o);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (!this.#polling) return;
    try {
      const o = await this.decryptOnce();
      if (o.outcome !== 'not-closed' && o.outcome !== 'waiting') return this.#finish(o);
    } catch (e) {
      if (!isTallyError(e, 'BOARD_UNAVAILABLE') && !isTallyError(e, 'BOARD_BAD_RESPONSE')) {
        this.#log.error({ err: errorInfo(e) }, 'trustee attempt failed; stopped');
        return this.#finish(e instanceof Error ? e : new Error(String(e)));
      }
      this.#log.warn({ err: errorInfo(e) }, 'the board cannot be read; retrying');
    }
    if (!this.#polling) return;
    const end = this.#election?.endMs;
    const wait = end === undefined ? this.#pollMs : end - this.#now();
    this.#timer = setTimeout(() => void this.#tick(), wait > 0 ? Math.min(wait, this.#pollMs, MAX_DELAY) : this.#pollMs);
  }

  async #attempt(): Promise<TrusteeOutcome> {
    const alarm = await this.#journal.alarm();
    if (alarm !== undefined) {
      return this.#refuse([{ check: 'journal', reason: `this trustee saw an inconsistent board before and never decrypts again: ${alarm}` }], 'a fork or split view was recorded');
    }
    const status = await this.#board.status();
    this.#phase = status.phase;
    if (status.phase === 'tallied') return { outcome: 'already-tallied' };
    if (status.phase === 'scheduled' || status.phase === 'open') {
      const election = await this.#loadElection();
      if ('refused' in election) return election.refused;
      let why: string | undefined;
      try {
        why = await observeCheckpoint(election.election, this.#journal, this.#board, await this.#board.checkpoint(), 'the board during the election');
      } catch (e) {
        if (!isTallyError(e, 'BOARD_UNAVAILABLE') && !isTallyError(e, 'BOARD_BAD_RESPONSE')) throw e;
        this.#log.warn({ err: errorInfo(e) }, 'could not read the board checkpoint; will retry');
      }
      if (why !== undefined) return this.#inconsistent(why);
      return { outcome: 'not-closed', phase: status.phase };
    }

    // Decrypted before: never again; only ever re-post what was decrypted (spec §8.5).
    const done = await this.#journal.decryption();
    if (done?.published !== undefined) return this.#repost(done.published.partialDecryption, done.ballotsCounted);

    let close: Checkpoint | undefined;
    let closeEntry: number | undefined;
    let setup: unknown;
    let tallyPayload: unknown;
    const tap = (rec: BoardRecord): void => {
      if (rec.kind === 'checkpoint') close = rec.checkpoint;
      else if (rec.kind === 'entry' && rec.entry.type === 'close' && closeEntry === undefined) closeEntry = rec.entry.height;
      else if (rec.kind === 'entry' && rec.entry.height === 0) setup = rec.entry.payload;
      else if (rec.kind === 'entry' && rec.entry.type === 'encrypted-tally' && tallyPayload === undefined) tallyPayload = rec.entry.payload;
    };
    const records = this.#board.records();
    const pool = this.#workers > 0 ? new BallotVerifierPool({ workers: this.#workers }) : undefined;
    let report;
    try {
      const first = tee(records, tap);
      report = await audit(pool ? pool.prefetch(first) : first, {
        stage: 'tally',
        reopen: () => this.#board.records(),
        ...(pool ? { verifyBallot: pool.verifyBallot, verifyPartialDecryption: pool.verifyPartialDecryption } : {}),
        ...(this.#onProgress ? { onProgress: this.#onProgress } : {}),
      });
    } finally {
      await pool?.close();
    }
    const failures: RefusalReason[] = [];
    for (const s of report.steps) {
      if (s.status !== 'fail') continue;
      for (const f of s.failures) {
        if (failures.length < MAX_REASONS) failures.push({ step: s.step, title: STEP_TITLES[s.step], check: f.check, ...(f.height !== undefined ? { height: f.height } : {}), reason: f.reason });
      }
    }
    let election: Election | undefined;
    if (setup !== undefined && report.fingerprint !== undefined) {
      try {
        election = parseSetup(setup);
      } catch {
        election = undefined;
      }
    }
    if (election === undefined) {
      if (failures.length === 0) failures.push({ check: 'election', reason: 'the board has no valid setup entry' });
      return this.#refuse(failures, 'the board fails verification');
    }
    const wrong = this.#wrongElection(election);
    if (wrong !== undefined) failures.unshift({ check: 'election', reason: wrong });
    if (!report.ok || failures.length > 0 || report.tally === undefined) {
      // Tallied between the status and the read? Then nothing is left to do.
      const again = await this.#board.status().catch(() => undefined);
      if (again?.phase === 'tallied') return { outcome: 'already-tallied' };
      if (failures.length === 0) failures.push({ check: 'tally', reason: 'the audit did not pass or returned no encrypted tally' });
      return this.#refuse(failures, 'the board fails verification');
    }
    this.#election = election;
    if (tallyPayload === undefined) return { outcome: 'waiting' };
    const { ciphertexts, ballotsCounted } = report.tally;
    // The auditor already checked this (8c); checked here again because it is the one fact a
    // trustee must never get wrong: what it decrypts is its own product.
    let posted;
    try {
      posted = parseEncryptedTally(election, tallyPayload);
    } catch {
      posted = undefined;
    }
    if (posted === undefined || posted.ballotsCounted !== ballotsCounted || posted.ciphertexts.length !== ciphertexts.length || posted.ciphertexts.some((c, i) => c !== ciphertexts[i])) {
      return this.#refuse([{ step: 8, title: STEP_TITLES[8], check: '8c', reason: 'the encrypted tally on the board is not the product of the counted ballots' }], 'the encrypted tally is not its own product');
    }
    if (close === undefined || close.treeSize !== report.entries) {
      return this.#refuse([{ check: 'tally', reason: 'the audited board has no checkpoint of its last entry' }], 'no checkpoint');
    }
    const why = await observeCheckpoint(election, this.#journal, this.#board, close, 'the board as audited');
    if (why !== undefined) return this.#inconsistent(why);

    // The witnesses' quorum on the close checkpoint (spec §8.5 rule 4, §11.6), before the first
    // decryption: a fork shown only to the trustees would need a quorum of witnesses too. The
    // close checkpoint must itself be consistent with everything this trustee has seen.
    if (election.witnessQuorum > 0 && done === undefined) {
      const waiting = await this.#closeQuorum(election, closeEntry);
      if (waiting !== undefined) return waiting;
    }

    const hex = ciphertexts.map((c) => c.toString(16));
    if (done !== undefined) {
      // An intent without a payload: a crash between the two. Only the same ciphertexts may be
      // decrypted again (the board has grown since, by other trustees' entries: the checkpoint
      // differs, and observeCheckpoint proved it extends the one recorded).
      if (done.ballotsCounted !== ballotsCounted || done.ciphertexts.length !== hex.length || done.ciphertexts.some((c, i) => c !== hex[i])) {
        return this.#refuse(
          [{ check: 'journal', reason: `this trustee already began decrypting another product (board of size ${done.checkpoint.treeSize}, root ${toHex(done.checkpoint.rootHash)}); it decrypts at most once` }],
          'a second, different product',
        );
      }
    } else {
      // Journaled before decrypting: after a crash, only these ciphertexts may be decrypted again.
      await this.#journal.recordIntent({ checkpoint: close, ciphertexts: hex, ballotsCounted });
    }
    const payload = this.#d.partial(election, ciphertexts);
    // Journaled before posting: from now on this trustee only re-posts this payload.
    await this.#journal.recordPublished({ encryptedTally: tallyPayload, partialDecryption: payload });
    this.#log.info({ electionId: election.manifest.electionId, trustee: this.#d.index, ballotsCounted }, 'partial decryption computed; posting');
    return this.#repost(payload, ballotsCounted);
  }

  /** Undefined when the close checkpoint carries the witnesses' quorum; otherwise the outcome. */
  async #closeQuorum(election: Election, closeEntry: number | undefined): Promise<TrusteeOutcome | undefined> {
    if (closeEntry === undefined || !this.#board.cosignedCheckpoint) {
      return this.#refuse([{ check: '8e', reason: 'the manifest names witnesses and this board gives no close checkpoint with cosignatures' }], 'no cosigned close checkpoint');
    }
    const size = closeEntry + 1;
    const { checkpoint, cosignatures } = await this.#board.cosignedCheckpoint(size);
    if (!verifyCheckpoint(election.boardKey, checkpoint).ok || checkpoint.electionId !== election.manifest.electionId) {
      return this.#refuse([{ check: 'B14', reason: `the close checkpoint (size ${size}) as served is not signed by the board key of this election` }], 'a bad close checkpoint');
    }
    const why = await observeCheckpoint(election, this.#journal, this.#board, checkpoint, 'the close checkpoint');
    if (why !== undefined) return this.#inconsistent(why);
    const q = checkQuorum(election.witnesses, election.witnessQuorum, election.boardKey, checkpoint, cosignatures);
    if (q.ok) return undefined;
    this.#log.info({ electionId: election.manifest.electionId, treeSize: size, cosigned: q.names, quorum: election.witnessQuorum }, `waiting for the witnesses: the close checkpoint (size ${size}) carries ${q.names.length} of the ${election.witnessQuorum} cosignatures required before decrypting`);
    return { outcome: 'waiting' };
  }

  /** Post (or re-post) the recorded payload and interpret the answer. */
  async #repost(payload: unknown, ballotsCounted: number): Promise<TrusteeOutcome> {
    try {
      const r = await this.#board.postPartial(payload);
      this.#log.info({ trustee: this.#d.index, height: r.height, existing: r.existing }, 'partial decryption on the board');
      return { outcome: 'posted', height: r.height, existing: r.existing, ballotsCounted };
    } catch (e) {
      if (isTallyError(e, 'RESULT_PUBLISHED') || isTallyError(e, 'ELECTION_CLOSED')) return { outcome: 'already-tallied' };
      if (isTallyError(e, 'BOARD_UNAVAILABLE') || isTallyError(e, 'BOARD_BAD_RESPONSE')) throw e;
      const code = isTallyError(e) ? e.code : 'error';
      return this.#refuse(
        [{ check: 'journal', reason: `the ballot server refuses the partial decryption this trustee computed (${code}: ${e instanceof Error ? e.message : String(e)}); it never decrypts again` }],
        'the board refuses the recorded partial decryption',
      );
    }
  }

  /** The election from the board's setup entry (before the close: to check checkpoints). */
  async #loadElection(): Promise<{ election: Election } | { refused: TrusteeOutcome }> {
    if (this.#election !== undefined) return { election: this.#election };
    let setup: unknown;
    for await (const rec of this.#board.records()) {
      if (rec.kind === 'entry') {
        if (rec.entry.height === 0) setup = rec.entry.payload;
        break;
      }
      if (rec.kind === 'invalid') break;
    }
    let election: Election;
    try {
      election = parseSetup(setup);
    } catch (e) {
      return { refused: await this.#refuse([{ step: 4, title: STEP_TITLES[4], check: '4a', reason: `the board's setup entry is not a valid manifest (${isTallyError(e) ? e.message : 'malformed'})` }], 'no valid setup') };
    }
    const wrong = this.#wrongElection(election);
    if (wrong !== undefined) return { refused: await this.#refuse([{ check: 'election', reason: wrong }], 'another election') };
    this.#election = election;
    return { election };
  }

  #wrongElection(election: Election): string | undefined {
    if (this.#fingerprint !== undefined && election.fingerprintHex !== this.#fingerprint) {
      return `the board is for another election: fingerprint ${election.fingerprintHex} (${election.manifest.electionId}), expected ${this.#fingerprint}`;
    }
    const m = this.#d.mismatch(election);
    return m === undefined ? undefined : `this share does not decrypt the board's election: ${m}`;
  }

  async #refuse(failures: readonly RefusalReason[], summary: string): Promise<TrusteeOutcome> {
    this.#log.error({ trustee: this.#d.index, failures }, `REFUSING TO DECRYPT (${summary}): nothing was decrypted or posted`);
    return { outcome: 'refused', failures };
  }

  async #inconsistent(why: string): Promise<TrusteeOutcome> {
    await this.#journal.raiseAlarm(why);
    return this.#refuse([{ check: 'consistency', reason: why }], 'the board is inconsistent with checkpoints seen before (a fork or split view)');
  }
}

async function* tee(src: AsyncIterable<BoardRecord>, tap: (rec: BoardRecord) => void): AsyncGenerator<BoardRecord, void, undefined> {
  for await (const rec of src) {
    tap(rec);
    yield rec;
  }
}
