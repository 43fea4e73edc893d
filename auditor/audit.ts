/**
 * The auditor: replays a bulletin board and runs the numbered verification steps of
 * spec/10-verification.md, reporting each as pass, fail or not run, with counts and the first
 * failures, each under ONE spec check identifier, in the order §10.2 defines.
 *
 * Why this shape:
 * - It reads the board as a stream of records (header, entries, final checkpoint) and keeps
 *   O(questions) big integers plus a few dozen bytes per token issuance and per ballot (the
 *   revote rule and checks 5c, 7a, 7b need them), so memory grows with the number of entries
 *   only by those small records (spec §10.5 states the bound).
 * - Consequences are not failures (spec §10.4): a failure of the chain (steps 1–3) stops the
 *   audit and every later step is "not run"; a failed semantic step makes the steps that use
 *   its output "not run" (4 → 5–10; 5 or 6 → 7; 5–8 → 9; 9 → 10).
 * - The encrypted tally is the product of ALL ballot ciphertexts times the inverse of the
 *   replaced ones. Without revotes one pass suffices; with revotes a second pass reads only the
 *   replaced entries' ciphertexts (the caller gives a way to re-open the source).
 * - Ballot verification, the expensive part, is an injected async function so that a worker
 *   pool can verify in parallel while results are still consumed in board order.
 *
 * It imports only the crypto core, the record types and the board's pure verifier: never
 * server code, so it can be shipped and run alone.
 */
import { ChainVerifier, type BoardFailure, type BoardHeader, type ChainSnapshot } from '../bulletin/verify.js';
import type { Entry } from '../bulletin/entry.js';
import type { Checkpoint } from '../bulletin/checkpoint.js';
import { checkQuorum, type Cosignature } from '../bulletin/cosignature.js';
import { bytesEqual } from '../src/crypto/hash.js';
import { modInv } from '../src/crypto/bigint.js';
import { TallyError, isTallyError } from '../src/errors.js';
import { parseHex, toHex } from '../src/wire.js';
import type { Election } from '../src/election/manifest.js';
import { ballotBody, ballotTracker, verifyBallot, type BallotCheck } from '../src/election/ballot.js';
import { CountedSet, type CountedSetJson } from '../src/election/counted-set.js';
import { verifyRegisterMembership } from '../src/election/register.js';
import { verifyTally, type QuestionResult, type TallyResult } from '../src/election/tally.js';
import { verifyPartialDecryptionEntry, type PartialDecryptionEntry, type PartialEntryCheck } from '../src/election/partial-decryption.js';
import {
  parseBallotRecord,
  parseClose,
  parseEncryptedTally,
  parseResult,
  parseSetup,
  parseRegister,
  parseTokenIssued,
  type BallotRecord,
  type RegisterRecord,
  type CloseRecord,
  type EncryptedTallyRecord,
} from '../src/election/records.js';

/** One record of a board as the auditor reads it (an export file line, or a page of an API). */
export type BoardRecord =
  | { readonly kind: 'header'; readonly header: BoardHeader; readonly line?: number }
  | {
      readonly kind: 'entry';
      readonly entry: Entry;
      readonly hash?: Uint8Array;
      readonly line?: number;
      /** length of the line's text, when read from a file: bounds the read-ahead in bytes */
      readonly size?: number;
    }
  | {
      readonly kind: 'checkpoint';
      readonly checkpoint: Checkpoint;
      /** the witnesses' cosignatures of the checkpoint (spec §9.9; judged by check 8e) */
      readonly cosignatures?: readonly Cosignature[];
      readonly line?: number;
    }
  /** a line the reader could not decode (framing, JSON, shape): a failure of step 1 or 2 */
  | { readonly kind: 'invalid'; readonly check: string; readonly reason: string; readonly line?: number };

/** The board checks (spec §9.8) of each chain step: B1–B2 step 1, B3–B8 step 2, B9–B14 step 3. */
export function chainStep(check: string): StepNumber {
  const n = Number(check.slice(1));
  return n <= 2 ? 1 : n <= 8 ? 2 : 3;
}

export type StepNumber = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

export const STEP_TITLES: Record<StepNumber, string> = {
  1: 'board file and header',
  2: 'entries and hash chain',
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
  /** the one spec check identifier, e.g. 'B5', '5.4f', '6d', '8b' (spec §10.2) */
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
  /** the first failures (at most `maxFailures`), in the order of spec §10.4: by height, then
   *  by the step's check order; failures with no height (end of board) last */
  readonly failures: StepFailure[];
  /** total number of failures, including those not listed */
  failureCount: number;
}

export interface AuditReport {
  readonly ok: boolean;
  /** the first failure of the first failing step: the verdict two verifiers must agree on */
  readonly firstFailure?: { readonly step: StepNumber; readonly check: string; readonly height?: number };
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

/** Checks a partial-decryption payload against the auditor's own encrypted tally (spec §13.4). */
export type PartialDecryptionVerifier = (election: Election, ciphertexts: readonly bigint[], payload: unknown) => Promise<PartialEntryCheck>;

export interface AuditOptions {
  /** re-open the same board from the start (needed only when the board has revotes) */
  readonly reopen?: () => AsyncIterable<BoardRecord>;
  /** verify one ballot (default: in this thread) */
  readonly verifyBallot?: BallotVerifier;
  /**
   * check one partial-decryption entry (default: in this thread); the entries are checked side
   * by side and judged in board order, so a pool's workers share them (auditor/workers.ts)
   */
  readonly verifyPartialDecryption?: PartialDecryptionVerifier;
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
  /**
   * Called for every failure as it is found (including those beyond `maxFailures`), before the
   * next record is read: a live monitor raises its alarm from here (spec §10.7).
   */
  readonly onFailure?: (step: StepNumber, failure: StepFailure) => void;
  /**
   * Keep the answers of each token's counted ballot (revoting elections only), so that a
   * replaced ballot's ciphertexts are divided out when its revote arrives and step 9 needs no
   * second read of the board (the incremental mode, spec §10.7; memory in §10.5).
   */
  readonly keepCounted?: boolean;
}

/**
 * The auditor's whole state between two records, as JSON (spec §10.7): what a monitor saves
 * on disk so that it resumes without reading the board again. Version 1.
 */
export interface AuditorSnapshot {
  readonly v: 1;
  readonly header?: { readonly electionId: string; readonly boardPublicKey: string };
  /** undefined when the chain failed (the audit stopped) */
  readonly chain?: ChainSnapshot;
  readonly steps: readonly StepReport[];
  /** the setup entry's payload, when its manifest parsed */
  readonly setup?: unknown;
  /** the setup passed step 4 (the election is used for steps 5–10) */
  readonly electionAccepted: boolean;
  readonly counted?: CountedSetJson;
  /** per question, hex */
  readonly product: readonly string[];
  readonly entries: number;
  readonly issuedEntries: number;
  readonly lastCount: number;
  readonly refs: readonly string[];
  readonly ballotsBeforeClose: number;
  /** the register entry (5f, 5g): its height, and its payload when it parsed */
  readonly register?: { readonly height: number; readonly payload?: unknown };
  readonly sawIssuanceOrBallot: boolean;
  readonly close?: { readonly height: number; readonly payload: unknown };
  readonly encryptedTally?: { readonly height: number; readonly payload: unknown };
  /** the partial-decryption entries after the encrypted tally (judged in step 10) */
  readonly partials?: readonly { readonly height: number; readonly payload: unknown }[];
  readonly result?: { readonly height: number; readonly payload: unknown };
  readonly sawCheckpoint: boolean;
  readonly stopped: boolean;
  readonly closeHash?: string;
  /** keepCounted: the product of the replaced ballots (hex per question) and each token's counted answers */
  readonly kept?: { readonly excluded: readonly string[]; readonly byToken: readonly (readonly [string, readonly string[]])[] };
}

const inThread: BallotVerifier = async (election, record) => verifyBallot(election, record.ballot);

/** Run the audit over `source`. Never throws for bad board content: failures are reported. */
export async function audit(source: AsyncIterable<BoardRecord>, options: AuditOptions = {}): Promise<AuditReport> {
  const a = new Auditor(options);
  for await (const rec of source) {
    await a.push(rec);
    // After a chain failure nothing later is judged (spec §10.4): stop reading.
    if (a.stopped) break;
  }
  return a.finish();
}

/** The check id a TallyError carries (details.check), or `fallback`. */
function checkOf(e: unknown, fallback: string): string {
  const c = isTallyError(e) ? (e.details as { check?: unknown } | undefined)?.check : undefined;
  return typeof c === 'string' ? c : fallback;
}

/**
 * The auditor as an object, for callers that feed it records one by one and may stop and
 * resume (the live monitor and `verify --since`, spec §10.7): `push` each record, `snapshot`
 * between records, `Auditor.restore` to continue, `finish` for the report. {@link audit} is
 * this over a whole source. A witness (src/witness/) feeds it entry by entry and asks
 * {@link Auditor.prefixFailure} after each.
 */
export class Auditor {
  private readonly steps = new Map<StepNumber, StepReport>();
  private readonly maxFailures: number;
  private readonly check: BallotVerifier;
  private chain: ChainVerifier | undefined;
  private header: BoardHeader | undefined;
  /** the election, once step 4 passed at height 0 */
  private election: Election | undefined;
  /** the manifest's election whenever it parsed (even if 4c failed): named in the report */
  private parsedElection: Election | undefined;
  private counted: CountedSet | undefined;
  private product: bigint[] = [];
  private entries = 0;
  /** references issued so far (in entries that parsed): the bound of check 7c at each prefix */
  private issuedEntries = 0;
  /** the register entry (5f, 5g): its height, and its record when valid */
  private register: { height: number; record?: RegisterRecord; payload?: unknown } | undefined;
  /** a token-issued or ballot entry was seen (a register after one fails 5g) */
  private sawIssuanceOrBallot = false;
  /** the last valid count seen (5b) */
  private lastCount = 0;
  private readonly refs = new Set<string>();
  private ballotsBeforeClose = 0;
  /** the first close entry; its record when its payload is well formed */
  private close: { height: number; record?: CloseRecord; payload?: unknown } | undefined;
  /** the setup payload whose manifest parsed */
  private setupPayload: unknown;
  /** keepCounted: each token's counted answers (hex token key), and the replaced ones' product */
  private kept = new Map<string, bigint[]>();
  private excluded: bigint[] = [];
  private encryptedTally: { height: number; payload: unknown } | undefined;
  private result: { height: number; payload: unknown } | undefined;
  /** `partial-decryption` entries between the encrypted tally and the result (at most l: 8c) */
  private readonly partials: { height: number; payload: unknown }[] = [];
  private sawCheckpoint = false;
  /** the final checkpoint and its cosignatures, once B9–B14 passed (check 8e judges them) */
  private final: { checkpoint: Checkpoint; cosignatures: readonly Cosignature[] } | undefined;
  /** set by the first chain failure (steps 1–3): nothing after it is judged */
  stopped = false;
  /** hash of the close entry as verified in the first pass: the second pass must reach it */
  private closeHash: Uint8Array | undefined;

  constructor(private readonly options: AuditOptions) {
    this.maxFailures = options.maxFailures ?? 10;
    this.check = options.verifyBallot ?? inThread;
    for (const s of Object.keys(STEP_TITLES).map(Number) as StepNumber[]) {
      this.steps.set(s, { step: s, title: STEP_TITLES[s], status: 'pass', counts: {}, failures: [], failureCount: 0 });
    }
  }

  /**
   * The first failure found so far by the checks that judge a prefix of the board (steps 1–8 at
   * each entry: everything but the end-of-board checks 8a, 8c and 8e without a height, and
   * steps 9 and 10), or undefined. A live board with no such failure is a valid prefix.
   */
  prefixFailure(): { step: StepNumber; failure: StepFailure } | undefined {
    for (const s of this.steps.values()) {
      const f = s.failures[0];
      if (s.status === 'fail' && f) return { step: s.step, failure: f };
    }
    return undefined;
  }

  /** Entries accepted by the chain so far, and their Merkle root and chain head. */
  get chainState(): { size: number; rootHash: Uint8Array; chainHead: Uint8Array } | undefined {
    const c = this.chain;
    return c ? { size: c.size, rootHash: c.rootHash, chainHead: c.chainHead } : undefined;
  }

  private fail(step: StepNumber, f: StepFailure): void {
    this.options.onFailure?.(step, f);
    const s = this.steps.get(step)!;
    s.status = 'fail';
    s.failureCount++;
    if (s.failures.length < this.maxFailures) s.failures.push(f);
  }

  private failed(step: StepNumber): boolean {
    return this.steps.get(step)!.status === 'fail';
  }

  private notRun(...steps: StepNumber[]): void {
    for (const n of steps) {
      const s = this.steps.get(n)!;
      s.status = 'not run';
      s.failures.length = 0;
      s.failureCount = 0;
    }
  }

  private count(step: StepNumber, key: string, by = 1): void {
    const c = this.steps.get(step)!.counts;
    c[key] = (c[key] ?? 0) + by;
  }

  /** A failure of the chain (B1–B14): reported once, in its step; the audit stops there. */
  private chainFailure(check: string, reason: string, extra: { height?: number | undefined; line?: number | undefined; expected?: string | undefined; computed?: string | undefined }): void {
    if (this.stopped) return;
    this.stopped = true;
    const clean = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined));
    this.fail(chainStep(check), { check, reason, ...clean });
  }

  private boardFailure(f: BoardFailure, line?: number): void {
    this.chainFailure(f.check, f.reason, { height: f.height, line, expected: f.expected, computed: f.computed });
  }

  async push(rec: BoardRecord): Promise<void> {
    if (this.stopped) return;
    switch (rec.kind) {
      case 'invalid':
        return this.chainFailure(rec.check, rec.reason, { line: rec.line });
      case 'header': {
        if (this.header) return this.chainFailure('B2', 'a second header', { line: rec.line });
        this.header = rec.header;
        this.chain = new ChainVerifier(rec.header);
        if (this.chain.failure) this.boardFailure(this.chain.failure, rec.line);
        return;
      }
      case 'checkpoint': {
        this.sawCheckpoint = true;
        if (!this.chain) return this.chainFailure('B2', 'no header before the checkpoint', { line: rec.line });
        const r = this.chain.finish(rec.checkpoint);
        if (!r.ok) this.boardFailure(r, rec.line);
        else {
          this.count(3, 'tree size', r.size);
          this.final = { checkpoint: rec.checkpoint, cosignatures: rec.cosignatures ?? [] };
        }
        return;
      }
      case 'entry':
        return this.pushEntry(rec.entry, rec.hash, rec.line);
    }
  }

  private async pushEntry(entry: Entry, hash: Uint8Array | undefined, line: number | undefined): Promise<void> {
    const h = entry.height;
    if (!this.chain) return this.chainFailure('B2', 'an entry before the header', { height: h, line });
    const r = this.chain.push(entry, hash);
    if (!r.ok) return this.boardFailure(r, line);
    this.entries++;
    this.options.onProgress?.(this.entries);
    if (entry.type === 'close' && this.closeHash === undefined) this.closeHash = r.encoded.hash;
    this.count(2, 'entries');
    const at = { height: h, ...(line !== undefined ? { line } : {}) };

    // Step 4: the setup at height 0 (B6 made entry 0 a setup), no other setup.
    if (entry.type === 'setup') {
      if (h !== 0) return this.fail(4, { check: '4b', reason: 'a second setup entry', ...at });
      return this.setup(entry, at);
    }
    const election = this.election;
    if (!election) return; // step 4 failed: steps 5–10 are not run

    // Step 8 positions: before the close only token-issued and ballot; after it the tally, then the result.
    const close = this.close;
    switch (entry.type) {
      case 'register':
        if (close) this.fail(8, { check: '8c', reason: 'a register entry after the close', ...at });
        return this.pushRegister(election, entry, at);
      case 'token-issued':
        this.sawIssuanceOrBallot = true;
        if (close) this.fail(8, { check: '8c', reason: 'a token issuance after the close', ...at });
        return this.tokenIssued(election, entry, at);
      case 'ballot':
        this.sawIssuanceOrBallot = true;
        if (close) return this.fail(8, { check: '8b', reason: 'a ballot after the close', ...at });
        this.ballotsBeforeClose++;
        return this.pushBallot(election, entry, at);
      case 'close':
        return this.pushClose(election, entry, at);
      case 'encrypted-tally':
        if (!close || h !== close.height + 1 || this.encryptedTally) {
          return this.fail(8, { check: '8c', reason: close ? 'an encrypted tally that does not follow the close' : 'an encrypted tally before the close', ...at });
        }
        this.encryptedTally = { height: h, payload: entry.payload };
        return;
      case 'partial-decryption':
        // After the encrypted tally, before the result, at most l of them (their payloads are
        // read in step 10: 13.4).
        if (!this.encryptedTally || this.result || this.partials.length >= election.threshold.l || h !== this.encryptedTally.height + 1 + this.partials.length) {
          return this.fail(8, { check: '8c', reason: this.result ? 'a partial decryption after the result' : this.encryptedTally ? `a partial decryption out of place (at most ${election.threshold.l}, right after the encrypted tally)` : 'a partial decryption before the encrypted tally', ...at });
        }
        this.partials.push({ height: h, payload: entry.payload });
        return;
      case 'result':
        if (!this.encryptedTally || h !== this.encryptedTally.height + 1 + this.partials.length || this.result) {
          return this.fail(8, { check: '8c', reason: 'a result that does not follow the encrypted tally and its partial decryptions', ...at });
        }
        if (this.options.stage === 'tally') this.fail(8, { check: '8c', reason: 'the board is already tallied', ...at });
        this.result = { height: h, payload: entry.payload };
        return;
    }
  }

  /** Step 4 at height 0, in order: 4a, the manifest checks of §2.1, then 4c. */
  private setup(entry: Entry, at: { height: number; line?: number }): void {
    let election: Election;
    try {
      election = parseSetup(entry.payload);
    } catch (e) {
      return this.fail(4, { check: checkOf(e, '4a'), reason: messageOf(e), ...at });
    }
    this.parsedElection = election;
    this.setupPayload = entry.payload;
    const header = this.header!;
    if (header.electionId !== election.manifest.electionId) {
      return this.fail(4, { check: '4c', reason: "the header's electionId is not the manifest's", expected: header.electionId, computed: election.manifest.electionId, ...at });
    }
    if (!bytesEqual(header.boardPublicKey, election.boardKey)) {
      return this.fail(4, { check: '4c', reason: "the header's board key is not the manifest's keys.board", expected: toHex(header.boardPublicKey), computed: toHex(election.boardKey), ...at });
    }
    this.election = election;
    this.counted = new CountedSet(election.manifest.revoting);
    this.product = election.questions.map(() => 1n);
    this.excluded = election.questions.map(() => 1n);
    this.count(4, 'questions', election.questions.length);
  }

  /** Step 5 at a register entry, in order: 5g (one, before any issuance or ballot), 5h (payload). */
  private pushRegister(election: Election, entry: Entry, at: { height: number; line?: number }): void {
    if (this.register) return this.fail(5, { check: '5f', reason: `a second register entry (the first is at height ${this.register.height})`, ...at });
    this.register = { height: at.height };
    if (this.sawIssuanceOrBallot) return this.fail(5, { check: '5f', reason: 'the register is committed after a token issuance or a ballot', ...at });
    try {
      this.register.record = parseRegister(entry.payload, election.manifest.maxVoters);
      this.register.payload = entry.payload;
    } catch (e) {
      return this.fail(5, { check: checkOf(e, '5g'), reason: messageOf(e), ...at });
    }
    this.count(5, 'register voters', this.register.record.voters);
  }

  /** Step 5 at a token-issued entry, in order: 5a, 5b, 5c, 5d, 5e; one failure per entry. */
  private tokenIssued(election: Election, entry: Entry, at: { height: number; line?: number }): void {
    let t;
    try {
      t = parseTokenIssued(entry.payload);
    } catch (e) {
      return this.fail(5, { check: checkOf(e, '5a'), reason: messageOf(e), ...at });
    }
    this.issuedEntries += t.refs.length;
    this.count(5, 'tokens issued', t.refs.length);
    this.count(5, 'issuance entries');
    const expected = this.lastCount + t.refs.length;
    this.lastCount = t.count;
    if (t.count !== expected) {
      return this.fail(5, { check: '5b', reason: `issuance count ${t.count} is not the previous count plus the ${t.refs.length} reference(s) of this entry`, expected: String(t.count), computed: String(expected), ...at });
    }
    for (const r of t.refs) {
      const ref = toHex(r.ref);
      if (this.refs.has(ref)) return this.fail(5, { check: '5c', reason: `a second token issued under the reference ${ref.slice(0, 16)}…`, ...at });
      this.refs.add(ref);
    }
    if (t.count > election.manifest.maxVoters) {
      return this.fail(5, { check: '5d', reason: `more tokens issued than maxVoters (${election.manifest.maxVoters})`, ...at });
    }
    const reg = this.register?.record;
    if (reg === undefined) {
      // No committed register before it (or the register entry failed 5f/5g, reported there).
      if (this.register === undefined) return this.fail(5, { check: '5e', reason: 'a token issuance with no committed register before it', ...at });
      return;
    }
    for (const r of t.refs) {
      if (!verifyRegisterMembership(r.ref, r, reg.voters, reg.root)) {
        return this.fail(5, { check: '5e', reason: `the reference ${toHex(r.ref).slice(0, 16)}… is not a member of the committed register (its proof does not verify)`, ...at });
      }
    }
  }

  /** Step 6 (6a, 6.1a, 6b, 6.5a–5.4g, 6d), then step 7 (7a, 7b, 7c) for a valid ballot. */
  private async pushBallot(election: Election, entry: Entry, at: { height: number; line?: number }): Promise<void> {
    this.count(6, 'ballot entries');
    let rec: BallotRecord;
    try {
      rec = parseBallotRecord(election, entry.payload);
    } catch (e) {
      return this.fail(6, { check: checkOf(e, '6a'), reason: messageOf(e), ...at });
    }
    const tracker = ballotTracker(ballotBody(election, rec.ballot), rec.ballot.signature);
    if (!bytesEqual(tracker, rec.tracker)) {
      return this.fail(6, { check: '6b', reason: 'the published tracker is not the ballot’s tracker', expected: toHex(rec.tracker), computed: toHex(tracker), ...at });
    }
    const res = await this.check(election, rec);
    if (!res.ok) return this.fail(6, { check: res.check, reason: res.reason, ...at });
    if (entry.timestamp < election.startMs || entry.timestamp >= election.endMs) {
      return this.fail(6, { check: '6d', reason: 'cast outside the schedule [start, end)', ...at });
    }
    this.count(6, 'valid ballots');
    const counted = this.counted!;
    const tokensBefore = counted.tokens;
    const adm = counted.add(at.height, rec.ballot.token.publicKey, rec.tracker);
    if (!adm.ok) return this.fail(7, { check: adm.check, reason: `${adm.reason} (first at height ${adm.firstHeight})`, ...at });
    if (counted.tokens > tokensBefore) {
      // 7c at every prefix: the k-th token to vote needs k issuances before it (and k ≤ maxVoters).
      if (counted.tokens > this.issuedEntries) {
        this.fail(7, { check: '7c', reason: `the ${counted.tokens}th token to vote, with only ${this.issuedEntries} tokens issued before it`, expected: String(this.issuedEntries), computed: String(counted.tokens), ...at });
      } else if (counted.tokens > election.manifest.maxVoters) {
        this.fail(7, { check: '7c', reason: `more than maxVoters (${election.manifest.maxVoters}) tokens voted`, ...at });
      }
    }
    const n2 = election.paillier.n2;
    rec.ballot.answers.forEach((a, i) => {
      this.product[i] = (this.product[i]! * a.c) % n2;
    });
    if (this.options.keepCounted && election.manifest.revoting) {
      const key = toHex(rec.ballot.token.publicKey);
      this.kept.get(key)?.forEach((c, i) => {
        this.excluded[i] = (this.excluded[i]! * c) % n2;
      });
      this.kept.set(key, rec.ballot.answers.map((a) => a.c));
    }
  }

  /** Step 8 at the close entry, in order: 8a (a second close, or the payload), 8b, 8d. */
  private pushClose(election: Election, entry: Entry, at: { height: number; line?: number }): void {
    if (this.close) return this.fail(8, { check: '8a', reason: 'a second close entry', ...at });
    this.close = { height: at.height, payload: entry.payload };
    let c: CloseRecord;
    try {
      c = parseClose(entry.payload);
    } catch (e) {
      return this.fail(8, { check: checkOf(e, '8a'), reason: messageOf(e), ...at });
    }
    this.close.record = c;
    if (c.ballots !== this.ballotsBeforeClose) {
      return this.fail(8, { check: '8b', reason: 'the close entry miscounts the ballots before it', expected: String(c.ballots), computed: String(this.ballotsBeforeClose), ...at });
    }
    if (c.reason === 'schedule' && entry.timestamp < election.endMs) {
      return this.fail(8, { check: '8d', reason: 'closed "on schedule" before the end time', ...at });
    }
  }

  /**
   * Checks a checkpoint of the entries pushed so far (B10–B14) without ending the board: the
   * live monitor's check of each checkpoint it fetches (spec §10.7). A failure is a chain
   * failure (the audit stops), reported as for the final checkpoint.
   * @returns true when the checkpoint verified
   */
  checkpoint(cp: Checkpoint): boolean {
    if (this.stopped) return false;
    if (!this.chain) {
      this.chainFailure('B2', 'no header before the checkpoint', {});
      return false;
    }
    const r = this.chain.check(cp);
    if (!r.ok) this.boardFailure(r);
    return r.ok;
  }

  /** Entries pushed so far (the next height). */
  get size(): number {
    return this.chain?.size ?? 0;
  }

  /** The Merkle root and chain head of the entries pushed so far. */
  get tree(): { readonly size: number; readonly rootHash: Uint8Array; readonly chainHead: Uint8Array } | undefined {
    return this.chain && !this.stopped ? { size: this.chain.size, rootHash: this.chain.rootHash, chainHead: this.chain.chainHead } : undefined;
  }

  /** The header given, if any. */
  get boardHeader(): BoardHeader | undefined {
    return this.header;
  }

  /** The election, once step 4 passed. */
  get acceptedElection(): Election | undefined {
    return this.election;
  }

  /** The state between two records as JSON; {@link Auditor.restore} continues from it. */
  snapshot(): AuditorSnapshot {
    const hex = (x: bigint) => x.toString(16);
    const chain = this.stopped ? undefined : this.chain?.snapshot();
    return structuredClone({
      v: 1 as const,
      ...(this.header ? { header: { electionId: this.header.electionId, boardPublicKey: toHex(this.header.boardPublicKey) } } : {}),
      ...(chain ? { chain } : {}),
      steps: [...this.steps.values()],
      ...(this.setupPayload !== undefined ? { setup: this.setupPayload } : {}),
      electionAccepted: this.election !== undefined,
      ...(this.counted ? { counted: this.counted.toJSON() } : {}),
      product: this.product.map(hex),
      entries: this.entries,
      issuedEntries: this.issuedEntries,
      lastCount: this.lastCount,
      refs: [...this.refs],
      ballotsBeforeClose: this.ballotsBeforeClose,
      ...(this.register ? { register: { height: this.register.height, ...(this.register.record ? { payload: this.register.payload } : {}) } } : {}),
      sawIssuanceOrBallot: this.sawIssuanceOrBallot,
      ...(this.close ? { close: { height: this.close.height, payload: this.close.payload } } : {}),
      ...(this.encryptedTally ? { encryptedTally: this.encryptedTally } : {}),
      ...(this.partials.length > 0 ? { partials: this.partials } : {}),
      ...(this.result ? { result: this.result } : {}),
      sawCheckpoint: this.sawCheckpoint,
      stopped: this.stopped,
      ...(this.closeHash ? { closeHash: toHex(this.closeHash) } : {}),
      ...(this.options.keepCounted ? { kept: { excluded: this.excluded.map(hex), byToken: [...this.kept].map(([k, cs]) => [k, cs.map(hex)] as const) } } : {}),
    });
  }

  /**
   * An auditor that continues from `snap` as if it had read the same records.
   * @throws TallyError MALFORMED for a snapshot that is not one (a damaged state file)
   */
  static restore(snap: AuditorSnapshot, options: AuditOptions = {}): Auditor {
    const bad = (why: string) => new TallyError('MALFORMED', `auditor state: ${why}`);
    if (typeof snap !== 'object' || snap === null || snap.v !== 1) throw bad('not a version 1 snapshot');
    const a = new Auditor(options);
    try {
      const big = (h: string) => BigInt(`0x${h}`);
      if (snap.header) {
        a.header = { electionId: snap.header.electionId, boardPublicKey: parseHex(snap.header.boardPublicKey, 'boardPublicKey', 32) };
        a.chain = snap.chain ? ChainVerifier.resume(a.header, snap.chain) : new ChainVerifier(a.header);
      }
      a.steps.clear();
      for (const st of snap.steps) a.steps.set(st.step, structuredClone(st));
      if (snap.setup !== undefined) {
        a.setupPayload = snap.setup;
        a.parsedElection = parseSetup(snap.setup);
        if (snap.electionAccepted) a.election = a.parsedElection;
      }
      if (snap.counted) a.counted = CountedSet.fromJSON(snap.counted);
      a.product = snap.product.map(big);
      a.entries = snap.entries;
      a.issuedEntries = snap.issuedEntries;
      a.lastCount = snap.lastCount;
      for (const r of snap.refs) a.refs.add(r);
      a.ballotsBeforeClose = snap.ballotsBeforeClose;
      if (snap.register) {
        a.register = { height: snap.register.height };
        if (snap.register.payload !== undefined && a.parsedElection) {
          a.register.payload = snap.register.payload;
          a.register.record = parseRegister(snap.register.payload, a.parsedElection.manifest.maxVoters);
        }
      }
      a.sawIssuanceOrBallot = snap.sawIssuanceOrBallot === true;
      if (snap.close) {
        a.close = { height: snap.close.height, payload: snap.close.payload };
        try {
          a.close.record = parseClose(snap.close.payload);
        } catch {
          // 8a failed when it was read; the failure is in the steps
        }
      }
      if (snap.encryptedTally) a.encryptedTally = snap.encryptedTally;
      for (const pd of snap.partials ?? []) a.partials.push({ height: pd.height, payload: pd.payload });
      if (snap.result) a.result = snap.result;
      a.sawCheckpoint = snap.sawCheckpoint;
      a.stopped = snap.stopped;
      if (snap.closeHash) a.closeHash = parseHex(snap.closeHash, 'closeHash', 32);
      if (snap.kept) {
        a.excluded = snap.kept.excluded.map(big);
        for (const [k, cs] of snap.kept.byToken) a.kept.set(k, cs.map(big));
      } else if (a.election) {
        a.excluded = a.election.questions.map(() => 1n);
      }
    } catch (e) {
      throw isTallyError(e, 'MALFORMED') ? e : bad(messageOf(e));
    }
    return a;
  }

  async finish(): Promise<AuditReport> {
    // Steps 1–3: the chain and the checkpoint.
    if (!this.stopped && !this.header) this.chainFailure('B2', 'no header (empty file)', { line: 1 });
    if (!this.stopped && !this.sawCheckpoint) this.chainFailure('B9', 'the board has no final checkpoint', {});
    if (this.stopped) {
      const broken = [1, 2, 3].find((n) => this.failed(n as StepNumber)) as StepNumber;
      this.notRun(...([1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as StepNumber[]).filter((n) => n > broken));
      return this.report();
    }
    const election = this.election;
    if (!election || this.failed(4)) {
      // Entry 0 is a setup (B6): without an election step 4 failed at height 0; or a later
      // setup entry failed 4b. Either way there is no one election to check against.
      this.notRun(5, 6, 7, 8, 9, 10);
      return this.report();
    }
    const counted = this.counted!;
    this.count(7, 'ballots counted', counted.counted);
    this.count(7, 'replaced by a revote', counted.ballotEntries - counted.counted);
    if (!this.close) this.fail(8, { check: '8a', reason: 'the election was never closed' });
    const tallyStage = this.options.stage === 'tally';
    if (!tallyStage && this.close && (!this.encryptedTally || !this.result)) {
      this.fail(8, { check: '8c', reason: 'the close is not followed by an encrypted tally and a result' });
    }
    // 8e (spec §10.2, §11.6): the final checkpoint carries the witnesses' quorum. Vacuous when
    // the manifest names no witnesses and the checkpoint carries no cosignature. Not at the
    // tally stage: a share holder requires the quorum on the CLOSE checkpoint before it decrypts
    // (spec §8.5 rule 4), and the board it reads then has grown past the close by the encrypted
    // tally and other trustees' entries, whose checkpoints the witnesses have not cosigned yet.
    if (!tallyStage) {
      const fin = this.final;
      const q = !fin
        ? ({ ok: false, reason: 'below-quorum', message: 'no final checkpoint record to check', names: [] } as const)
        : checkQuorum(election.witnesses, election.witnessQuorum, election.boardKey, fin.checkpoint, fin.cosignatures);
      if (!q.ok) this.fail(8, { check: '8e', reason: `the final checkpoint (size ${fin?.checkpoint.treeSize ?? '?'}): ${q.message}`, ...(q.reason === 'below-quorum' ? { expected: String(election.witnessQuorum), computed: String(q.names.length) } : {}) });
      else if (q.names.length > 0) this.count(8, 'witness cosignatures', q.names.length);
    }
    // Consequences are "not run" (spec §10.4).
    if (this.failed(5) || this.failed(6)) this.notRun(7);
    if ([5, 6, 7, 8].some((n) => this.steps.get(n as StepNumber)!.status !== 'pass')) {
      this.notRun(9, 10);
      return this.report();
    }

    // Step 9: our own product, with replaced ballots divided out (check `reread` first).
    const mine = await this.recomputedTally(election, counted);
    if (tallyStage && !mine) {
      // The tally stage needs the product too: a failed `reread` is reported (step 9) and
      // fails this stage, so nothing is decrypted (spec §10.2, "Before the tally").
      this.notRun(10);
      return this.report();
    }
    if (tallyStage) {
      const et = this.encryptedTally;
      if (mine && et) {
        // A crash between the tally's two appends: accepted only if it is exactly our own tally.
        let ok = false;
        try {
          const rec = parseEncryptedTally(election, et.payload);
          ok = rec.ballotsCounted === counted.counted && rec.ciphertexts.every((c, i) => c === mine[i]);
        } catch {
          ok = false;
        }
        if (!ok) this.fail(8, { check: '8c', reason: 'an encrypted tally without a result, and not the product of the counted ballots', height: et.height });
      }
      this.notRun(9, 10);
      const firstEight = [...this.steps.values()].filter((x) => x.step <= 8).every((x) => x.status === 'pass');
      return this.report(undefined, firstEight && mine ? { ciphertexts: mine, ballotsCounted: counted.counted } : undefined);
    }
    if (!mine) {
      this.notRun(10);
      return this.report();
    }
    const et = this.encryptedTally!;
    let etRec: EncryptedTallyRecord;
    try {
      etRec = parseEncryptedTally(election, et.payload);
    } catch (e) {
      this.fail(9, { check: checkOf(e, '9a'), reason: messageOf(e), height: et.height });
      this.notRun(10);
      return this.report();
    }
    if (etRec.ballotsCounted !== counted.counted) {
      this.fail(9, { check: '9b', reason: 'ballotsCounted differs from the counted set', expected: String(etRec.ballotsCounted), computed: String(counted.counted), height: et.height });
    } else {
      const i = etRec.ciphertexts.findIndex((c, i) => c !== mine[i]);
      if (i >= 0) this.fail(9, { check: '9c', reason: `question ${i}: the published encrypted tally is not the product of the counted ballots`, height: et.height });
    }
    if (this.failed(9)) {
      this.notRun(10);
      return this.report();
    }

    // Step 10: every partial-decryption entry in board order (13.4p, 13.4a, a repeated trustee
    // 13.4g, then per question 13.4b–13.4f), each failure at its own height; then the result:
    // 8.4a, 13.4g on S, then per question 8.4b, 8.4f, 8.3a, 8.4c, 8.4d, 8.4e.
    const verified = new Map<number, PartialDecryptionEntry>();
    const verifyEntry: PartialDecryptionVerifier = this.options.verifyPartialDecryption ?? (async (el, cts, payload) => verifyPartialDecryptionEntry(el.threshold, el.fingerprint, cts, payload));
    const checks = await Promise.all(this.partials.map((pd) => verifyEntry(election, mine, pd.payload)));
    for (const [i, pd] of this.partials.entries()) {
      const v = checks[i]!;
      if (!v.ok) {
        this.fail(10, { check: v.check, reason: `partial decryption${v.question >= 0 ? `, question ${v.question}` : ''}: ${v.reason}`, height: pd.height });
        continue;
      }
      if (verified.has(v.entry.trustee)) {
        this.fail(10, { check: '13.4g', reason: `a second partial-decryption entry of trustee ${v.entry.trustee}`, height: pd.height });
        continue;
      }
      verified.set(v.entry.trustee, v.entry);
    }
    this.count(10, 'partial decryptions', verified.size);
    const res = this.result!;
    let result: TallyResult;
    try {
      result = parseResult(election, res.payload);
    } catch (e) {
      this.fail(10, { check: checkOf(e, '8.4a'), reason: messageOf(e), height: res.height });
      return this.report();
    }
    const check = verifyTally(election, mine, result, verified, counted.counted);
    if (!check.ok) {
      this.fail(10, { check: check.check, reason: `${check.question >= 0 ? `question ${check.question}: ` : ''}${check.reason}`, height: res.height, ...(check.expected ? { expected: check.expected } : {}), ...(check.computed ? { computed: check.computed } : {}) });
      return this.report();
    }
    if (this.failed(10)) return this.report();
    return this.report([...result.results]);
  }

  /**
   * The verifier's own C_i (spec §8.2). With replaced ballots it re-reads the board (check
   * `reread`, step 9): undefined when that fails (reported).
   */
  private async recomputedTally(election: Election, counted: CountedSet): Promise<bigint[] | undefined> {
    const replaced = counted.ballotEntries - counted.counted;
    if (replaced === 0) return this.product;
    if (this.options.keepCounted) {
      // The replaced ballots' answers were multiplied into `excluded` as their revotes came:
      // the same product the second read computes, without reading the board again (§10.7).
      const n2k = election.paillier.n2;
      return this.product.map((p, i) => (p * modInv(this.excluded[i]!, n2k)) % n2k);
    }
    const changed = (reason: string) => {
      this.fail(9, { check: 'reread', reason });
      return undefined;
    };
    if (!this.options.reopen) return changed('the board has revotes and the auditor was given no way to re-read it');
    const n2 = election.paillier.n2;
    const excluded = election.questions.map(() => 1n);
    // The second read must be the same board: re-verify its hash chain and require the same
    // close-entry hash as the first, verified read. By the chain, every entry up to the close is
    // then identical — a server cannot serve a different "replaced" ciphertext the second time.
    const close = this.close!;
    const chain = new ChainVerifier(this.header!);
    let reachedClose = false;
    for await (const rec of this.options.reopen()) {
      if (rec.kind !== 'entry') continue;
      const pushed = chain.push(rec.entry, rec.hash);
      if (!pushed.ok) return changed(`the board changed between two reads: ${pushed.check} at height ${rec.entry.height}: ${pushed.reason}`);
      if (rec.entry.height === close.height) {
        if (!bytesEqual(pushed.encoded.hash, this.closeHash!)) return changed('the board changed between two reads: the close entry hashes differently');
        reachedClose = true;
        break;
      }
      if (rec.entry.type !== 'ballot') continue;
      // Every ballot before the close passed step 6 in the first read, and the chain proves
      // this is the same entry.
      const r = parseBallotRecord(election, rec.entry.payload);
      if (counted.counts(rec.entry.height, r.ballot.token.publicKey)) continue;
      if (!counted.wasRecorded(rec.entry.height, r.ballot.token.publicKey)) continue;
      r.ballot.answers.forEach((a, i) => {
        excluded[i] = (excluded[i]! * a.c) % n2;
      });
    }
    if (!reachedClose) return changed('the board changed between two reads: the second read ended before the close entry');
    return this.product.map((p, i) => (p * modInv(excluded[i]!, n2)) % n2);
  }

  private report(results?: QuestionResult[], tally?: AuditReport['tally']): AuditReport {
    const steps = [...this.steps.values()];
    const e = this.election ?? this.parsedElection;
    // The tally stage runs steps 1–8 and, of step 9, only `reread`: it passes when none failed.
    const stepsOk = this.options.stage === 'tally' ? steps.every((s) => (s.step > 8 ? s.status !== 'fail' : s.status === 'pass')) : steps.every((s) => s.status === 'pass');
    const first = steps.find((s) => s.status === 'fail');
    const f = first?.failures[0];
    return {
      ok: stepsOk,
      ...(first && f ? { firstFailure: { step: first.step, check: f.check, ...(f.height !== undefined ? { height: f.height } : {}) } } : {}),
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
