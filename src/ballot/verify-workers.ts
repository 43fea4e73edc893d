/**
 * Ballot verification off the event loop (issue 16.4): the ballot server's proof checks run on
 * worker threads, sized to the cores, behind a bounded queue.
 *
 * Why: checking one ballot's proofs costs hundreds of milliseconds of BigInt exponentiation.
 * On the event loop, every cast stalls every other request (health, receipts, the board) and
 * throughput stays flat however many cores the machine has. On workers, casts are checked in
 * parallel, one per core, and the event loop only parses, hashes and appends.
 *
 * The workers are the auditor's (auditor/workers.ts): the same code that audits the board
 * checks a ballot at the door, so the server and the auditor cannot disagree on a verdict. The
 * pool is started by `start()` (the ballot server calls it when it is ready, so that loading
 * the workers' modules overlaps the wait for the first voter) or else on the first ballot. A pool
 * whose worker died is replaced on the next ballot: the failure of one thread fails the
 * ballots it held (500, retry), not the server.
 *
 * Admission: at most `workers` × {@link HANDED_PER_WORKER} verifications are handed to the pool
 * at once (fewer for very large ballots, {@link HANDED_BYTES_PER_WORKER}), at most `maxWaiting`
 * more wait; beyond that a
 * cast is refused at once with 503 SERVER_BUSY and a Retry-After computed from the measured
 * verification time (src/http/bounded-queue.ts).
 */
import { availableParallelism } from 'node:os';
import type { BallotRecord } from '../election/records.js';
import { isTallyError } from '../errors.js';
import { BallotVerifierPool, MAX_WORKERS } from '../../auditor/workers.js';
import { BoundedQueue } from '../http/bounded-queue.js';
import type { BallotVerifyFn, PartialVerifyFn } from './ballot-box.js';

/**
 * Verifications handed to the pool at once, per worker (at most). The pool sends a cast to an
 * idle worker at once and checks the casts that arrive while every worker is busy together, as
 * one batch (spec §5.7): a batch pays ONE exponentiation by n (about 25 ms at 2048 bits, half the
 * cost of a ballot checked alone), so the more casts the pool may hold, the more a busy server
 * gains. With only 2 per worker batches never grew beyond 2 and a 2-core server cast about 39
 * ballots/s at any concurrency; with 32, 108/s (README, "Under load").
 */
export const HANDED_PER_WORKER = 32;

/**
 * Ballot bytes the pool may hold per worker: with very large ballots (hundreds of branches at
 * 4096 bits, megabytes each) fewer are handed over, so that the pool's memory stays bounded
 * (at least 2 per worker, as before batching).
 */
export const HANDED_BYTES_PER_WORKER = 16 * 1024 * 1024;

/** Options of {@link BallotVerifyWorkers}. */
export interface VerifyWorkersOptions {
  /** worker threads, 1 ≤ workers ≤ 256 (default: the CPUs this process may use) */
  readonly workers?: number;
  /** verifications waiting for a worker before SERVER_BUSY (default 16 × workers) */
  readonly maxWaiting?: number;
  /** the largest ballot body accepted, in bytes: bounds how many ballots the pool holds */
  readonly maxBallotBytes?: number;
}

/** A lazily started pool of verification workers behind a bounded queue. */
export class BallotVerifyWorkers {
  readonly workers: number;
  readonly queue: BoundedQueue;
  #pool: BallotVerifierPool | undefined;
  #closed = false;

  /**
   * @param options - see VerifyWorkersOptions
   * @throws TallyError OUT_OF_RANGE for a bad count
   */
  constructor(options: VerifyWorkersOptions = {}) {
    this.workers = Math.min(options.workers ?? availableParallelism(), MAX_WORKERS);
    const perWorker = Math.max(2, Math.min(HANDED_PER_WORKER, Math.floor(HANDED_BYTES_PER_WORKER / Math.max(1, options.maxBallotBytes ?? 0))));
    this.queue = new BoundedQueue({ concurrency: perWorker * this.workers, maxWaiting: options.maxWaiting ?? 16 * this.workers, what: 'ballot verification' });
  }

  /** True once the worker threads were started. */
  get started(): boolean {
    return this.#pool !== undefined;
  }

  /** Dispatch counters of the current pool (tests, the load bench). */
  get dispatched(): number {
    return this.#pool?.stats.dispatched ?? 0;
  }

  /** Partial decryptions the current pool checked (tests). */
  get partials(): number {
    return this.#pool?.stats.partials ?? 0;
  }

  /** Batches the current pool sent to its workers (tests, the load bench). */
  get batches(): number {
    return this.#pool?.stats.batches ?? 0;
  }

  /**
   * The `verifyBallot` option of the BallotBox.
   * @throws TallyError SERVER_BUSY when the queue is full; INTERNAL if a worker died
   */
  readonly verify: BallotVerifyFn = (election, ballot) =>
    // The pool reads only `record.ballot` (the tracker is the caller's business).
    this.queue.run(() => this.#onPool((pool) => pool.verifyBallot(election, { ballot } as unknown as BallotRecord)));

  /**
   * The `verifyPartialDecryption` option of the BallotBox: a trustee's entry checked on a worker
   * (seconds of exponentiations per entry at 2048 bits with several questions), behind the same
   * bounded queue as the casts, so the event loop keeps serving the board meanwhile.
   * @throws TallyError SERVER_BUSY when the queue is full; INTERNAL if a worker died
   */
  readonly verifyPartial: PartialVerifyFn = (election, ciphertexts, payload) =>
    this.queue.run(() => this.#onPool((pool) => pool.verifyPartialDecryption(election, ciphertexts, payload)));

  /** Run `job` on the current pool; a dead worker's pool is replaced for the next job. */
  async #onPool<T>(job: (pool: BallotVerifierPool) => Promise<T>): Promise<T> {
    const pool = this.#poolNow();
    try {
      return await job(pool);
    } catch (e) {
      if (isTallyError(e, 'INTERNAL') && this.#pool === pool) {
        // A dead worker breaks the whole pool; start a fresh one for the next job.
        this.#pool = undefined;
        void pool.close();
      }
      throw e;
    }
  }

  /** Start the threads now (they load their modules in the background). Idempotent. */
  start(): void {
    if (!this.#closed) this.#poolNow();
  }

  #poolNow(): BallotVerifierPool {
    if (this.#closed) throw new Error('the verification workers are closed');
    this.#pool ??= new BallotVerifierPool({ workers: this.workers });
    return this.#pool;
  }

  /** Stop the threads (pending verifications reject). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const p = this.#pool;
    this.#pool = undefined;
    await p?.close();
  }
}
