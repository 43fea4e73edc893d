/**
 * A bounded work queue: at most `concurrency` jobs run at once, at most `maxWaiting` wait, and
 * anything beyond is refused at once with 503 SERVER_BUSY and a Retry-After hint (issue 16.4,
 * 16.5).
 *
 * Why: CPU-heavy or memory-heavy work (proof verification on worker threads, scrypt at 32 MiB
 * per hash) must not be started without limit. Unbounded, a flood turns into unbounded memory
 * and latency for everyone; bounded, a server under too much load answers quickly that it is
 * busy and clients come back later, while the work it accepted finishes in reasonable time.
 *
 * The Retry-After hint follows the work, it does not guess it: it is the queue's length times
 * the mean duration of the jobs it actually ran (an exponential moving average), divided by
 * the concurrency, and at least one second.
 */
import { TallyError } from '../errors.js';

/** Options of a {@link BoundedQueue}. */
export interface BoundedQueueOptions {
  /** jobs running at once, 1 ≤ concurrency ≤ 1024 */
  readonly concurrency: number;
  /** jobs waiting for a slot, 0 ≤ maxWaiting ≤ 10^6; beyond, SERVER_BUSY */
  readonly maxWaiting: number;
  /** what the jobs are, for the error message (e.g. 'ballot verification') */
  readonly what: string;
}

/** Weight of the newest duration in the moving average. */
const EMA_WEIGHT = 0.2;

/** See the file header. */
export class BoundedQueue {
  readonly concurrency: number;
  readonly maxWaiting: number;
  readonly #what: string;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  /** mean job duration in ms, undefined before the first job finished */
  #meanMs: number | undefined;
  /** counters, for tests and the load bench */
  readonly stats = { started: 0, refused: 0, peakRunning: 0, peakWaiting: 0 };

  /**
   * @param options - see BoundedQueueOptions
   * @throws TallyError OUT_OF_RANGE for a bad bound
   */
  constructor(options: BoundedQueueOptions) {
    const { concurrency, maxWaiting } = options;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
      throw new TallyError('OUT_OF_RANGE', `concurrency: expected an integer in [1, 1024], got ${String(concurrency)}`);
    }
    if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0 || maxWaiting > 1_000_000) {
      throw new TallyError('OUT_OF_RANGE', `maxWaiting: expected an integer in [0, 10^6], got ${String(maxWaiting)}`);
    }
    this.concurrency = concurrency;
    this.maxWaiting = maxWaiting;
    this.#what = options.what;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running;
  }

  /** Jobs waiting now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Run `job` when a slot is free.
   * @param job - the work; its result or rejection is passed through
   * @returns what `job` returns
   * @throws TallyError SERVER_BUSY (503, details.retryAfterMs) if `concurrency` jobs run and
   *   `maxWaiting` wait already; the job is then not run
   */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running < this.concurrency) {
      this.#running++;
    } else {
      if (this.#waiting.length >= this.maxWaiting) {
        this.stats.refused++;
        const retryAfterMs = this.retryAfterMs();
        throw new TallyError('SERVER_BUSY', `the server is busy with ${this.#what}; retry in ${Math.ceil(retryAfterMs / 1000)} s`, { details: { retryAfterMs } });
      }
      // A finishing job hands its slot over directly (`#running` is not decremented), so a
      // newcomer can never slip in between and exceed the concurrency.
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
        this.stats.peakWaiting = Math.max(this.stats.peakWaiting, this.#waiting.length);
      });
    }
    this.stats.started++;
    this.stats.peakRunning = Math.max(this.stats.peakRunning, this.#running);
    const t0 = performance.now();
    try {
      return await job();
    } finally {
      const d = performance.now() - t0;
      this.#meanMs = this.#meanMs === undefined ? d : this.#meanMs + EMA_WEIGHT * (d - this.#meanMs);
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  /** How long until a slot is likely free, from the measured mean duration; at least 1 s. */
  retryAfterMs(): number {
    const mean = this.#meanMs ?? 1000;
    const ahead = this.#waiting.length + this.#running;
    return Math.max(1000, Math.ceil((ahead / this.concurrency) * mean));
  }
}
