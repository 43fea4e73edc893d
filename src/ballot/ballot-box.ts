/**
 * The ballot box: the ballot server's state and rules, without HTTP (issue #4).
 *
 * It owns the election's bulletin board and decides, for every request that would add to it,
 * whether it may: a ballot (checks 1–5 of the issue, in order), a token issuance (idempotent per
 * reference), the close, and the tally. Every decision that depends on the board's state and
 * the append that follows it run under ONE lock, so that:
 *   - a ballot verified while the election was open but reaching the lock after the close
 *     entry is refused (ELECTION_CLOSED) — "not even one that was in flight";
 *   - two ballots with the same token cannot both pass the token-reuse check;
 *   - the tally is appended at most once.
 * The expensive part, verifying proofs, runs BEFORE the lock, so ballots are verified in
 * parallel with other appends (and, with the `verifyBallot` option, on worker threads).
 *
 * Cheap checks first (issue 16.2): a ballot whose tracker is already on the board, or whose
 * token already has a counted ballot in an election without revoting, is refused after
 * hashing only, before any exponentiation; replaying the public board costs the server a
 * parse and a hash per ballot, not a proof verification.
 *
 * The schedule is decided on the entry's own timestamp (issue 16.1): the "is the election
 * open" check of a cast runs as the board's append guard, inside the board's serialized
 * append section, on the ONE clock reading that becomes the entry's timestamp. A ballot can
 * therefore never be acknowledged with a timestamp at or after the end (check 6d).
 *
 * On open it rebuilds its indexes (trackers, tokens, issuance references, phase, running
 * tally) by reading the board once; a restart loses nothing that was acknowledged.
 *
 * Several ballot servers on one shared board (PostgreSQL, spec/12-servers.md §12.6): the
 * decisions that depend on the board (open/closed, token reuse and the revote rule, maxVoters,
 * issuance idempotency, close once, tally once) are taken in the board's append GUARD, which
 * runs inside the database transaction that holds the board's lock, after the board has folded
 * every entry other servers appended into these indexes (Board.onSync). So the rules are checked
 * against the board as stored, by whichever server appends, and the "open" check uses the very
 * timestamp the entry gets. `sync()` catches up before a read.
 */
import { TallyError } from '../errors.js';
import type { Board } from '../../bulletin/board.js';
import type { Entry } from '../../bulletin/entry.js';
import type { ReceiptParts } from './receipt.js';
import { cosignatureFromJson, verifyCosignature } from '../../bulletin/cosignature.js';
import type { JsonValue } from '../../bulletin/value-encoding.js';
import { modInv } from '../crypto/bigint.js';
import { toHex } from '../wire.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJson } from '../../bulletin/value-encoding.js';
import { ballotBody, ballotTracker, parseBallot, verifyBallot, type Ballot, type BallotCheck } from '../election/ballot.js';
import { CountedSet } from '../election/counted-set.js';
import type { Election } from '../election/manifest.js';
import {
  ballotPayload,
  closePayload,
  encryptedTallyPayload,
  parseBallotRecord,
  resultPayload,
  parseClose,
  parseEncryptedTally,
  parseResult,
  parseRegister,
  parsePartialDecryption,
  parseTokenIssued,
  registerPayload,
  setupPayload,
  tokenIssuedPayload,
  type CloseReason,
  type IssuedRef,
  type RegisterRecord,
  type EncryptedTallyRecord,
} from '../election/records.js';
import { compareRefs, MAX_ISSUANCE_BATCH, verifyRegisterMembership } from '../election/register.js';
import { bytesEqual } from '../crypto/hash.js';
import { verifyTally, type QuestionResult } from '../election/tally.js';
import { verifyPartialDecryptionEntry, type PartialDecryptionEntry, type PartialDecryptionPayload, type PartialEntryCheck } from '../election/partial-decryption.js';
import { partialToJson } from '../crypto/threshold-paillier.js';
import { encodeEntry } from '../../bulletin/entry.js';

export type Phase = 'scheduled' | 'open' | 'closed' | 'tallied';

/** What a voter gets back for a cast ballot (spec §10.3); its wire form is receipt.ts's. */
export type Receipt = ReceiptParts;

/** Verifies a parsed ballot (spec §6.5); may run elsewhere (a worker thread) and may refuse for load. */
export type BallotVerifyFn = (election: Election, ballot: Ballot) => Promise<BallotCheck>;

export interface BallotBoxOptions {
  readonly board: Board;
  readonly election: Election;
  /** clock of the early, advisory checks and of the phase; the decisive reading is the board's */
  readonly now?: () => number;
  /** ballot verification (default: in this thread); e.g. a worker pool behind a bounded queue */
  readonly verifyBallot?: BallotVerifyFn;
  /** a trustee's partial decryption checked (default: in this thread); e.g. the same pool */
  readonly verifyPartialDecryption?: PartialVerifyFn;
}

/** Checks a partial-decryption payload against the encrypted tally (spec §13.4); may run on a worker thread. */
export type PartialVerifyFn = (election: Election, ciphertexts: readonly bigint[], payload: unknown) => Promise<PartialEntryCheck>;

const inThread: BallotVerifyFn = async (election, ballot) => verifyBallot(election, ballot);
const partialInThread: PartialVerifyFn = async (e, ciphertexts, payload) => verifyPartialDecryptionEntry(e.threshold, e.fingerprint, ciphertexts, payload);

/** Thrown by a guard when another server already did what this call would append. */
class AlreadyOnBoard extends Error {}

/** A promise-chain mutex: runs critical sections one at a time, in arrival order. */
class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const next = this.tail.then(f, f);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export class BallotBox {
  readonly election: Election;
  readonly board: Board;
  private readonly now: () => number;
  private readonly verify: BallotVerifyFn;
  private readonly verifyPartial: PartialVerifyFn;
  private readonly lock = new Lock();
  private counted: CountedSet;
  private readonly trackers = new Map<string, number>();
  /**
   * SHA-256 of the canonical JSON of every ballot on the board, and every token key with a
   * ballot: a replay of a board ballot is recognised from its wire form alone, before any
   * big-integer conversion (issue 16.2). Identical canonical JSON means an identical ballot,
   * hence the same tracker: refusing it as 7a is exact.
   */
  private readonly wireKeys = new Set<string>();
  private readonly tokenKeys = new Set<string>();
  private readonly refs = new Map<string, { height: number; count: number }>();
  /** the committed register (spec §7.5) and its height, once on the board */
  private registerEntry: { height: number; record: RegisterRecord } | undefined;
  private running: bigint[];
  private closeHeight: number | undefined;
  private encryptedTallyHeight: number | undefined;
  /** the board's encrypted tally (spec §8.2), once appended: partial decryptions are checked against it */
  private encryptedTally: EncryptedTallyRecord | undefined;
  /** `partial-decryption` entries by trustee index (spec §9, §13.4): at most one each */
  private readonly partials = new Map<number, { height: number; hash: string; wire: string; entry: PartialDecryptionEntry }>();
  private resultHeight: number | undefined;
  private resultWire: string | undefined;
  private results: { results: QuestionResult[]; ballotsCounted: number } | undefined;

  private constructor(opts: BallotBoxOptions) {
    this.election = opts.election;
    this.board = opts.board;
    this.now = opts.now ?? Date.now;
    this.verify = opts.verifyBallot ?? inThread;
    this.verifyPartial = opts.verifyPartialDecryption ?? partialInThread;
    this.counted = new CountedSet(opts.election.manifest.revoting);
    this.running = opts.election.questions.map(() => 1n);
  }

  /**
   * Open the ballot box over a board: append the setup entry to an empty board, or rebuild the
   * indexes from an existing one (checking it is this election's board).
   * @throws TallyError CONFLICT if the board holds another election
   */
  static async open(opts: BallotBoxOptions): Promise<BallotBox> {
    const box = new BallotBox(opts);
    // Entries other servers append to a shared board are folded in before each guard runs.
    opts.board.onSync(async (entries) => {
      for (const { entry } of entries) box.fold(entry);
      await box.settleReplaced();
      if (box.results) box.results = { ...box.results, ballotsCounted: box.counted.counted };
    });
    if (opts.board.size === 0) {
      try {
        await opts.board.append('setup', setupPayload(opts.election.manifest) as unknown as JsonValue, (_t, head) => {
          if (head.size !== 0) throw new AlreadyOnBoard(); // another server wrote it (and it was folded in)
        });
      } catch (e) {
        if (!(e instanceof AlreadyOnBoard)) throw e;
      }
    } else {
      await box.rebuild();
    }
    return box;
  }

  /**
   * Catches up with what other ballot servers appended to a shared board (a no-op otherwise),
   * so that a read answers from the board as stored.
   */
  async sync(): Promise<void> {
    if (!this.board.shared) return;
    await this.lock.run(() => this.board.refresh());
  }

  private async rebuild(): Promise<void> {
    for await (const { entry } of this.board.entries()) this.fold(entry);
    await this.settleReplaced();
    if (this.results) this.results = { ...this.results, ballotsCounted: this.counted.counted };
  }

  /** Fold one stored entry into the indexes (replaced ballots are divided out by settleReplaced). */
  private fold(entry: Entry): void {
    const e = this.election;
    {
      const h = entry.height;
      switch (entry.type) {
        case 'setup': {
          const m = (entry.payload as { manifest?: { electionId?: unknown } }).manifest;
          if (h !== 0 || m?.electionId !== e.manifest.electionId) throw new TallyError('CONFLICT', 'the board holds another election');
          break;
        }
        case 'register':
          this.registerEntry = { height: h, record: parseRegister(entry.payload, e.manifest.maxVoters) };
          break;
        case 'token-issued': {
          const t = parseTokenIssued(entry.payload);
          for (const r of t.refs) this.refs.set(toHex(r.ref), { height: h, count: t.count });
          break;
        }
        case 'ballot': {
          const r = parseBallotRecord(e, entry.payload);
          this.record(h, r.ballot, r.tracker);
          this.remember((entry.payload as { ballot: unknown }).ballot, r.ballot);
          break;
        }
        case 'close':
          parseClose(entry.payload);
          this.closeHeight = h;
          break;
        case 'encrypted-tally':
          this.encryptedTally = parseEncryptedTally(e, entry.payload);
          this.encryptedTallyHeight = h;
          break;
        case 'partial-decryption': {
          const pd = parsePartialDecryption(e, entry.payload);
          this.partials.set(pd.trustee, { height: h, hash: toHex(encodeEntry(entry).hash), wire: wireKey(entry.payload) ?? '', entry: pd });
          break;
        }
        case 'result':
          this.results = { results: [...parseResult(e, entry.payload).results], ballotsCounted: this.counted.counted };
          this.resultHeight = h;
          break;
      }
    }
  }

  /** Fold an appended ballot into the indexes and the running tally (which divides out a replaced ballot). */
  private async recordAsync(height: number, ballot: Ballot, tracker: Uint8Array): Promise<number | undefined> {
    const adm = this.counted.add(height, ballot.token.publicKey, tracker);
    if (!adm.ok) throw new Error('unreachable: admission was checked under the lock');
    this.trackers.set(toHex(tracker), height);
    const n2 = this.election.paillier.n2;
    ballot.answers.forEach((a, i) => (this.running[i] = (this.running[i]! * a.c) % n2));
    if (adm.replaces !== undefined) {
      const old = await this.board.entryAt(adm.replaces);
      const r = parseBallotRecord(this.election, old.entry.payload);
      r.ballot.answers.forEach((a, i) => (this.running[i] = (this.running[i]! * modInv(a.c, n2)) % n2));
    }
    return adm.replaces;
  }

  /** Index an appended ballot's wire form and token key (see wireKeys). */
  private remember(json: unknown, ballot: Ballot): void {
    const key = wireKey(json);
    if (key !== undefined) this.wireKeys.add(key);
    this.tokenKeys.add(toHex(ballot.token.publicKey));
  }

  /**
   * The cheapest refusals, on the wire form: a ballot whose canonical JSON is on the board
   * (7a), or, without revoting, whose token key has a ballot (7b). No parsing, no big integer.
   */
  private refuseKnownWire(json: unknown, key: string | undefined): void {
    if (key !== undefined && this.wireKeys.has(key)) throw new TallyError('TOKEN_USED', 'this exact ballot was already cast', { details: { check: '7a' } });
    const tokenKey = (json as { token?: { publicKey?: unknown } } | null)?.token?.publicKey;
    if (!this.election.manifest.revoting && typeof tokenKey === 'string' && this.tokenKeys.has(tokenKey)) {
      throw new TallyError('TOKEN_USED', 'this token has already cast a ballot', { details: { check: '7b' } });
    }
  }

  /** Ballots replaced by a revote, found while rebuilding; divided out once the scan ends. */
  private pendingReplaced: number[] = [];

  private record(height: number, ballot: Ballot, tracker: Uint8Array): void {
    // Used while rebuilding: replaced ballots are divided out by settleReplaced at the end.
    const adm = this.counted.add(height, ballot.token.publicKey, tracker);
    if (!adm.ok) throw new TallyError('BOARD_CORRUPT', `ballot at height ${height} breaks the revote rule (${adm.check})`);
    this.trackers.set(toHex(tracker), height);
    const n2 = this.election.paillier.n2;
    ballot.answers.forEach((a, i) => (this.running[i] = (this.running[i]! * a.c) % n2));
    if (adm.replaces !== undefined) this.pendingReplaced.push(adm.replaces);
  }

  /** Finish a rebuild: divide the replaced ballots out of the running tally. */
  private async settleReplaced(): Promise<void> {
    const n2 = this.election.paillier.n2;
    for (const h of this.pendingReplaced.splice(0)) {
      const r = parseBallotRecord(this.election, (await this.board.entryAt(h)).entry.payload);
      r.ballot.answers.forEach((a, i) => (this.running[i] = (this.running[i]! * modInv(a.c, n2)) % n2));
    }
  }

  /** The phase now: by the board (closed, tallied) and the clock (scheduled, open). */
  get phase(): Phase {
    if (this.resultHeight !== undefined) return 'tallied';
    if (this.closeHeight !== undefined) return 'closed';
    return this.now() < this.election.startMs ? 'scheduled' : 'open';
  }

  get status() {
    return {
      phase: this.phase,
      boardSize: this.board.size,
      ballots: this.counted.ballotEntries,
      ballotsCounted: this.counted.counted,
      tokensIssued: this.refs.size,
      serverTime: new Date(this.now()).toISOString(),
    };
  }

  /** The running encrypted tally per question (monitoring only; the official one is recomputed). */
  get runningTally(): { ciphertexts: readonly bigint[]; ballotsCounted: number } {
    return { ciphertexts: [...this.running], ballotsCounted: this.counted.counted };
  }

  get publishedResults(): { results: QuestionResult[]; ballotsCounted: number } | undefined {
    return this.results;
  }

  /**
   * The schedule check at time `t` (ms): the close entry, then start ≤ t < end.
   * @throws TallyError ELECTION_CLOSED or ELECTION_NOT_OPEN
   */
  private assertOpen(t: number = this.now()): void {
    if (this.closeHeight !== undefined) throw new TallyError('ELECTION_CLOSED', 'the election is closed: no ballot is accepted');
    if (t < this.election.startMs) throw new TallyError('ELECTION_NOT_OPEN', `the election opens at ${this.election.manifest.schedule.start}`);
    if (t >= this.election.endMs) throw new TallyError('ELECTION_CLOSED', `the election closed at ${this.election.manifest.schedule.end}`);
  }

  /**
   * Refuse a ballot the board already answers for: its tracker is on the board (7a), or its
   * token has a counted ballot and revoting is off (7b). Hashing and map look-ups only.
   * @throws TallyError TOKEN_USED
   */
  private refuseKnown(ballot: Ballot, tracker: Uint8Array): void {
    if (this.trackers.has(toHex(tracker))) throw new TallyError('TOKEN_USED', 'this exact ballot was already cast', { details: { check: '7a' } });
    const adm = this.counted.admit(ballot.token.publicKey, tracker);
    if (!adm.ok) throw new TallyError('TOKEN_USED', adm.reason, { details: { check: adm.check } });
  }

  /**
   * Cast a ballot (spec §12.2, checks in order): 0. cheap: the election is open by the server's
   * clock, the ballot parses, and its tracker and token are not already on the board (no
   * exponentiation before this); 1.–4. token signature, ballot signature and every proof
   * (`verifyBallot`, possibly on a worker thread); 5. under the lock, the token is unused or
   * the revote rule allows it; and the schedule, decided on the entry's own timestamp inside
   * the board's append. A refused ballot leaves no trace on the board.
   * @param json - the ballot's JSON wire form (already schema-checked by the route)
   * @throws TallyError as listed in spec §12.2; SERVER_BUSY if the verifier refuses for load
   */
  async cast(json: unknown): Promise<Receipt> {
    this.assertOpen(); // advisory: refuse early; the decision is the append guard's below
    const key = wireKey(json);
    this.refuseKnownWire(json, key);
    const ballot = parseBallot(this.election, json);
    const tracker = ballotTracker(ballotBody(this.election, ballot), ballot.signature);
    this.refuseKnown(ballot, tracker);
    const check = await this.verify(this.election, ballot);
    if (!check.ok) {
      throw new TallyError(check.code, check.reason, { details: { check: check.check, ...(check.question !== undefined ? { question: check.question } : {}) } });
    }
    return this.lock.run(async () => {
      // In the append section, on the board as stored (other servers' entries folded in), with
      // the entry's own timestamp: the close, or another ballot of this token, may have landed
      // while we verified.
      const guard = (timestamp: number): void => {
        this.assertOpen(timestamp);
        this.refuseKnown(ballot, tracker);
        const adm = this.counted.admit(ballot.token.publicKey, tracker);
        if (adm.ok && adm.replaces === undefined && this.counted.counted >= this.election.manifest.maxVoters) {
          throw new TallyError('CONFLICT', `the election is full: maxVoters (${this.election.manifest.maxVoters}) ballots are counted`);
        }
        // Check 7c at every prefix (spec §10.2): a new token's first ballot needs an issuance for
        // it already on the board. Without this, anyone holding the issuer key could void the
        // election by casting one ballot more than the tokens issued.
        if (adm.ok && adm.replaces === undefined && this.counted.tokens >= this.refs.size) {
          throw new TallyError('CONFLICT', `no issued token is left for a new ballot: ${this.refs.size} tokens issued, ${this.counted.tokens} have voted`, { details: { check: '7c' } });
        }
      };
      const appended = await this.board.append('ballot', ballotPayload(this.election, ballot, tracker) as unknown as JsonValue, guard);
      const replaces = await this.recordAsync(appended.entry.height, ballot, tracker);
      this.remember(json, ballot);
      const inclusionProof = await this.board.inclusionProof(appended.entry.height, appended.checkpoint.treeSize);
      return {
        tracker,
        entry: appended.entry,
        entryHash: appended.hash,
        checkpoint: appended.checkpoint,
        // the cosignatures available when the receipt is issued (spec §12.4): none yet for a
        // checkpoint made by this very append, unless a witness was quicker than this line
        cosignatures: await this.board.cosignaturesAt(appended.checkpoint.treeSize),
        inclusionProof,
        ...(replaces !== undefined ? { replaces } : {}),
      };
    });
  }

  /**
   * The receipt of a cast ballot, by tracker: against the largest checkpoint that this server
   * saw reach the witnesses' quorum and includes the ballot, else against the latest checkpoint;
   * with the cosignatures stored for it (spec §12.4).
   */
  async receipt(tracker: Uint8Array): Promise<Receipt> {
    const height = this.trackers.get(toHex(tracker));
    if (height === undefined) throw new TallyError('NOT_FOUND', 'no ballot with this tracker');
    const q = this.#quorumSize;
    const checkpoint = q !== undefined && q > height ? await this.board.checkpointAt(q) : await this.board.latestCheckpoint();
    const { entry, hash } = await this.board.entryAt(height);
    const cosignatures = await this.board.cosignaturesAt(checkpoint.treeSize);
    return { tracker, entry, entryHash: hash, checkpoint, cosignatures, inclusionProof: await this.board.inclusionProof(height, checkpoint.treeSize) };
  }

  /** the largest checkpoint size seen to reach the witnesses' quorum (in memory) */
  #quorumSize: number | undefined;

  /**
   * Accepts a witness's cosignature (POST /api/board/cosignatures, spec §9.9.5, §12). Cheap
   * checks first (shape, a witness of the manifest, its key id, a stored checkpoint of that size
   * with that root), then the one signature verification; only a valid cosignature is stored.
   * @returns the names of the witnesses whose cosignatures the checkpoint now carries
   * @throws TallyError MALFORMED (shape), NOT_FOUND (no such checkpoint), BAD_COSIGNATURE
   */
  async addCosignature(json: unknown): Promise<{ treeSize: number; names: string[]; quorum: boolean }> {
    const c = cosignatureFromJson(json);
    const cp = await this.board.checkpointAt(c.treeSize);
    const r = verifyCosignature(this.election.witnesses, this.election.boardKey, cp, c);
    if (!r.ok) throw new TallyError('BAD_COSIGNATURE', r.message, { details: { reason: r.reason } });
    await this.board.addCosignature(c);
    const names = (await this.board.cosignaturesAt(c.treeSize)).map((x) => x.name);
    const quorum = this.election.witnessQuorum > 0 && names.length >= this.election.witnessQuorum;
    if (quorum && (this.#quorumSize === undefined || c.treeSize > this.#quorumSize)) this.#quorumSize = c.treeSize;
    return { treeSize: c.treeSize, names, quorum };
  }

  /** The committed register (spec §7.5), if on the board. */
  get register(): { height: number; voters: number; root: Uint8Array } | undefined {
    const r = this.registerEntry;
    return r && { height: r.height, voters: r.record.voters, root: r.record.root };
  }

  /**
   * Where a reference's token issuance is on the board (the voter's check, spec §10.3).
   * @returns the height of its token-issued entry and that entry's count, or undefined
   */
  issuanceOf(ref: Uint8Array): { height: number; count: number } | undefined {
    return this.refs.get(toHex(ref));
  }

  /**
   * Commit the voter register (spec §7.5): the `register` entry, once, before any issuance or
   * ballot. Idempotent: the same commitment again returns the existing entry.
   * @throws TallyError REGISTER_MISMATCH if another register is committed; CONFLICT after an
   *   issuance, a ballot or the close; MALFORMED/OUT_OF_RANGE for a bad record (5h's rules)
   */
  async commitRegister(r: RegisterRecord): Promise<{ height: number; existing: boolean }> {
    const rec = parseRegister(registerPayload(r), this.election.manifest.maxVoters);
    const same = (): { height: number; existing: boolean } | undefined => {
      const have = this.registerEntry;
      if (have === undefined) return undefined;
      if (have.record.voters === rec.voters && bytesEqual(have.record.root, rec.root)) return { height: have.height, existing: true };
      throw new TallyError('REGISTER_MISMATCH', `another register is committed on the board (at height ${have.height}, ${have.record.voters} voters)`);
    };
    return this.lock.run(async () => {
      const known = same();
      if (known) return known;
      try {
        const a = await this.board.append('register', registerPayload(rec) as unknown as JsonValue, () => {
          if (same()) throw new AlreadyOnBoard();
          if (this.closeHeight !== undefined) throw new TallyError('CONFLICT', 'the election is closed: the register can no longer be committed');
          if (this.refs.size > 0 || this.counted.ballotEntries > 0) throw new TallyError('CONFLICT', 'the register must be committed before any issuance or ballot');
        });
        this.registerEntry = { height: a.entry.height, record: rec };
        return { height: a.entry.height, existing: false };
      } catch (e) {
        if (!(e instanceof AlreadyOnBoard)) throw e;
        return same()!;
      }
    });
  }

  /**
   * Record a batch of token issuances (spec §7.4): one `token-issued` entry with the references
   * not yet on the board, in ascending order, each with its membership proof. Idempotent per
   * reference: references already recorded are left out, and a batch of only those appends
   * nothing and returns the entry of its first reference.
   * @param items - 1 to MAX_ISSUANCE_BATCH references with their proofs, distinct
   * @throws TallyError CONFLICT with no committed register, or when the register's N tokens
   *   exist; NOT_IN_REGISTER for a reference whose proof does not verify (nothing appended);
   *   ELECTION_CLOSED after the close; MALFORMED for an empty, oversized or repeated batch
   */
  async recordIssuance(items: readonly IssuedRef[]): Promise<{ height: number; count: number; existing: boolean }> {
    if (!Array.isArray(items) || items.length < 1 || items.length > MAX_ISSUANCE_BATCH) {
      throw new TallyError('MALFORMED', `issuance batch: expected 1 to ${MAX_ISSUANCE_BATCH} references`);
    }
    const sorted = [...items].sort((a, b) => compareRefs(a.ref, b.ref));
    for (let i = 1; i < sorted.length; i++) if (compareRefs(sorted[i - 1]!.ref, sorted[i]!.ref) === 0) throw new TallyError('MALFORMED', 'issuance batch: a reference appears twice');
    return this.lock.run(async () => {
      const reg = this.registerEntry;
      if (reg === undefined) throw new TallyError('CONFLICT', 'no voter register is committed on the board: no token can be issued');
      // Membership before anything is appended (check 5e): an invented reference changes nothing.
      for (const it of sorted) {
        if (!verifyRegisterMembership(it.ref, it, reg.record.voters, reg.record.root)) {
          throw new TallyError('NOT_IN_REGISTER', `the reference ${toHex(it.ref).slice(0, 16)}… is not a member of the committed register`);
        }
      }
      let fresh: IssuedRef[] = [];
      let count = 0;
      try {
        const a = await this.board.append(
          'token-issued',
          () => tokenIssuedPayload({ refs: fresh, count }),
          () => {
            // On the board as stored: another server may have recorded some references meanwhile.
            fresh = sorted.filter((it) => !this.refs.has(toHex(it.ref)));
            if (fresh.length === 0) throw new AlreadyOnBoard();
            if (this.closeHeight !== undefined) throw new TallyError('ELECTION_CLOSED', 'the election is closed: no token is issued');
            count = this.refs.size + fresh.length;
            if (count > this.election.manifest.maxVoters) throw new TallyError('CONFLICT', `maxVoters (${this.election.manifest.maxVoters}) tokens are already issued`);
            if (count > reg.record.voters) throw new TallyError('CONFLICT', `the register's ${reg.record.voters} voters all have a token`);
          },
        );
        for (const it of fresh) this.refs.set(toHex(it.ref), { height: a.entry.height, count });
        return { height: a.entry.height, count, existing: false };
      } catch (e) {
        if (!(e instanceof AlreadyOnBoard)) throw e;
        return { ...this.refs.get(toHex(sorted[0]!.ref))!, existing: true };
      }
    });
  }

  /**
   * Append the close entry (once). Ballots still waiting for the lock are refused after it.
   * @returns the close entry's height (the existing one if already closed)
   */
  async close(reason: CloseReason): Promise<number> {
    return this.lock.run(async () => {
      if (this.closeHeight !== undefined) return this.closeHeight;
      try {
        // Guard and payload see the board as stored: exactly one close, counting every ballot.
        const a = await this.board.append(
          'close',
          () => closePayload({ reason, ballots: this.counted.ballotEntries }) as unknown as JsonValue,
          () => {
            if (this.closeHeight !== undefined) throw new AlreadyOnBoard();
          },
        );
        this.closeHeight = a.entry.height;
        return a.entry.height;
      } catch (e) {
        if (!(e instanceof AlreadyOnBoard)) throw e;
        return this.closeHeight!;
      }
    });
  }

  /**
   * Accept the encrypted tally (spec §8.2, §9): the verification server's, after its audit. It
   * must equal this box's own running product and ballot count. Idempotent: the same tally again
   * returns the existing entry.
   * @throws TallyError CONFLICT if the election is not closed, or a different tally is on the
   *   board; BAD_ENCRYPTED_TALLY if it is not the product of the counted ballots; MALFORMED
   */
  async submitEncryptedTally(payload: unknown): Promise<{ height: number; existing: boolean }> {
    const e = this.election;
    const et = parseEncryptedTally(e, payload);
    return this.lock.run(async () => {
      await this.board.refresh();
      if (this.closeHeight === undefined) throw new TallyError('CONFLICT', 'the election is not closed yet');
      const mine = this.running;
      const same = (x: EncryptedTallyRecord) => x.ballotsCounted === this.counted.counted && x.ciphertexts.every((c, i) => c === mine[i]);
      if (!same(et)) {
        throw new TallyError('BAD_ENCRYPTED_TALLY', 'the encrypted tally is not the product of the counted ballots', {
          details: { expectedBallots: this.counted.counted, submittedBallots: et.ballotsCounted },
        });
      }
      if (this.encryptedTallyHeight !== undefined) return { height: this.encryptedTallyHeight, existing: true };
      try {
        const a = await this.board.append('encrypted-tally', encryptedTallyPayload(e, et) as unknown as JsonValue, () => {
          if (this.encryptedTallyHeight !== undefined) throw new AlreadyOnBoard();
        });
        this.encryptedTallyHeight = a.entry.height;
        this.encryptedTally = et;
        return { height: a.entry.height, existing: false };
      } catch (err) {
        if (!(err instanceof AlreadyOnBoard)) throw err;
        return { height: this.encryptedTallyHeight!, existing: true };
      }
    });
  }

  /**
   * Accept a trustee's partial decryption (spec §9, §13.4): every proof is verified against the
   * board's encrypted tally BEFORE anything is appended. At most one entry per trustee; an
   * identical retry returns the existing entry.
   * @throws TallyError MALFORMED (13.4p) or BAD_PARTIAL_DECRYPTION (details.question, details.check);
   *   TALLY_NOT_READY if there is no encrypted tally yet; RESULT_PUBLISHED once the result is on
   *   the board; CONFLICT if this trustee already has a different entry
   */
  async submitPartialDecryption(payload: unknown): Promise<{ height: number; hash: string; existing: boolean }> {
    const e = this.election;
    const wire = wireKey(payload);
    return this.lock.run(async () => {
      await this.board.refresh();
      if (this.resultHeight !== undefined) throw new TallyError('RESULT_PUBLISHED', 'the result is already published: partial decryptions are no longer accepted');
      const et = this.encryptedTally;
      if (et === undefined) throw new TallyError('TALLY_NOT_READY', 'there is no encrypted tally on the board yet');
      const v = await this.verifyPartial(e, et.ciphertexts, payload);
      if (!v.ok) {
        const code = v.check === '13.4p' ? 'MALFORMED' : 'BAD_PARTIAL_DECRYPTION';
        throw new TallyError(code, `${v.question >= 0 ? `question ${v.question}: ` : ''}${v.reason} (check ${v.check})`, { details: { question: v.question, check: v.check } });
      }
      const trustee = v.entry.trustee;
      const existing = this.partials.get(trustee);
      if (existing) {
        if (wire !== undefined && existing.wire === wire) return { height: existing.height, hash: existing.hash, existing: true };
        throw new TallyError('CONFLICT', `trustee ${trustee} already has a partial-decryption entry at height ${existing.height}`, { details: { height: existing.height } });
      }
      const canonicalPayload = partialDecryptTallyJson(v.entry, e);
      try {
        const a = await this.board.append('partial-decryption', canonicalPayload as unknown as JsonValue, () => {
          if (this.resultHeight !== undefined) throw new TallyError('RESULT_PUBLISHED', 'the result is already published');
          if (this.partials.has(trustee)) throw new AlreadyOnBoard();
        });
        const hash = toHex(a.hash);
        this.partials.set(trustee, { height: a.entry.height, hash, wire: wireKey(canonicalPayload) ?? '', entry: v.entry });
        return { height: a.entry.height, hash, existing: false };
      } catch (err) {
        if (!(err instanceof AlreadyOnBoard)) throw err;
        const now = this.partials.get(trustee)!;
        if (now.wire === wire) return { height: now.height, hash: now.hash, existing: true };
        throw new TallyError('CONFLICT', `trustee ${trustee} already has a partial-decryption entry at height ${now.height}`, { details: { height: now.height } });
      }
    });
  }

  /**
   * Accept the result (spec §8.4): re-checked against this box's encrypted tally and the
   * `partial-decryption` entries of the trustees it names (13.4g, 8.4b–8.4f) before appending.
   * @throws TallyError CONFLICT if already published; TALLY_NOT_READY without an encrypted
   *   tally; BAD_PARTIAL_DECRYPTION / TOO_FEW_PARTIAL_DECRYPTIONS if the combination fails;
   *   BAD_RESULT if the published values are not the combination; MALFORMED
   */
  async submitResult(payload: unknown): Promise<{ height: number; existing: boolean }> {
    const e = this.election;
    const result = parseResult(e, payload);
    return this.lock.run(async () => {
      await this.board.refresh();
      if (this.resultHeight !== undefined) {
        if (wireKey(payload) !== undefined && wireKey(payload) === this.resultWire) return { height: this.resultHeight, existing: true };
        throw new TallyError('CONFLICT', 'the tally is already published');
      }
      const et = this.encryptedTally;
      if (et === undefined) throw new TallyError('TALLY_NOT_READY', 'there is no encrypted tally on the board yet');
      const verified = new Map([...this.partials].map(([i, p]) => [i, p.entry] as const));
      const v = verifyTally(e, et.ciphertexts, result, verified, this.counted.counted);
      if (!v.ok) {
        const code = v.check === '13.4g' ? (result.trustees.every((i) => verified.has(i)) ? 'BAD_PARTIAL_DECRYPTION' : 'TOO_FEW_PARTIAL_DECRYPTIONS') : 'BAD_RESULT';
        throw new TallyError(code, `${v.question >= 0 ? `question ${v.question}: ` : ''}${v.reason} (check ${v.check})`, { details: { question: v.question, check: v.check } });
      }
      const r = await this.board.append('result', resultPayload(e, result) as unknown as JsonValue, () => {
        if (this.resultHeight !== undefined) throw new TallyError('CONFLICT', 'the tally is already published');
      });
      this.resultHeight = r.entry.height;
      this.resultWire = wireKey(payload);
      this.results = { results: [...result.results], ballotsCounted: this.counted.counted };
      return { height: r.entry.height, existing: false };
    });
  }
}

/** The canonical payload of a verified entry (the submitted JSON, re-emitted from the parsed values). */
function partialDecryptTallyJson(entry: PartialDecryptionEntry, e: Election): PartialDecryptionPayload {
  return {
    trustee: entry.trustee,
    partials: entry.partials.map((p) => {
      const { ci, e: ch, z } = partialToJson(e.threshold, p);
      return { ci, e: ch, z };
    }),
  };
}

/** SHA-256 of a ballot's canonical JSON, hex; undefined for a value outside the JSON model. */
function wireKey(json: unknown): string | undefined {
  try {
    return toHex(sha256(new TextEncoder().encode(canonicalJson(json))));
  } catch {
    return undefined; // parseBallot refuses it with its own message
  }
}
