/**
 * Parallel ballot verification for the auditor: a pool of worker threads that verify ballots
 * (spec §6.5, audit step 6) while `audit` still consumes every result in board order.
 *
 * Why this shape:
 * - `audit` awaits each ballot's check before it reads the next record, so a verifier plugged
 *   in as `verifyBallot` alone would only ever have one ballot in flight. The pool therefore
 *   also wraps the record source ({@link BallotVerifierPool.prefetch}): it reads a few records
 *   ahead and starts verifying the ballots it sees, and `verifyBallot` then picks up the
 *   verification already under way. At most `maxInFlight` ballots (default 2 × workers) are
 *   started and not yet consumed, and the records buffered ahead are bounded in BYTES
 *   (`maxReadAheadBytes`, default 4 Mi units of line text, at least one record) as well as in
 *   number, so memory stays bounded whatever the board's length or its records' sizes
 *   (spec §10.5; a count bound alone let six 3 MB lines of 250,000 members each sit in memory).
 * - A ballot is shape-checked (spec §6.1a, in the main thread, no arithmetic) before it is
 *   canonically encoded for its key or sent to a worker: a malformed payload, however large, is
 *   never copied to a worker.
 * - A started verification is found again by CONTENT, never by position: its key is the
 *   election fingerprint and the canonical JSON of the ballot, and `verifyBallot` recomputes
 *   the key from the ballot `audit` parsed. A verification result depends only on the election
 *   and the ballot, so a key match gives exactly the answer an in-thread check would give;
 *   with no match (a ballot the read-ahead skipped) the ballot is simply sent now. Correctness
 *   never depends on the read-ahead guessing right, only speed does.
 * - Workers receive the manifest once (`init`) and then ballots as plain JSON (structured
 *   clone of strings and arrays, no bigints); they parse the manifest WITHOUT re-checking the
 *   Paillier key proof (~130 ms), because `audit` checks it in step 4 and the fingerprint
 *   binds the worker's election to that same manifest (§2.3).
 * - The worker is this same file: started with `workerData.role` set, it runs the loop at the
 *   bottom instead of exporting a pool. Resolved from `import.meta.url`, so it works from the
 *   compiled `dist/` tree and, under a TypeScript loader inherited through `execArgv`, from
 *   source.
 *
 * - Batch mode (the default, spec §5.7): the read-ahead gathers ballots into chunks of
 *   `batch` ballots and sends each chunk to one worker, which checks it with `verifyBallots`
 *   (one random linear combination of all 5.4g equations, bisection on failure, the per-proof
 *   verifier for every culprit), so each ballot's result is exactly what the per-proof
 *   verifier reports. A chunk is sent when it is full, when the read-ahead window is full while a
 *   worker is idle, or as soon as `audit` asks for a ballot in it (the end of the board), so no
 *   timer is involved. When the window cannot hold a full chunk per worker plus the one `audit`
 *   is consuming (large ballots: at 2048 bits a 4 Mi window holds ~430 ballots), chunks shrink
 *   to share it out, so no core waits for `audit` to make room. `batch: 1` is the per-proof mode
 *   (`tallyboard verify --no-batch`), the reference the tests compare against. Memory stays
 *   bounded: at most `maxInFlight` ballots (default 2 × workers × batch) are read ahead.
 *
 * A worker that crashes is an environment fault, not a verdict on the board: pending
 * verifications reject and `audit` propagates the error.
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { TallyError, isTallyError, type ErrorCode } from '../src/errors.js';
import { parseHex, toHex } from '../src/wire.js';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { ballotToJson, parseBallot, verifyBallot, type Ballot, type BallotCheck } from '../src/election/ballot.js';
import { verifyBallots } from '../src/election/ballot-batch.js';
import { canonicalJson } from '../bulletin/value-encoding.js';
import { verifyPartialDecryptionEntry, type PartialEntryCheck } from '../src/election/partial-decryption.js';
import type { BallotVerifier, BoardRecord } from './audit.js';

/** `workerData.role` of a verification worker. */
const WORKER_ROLE = 'tallyboard-ballot-verifier';

/** Largest pool accepted (a guard against typos such as `--workers 1000`). */
export const MAX_WORKERS = 256;

/**
 * Default ballots per batch: large enough that the batch's one exponentiation by n and the
 * multi-exponentiations' bucket sums are small per ballot, small enough that a worker's chunk
 * stays a few hundred kilobytes and a failed batch's bisection stays short.
 */
export const DEFAULT_BATCH = 256;
/** Largest batch accepted. */
export const MAX_BATCH = 4096;

/** Messages to a worker. */
type ToWorker =
  | { readonly kind: 'init'; readonly manifest: unknown; readonly fingerprint: string }
  | { readonly kind: 'verify'; readonly id: number; readonly ballot: unknown }
  /** a chunk of ballots to verify in one batch; `ids[i]` answers `ballots[i]` */
  | { readonly kind: 'verify-batch'; readonly ids: readonly number[]; readonly ballots: readonly unknown[] }
  /** a partial-decryption payload to check against an encrypted tally (spec §13.4) */
  | { readonly kind: 'verify-partial'; readonly id: number; readonly ciphertexts: readonly bigint[]; readonly payload: unknown };

/** A verification result as it crosses the thread boundary (spec §6.5). */
type WireCheck =
  | { readonly ok: true; readonly tracker: string }
  | { readonly ok: false; readonly check: string; readonly code: string; readonly reason: string; readonly question?: number };

/** Messages from a worker. */
type FromWorker =
  /** the worker listens: messages sent before this could be lost while its modules load */
  | { readonly kind: 'ready' }
  | { readonly kind: 'result'; readonly id: number; readonly result: WireCheck }
  | { readonly kind: 'results'; readonly ids: readonly number[]; readonly results: readonly WireCheck[] }
  /** a partial decryption's check (plain data and bigints: structured clone carries both) */
  | { readonly kind: 'partial-result'; readonly id: number; readonly result: PartialEntryCheck }
  /** the worker could not act on a message (no election, or a manifest it cannot parse) */
  | { readonly kind: 'failed'; readonly id?: number; readonly ids?: readonly number[]; readonly reason: string };

/** The default number of workers: the number of CPUs this process may use. */
export function defaultWorkerCount(): number {
  return availableParallelism();
}

/** Options of {@link BallotVerifierPool}. */
export interface VerifierPoolOptions {
  /** number of worker threads, 1 ≤ workers ≤ {@link MAX_WORKERS} */
  readonly workers: number;
  /** ballots started by the read-ahead and not yet consumed, ≥ 1 (default 2 × workers × batch) */
  readonly maxInFlight?: number;
  /** line text buffered ahead of `audit`, in UTF-16 units (default 4 Mi); one record always */
  readonly maxReadAheadBytes?: number;
  /**
   * ballots per batch, 1 ≤ batch ≤ {@link MAX_BATCH} (default {@link DEFAULT_BATCH});
   * 1 verifies every ballot alone with the per-proof verifier (the reference mode)
   */
  readonly batch?: number;
}

/** A chunk being filled by the read-ahead, not yet sent. */
interface OpenChunk {
  readonly ids: number[];
  readonly ballots: unknown[];
  readonly resolvers: { resolve: (c: BallotCheck) => void; reject: (e: unknown) => void }[];
}

/**
 * Default bound of the read-ahead: 4 Mi units of line text. A parsed line can take ten times its
 * text or more (an object of many small members), so the window is kept to about one large line;
 * ordinary ballots (tens of KB) still fill `maxInFlight` many times over.
 */
export const DEFAULT_READ_AHEAD_BYTES = 4 * 1024 * 1024;

/** One verification sent to a worker. */
interface Job {
  readonly key: string;
  readonly promise: Promise<BallotCheck>;
  /** the chunk holding it, while that chunk is not sent */
  chunk?: OpenChunk;
}

/** A job sent to a worker and not answered: a ballot's check or a partial decryption's. */
interface PendingJob {
  // Method syntax: a resolver of either result type may be stored.
  resolve(c: BallotCheck | PartialEntryCheck): void;
  reject(e: unknown): void;
}

interface WorkerSlot {
  readonly worker: Worker;
  /** set when the worker said 'ready'; until then messages wait in `queue` */
  ready: boolean;
  readonly queue: ToWorker[];
  /** jobs sent to this worker and not answered */
  readonly pending: Map<number, PendingJob>;
}

/**
 * A pool of ballot-verification workers.
 *
 * Usage: `const pool = new BallotVerifierPool({ workers: 2 })`, then
 * `audit(pool.prefetch(records), { verifyBallot: pool.verifyBallot, … })`, then
 * `await pool.close()` (in a `finally`: the workers keep the process alive until closed).
 */
export class BallotVerifierPool {
  readonly #slots: WorkerSlot[] = [];
  readonly #maxInFlight: number;
  readonly #maxReadAheadBytes: number;
  /** the election the workers hold, for the read-ahead's shape check */
  #election: Election | undefined;
  readonly #batch: number;
  /** the chunk the read-ahead is filling (batch mode) */
  #open: OpenChunk | undefined;
  /** ballots asked for on their own while every worker was busy (batch mode; see #gather) */
  #waiting: OpenChunk | undefined;
  /** line text and ballots read ahead so far (for {@link #chunkTarget}) */
  #readBytes = 0;
  #readBallots = 0;
  /** the read-ahead stopped at a bound (not at the end of the board) and waits for audit */
  #blocked = false;
  /** verifications started by the read-ahead, in board order, not yet consumed */
  #started: Job[] = [];
  /** fingerprint of the election the workers hold (undefined before the first init) */
  #fingerprint: string | undefined;
  #nextId = 1;
  #broken: unknown = undefined;
  #closed = false;
  /** counters, for the command line's summary and for tests */
  readonly stats = { dispatched: 0, prefetchHits: 0, prefetchMisses: 0, batches: 0, maxBusyWorkers: 0, partials: 0 };

  /**
   * Starts the worker threads (they load their modules in the background).
   * @param options - workers in [1, MAX_WORKERS]; maxInFlight ≥ 1
   * @throws TallyError OUT_OF_RANGE for a bad count
   */
  constructor(options: VerifierPoolOptions) {
    const n = options.workers;
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_WORKERS) {
      throw new TallyError('OUT_OF_RANGE', `workers: expected an integer in [1, ${MAX_WORKERS}], got ${String(n)}`);
    }
    const batch = options.batch ?? DEFAULT_BATCH;
    if (!Number.isSafeInteger(batch) || batch < 1 || batch > MAX_BATCH) {
      throw new TallyError('OUT_OF_RANGE', `batch: expected an integer in [1, ${MAX_BATCH}], got ${String(batch)}`);
    }
    this.#batch = batch;
    const inFlight = options.maxInFlight ?? 2 * n * batch;
    if (!Number.isSafeInteger(inFlight) || inFlight < 1) {
      throw new TallyError('OUT_OF_RANGE', `maxInFlight: expected a positive integer, got ${String(inFlight)}`);
    }
    this.#maxInFlight = inFlight;
    const ahead = options.maxReadAheadBytes ?? DEFAULT_READ_AHEAD_BYTES;
    if (!Number.isSafeInteger(ahead) || ahead < 0) {
      throw new TallyError('OUT_OF_RANGE', `maxReadAheadBytes: expected a non-negative integer, got ${String(ahead)}`);
    }
    this.#maxReadAheadBytes = ahead;
    const url = new URL(import.meta.url);
    for (let i = 0; i < n; i++) {
      const worker = new Worker(url, { workerData: { role: WORKER_ROLE } });
      const slot: WorkerSlot = { worker, ready: false, queue: [], pending: new Map() };
      worker.on('message', (m: FromWorker) => this.#onMessage(slot, m));
      worker.on('error', (e) => this.#fail(e));
      worker.on('exit', (code) => {
        if (!this.#closed) this.#fail(new Error(`a ballot verification worker exited (code ${code})`));
      });
      this.#slots.push(slot);
    }
  }

  /** Number of worker threads. */
  get workers(): number {
    return this.#slots.length;
  }

  /** Ballots per batch (1: per-proof mode). */
  get batch(): number {
    return this.#batch;
  }

  /**
   * The `verifyBallot` option of `audit`: the check of `record.ballot` against `election`,
   * computed by a worker (picked up from the read-ahead when it already started it).
   * Bound to the pool, so it can be passed around as a plain function.
   */
  readonly verifyBallot: BallotVerifier = async (election, record) => {
    this.#ensureElection(election);
    const wire = ballotToJson(election, record.ballot);
    let key: string | undefined;
    try {
      key = jobKey(election.fingerprintHex, wire);
    } catch {
      key = undefined; // not expected for a parsed ballot; then simply verify it now
    }
    const i = key === undefined ? -1 : this.#started.findIndex((j) => j.key === key);
    if (i >= 0) {
      const job = this.#started[i]!;
      // audit reads in board order: a job before this one was skipped (a malformed or late
      // ballot) and will never be asked for.
      this.#started = this.#started.slice(i + 1);
      this.stats.prefetchHits++;
      // audit waits for this one: send its chunk now, full or not.
      if (job.chunk !== undefined && job.chunk === this.#open) this.#flush();
      return job.promise;
    }
    this.stats.prefetchMisses++;
    return this.#batch > 1 ? this.#gather(wire) : this.#dispatch(wire).promise;
  };

  /**
   * Wraps a record source so that ballots are verified ahead of `audit` reading them.
   * Yields exactly the records of `source`, in order.
   *
   * @param source - the board's records (the first read; the second, revote read of `audit`
   *   needs no ballot verification and is not wrapped)
   * @returns the same records
   */
  async *prefetch(source: AsyncIterable<BoardRecord>): AsyncGenerator<BoardRecord, void, undefined> {
    const it = source[Symbol.asyncIterator]();
    const buffer: BoardRecord[] = [];
    const maxBuffered = 4 * this.#maxInFlight + 16;
    const sizeOf = (r: BoardRecord) => (r.kind === 'entry' ? (r.size ?? 0) : 0);
    let bufferedBytes = 0;
    let done = false;
    let sawEntry = false;
    try {
      for (;;) {
        while (
          !done &&
          (buffer.length === 0 || (buffer.length < maxBuffered && bufferedBytes < this.#maxReadAheadBytes && this.#started.length < this.#maxInFlight))
        ) {
          const r = await it.next();
          if (r.done) {
            done = true;
            // No more ballots will fill the open chunk: start it now rather than when audit
            // reaches it, so it runs beside the others.
            if (this.#open !== undefined && this.#broken === undefined && !this.#closed) this.#flush();
            break;
          }
          const rec = r.value;
          buffer.push(rec);
          bufferedBytes += sizeOf(rec);
          this.#readBytes += sizeOf(rec);
          if (rec.kind !== 'entry') continue;
          const first = !sawEntry;
          sawEntry = true;
          if (first && rec.entry.type === 'setup') this.#initFromSetup(rec.entry.payload);
          else if (rec.entry.type === 'ballot') {
            this.#readBallots++;
            this.#startBallot(rec.entry.payload);
          }
        }
        // The window is full (a bound, not the end of the board) while a worker has nothing to
        // do: send the open chunk now, part-filled, rather than let that core wait until audit
        // consumes enough records for the chunk to fill (ballots of ~9 KB fill a 4 Mi window
        // with fewer than two chunks of 256).
        this.#blocked = !done;
        if (!done) this.#flushIfIdle();
        const next = buffer.shift();
        if (next === undefined) return;
        bufferedBytes -= sizeOf(next);
        yield next;
      }
    } finally {
      if (!done) await it.return?.();
      this.#started = [];
      if (this.#open !== undefined && this.#broken === undefined && !this.#closed) this.#flush();
    }
  }

  /**
   * Check a `partial-decryption` payload against the encrypted tally `ciphertexts` (spec §13.4:
   * 13.4p, 13.4a, then 13.4b–13.4f per question) on the least busy worker: the answer of
   * {@link verifyPartialDecryptionEntry}, without its seconds of exponentiations on the caller's
   * thread. Bound to the pool.
   * @throws TallyError INTERNAL if the pool is closed or a worker died
   */
  readonly verifyPartialDecryption = (election: Election, ciphertexts: readonly bigint[], payload: unknown): Promise<PartialEntryCheck> => {
    this.#ensureElection(election);
    this.#assertUsable();
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.#nextId++;
    const promise = new Promise<PartialEntryCheck>((resolve, reject) => slot.pending.set(id, { resolve: (c) => resolve(c as PartialEntryCheck), reject }));
    send(slot, { kind: 'verify-partial', id, ciphertexts, payload });
    this.stats.partials++;
    this.#countBusy();
    return promise;
  };

  /** Stops the workers; pending verifications reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#started = [];
    const err = new Error('the ballot verification pool is closed');
    for (const r of [...(this.#open?.resolvers ?? []), ...(this.#waiting?.resolvers ?? [])]) r.reject(err);
    this.#open = undefined;
    this.#waiting = undefined;
    for (const s of this.#slots) for (const p of s.pending.values()) p.reject(err);
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  // --- internals -------------------------------------------------------------------------------

  /** Read-ahead of the setup entry: give the workers the manifest as soon as it is read. */
  #initFromSetup(payload: unknown): void {
    const manifest = (payload as { manifest?: unknown } | null)?.manifest;
    try {
      // Only for the fingerprint; audit validates the setup in full (step 4).
      const e = parseManifest(manifest, { checkKeyProof: false });
      this.#ensureElection(e);
    } catch {
      // A setup audit will reject: no ballot of it will be verified.
    }
  }

  /** Read-ahead of a ballot entry: start its verification if there is room. */
  #startBallot(payload: unknown): void {
    const election = this.#election;
    if (election === undefined || this.#started.length >= this.#maxInFlight || this.#broken !== undefined) return;
    let wire: unknown;
    let key: string;
    try {
      // Shape first (6.1a, no arithmetic): a malformed ballot is neither encoded nor sent.
      wire = ballotToJson(election, parseBallot(election, (payload as { ballot?: unknown } | null)?.ballot));
      key = jobKey(election.fingerprintHex, wire);
    } catch {
      return; // audit will refuse it at 6a or 6.1a: nothing to verify
    }
    const job = this.#batch > 1 ? this.#enqueue(wire, key) : this.#dispatch(wire, key);
    this.#started.push(job);
  }

  /** Add a read-ahead ballot to the open chunk; send the chunk when it is full. */
  #enqueue(ballot: unknown, key: string): Job {
    this.#assertUsable();
    const chunk = (this.#open ??= { ids: [], ballots: [], resolvers: [] });
    const id = this.#nextId++;
    const promise = new Promise<BallotCheck>((resolve, reject) => chunk.resolvers.push({ resolve, reject }));
    promise.catch(() => undefined); // as in #dispatch: a read-ahead job may never be consumed
    chunk.ids.push(id);
    chunk.ballots.push(ballot);
    const job: Job = { key, promise, chunk };
    if (chunk.ballots.length >= this.#chunkTarget()) this.#flush();
    return job;
  }

  /**
   * A ballot asked for on its own (the ballot server's casts: no read-ahead). It goes to a worker
   * at once if one is idle; otherwise it waits with the others that arrive meanwhile, and they go
   * together, as one batch (spec §5.7), to the first worker that finishes. The batch is whatever
   * arrived while every worker was busy: no timer, no window to guess. A bad ballot in the batch
   * is found by bisection and reported exactly as alone (verifyBallots), so the others are not
   * held responsible.
   */
  #gather(wire: unknown): Promise<BallotCheck> {
    this.#assertUsable();
    const chunk = (this.#waiting ??= { ids: [], ballots: [], resolvers: [] });
    const id = this.#nextId++;
    const promise = new Promise<BallotCheck>((resolve, reject) => chunk.resolvers.push({ resolve, reject }));
    chunk.ids.push(id);
    chunk.ballots.push(wire);
    if (chunk.ballots.length >= this.#batch || this.#slots.some((s) => s.pending.size === 0)) this.#sendWaiting();
    return promise;
  }

  /** Send the ballots gathered by {@link #gather} to the least busy worker. */
  #sendWaiting(): void {
    const chunk = this.#waiting;
    if (chunk === undefined) return;
    this.#waiting = undefined;
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    chunk.ids.forEach((id, i) => slot.pending.set(id, chunk.resolvers[i]!));
    send(slot, { kind: 'verify-batch', ids: chunk.ids, ballots: chunk.ballots });
    this.stats.dispatched += chunk.ids.length;
    this.stats.batches++;
    this.#countBusy();
  }

  /** Send the open chunk to the least busy worker (counted in ballots). */
  #flush(): void {
    const chunk = this.#open;
    if (chunk === undefined) return;
    this.#open = undefined;
    this.#assertUsable();
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    chunk.ids.forEach((id, i) => slot.pending.set(id, chunk.resolvers[i]!));
    for (const j of this.#started) if (j.chunk === chunk) delete j.chunk;
    send(slot, { kind: 'verify-batch', ids: chunk.ids, ballots: chunk.ballots });
    this.stats.dispatched += chunk.ids.length;
    this.stats.batches++;
    this.#countBusy();
  }

  /**
   * Ballots per read-ahead chunk: the batch size, or less when the read-ahead window cannot hold
   * a chunk for every worker and one more for audit to consume (large ballots): then the window,
   * in ballots at the board's measured bytes per ballot, is shared out in workers + 1 chunks,
   * so that every worker has work while audit consumes the oldest chunk.
   */
  #chunkTarget(): number {
    if (this.#readBallots === 0) return this.#batch;
    const perBallot = Math.max(1, this.#readBytes / this.#readBallots);
    const fit = Math.floor(this.#maxReadAheadBytes / perBallot / (this.#slots.length + 1));
    return Math.max(1, Math.min(this.#batch, fit));
  }

  /** Record how many workers have work now (the `maxBusyWorkers` statistic). */
  #countBusy(): void {
    let busy = 0;
    for (const s of this.#slots) if (s.pending.size > 0) busy++;
    if (busy > this.stats.maxBusyWorkers) this.stats.maxBusyWorkers = busy;
  }

  /** Send the open chunk if a worker is idle (the read-ahead cannot fill it for now). */
  #flushIfIdle(): void {
    if (this.#open === undefined || this.#broken !== undefined || this.#closed) return;
    if (this.#slots.some((s) => s.pending.size === 0)) this.#flush();
  }

  /** Make sure the workers hold `election` (messages to a worker are handled in order). */
  #ensureElection(election: Election): void {
    if (this.#fingerprint === election.fingerprintHex) return;
    this.#assertUsable();
    // Chunks already filled belong to the previous election: send them to it first.
    if (this.#open !== undefined) this.#flush();
    if (this.#waiting !== undefined) this.#sendWaiting();
    this.#fingerprint = election.fingerprintHex;
    this.#election = election;
    this.#started = [];
    const msg: ToWorker = { kind: 'init', manifest: election.manifest, fingerprint: election.fingerprintHex };
    for (const s of this.#slots) send(s, msg);
  }

  /** Send one ballot (JSON) to the least busy worker. */
  #dispatch(ballot: unknown, key = ''): Job {
    this.#assertUsable();
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.#nextId++;
    const promise = new Promise<BallotCheck>((resolve, reject) => slot.pending.set(id, { resolve: (c) => resolve(c as BallotCheck), reject }));
    // A read-ahead job may never be consumed (a late ballot); its failure must not go unhandled.
    promise.catch(() => undefined);
    send(slot, { kind: 'verify', id, ballot });
    this.stats.dispatched++;
    this.#countBusy();
    return { key, promise };
  }

  #onMessage(slot: WorkerSlot, m: FromWorker): void {
    if (m.kind === 'ready') {
      slot.ready = true;
      for (const q of slot.queue.splice(0)) slot.worker.postMessage(q);
      return;
    }
    if (m.kind === 'results') {
      m.ids.forEach((id, i) => this.#settle(slot, id, m.results[i]!));
      // This worker is free: the casts that arrived meanwhile go to it as one batch, or the
      // read-ahead's part-filled chunk if the read-ahead is waiting for audit.
      if (this.#waiting !== undefined && slot.pending.size === 0 && this.#broken === undefined && !this.#closed) this.#sendWaiting();
      if (this.#blocked) this.#flushIfIdle();
      return;
    }
    if (m.kind === 'partial-result') {
      const p = slot.pending.get(m.id);
      slot.pending.delete(m.id);
      p?.resolve(m.result);
      // As for 'results': a worker that became free takes the casts gathered meanwhile.
      if (this.#waiting !== undefined && slot.pending.size === 0 && this.#broken === undefined && !this.#closed) this.#sendWaiting();
      return;
    }
    if (m.kind === 'failed' && m.ids !== undefined) {
      for (const id of m.ids) {
        const p = slot.pending.get(id);
        slot.pending.delete(id);
        p?.reject(new TallyError('INTERNAL', `ballot verification worker: ${m.reason}`));
      }
      return;
    }
    if (m.id === undefined) {
      if (m.kind === 'failed') this.#fail(new Error(`ballot verification worker: ${m.reason}`));
      return;
    }
    const p = slot.pending.get(m.id);
    if (!p) return;
    slot.pending.delete(m.id);
    if (m.kind === 'failed') {
      p.reject(new TallyError('INTERNAL', `ballot verification worker: ${m.reason}`));
      return;
    }
    this.#resolve(p, m.result);
  }

  /** Resolve the verification `id` of `slot` with a worker's result. */
  #settle(slot: WorkerSlot, id: number, r: WireCheck): void {
    const p = slot.pending.get(id);
    if (!p) return;
    slot.pending.delete(id);
    this.#resolve(p, r);
  }

  #resolve(p: PendingJob, r: WireCheck): void {
    if (r.ok) p.resolve({ ok: true, tracker: parseHex(r.tracker, 'worker tracker', 32) });
    else p.resolve({ ok: false, check: r.check, code: r.code as ErrorCode, reason: r.reason, ...(r.question !== undefined ? { question: r.question } : {}) });
  }

  #fail(e: unknown): void {
    if (this.#broken !== undefined) return;
    this.#broken = e;
    const err = new TallyError('INTERNAL', `ballot verification worker failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    for (const s of this.#slots) {
      for (const p of s.pending.values()) p.reject(err);
      s.pending.clear();
    }
    for (const r of [...(this.#open?.resolvers ?? []), ...(this.#waiting?.resolvers ?? [])]) r.reject(err);
    this.#open = undefined;
    this.#waiting = undefined;
  }

  #assertUsable(): void {
    if (this.#closed) throw new TallyError('INTERNAL', 'the ballot verification pool is closed');
    if (this.#broken !== undefined) {
      throw new TallyError('INTERNAL', `ballot verification worker failed: ${this.#broken instanceof Error ? this.#broken.message : String(this.#broken)}`, { cause: this.#broken });
    }
  }
}

/**
 * Post to a worker, or queue until it is ready. (A worker started from TypeScript source under
 * a loader was seen to drop messages that arrived while its modules were still loading.)
 */
function send(slot: WorkerSlot, msg: ToWorker): void {
  if (slot.ready) slot.worker.postMessage(msg);
  else slot.queue.push(msg);
}

/** The content key of a verification: the election and the ballot's canonical JSON. */
function jobKey(fingerprint: string, ballot: unknown): string {
  return `${fingerprint}\n${canonicalJson(ballot)}`;
}

// ---------------------------------------------------------------------------------------------
// The worker side
// ---------------------------------------------------------------------------------------------

function runWorker(): void {
  const port = parentPort!;
  let election: Election | undefined;
  let initError: string | undefined;
  port.on('message', (m: ToWorker) => {
    if (m.kind === 'init') {
      try {
        const e = parseManifest(m.manifest, { checkKeyProof: false });
        if (e.fingerprintHex !== m.fingerprint) throw new Error('the manifest does not have the fingerprint the pool expects');
        election = e;
        initError = undefined;
      } catch (e) {
        election = undefined;
        initError = e instanceof Error ? e.message : String(e);
      }
      return;
    }
    if (!election) {
      const reply: FromWorker =
        m.kind === 'verify-batch' ? { kind: 'failed', ids: m.ids, reason: initError ?? 'no election' } : { kind: 'failed', id: m.id, reason: initError ?? 'no election' };
      port.postMessage(reply);
      return;
    }
    if (m.kind === 'verify-batch') {
      const reply: FromWorker = { kind: 'results', ids: m.ids, results: checkBatch(election, m.ballots) };
      port.postMessage(reply);
      return;
    }
    if (m.kind === 'verify-partial') {
      const reply: FromWorker = { kind: 'partial-result', id: m.id, result: verifyPartialDecryptionEntry(election.threshold, election.fingerprint, m.ciphertexts, m.payload) };
      port.postMessage(reply);
      return;
    }
    const reply: FromWorker = { kind: 'result', id: m.id, result: check(election, m.ballot) };
    port.postMessage(reply);
  });
  const ready: FromWorker = { kind: 'ready' };
  port.postMessage(ready);
}

/** The worker's check of one ballot: what `verifyBallot` in the main thread would answer. */
function check(election: Election, json: unknown): WireCheck {
  let r: BallotCheck;
  try {
    r = verifyBallot(election, parseBallot(election, json));
  } catch (e) {
    return parseFailure(e);
  }
  return toWire(r);
}

/**
 * The worker's check of a chunk in one batch (spec §5.7): per ballot, what `verifyBallot` in
 * the main thread would answer (a ballot failing 5.4g is accepted only with the probability
 * the spec bounds).
 */
function checkBatch(election: Election, jsons: readonly unknown[]): WireCheck[] {
  const out: (WireCheck | undefined)[] = new Array(jsons.length);
  const parsed: Ballot[] = [];
  const where: number[] = [];
  jsons.forEach((json, i) => {
    try {
      parsed.push(parseBallot(election, json));
      where.push(i);
    } catch (e) {
      out[i] = parseFailure(e);
    }
  });
  verifyBallots(election, parsed).forEach((r, k) => (out[where[k]!] = toWire(r)));
  return out as WireCheck[];
}

/**
 * audit parses the ballot itself first (6a); a parse failure here is only ever a read-ahead of
 * a ballot audit will reject, and is never consumed.
 */
function parseFailure(e: unknown): WireCheck {
  return { ok: false, check: '6a', code: isTallyError(e) ? e.code : 'MALFORMED', reason: e instanceof Error ? e.message : String(e) };
}

function toWire(r: BallotCheck): WireCheck {
  if (r.ok) return { ok: true, tracker: toHex(r.tracker) };
  return { ok: false, check: r.check, code: r.code, reason: r.reason, ...(r.question !== undefined ? { question: r.question } : {}) };
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === WORKER_ROLE) runWorker();
