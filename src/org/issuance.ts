/**
 * Token issuance on the organization's side (spec/07-tokens.md §7.4): each registered voter
 * gets at most one blind signature per election, and every signature that leaves the server
 * has a public record on the bulletin board.
 *
 * THE ORDER of `TokenIssuer.issue`, and why:
 *
 *   0. validate the blinded message (length k, z < n): bad input must not consume anything;
 *   1. take the per-voter lock: two requests of one voter run one after the other;
 *   2. RESERVE the voter's issuance in the register (atomic test-and-set, random id): from
 *      here on no other request can reach step 3 for this voter;
 *   3. RECORD the voter's register reference on the board (spec §7.4–7.5): it joins the
 *      pending BATCH, which is published as one `token-issued` entry (references sorted, each
 *      with its membership proof in the committed register) when it holds `batch.size`
 *      references or `batch.windowMs` after its first one, whichever comes first; the request
 *      awaits that publication (with a timeout on the board call). The public record exists
 *      BEFORE any signature does. The batch is what keeps board order from pairing logins
 *      with ballots (issue 10.4): `windowMs` is a PRIVACY parameter (how long a voter may be
 *      held so that others share their entry), not a guess at how long any work takes;
 *   4. blind-SIGN;
 *   5. MARK issued (`completeIssuance` with the reservation id), durably;
 *   6. only now return the signature.
 *
 * Invariants and what a crash between steps does:
 *
 *   - A signature is returned only after step 5 succeeded, so "voter holds a token" implies
 *     "register says issued". Hence a stored RESERVATION proves no signature left the server
 *     under it. A crash after 2, 3 or 4 leaves a reservation and no token; the voter's retry
 *     is answered ISSUANCE_PENDING until the lease (`leaseMs`, default 60 s) runs out, then it
 *     takes the reservation over and proceeds. No admin is needed; an admin may cut the wait
 *     with `RegisterStore.clearReservation`.
 *   - The register is COMMITTED on the board (a `register` entry: N and the Merkle root of the
 *     sorted references, spec §7.5) before the first issuance, from the voters in the store at
 *     that moment; from then on it is frozen: a voter added later is not in the tree and
 *     cannot get a token (NOT_IN_REGISTER), and a restarted server whose register differs from
 *     the committed one issues nothing (REGISTER_MISMATCH). Late registration is not supported.
 *   - Step 3 before step 4: the worst case of a failure is "recorded, not signed" (the board
 *     shows a reference with no token behind it, harmless to the public check ballots ≤
 *     references), never "signed, not recorded" (which would break it).
 *   - If step 3 throws or times out, nothing was signed: the reservation is released and the
 *     voter may retry (ISSUANCE_NOT_RECORDED, 503). The board may nevertheless have stored the
 *     record (a timeout after the write), so the retry records the SAME reference again: the
 *     lead's `recordIssuance` must be idempotent per reference (a repeat is a success and adds
 *     nothing), or auditors must count distinct references. Either way the reference is stable
 *     per voter and election, so retries never inflate the count.
 *   - Step 5 is conditional on the reservation id: if a slow request lost its lease and another
 *     took over, at most one of them completes; the loser withholds its signature.
 *   - A signature that was lost (a crash or a lost response AFTER step 5) is recoverable
 *     (issue 16.7, spec §7.4). The reservation id is not random: it is a hash of the blinded
 *     message, `H("tallyboard/org/issuance-request" ‖ blindedMsg)`, so the register remembers
 *     WHICH blinded message the voter's one signature is for. Blind RSA signing is
 *     deterministic (s = z^d mod n), so a retry with the SAME blinded message is answered with
 *     the SAME signature: no second token comes into existence, once-only issuance holds. A
 *     request with another blinded message still gets TOKEN_ALREADY_ISSUED. Answering again is
 *     safe: the signature unblinds to a token only with the voter's blinding factor, which
 *     never left the voter's device, so whoever replays the request (even with the voter's
 *     session) learns nothing usable. A client therefore keeps its blinding state until it
 *     holds a verified token, and retries with it.
 *   - Likewise, a reservation left by a crash between steps 2 and 5 holds the same id as a
 *     retry with the same blinded message: that retry continues at once (both would produce
 *     the same signature), without waiting for the lease; a retry with another blinded message
 *     waits for the lease as before. Two such requests running at once (two processes) can
 *     both complete step 5's check: the loser finds the record issued under its own id and
 *     returns the same signature.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { canonical } from '../canonical.js';
import { TallyError, isTallyError } from '../errors.js';
import { fromBytesBE } from '../crypto/bigint.js';
import { modulusLength, validateBlindRsaSecretKey, type BlindRsaSecretKey } from '../crypto/blind-rsa.js';
import { issueBlindSignature } from '../election/token.js';
import type { Election } from '../election/manifest.js';
import { parseHex, toHex } from '../wire.js';
import { KeyedLock } from './_keyed-lock.js';
import { MAX_LEASE_MS, type RegisterStore } from './register-store.js';
import { RegisterTree, registerRef, MAX_ISSUANCE_BATCH } from '../election/register.js';
import type { IssuedRef, RegisterRecord } from '../election/records.js';
import { aLogin } from './voter.js';

/** Length of the issuance secret in bytes (tallyboard/1's HMAC reference key; see TokenIssuerOptions). */
export const ISSUANCE_SECRET_LEN = 32;
/** Domain tag of the reservation id (internal to the register, not a protocol hash). */
const REQUEST_TAG = 'tallyboard/org/issuance-request';

/**
 * The reservation id of an issuance request: the first 16 bytes of
 * SHA-256(STR(REQUEST_TAG) ‖ BYTES(blindedMsg)), as 32 hex digits. Equal ids mean equal
 * blinded messages, hence equal signatures.
 */
export function requestId(blindedMsg: Uint8Array): string {
  return toHex(sha256(canonical().str(REQUEST_TAG).bytes(blindedMsg).finish()).subarray(0, 16));
}

/** Length of an issuance reference in bytes. */
export const ISSUANCE_REF_LEN = 32;

/** Defaults of the issuance timing. */
export const ISSUANCE_DEFAULTS = {
  /** how long an unfinished reservation blocks a retry */
  leaseMs: 60_000,
  /** how long step 3 may take before the issuance fails */
  recordTimeoutMs: 10_000,
} as const;

/**
 * The issuance batch (spec §7.4, issue 10.4): a `token-issued` entry is published when it holds
 * `size` references, or `windowMs` after its first reference, whichever comes first. `size: 1`
 * publishes each issuance alone (board order then pairs logins with ballots; tests only).
 * `windowMs` is a PRIVACY parameter: the longest a voter waits so that other voters share the
 * entry; it bounds no work.
 */
export interface IssuanceBatchOptions {
  /** 1 ≤ size ≤ MAX_ISSUANCE_BATCH (256) */
  readonly size: number;
  /** 0 ≤ windowMs ≤ 10 min */
  readonly windowMs: number;
}

/** No batching: the library default, so that a caller chooses its privacy parameter. */
export const NO_BATCHING: IssuanceBatchOptions = { size: 1, windowMs: 0 };

/** Check a batch option. @throws TallyError OUT_OF_RANGE */
export function aIssuanceBatch(b: IssuanceBatchOptions): IssuanceBatchOptions {
  return {
    size: intOption(b.size, 1, 1, MAX_ISSUANCE_BATCH, 'batch.size'),
    windowMs: intOption(b.windowMs, 0, 0, 600_000, 'batch.windowMs'),
  };
}

/** Issuance state of a voter, as shown to the voter. */
export type IssuanceStatus = 'none' | 'pending' | 'issued';

/** Options of a TokenIssuer. */
export interface TokenIssuerOptions {
  readonly store: RegisterStore;
  readonly election: Election;
  /** SECRET: the issuer key whose public half is the election's `tokenIssuer` */
  readonly issuerKey: BlindRsaSecretKey;
  /**
   * SECRET: 32 bytes. It keyed tallyboard/1's HMAC issuance reference; tallyboard/2's reference
   * is the voter's register reference (spec §7.5) and no longer uses it. Still checked, so that
   * existing key files keep loading; unused otherwise.
   */
  readonly issuanceSecret: Uint8Array;
  /** publishes a batch of references (with proofs) as one entry; idempotent per reference */
  readonly recordIssuance: (items: readonly IssuedRef[]) => Promise<void>;
  /** publishes the register commitment; idempotent; fails if another register is committed */
  readonly commitRegister: (r: RegisterRecord) => Promise<void>;
  /** the issuance batch (privacy parameter), default NO_BATCHING */
  readonly batch?: IssuanceBatchOptions;
  /** clock, ms since the epoch (tests) */
  readonly now?: () => number;
  /** reservation lease, batch.windowMs + recordTimeoutMs + 1 s ≤ leaseMs ≤ 1 day */
  readonly leaseMs?: number;
  /** timeout of recordIssuance, 1 ms ≤ recordTimeoutMs ≤ 10 min */
  readonly recordTimeoutMs?: number;
}

function intOption(x: number | undefined, fallback: number, lo: number, hi: number, field: string): number {
  const v = x ?? fallback;
  if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new TallyError('OUT_OF_RANGE', `${field}: expected an integer in [${lo}, ${hi}], got ${v}`);
  return v;
}

/** Await `p`, or fail after `ms` with the error of `onTimeout()`. */
async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The issuance service of one election. */
export class TokenIssuer {
  /** the election id of the manifest */
  readonly electionId: string;
  /** k: the byte length of a blinded message and of a blind signature */
  readonly modulusLength: number;
  private readonly store: RegisterStore;
  private readonly election: Election;
  private readonly issuerKey: BlindRsaSecretKey;
  private readonly recordIssuance: (items: readonly IssuedRef[]) => Promise<void>;
  private readonly commitRegister: (r: RegisterRecord) => Promise<void>;
  private readonly batch: IssuanceBatchOptions;
  /** the committed register's tree, once committed (see `committedTree`) */
  private tree: Promise<RegisterTree> | undefined;
  /** the batch being collected (step 3) */
  private pending: { item: IssuedRef; waiters: { resolve: () => void; reject: (e: unknown) => void }[] }[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly recordTimeoutMs: number;
  private readonly lock = new KeyedLock();

  /**
   * @param opts - see TokenIssuerOptions
   * @throws TallyError BAD_PRIVATE_KEY if issuerKey is inconsistent or is not the key of
   *   election.tokenIssuer; OUT_OF_RANGE for a bad secret length or timing option
   */
  constructor(opts: TokenIssuerOptions) {
    validateBlindRsaSecretKey(opts.issuerKey);
    if (opts.issuerKey.n !== opts.election.tokenIssuer.n || opts.issuerKey.e !== opts.election.tokenIssuer.e) {
      throw new TallyError('BAD_PRIVATE_KEY', "issuerKey: not the key of the election manifest's tokenIssuer");
    }
    if (!(opts.issuanceSecret instanceof Uint8Array) || opts.issuanceSecret.length !== ISSUANCE_SECRET_LEN) {
      throw new TallyError('OUT_OF_RANGE', `issuanceSecret: expected ${ISSUANCE_SECRET_LEN} bytes`);
    }
    if (typeof opts.recordIssuance !== 'function') throw new TypeError('recordIssuance: expected a function');
    if (typeof opts.commitRegister !== 'function') throw new TypeError('commitRegister: expected a function');
    this.batch = aIssuanceBatch(opts.batch ?? NO_BATCHING);
    this.recordTimeoutMs = intOption(opts.recordTimeoutMs, ISSUANCE_DEFAULTS.recordTimeoutMs, 1, 600_000, 'recordTimeoutMs');
    // The lease must outlast a request that is still legitimately running (steps 2–5), batch wait included.
    const minLease = this.batch.windowMs + this.recordTimeoutMs + 1000;
    this.leaseMs = intOption(opts.leaseMs ?? Math.max(ISSUANCE_DEFAULTS.leaseMs, minLease), ISSUANCE_DEFAULTS.leaseMs, minLease, MAX_LEASE_MS, 'leaseMs');
    this.store = opts.store;
    this.election = opts.election;
    this.electionId = opts.election.manifest.electionId;
    this.issuerKey = opts.issuerKey;
    this.recordIssuance = opts.recordIssuance;
    this.commitRegister = opts.commitRegister;
    this.now = opts.now ?? Date.now;
    this.modulusLength = modulusLength(opts.election.tokenIssuer);
  }

  /**
   * The voter's register reference (spec §7.5): the reference their issuance has (or will
   * have) on the board.
   * @param login - a registered login
   * @throws TallyError NOT_FOUND if the login is not registered
   */
  async refOf(login: string): Promise<Uint8Array> {
    const voter = await this.store.getVoter(aLogin(login));
    if (voter === undefined) throw new TallyError('NOT_FOUND', 'no such voter');
    return registerRef(this.electionId, login, parseHex(voter.refSalt, 'refSalt', 32));
  }

  /**
   * The committed register's tree: built from the store and committed on the board at the
   * first call (idempotent on the board: a restart with the same register finds its entry);
   * a failed commit is retried at the next call.
   * @throws TallyError REGISTER_MISMATCH if the board holds another register; ISSUANCE_NOT_RECORDED
   *   if the board cannot be reached; MALFORMED if the store has no voter
   */
  committedTree(): Promise<RegisterTree> {
    if (this.tree === undefined) {
      const t = (async () => {
        const salts = await this.store.listRefSalts();
        const tree = new RegisterTree(salts.map((v) => registerRef(this.electionId, v.login, parseHex(v.refSalt, 'refSalt', 32))));
        try {
          await withTimeout(
            Promise.resolve().then(() => this.commitRegister({ voters: tree.size, root: tree.root })),
            this.recordTimeoutMs,
            () => new Error(`commitRegister timed out after ${this.recordTimeoutMs} ms`),
          );
        } catch (cause) {
          if (isTallyError(cause) && (cause.code === 'REGISTER_MISMATCH' || cause.code === 'OUT_OF_RANGE' || cause.code === 'MALFORMED')) throw cause;
          throw new TallyError('ISSUANCE_NOT_RECORDED', 'the voter register could not be committed on the bulletin board; nothing was signed, retry later', { cause });
        }
        return tree;
      })();
      this.tree = t;
      t.catch(() => {
        if (this.tree === t) this.tree = undefined;
      });
    }
    return this.tree;
  }

  /**
   * Step 3: add this reference to the pending batch and wait until the batch is on the board.
   * The batch is published when full or `batch.windowMs` after its first reference.
   */
  private recordInBatch(item: IssuedRef): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const hex = toHex(item.ref);
      const same = this.pending.find((p) => toHex(p.item.ref) === hex);
      if (same) same.waiters.push({ resolve, reject });
      else this.pending.push({ item, waiters: [{ resolve, reject }] });
      if (this.pending.length >= this.batch.size) this.flush();
      else if (this.flushTimer === undefined) this.flushTimer = setTimeout(() => this.flush(), this.batch.windowMs);
    });
  }

  /** Publish the pending batch as one entry; every waiter learns the outcome. */
  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    withTimeout(
      Promise.resolve().then(() => this.recordIssuance(batch.map((b) => b.item))),
      this.recordTimeoutMs,
      () => new Error(`recordIssuance timed out after ${this.recordTimeoutMs} ms`),
    ).then(
      () => batch.forEach((b) => b.waiters.forEach((w) => w.resolve())),
      (e: unknown) => batch.forEach((b) => b.waiters.forEach((w) => w.reject(e))),
    );
  }

  /** Stop: a batch still collecting is refused (nothing in it was signed). */
  dispose(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const e = new TallyError('ISSUANCE_NOT_RECORDED', 'the organization server is stopping; nothing was signed, retry later');
    for (const b of this.pending.splice(0)) b.waiters.forEach((w) => w.reject(e));
  }

  /**
   * The voter's issuance state in this election.
   * @param login - a valid login
   */
  async status(login: string): Promise<IssuanceStatus> {
    const rec = await this.store.getIssuance(this.electionId, login);
    return rec === undefined ? 'none' : rec.state === 'issued' ? 'issued' : 'pending';
  }

  /**
   * Issue the voter's one blind signature (the ordered steps in the file header).
   * @param login - an authenticated, registered voter
   * @param blindedMsg - exactly k bytes, 0 ≤ z < n
   * @returns the blind signature, k bytes
   * @throws TallyError MALFORMED (length) or OUT_OF_RANGE (z ≥ n) before anything is reserved
   * @throws TallyError ELECTION_CLOSED after the election's end
   * @throws TallyError TOKEN_ALREADY_ISSUED if the voter has had their token (nothing signed)
   * @throws TallyError ISSUANCE_PENDING if an unexpired reservation of another request (or of a
   *   crashed process) holds the voter, or this request lost its reservation (nothing returned)
   * @throws TallyError ISSUANCE_NOT_RECORDED if recordIssuance failed or timed out (nothing
   *   signed, reservation released: a retry may succeed)
   * @throws TallyError NOT_FOUND if the login is not registered
   */
  async issue(login: string, blindedMsg: Uint8Array): Promise<Uint8Array> {
    aLogin(login);
    if (!(blindedMsg instanceof Uint8Array) || blindedMsg.length !== this.modulusLength) {
      throw new TallyError('MALFORMED', `blindedMsg: expected ${this.modulusLength} bytes`);
    }
    if (fromBytesBE(blindedMsg) >= this.election.tokenIssuer.n) {
      throw new TallyError('OUT_OF_RANGE', 'blindedMsg: message representative out of range, z ≥ n');
    }
    if (this.now() >= this.election.endMs) throw new TallyError('ELECTION_CLOSED', 'the election is closed: no more tokens are issued');

    return this.lock.run(login, async () => {
      // Step 2: reserve, under an id bound to this blinded message (see the file header).
      const reservation = requestId(blindedMsg);
      const outcome = await this.store.reserveIssuance(this.electionId, login, reservation, this.now(), this.leaseMs);
      if (!outcome.ok) {
        if (outcome.reason === 'issued') {
          // The voter's one signature was for THIS blinded message: answer it again (recovery).
          if (outcome.record.reservation === reservation) return this.sign(login, blindedMsg, undefined);
          throw new TallyError('TOKEN_ALREADY_ISSUED', 'a token has already been issued to this voter for this election');
        }
        // A reservation for the same blinded message (a crashed or concurrent request) may be
        // continued at once: every holder of this id produces the same signature.
        if (outcome.record.reservation !== reservation) {
          const retryAfterMs = outcome.retryAfterMs;
          throw new TallyError('ISSUANCE_PENDING', `an earlier issuance for this voter was interrupted; retry in ${Math.ceil(retryAfterMs / 1000)} s`, {
            details: { retryAfterMs },
          });
        }
      }

      // Step 3: the public record, before any signature exists: the voter's register reference
      // with its membership proof, in the next batch.
      try {
        const tree = await this.committedTree();
        const ref = await this.refOf(login);
        const proof = tree.proof(ref);
        if (proof === undefined) throw new TallyError('NOT_IN_REGISTER', 'this voter was registered after the register was committed on the board (late registration is not supported)');
        await this.recordInBatch({ ref, index: proof.index, path: proof.path });
      } catch (cause) {
        await this.releaseQuietly(login, reservation);
        if (isTallyError(cause) && ['NOT_IN_REGISTER', 'REGISTER_MISMATCH', 'ISSUANCE_NOT_RECORDED', 'ELECTION_CLOSED'].includes(cause.code)) throw cause;
        throw new TallyError('ISSUANCE_NOT_RECORDED', 'the issuance could not be recorded on the bulletin board; nothing was signed, retry later', { cause });
      }

      // Steps 4 and 5.
      return this.sign(login, blindedMsg, reservation);
    });
  }

  /**
   * Step 4 (sign) and, unless `reservation` is undefined (the record is already issued under
   * this blinded message), step 5 (mark issued); the signature is returned only if the register
   * says issued under this blinded message's id.
   */
  private async sign(login: string, blindedMsg: Uint8Array, reservation: string | undefined): Promise<Uint8Array> {
    let blindSig: Uint8Array;
    try {
      blindSig = issueBlindSignature(this.issuerKey, blindedMsg);
    } catch (cause) {
      if (reservation !== undefined) await this.releaseQuietly(login, reservation);
      throw isTallyError(cause) ? cause : new TallyError('INTERNAL', 'blind signing failed', { cause });
    }
    if (reservation === undefined) return blindSig;
    const completed = await this.store.completeIssuance(this.electionId, login, reservation, this.now());
    if (!completed) {
      // Another holder of the same id (same blinded message) may have completed first.
      const rec = await this.store.getIssuance(this.electionId, login);
      if (rec?.state === 'issued' && rec.reservation === reservation) return blindSig;
      throw new TallyError('ISSUANCE_PENDING', 'this issuance was interrupted (its reservation expired); the signature was withheld, retry');
    }
    return blindSig;
  }

  /**
   * Give the reservation back after a failure before signing. A failure here is not reported:
   * the reservation then simply lapses after `leaseMs`.
   */
  private async releaseQuietly(login: string, reservation: string): Promise<void> {
    try {
      await this.store.releaseIssuance(this.electionId, login, reservation);
    } catch {
      // lease expiry covers it
    }
  }
}
