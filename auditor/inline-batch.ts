/**
 * Batch verification of ballots in the calling thread (spec §5.7), for an audit with no worker
 * threads: `tallyboard verify --workers 0`, a server re-checking a board in-process, or a
 * browser Worker running the auditor (no `node:` imports here).
 *
 * Same shape as the worker pool (workers.ts), without threads: {@link prefetch} reads up to
 * `batch` ballot entries ahead of `audit`; when `audit` asks for the first of them,
 * {@link verifyBallot} checks the whole chunk with `verifyBallots` (one random linear
 * combination, bisection, per-proof reports for culprits) and keeps the results until `audit`
 * asks for them. Results are found again by CONTENT (election fingerprint and the ballot's
 * canonical JSON), never by position; a ballot the read-ahead did not see is simply verified
 * alone, so correctness never depends on the read-ahead, only speed does. Memory: at most
 * `batch` ballots read ahead and one chunk's results.
 */
import { canonicalJson } from '../bulletin/value-encoding.js';
import { TallyError } from '../src/errors.js';
import { ballotToJson, parseBallot, verifyBallot, type Ballot, type BallotCheck } from '../src/election/ballot.js';
import { verifyBallots } from '../src/election/ballot-batch.js';
import type { Election } from '../src/election/manifest.js';
import type { BallotVerifier, BoardRecord } from './audit.js';

/** Largest chunk accepted. */
export const MAX_INLINE_BATCH = 4096;

/** An in-thread batch verifier for `audit`: `audit(v.prefetch(src), { verifyBallot: v.verifyBallot })`. */
export class InlineBatchVerifier {
  readonly #batch: number;
  /** ballot payloads (JSON) read ahead and not yet verified, in board order */
  #queue: unknown[] = [];
  /** results of the last verified chunk, by content key, not yet consumed */
  #done = new Map<string, BallotCheck>();
  /** counters, for tests and summaries */
  readonly stats = { batches: 0, hits: 0, misses: 0 };

  /**
   * @param batch - ballots per chunk, 1 ≤ batch ≤ {@link MAX_INLINE_BATCH}
   * @throws TallyError OUT_OF_RANGE for a bad size
   */
  constructor(batch = 256) {
    if (!Number.isSafeInteger(batch) || batch < 1 || batch > MAX_INLINE_BATCH) {
      throw new TallyError('OUT_OF_RANGE', `batch: expected an integer in [1, ${MAX_INLINE_BATCH}], got ${String(batch)}`);
    }
    this.#batch = batch;
  }

  /**
   * The `verifyBallot` option of `audit`. Bound to the instance.
   * Answers exactly what `verifyBallot(election, record.ballot)` answers (except with the
   * probability of spec §5.7 that a ballot failing 5.4g is accepted).
   */
  readonly verifyBallot: BallotVerifier = async (election, record) => {
    const key = contentKey(election, ballotToJson(election, record.ballot));
    if (!this.#done.has(key) && this.#queue.length > 0) this.#verifyQueue(election);
    const r = this.#done.get(key);
    if (r !== undefined) {
      this.#done.delete(key);
      this.stats.hits++;
      return r;
    }
    this.stats.misses++;
    return verifyBallot(election, record.ballot);
  };

  /**
   * Wraps a record source so that ballot entries are read ahead in chunks. Yields exactly the
   * records of `source`, in order.
   */
  async *prefetch(source: AsyncIterable<BoardRecord>): AsyncGenerator<BoardRecord, void, undefined> {
    const it = source[Symbol.asyncIterator]();
    const buffer: BoardRecord[] = [];
    const maxBuffered = 4 * this.#batch + 16;
    let done = false;
    try {
      for (;;) {
        while (!done && (buffer.length === 0 || (buffer.length < maxBuffered && this.#queue.length < this.#batch))) {
          const r = await it.next();
          if (r.done) {
            done = true;
            break;
          }
          buffer.push(r.value);
          if (r.value.kind === 'entry' && r.value.entry.type === 'ballot') {
            const ballot = (r.value.entry.payload as { ballot?: unknown } | null)?.ballot;
            if (ballot !== undefined) this.#queue.push(ballot);
          }
        }
        const next = buffer.shift();
        if (next === undefined) return;
        yield next;
      }
    } finally {
      if (!done) await it.return?.();
      this.#queue = [];
      this.#done.clear();
    }
  }

  /** Verify every queued ballot in one batch; earlier unconsumed results were skipped by audit. */
  #verifyQueue(election: Election): void {
    const queued = this.#queue;
    this.#queue = [];
    this.#done.clear();
    const parsed: Ballot[] = [];
    const keys: string[] = [];
    for (const json of queued) {
      try {
        const b = parseBallot(election, json);
        keys.push(contentKey(election, json));
        parsed.push(b);
      } catch {
        // audit rejects it at 6a and never asks for its verification
      }
    }
    verifyBallots(election, parsed).forEach((r, i) => this.#done.set(keys[i]!, r));
    this.stats.batches++;
  }
}

function contentKey(election: Election, ballotJson: unknown): string {
  return `${election.fingerprintHex}\n${canonicalJson(ballotJson)}`;
}
