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
 *   3. RECORD the pseudonymous reference on the board (`recordIssuance`, awaited, with a
 *      timeout): the public record exists BEFORE any signature does;
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
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonical } from '../canonical.js';
import { TallyError, isTallyError } from '../errors.js';
import { TAGS } from '../crypto/hash.js';
import { fromBytesBE } from '../crypto/bigint.js';
import { modulusLength, validateBlindRsaSecretKey, type BlindRsaSecretKey } from '../crypto/blind-rsa.js';
import { issueBlindSignature } from '../election/token.js';
import type { Election } from '../election/manifest.js';
import { toHex } from '../wire.js';
import { KeyedLock } from './_keyed-lock.js';
import { aElectionId, MAX_LEASE_MS, type RegisterStore } from './register-store.js';
import { aLogin } from './voter.js';

/** Length of the issuance secret (HMAC-SHA256 key) in bytes. */
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

/** Issuance state of a voter, as shown to the voter. */
export type IssuanceStatus = 'none' | 'pending' | 'issued';

/** Options of a TokenIssuer. */
export interface TokenIssuerOptions {
  readonly store: RegisterStore;
  readonly election: Election;
  /** SECRET: the issuer key whose public half is the election's `tokenIssuer` */
  readonly issuerKey: BlindRsaSecretKey;
  /** SECRET: 32 bytes, key of the pseudonymous reference */
  readonly issuanceSecret: Uint8Array;
  /** publishes a reference on the bulletin board; must be idempotent per reference */
  readonly recordIssuance: (ref: Uint8Array) => Promise<void>;
  /** clock, ms since the epoch (tests) */
  readonly now?: () => number;
  /** reservation lease, recordTimeoutMs + 1 s ≤ leaseMs ≤ 1 day */
  readonly leaseMs?: number;
  /** timeout of recordIssuance, 1 ms ≤ recordTimeoutMs ≤ 10 min */
  readonly recordTimeoutMs?: number;
}

/**
 * The pseudonymous reference of an issuance (spec §7.4):
 * ref = HMAC-SHA256(issuanceSecret, STR(TAGS.issuanceRef) ‖ STR(electionId) ‖ STR(login)).
 * Stable per voter and election, so a repeated issuance shows as a repeated reference;
 * unlinkable to the login without the secret.
 * @param issuanceSecret - exactly 32 bytes
 * @param electionId - the manifest's election id
 * @param login - the voter's login
 * @returns 32 bytes
 * @throws TallyError OUT_OF_RANGE for a secret of the wrong length; MALFORMED for a bad id or login
 */
export function issuanceRef(issuanceSecret: Uint8Array, electionId: string, login: string): Uint8Array {
  if (!(issuanceSecret instanceof Uint8Array) || issuanceSecret.length !== ISSUANCE_SECRET_LEN) {
    throw new TallyError('OUT_OF_RANGE', `issuanceSecret: expected ${ISSUANCE_SECRET_LEN} bytes`);
  }
  const msg = canonical().str(TAGS.issuanceRef).str(aElectionId(electionId)).str(aLogin(login)).finish();
  return hmac(sha256, issuanceSecret, msg);
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
  private readonly issuanceSecret: Uint8Array;
  private readonly recordIssuance: (ref: Uint8Array) => Promise<void>;
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
    this.recordTimeoutMs = intOption(opts.recordTimeoutMs, ISSUANCE_DEFAULTS.recordTimeoutMs, 1, 600_000, 'recordTimeoutMs');
    // The lease must outlast a request that is still legitimately running (steps 2–5).
    this.leaseMs = intOption(opts.leaseMs, ISSUANCE_DEFAULTS.leaseMs, this.recordTimeoutMs + 1000, MAX_LEASE_MS, 'leaseMs');
    this.store = opts.store;
    this.election = opts.election;
    this.electionId = opts.election.manifest.electionId;
    this.issuerKey = opts.issuerKey;
    this.issuanceSecret = opts.issuanceSecret.slice();
    this.recordIssuance = opts.recordIssuance;
    this.now = opts.now ?? Date.now;
    this.modulusLength = modulusLength(opts.election.tokenIssuer);
  }

  /**
   * The reference this voter's issuance has (or will have) on the board.
   * @param login - a valid login
   */
  refOf(login: string): Uint8Array {
    return issuanceRef(this.issuanceSecret, this.electionId, login);
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

      // Step 3: the public record, before any signature exists.
      try {
        await withTimeout(
          Promise.resolve().then(() => this.recordIssuance(this.refOf(login))),
          this.recordTimeoutMs,
          () => new Error(`recordIssuance timed out after ${this.recordTimeoutMs} ms`),
        );
      } catch (cause) {
        await this.releaseQuietly(login, reservation);
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
