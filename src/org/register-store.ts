/**
 * The voter register: the storage interface of the organization server, and the issuance
 * state machine every implementation must follow.
 *
 * Two implementations exist, `register-memory.ts` (tests, demos) and `register-level.ts`
 * (the embedded default, on LevelDB); one contract suite (test/helpers/register-contract.ts)
 * runs against both. The interface is small on purpose: a server database would be a third
 * implementation of the same ten methods.
 *
 * Issuance state per (election, voter), spec/07-tokens.md §7.4:
 *
 *     (none) ──reserve──▶ reserved(id, at) ──complete(id)──▶ issued      (final)
 *                            │    ▲
 *                 release(id)│    │reserve, once now − at ≥ lease (take-over, new id)
 *                            ▼    │
 *                          (none) ┘
 *
 * `reserve` is the atomic test-and-set that makes "one token per voter" hold: it succeeds
 * only from (none) or from a reservation whose lease has run out. Each reservation carries a
 * random id, and `complete` and `release` act only when the stored id is the caller's. So if a
 * request is so slow that its lease runs out and a second request takes over, at most one of
 * the two can complete, and the other must withhold its signature. `issued` is never undone by
 * this interface; `clearReservation` (an administrator's tool) removes a reservation only.
 *
 * The pure transition functions at the bottom are shared by the implementations so that the
 * state machine is written once; an implementation only supplies atomic read-modify-write.
 */
import { TallyError } from '../errors.js';
import type { Voter } from './voter.js';

/** Issuance state of one voter in one election. Absent record = (none). */
export interface IssuanceRecord {
  readonly state: 'reserved' | 'issued';
  /** id of the request that holds or completed the reservation: 32 lowercase hex digits */
  readonly reservation: string;
  /** ms since the epoch when the reservation was taken */
  readonly reservedAt: number;
  /** ms since the epoch when the token was issued; null while reserved */
  readonly issuedAt: number | null;
}

/** Result of `reserveIssuance`. */
export type ReserveOutcome =
  | { readonly ok: true; readonly record: IssuanceRecord }
  | { readonly ok: false; readonly reason: 'issued'; readonly record: IssuanceRecord }
  | { readonly ok: false; readonly reason: 'pending'; readonly record: IssuanceRecord; readonly retryAfterMs: number };

/** Storage of voters and of their issuance state. All methods validate their arguments. */
export interface RegisterStore {
  /**
   * @param login - a valid login
   * @returns the voter, or undefined if none has this login
   * @throws TallyError MALFORMED for an invalid login
   */
  getVoter(login: string): Promise<Voter | undefined>;

  /**
   * Which of `logins` are registered already.
   * @param logins - valid logins (at most MAX_BATCH)
   * @returns the subset that exists
   */
  existingLogins(logins: readonly string[]): Promise<Set<string>>;

  /**
   * Add voters in ONE atomic write: all of them or none.
   * @param voters - valid voters (checked with aVoter), distinct logins, at most MAX_BATCH
   * @throws TallyError MALFORMED for an invalid voter or a login repeated within `voters`
   * @throws TallyError CONFLICT if any login is registered already (details.logins lists up to
   *   100 of them); nothing is written
   */
  addVoters(voters: readonly Voter[]): Promise<void>;

  /** @returns the number of registered voters */
  countVoters(): Promise<number>;

  /**
   * Every voter's login and reference salt: what the register commitment is computed from
   * (spec §7.5). Order unspecified.
   */
  listRefSalts(): Promise<{ login: string; refSalt: string }[]>;

  /**
   * @returns the issuance record of `login` in `electionId`, or undefined for (none)
   */
  getIssuance(electionId: string, login: string): Promise<IssuanceRecord | undefined>;

  /**
   * Atomically reserve the issuance of `login` in `electionId` (see the state machine above).
   * @param reservation - fresh random id of the caller, 32 lowercase hex digits
   * @param now - current time, ms since the epoch
   * @param leaseMs - after how long an unfinished reservation may be taken over, 1 ≤ leaseMs ≤ 1 day
   * @returns ok, or why not: 'issued' (final) or 'pending' (held by another request, with the
   *   time left on its lease)
   * @throws TallyError NOT_FOUND if the voter is not registered
   */
  reserveIssuance(electionId: string, login: string, reservation: string, now: number, leaseMs: number): Promise<ReserveOutcome>;

  /**
   * Mark the issuance done, only if `reservation` still holds it.
   * @returns true if the state went reserved(reservation) → issued; false otherwise (nothing changed)
   */
  completeIssuance(electionId: string, login: string, reservation: string, now: number): Promise<boolean>;

  /**
   * Give up a reservation, only if `reservation` still holds it (nothing was signed).
   * @returns true if the state went reserved(reservation) → (none); false otherwise
   */
  releaseIssuance(electionId: string, login: string, reservation: string): Promise<boolean>;

  /**
   * ADMINISTRATOR TOOL: remove a reservation whoever holds it, e.g. after a crash, without
   * waiting for its lease. Never touches an `issued` record. Safe because a token is returned
   * to a voter only after `completeIssuance` succeeded, so a stored reservation proves that no
   * signature left the server under it; but it must not be used while the holder may still be
   * running (its `completeIssuance` would then fail and it would withhold its signature, which
   * is safe, but the voter sees an error).
   * @returns true if a reservation was removed
   */
  clearReservation(electionId: string, login: string): Promise<boolean>;

  /** Release resources (close the database). Further calls fail. */
  close(): Promise<void>;
}

/** Largest batch for `addVoters` and `existingLogins`. */
export const MAX_BATCH = 1_000_000;
/** Largest lease: one day. */
export const MAX_LEASE_MS = 86_400_000;

const ELECTION_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const RESERVATION_RE = /^[0-9a-f]{32}$/;

/**
 * Check an election id (the manifest's rule, spec §2.1): 1–64 of [A-Za-z0-9._-], not starting
 * with . _ or -.
 * @throws TallyError MALFORMED
 */
export function aElectionId(x: unknown): string {
  if (typeof x !== 'string' || x.length === 0 || x.length > 64 || !ELECTION_ID_RE.test(x)) {
    throw new TallyError('MALFORMED', 'electionId: expected 1–64 characters of [A-Za-z0-9._-], starting with a letter or digit');
  }
  return x;
}

/**
 * Check a reservation id: 32 lowercase hex digits.
 * @throws TallyError MALFORMED
 */
export function aReservation(x: unknown): string {
  if (typeof x !== 'string' || !RESERVATION_RE.test(x)) throw new TallyError('MALFORMED', 'reservation: expected 32 lowercase hex digits');
  return x;
}

/**
 * Check a timestamp or duration in milliseconds.
 * @throws TallyError OUT_OF_RANGE unless lo ≤ x ≤ hi is a safe integer
 */
export function aMillis(x: unknown, field: string, lo = 0, hi = Number.MAX_SAFE_INTEGER): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < lo || x > hi) {
    throw new TallyError('OUT_OF_RANGE', `${field}: expected an integer in [${lo}, ${hi}], got ${String(x)}`);
  }
  return x;
}

/**
 * Check a batch of logins for size and for repeats.
 * @param logins - at most MAX_BATCH, pairwise distinct
 * @throws TallyError TOO_LARGE beyond MAX_BATCH; MALFORMED on a repeated login
 */
export function aDistinctBatch(logins: readonly string[]): void {
  if (logins.length > MAX_BATCH) throw new TallyError('TOO_LARGE', `batch: at most ${MAX_BATCH} voters, got ${logins.length}`);
  const seen = new Set<string>();
  for (const l of logins) {
    if (seen.has(l)) throw new TallyError('MALFORMED', `batch: login ${JSON.stringify(l)} appears twice`, { details: { login: l } });
    seen.add(l);
  }
}

/**
 * The CONFLICT error of addVoters.
 * @param logins - the logins already registered (at least one)
 * @returns the error, listing up to 100 of them in details.logins
 */
export function loginsTaken(logins: readonly string[]): TallyError {
  return new TallyError('CONFLICT', `${logins.length} login(s) already registered, e.g. ${JSON.stringify(logins[0])}; nothing was added`, {
    details: { logins: logins.slice(0, 100) },
  });
}

// ---------------------------------------------------------------------------------------------
// The state machine, as pure functions: current record in, new record (or no change) out.
// ---------------------------------------------------------------------------------------------

/**
 * Transition of `reserve`.
 * @param current - the stored record, undefined for (none)
 * @param reservation - the caller's id
 * @param now - current time, ms
 * @param leaseMs - lease length, ms
 * @returns the outcome; when ok, `record` is what to store
 */
export function reserveTransition(current: IssuanceRecord | undefined, reservation: string, now: number, leaseMs: number): ReserveOutcome {
  const fresh: IssuanceRecord = { state: 'reserved', reservation, reservedAt: now, issuedAt: null };
  if (current === undefined) return { ok: true, record: fresh };
  if (current.state === 'issued') return { ok: false, reason: 'issued', record: current };
  const age = now - current.reservedAt;
  if (age >= leaseMs) return { ok: true, record: fresh }; // a crashed or stuck holder: take over
  return { ok: false, reason: 'pending', record: current, retryAfterMs: leaseMs - age };
}

/**
 * Transition of `complete`.
 * @param current - the stored record, undefined for (none)
 * @param reservation - the caller's id
 * @param now - current time, ms
 * @returns the issued record to store, or undefined if `reservation` does not hold the record
 */
export function completeTransition(current: IssuanceRecord | undefined, reservation: string, now: number): IssuanceRecord | undefined {
  if (current === undefined || current.state !== 'reserved' || current.reservation !== reservation) return undefined;
  return { state: 'issued', reservation, reservedAt: current.reservedAt, issuedAt: now };
}

/**
 * Transition of `release`.
 * @param current - the stored record, undefined for (none)
 * @param reservation - the caller's id
 * @returns true if `reservation` holds the record, which is then to be deleted
 */
export function releaseTransition(current: IssuanceRecord | undefined, reservation: string): boolean {
  return current !== undefined && current.state === 'reserved' && current.reservation === reservation;
}

/**
 * Check a stored issuance record read back from storage.
 * @throws TallyError INTERNAL if the stored value is not a well-formed record (a corrupt store)
 */
export function aStoredIssuance(x: unknown): IssuanceRecord {
  const o = x as Partial<Record<keyof IssuanceRecord, unknown>> | null;
  const ok =
    typeof o === 'object' &&
    o !== null &&
    (o.state === 'reserved' || o.state === 'issued') &&
    typeof o.reservation === 'string' &&
    RESERVATION_RE.test(o.reservation) &&
    typeof o.reservedAt === 'number' &&
    Number.isSafeInteger(o.reservedAt) &&
    (o.state === 'issued' ? typeof o.issuedAt === 'number' && Number.isSafeInteger(o.issuedAt) : o.issuedAt === null);
  if (!ok) throw new TallyError('INTERNAL', 'register: a stored issuance record is corrupt');
  return { state: o.state as IssuanceRecord['state'], reservation: o.reservation as string, reservedAt: o.reservedAt as number, issuedAt: o.issuedAt as number | null };
}
