/**
 * A per-key asynchronous mutex: `run(key, fn)` runs `fn` after every earlier `run` with the
 * same key has settled, and concurrently with runs for other keys.
 *
 * Why: the organization server must turn "read the voter's issuance state, then write it"
 * into one step, and two HTTP requests from the same voter must not interleave inside the
 * issuance sequence. Node runs one thread, so a chain of promises per key is enough within
 * one process; across processes the LevelDB directory lock (one opener at a time) and the
 * reservation ids of register-store.ts take over. Internal module: not part of the API.
 */

/** Per-key FIFO mutex. Keys whose queue drains are forgotten, so memory tracks live keys only. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Run `fn` exclusively for `key`.
   * @param key - the resource name
   * @param fn - the critical section; its result or rejection is passed through
   * @returns what `fn` returns
   */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    // `previous` never rejects: it is a chain of `mine` promises, which only resolve.
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Number of keys with a holder or waiters (for tests and metrics). */
  get activeKeys(): number {
    return this.tails.size;
  }
}
