/**
 * The auditor: replays a bulletin board and runs the numbered verification steps of
 * spec/10-verification.md, reporting each as pass or fail with counts and the first failures.
 *
 * Why this shape:
 * - It reads the board as a stream of records (header, entries, final checkpoint) and keeps
 *   O(questions) big integers plus a few bytes per ballot (the revote rule needs each token's
 *   heights), so a board of any length is audited in bounded memory.
 * - The encrypted tally is the product of ALL ballot ciphertexts times the inverse of the
 *   replaced ones. Without revotes one pass suffices; with revotes a second pass reads only the
 *   replaced entries' ciphertexts (the caller gives a way to re-open the source).
 * - Ballot verification, the expensive part, is an injected async function so that a worker
 *   pool can verify in parallel while results are still consumed in board order.
 *
 * It imports only the crypto core, the record types and the board's pure verifier: never
 * server code, so it can be shipped and run alone.
 */
import { ChainVerifier, type BoardFailure, type BoardHeader } from '../bulletin/verify.js';
import type { Entry } from '../bulletin/entry.js';
import type { Checkpoint } from '../bulletin/checkpoint.js';
import { bytesEqual } from '../src/crypto/hash.js';
import { modInv } from '../src/crypto/bigint.js';
import { isTallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import type { Election } from '../src/election/manifest.js';
import { verifyBallot, type BallotCheck } from '../src/election/ballot.js';
import { CountedSet } from '../src/election/counted-set.js';
import { verifyTally, type QuestionResult } from '../src/election/tally.js';
import {
  parseBallotRecord,
  parseClose,
  parseEncryptedTally,
  parseResult,
  parseSetup,
  parseTokenIssued,
  type BallotRecord,
  type CloseRecord,
  type EncryptedTallyRecord,
} from '../src/election/records.js';

/** One record of a board as the auditor reads it (an export file line, or a page of an API). */
export type BoardRecord =
  | { readonly kind: 'header'; readonly header: BoardHeader; readonly line?: number }
  | { readonly kind: 'entry'; readonly entry: Entry; readonly hash?: Uint8Array; readonly line?: number }
  | { readonly kind: 'checkpoint'; readonly checkpoint: Checkpoint; readonly line?: number }
  /** a line the reader could not decode (framing, JSON, shape): a failure of step 1 or 2 */
  | { readonly kind: 'invalid'; readonly check: string; readonly reason: string; readonly line?: number };

export type StepNumber = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

export const STEP_TITLES: Record<StepNumber, string> = {
  1: 'board file and header',
  2: 'hash chain and entries',
  3: 'signed checkpoint and Merkle root',
  4: 'election setup and keys',
  5: 'token issuance',
  6: 'ballot validity',
  7: 'counted set and revote rule',
  8: 'close',
  9: 'encrypted tally recomputed',
  10: 'decryption proof and result',
};

export interface StepFailure {
  /** the most specific check identifier, e.g. 'B5', '5.4f', '6d', '8b' */
  readonly check: string;
  readonly height?: number;
  readonly line?: number;
  readonly reason: string;
  readonly expected?: string;
  readonly computed?: string;
}

export interface StepReport {
  readonly step: StepNumber;
  readonly title: string;
  status: 'pass' | 'fail' | 'not run';
  /** what the step saw: entries, ballots, tokens… */
  readonly counts: Record<string, number>;
  /** the first failures (at most `maxFailures`), in board order */
  readonly failures: StepFailure[];
  /** total number of failures, including those not listed */
  failureCount: number;
}

export interface AuditReport {
  readonly ok: boolean;
  readonly steps: StepReport[];
  readonly electionId?: string;
  readonly fingerprint?: string;
  readonly entries: number;
  /** decoded counts per question, when step 10 passed */
  readonly results?: { readonly question: string; readonly counts: Record<string, number> }[];
  /** stage 'tally' only: the recomputed encrypted tally, when steps 1–8 passed */
  readonly tally?: { readonly ciphertexts: readonly bigint[]; readonly ballotsCounted: number };
}

export type BallotVerifier = (election: Election, record: BallotRecord) => Promise<BallotCheck>;

export interface AuditOptions {
  /** re-open the same board from the start (needed only when the board has revotes) */
  readonly reopen?: () => AsyncIterable<BoardRecord>;
  /** verify one ballot (default: in this thread) */
  readonly verifyBallot?: BallotVerifier;
  /** called after each entry with the number of entries read */
  readonly onProgress?: (entries: number) => void;
  /** failures listed per step (default 10) */
  readonly maxFailures?: number;
  /**
   * 'final' (default): a complete board, ending with the tally and result.
   * 'tally': a board that ends at its close entry, as the verification server reads it before
   * tallying; steps 9 and 10 are not run, and the report carries the recomputed encrypted tally.
   */
  readonly stage?: 'final' | 'tally';
}

const inThread: BallotVerifier = async (election, record) => verifyBallot(election, record.ballot);

/** Run the audit over `source`. Never throws for bad board content: failures are reported. */
export async function audit(source: AsyncIterable<BoardRecord>, options: AuditOptions = {}): Promise<AuditReport> {
  const a = new Auditor(options);
  for await (const rec of source) await a.push(rec);
  return a.finish();
}

class Auditor {
  private readonly steps = new Map<StepNumber, StepReport>();
  private readonly maxFailures: number;
  private readonly check: BallotVerifier;
  private chain: ChainVerifier | undefined;
  private header: BoardHeader | undefined;
  private election: Election | undefined;
  private counted: CountedSet | undefined;
  private product: bigint[] = [];
  private entries = 0;
  private tokensIssued = 0;
  private readonly refs = new Set<string>();
  private ballotsBeforeClose = 0;
  private close: { height: number; record: CloseRecord } | undefined;
  private encryptedTally: { height: number; record: EncryptedTallyRecord } | undefined;
  private result: { height: number; results: QuestionResult[] } | undefined;
  private sawCheckpoint = false;
  private chainFailed = false;
  /** hash of the close entry as verified in the first pass: the second pass must reach it */
  private closeHash: Uint8Array | undefined;

  constructor(private readonly options: AuditOptions) {
    this.maxFailures = options.maxFailures ?? 10;
    this.check = options.verifyBallot ?? inThread;
    for (const s of Object.keys(STEP_TITLES).map(Number) as StepNumber[]) {
      this.steps.set(s, { step: s, title: STEP_TITLES[s], status: 'pass', counts: {}, failures: [], failureCount: 0 });
    }
  }

  private fail(step: StepNumber, f: StepFailure): void {
    const s = this.steps.get(step)!;
    s.status = 'fail';
    s.failureCount++;
    if (s.failures.length < this.maxFailures) s.failures.push(f);
  }

  private count(step: StepNumber, key: string, by = 1): void {
    const c = this.steps.get(step)!.counts;
    c[key] = (c[key] ?? 0) + by;
  }

  private boardFailure(f: BoardFailure, line?: number): void {
    const n = Number(f.check.slice(1));
    const step: StepNumber = n <= 2 ? 1 : n <= 8 ? 2 : 3;
    this.chainFailed = true;
    this.fail(step, { check: f.check, reason: f.reason, ...(f.height !== undefined ? { height: f.height } : {}), ...(line !== undefined ? { line } : {}), ...(f.expected !== undefined ? { expected: f.expected } : {}), ...(f.computed !== undefined ? { computed: f.computed } : {}) });
  }

  async push(rec: BoardRecord): Promise<void> {
    switch (rec.kind) {
      case 'invalid': {
        const step: StepNumber = rec.check === 'B1' || rec.check === 'B2' ? 1 : rec.check >= 'B9' && rec.check.length === 3 ? 3 : 2;
        this.chainFailed = true;
        this.fail(step, { check: rec.check, reason: rec.reason, ...(rec.line !== undefined ? { line: rec.line } : {}) });
        return;
      }
      case 'header': {
        if (this.header) {
          this.fail(1, { check: 'B2', reason: 'a second header', ...(rec.line !== undefined ? { line: rec.line } : {}) });
          return;
        }
        this.header = rec.header;
        this.chain = new ChainVerifier(rec.header);
        if (this.chain.failure) this.boardFailure(this.chain.failure, rec.line);
        return;
      }
      case 'checkpoint': {
        this.sawCheckpoint = true;
        if (!this.chain) return this.fail(1, { check: 'B2', reason: 'no header before the checkpoint' });
        if (this.chainFailed) return; // the chain's first failure is already reported, once
        const r = this.chain.finish(rec.checkpoint);
        if (!r.ok) this.boardFailure(r, rec.line);
        else this.count(3, 'tree size', r.size);
        return;
      }
      case 'entry':
        return this.pushEntry(rec.entry, rec.hash, rec.line);
    }
  }

  private async pushEntry(entry: Entry, hash: Uint8Array | undefined, line: number | undefined): Promise<void> {
    const h = entry.height;
    this.entries++;
    this.options.onProgress?.(this.entries);
    if (!this.chain) {
      this.fail(1, { check: 'B2', reason: 'an entry before the header', height: h });
      return;
    }
    if (!this.chainFailed) {
      const r = this.chain.push(entry, hash);
      if (!r.ok) this.boardFailure(r, line);
      else if (entry.type === 'close' && this.closeHash === undefined) this.closeHash = r.encoded.hash;
    }
    this.count(2, 'entries');
    const at = { height: h, ...(line !== undefined ? { line } : {}) };
    const election = this.election;
    if (entry.type === 'setup') {
      if (election || h !== 0) return this.fail(4, { check: '4', reason: 'a second setup entry', ...at });
      try {
        this.election = parseSetup(entry.payload);
        this.counted = new CountedSet(this.election.manifest.revoting);
        this.product = this.election.questions.map(() => 1n);
        this.count(4, 'questions', this.election.questions.length);
        if (this.header && !bytesEqual(this.header.boardPublicKey, this.election.boardKey)) {
          this.fail(1, { check: '1', reason: "the header's board key is not the manifest's keys.board", ...at });
        }
        if (this.header && this.header.electionId !== this.election.manifest.electionId) {
          this.fail(1, { check: '1', reason: "the header's electionId is not the manifest's", ...at });
        }
      } catch (e) {
        this.fail(4, { check: isTallyError(e) ? e.code : '4', reason: messageOf(e), ...at });
      }
      return;
    }
    if (!election) {
      this.fail(4, { check: '4', reason: `a ${entry.type} entry before a valid setup`, ...at });
      return;
    }
    const afterClose = this.close !== undefined;
    switch (entry.type) {
      case 'token-issued': {
        if (afterClose) this.fail(8, { check: '8c', reason: 'a token issuance after the close', ...at });
        try {
          const t = parseTokenIssued(entry.payload);
          const ref = toHex(t.ref);
          if (t.count !== this.tokensIssued + 1) {
            this.fail(5, { check: '5', reason: `issuance count ${t.count} does not follow ${this.tokensIssued}`, expected: String(this.tokensIssued + 1), computed: String(t.count), ...at });
          }
          if (this.refs.has(ref)) this.fail(5, { check: '5', reason: 'a second token issued under the same reference', ...at });
          this.refs.add(ref);
          this.tokensIssued++;
          this.count(5, 'tokens issued');
          if (this.tokensIssued === election.manifest.maxVoters + 1) {
            this.fail(5, { check: '5', reason: `more tokens issued than maxVoters (${election.manifest.maxVoters})`, ...at });
          }
        } catch (e) {
          this.fail(5, { check: 'MALFORMED', reason: messageOf(e), ...at });
        }
        return;
      }
      case 'ballot':
        return this.pushBallot(election, entry, at, afterClose);
      case 'close': {
        if (this.close) return this.fail(8, { check: '8a', reason: 'a second close entry', ...at });
        try {
          const c = parseClose(entry.payload);
          this.close = { height: h, record: c };
          if (c.ballots !== this.ballotsBeforeClose) {
            this.fail(8, { check: '8b', reason: 'the close entry miscounts the ballots before it', expected: String(c.ballots), computed: String(this.ballotsBeforeClose), ...at });
          }
          if (c.reason === 'schedule' && entry.timestamp < election.endMs) {
            this.fail(8, { check: '8d', reason: 'closed "on schedule" before the end time', ...at });
          }
        } catch (e) {
          this.fail(8, { check: 'MALFORMED', reason: messageOf(e), ...at });
        }
        return;
      }
      case 'encrypted-tally': {
        if (!afterClose || this.encryptedTally || this.result) return this.fail(8, { check: '8c', reason: 'an encrypted tally out of place', ...at });
        try {
          this.encryptedTally = { height: h, record: parseEncryptedTally(election, entry.payload) };
        } catch (e) {
          this.fail(9, { check: 'MALFORMED', reason: messageOf(e), ...at });
        }
        return;
      }
      case 'result': {
        if (!this.encryptedTally || this.result) return this.fail(8, { check: '8c', reason: 'a result out of place', ...at });
        try {
          this.result = { height: h, results: parseResult(election, entry.payload) };
        } catch (e) {
          this.fail(10, { check: 'MALFORMED', reason: messageOf(e), ...at });
        }
        return;
      }
    }
  }

  private async pushBallot(election: Election, entry: Entry, at: { height: number; line?: number }, afterClose: boolean): Promise<void> {
    this.count(6, 'ballot entries');
    if (afterClose) {
      // A step-8 failure whatever the ballot holds: it is never counted, so it is not judged here.
      this.fail(8, { check: '8b', reason: 'a ballot after the close', ...at });
      return;
    }
    this.ballotsBeforeClose++;
    let rec: BallotRecord;
    try {
      rec = parseBallotRecord(election, entry.payload);
    } catch (e) {
      this.fail(6, { check: '6a', reason: messageOf(e), ...at });
      return;
    }
    const res = await this.check(election, rec);
    if (!res.ok) {
      this.fail(6, { check: res.check, reason: res.reason, ...at });
      return;
    }
    if (!bytesEqual(res.tracker, rec.tracker)) {
      this.fail(6, { check: '6b', reason: 'the published tracker is not the ballot’s tracker', expected: toHex(rec.tracker), computed: toHex(res.tracker), ...at });
      return;
    }
    if (entry.timestamp < election.startMs || entry.timestamp >= election.endMs) {
      this.fail(6, { check: '6d', reason: 'cast outside the schedule [start, end)', ...at });
      return;
    }
    this.count(6, 'valid ballots');
    const adm = this.counted!.add(at.height, rec.ballot.token.publicKey, rec.tracker);
    if (!adm.ok) {
      this.fail(7, { check: adm.check, reason: `${adm.reason} (first at height ${adm.firstHeight})`, ...at });
      return;
    }
    const n2 = election.paillier.n2;
    rec.ballot.answers.forEach((a, i) => {
      this.product[i] = (this.product[i]! * a.c) % n2;
    });
  }

  async finish(): Promise<AuditReport> {
    if (!this.header) this.fail(1, { check: 'B2', reason: 'no header' });
    if (!this.sawCheckpoint && !this.chainFailed) this.fail(3, { check: 'B9', reason: 'the board has no final checkpoint' });
    const election = this.election;
    if (!election) {
      if (this.steps.get(4)!.status === 'pass') this.fail(4, { check: '4', reason: 'no setup entry' });
      for (const s of [5, 6, 7, 8, 9, 10] as StepNumber[]) this.steps.get(s)!.status = 'not run';
      return this.report();
    }
    const counted = this.counted!;
    this.count(7, 'ballots counted', counted.counted);
    this.count(7, 'replaced by a revote', counted.ballotEntries - counted.counted);
    if (counted.counted > election.manifest.maxVoters) this.fail(7, { check: '7c', reason: `${counted.counted} ballots counted, more than maxVoters ${election.manifest.maxVoters}` });
    if (counted.counted > this.tokensIssued) this.fail(7, { check: '7c', reason: `${counted.counted} ballots counted, more than the ${this.tokensIssued} tokens issued` });
    if (!this.close) this.fail(8, { check: '8a', reason: 'the election was never closed' });
    const tallyStage = this.options.stage === 'tally';
    // A crash between the tally's two appends leaves an encrypted tally without a result: the
    // tally stage accepts it if it is exactly our own product (checked below) and tallies again.
    if (tallyStage && this.result) this.fail(8, { check: '8c', reason: 'the board is already tallied' });
    if (!tallyStage && this.close && (!this.encryptedTally || !this.result)) this.fail(8, { check: '8c', reason: 'the close is not followed by an encrypted tally and a result' });

    // Step 9: our own product, with replaced ballots divided out.
    const mine = await this.recomputedTally(election, counted);
    if (tallyStage) {
      const et = this.encryptedTally;
      if (et && !this.result && (et.record.ballotsCounted !== counted.counted || et.record.ciphertexts.some((c, i) => c !== mine[i]))) {
        this.fail(8, { check: '8c', reason: 'an encrypted tally without a result, and not the product of the counted ballots', height: et.height });
      }
      this.steps.get(9)!.status = 'not run';
      this.steps.get(10)!.status = 'not run';
      const firstEight = [...this.steps.values()].filter((x) => x.step <= 8).every((x) => x.status === 'pass');
      return this.report(undefined, firstEight ? { ciphertexts: mine, ballotsCounted: counted.counted } : undefined);
    }
    if (!this.encryptedTally) {
      this.steps.get(9)!.status = 'not run';
      this.steps.get(10)!.status = 'not run';
      return this.report();
    }
    const et = this.encryptedTally;
    if (et.record.ballotsCounted !== counted.counted) {
      this.fail(9, { check: '9', reason: 'ballotsCounted differs from the counted set', expected: String(et.record.ballotsCounted), computed: String(counted.counted), height: et.height });
    }
    et.record.ciphertexts.forEach((c, i) => {
      if (c !== mine[i]) this.fail(9, { check: '8.4b', reason: `question ${i}: the published encrypted tally is not the product of the counted ballots`, height: et.height });
    });
    if (!this.result) {
      this.steps.get(10)!.status = 'not run';
      return this.report();
    }
    const check = verifyTally(election, mine, this.result.results);
    if (!check.ok) {
      this.fail(10, { check: check.check, reason: `question ${check.question}: ${check.reason}`, height: this.result.height, ...(check.expected ? { expected: check.expected } : {}), ...(check.computed ? { computed: check.computed } : {}) });
      return this.report();
    }
    return this.report(this.result.results);
  }

  private async recomputedTally(election: Election, counted: CountedSet): Promise<bigint[]> {
    const replaced = counted.ballotEntries - counted.counted;
    if (replaced === 0) return this.product;
    if (!this.options.reopen) {
      this.fail(2, { check: 'reread', reason: 'the board has revotes and the auditor was given no way to re-read it' });
      return this.product;
    }
    const n2 = election.paillier.n2;
    const excluded = election.questions.map(() => 1n);
    // The second read must be the same board: re-verify its hash chain and require the same
    // close-entry hash as the first, verified read. By the chain, every entry up to the close is
    // then identical — a server cannot serve a different "replaced" ciphertext the second time.
    // Reported under step 2 (the chain): the board is not one fixed sequence of entries.
    const changed = (reason: string) => this.fail(2, { check: 'reread', reason: `the board changed between two reads: ${reason}` });
    if (this.chainFailed || !this.header || this.closeHash === undefined || !this.close) {
      if (!this.chainFailed) changed('no verified close entry to re-read up to');
      return this.product;
    }
    const chain = new ChainVerifier(this.header);
    let reachedClose = false;
    for await (const rec of this.options.reopen()) {
      if (rec.kind !== 'entry') continue;
      const pushed = chain.push(rec.entry, rec.hash);
      if (!pushed.ok) {
        changed(`${pushed.check} at height ${rec.entry.height}: ${pushed.reason}`);
        return this.product;
      }
      if (rec.entry.height === this.close.height) {
        if (!bytesEqual(pushed.encoded.hash, this.closeHash)) {
          changed('the close entry hashes differently');
          return this.product;
        }
        reachedClose = true;
        break;
      }
      if (rec.entry.type !== 'ballot') continue;
      let r: BallotRecord;
      try {
        r = parseBallotRecord(election, rec.entry.payload);
      } catch {
        continue; // reported in step 6 already
      }
      if (counted.counts(rec.entry.height, r.ballot.token.publicKey)) continue;
      if (!counted.wasRecorded(rec.entry.height, r.ballot.token.publicKey)) continue;
      r.ballot.answers.forEach((a, i) => {
        excluded[i] = (excluded[i]! * a.c) % n2;
      });
    }
    if (!reachedClose) {
      changed('the second read ended before the close entry');
      return this.product;
    }
    return this.product.map((p, i) => (p * modInv(excluded[i]!, n2)) % n2);
  }

  private report(results?: QuestionResult[], tally?: AuditReport['tally']): AuditReport {
    const steps = [...this.steps.values()];
    const e = this.election;
    const stepsOk = this.options.stage === 'tally' ? steps.every((s) => s.step > 8 || s.status === 'pass') : steps.every((s) => s.status === 'pass');
    return {
      ok: stepsOk,
      ...(tally ? { tally } : {}),
      steps,
      entries: this.entries,
      ...(e ? { electionId: e.manifest.electionId, fingerprint: e.fingerprintHex } : {}),
      ...(e && results
        ? {
            results: results.map((r, i) => ({
              question: e.manifest.questions[i]!.id,
              counts: Object.fromEntries(e.manifest.questions[i]!.options.map((o, j) => [o.id, Number(r.counts[j])])),
            })),
          }
        : {}),
    };
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
