/**
 * Login sessions of the organization server: random bearer tokens held server-side, with a
 * fixed lifetime.
 *
 * Why server-side random tokens rather than signed self-contained ones (JWT): a session only
 * has to live for the minutes between login and token request, the server that issues it is
 * the only one that checks it, and a table lookup needs no key management, cannot be forged
 * offline and is revoked by deleting a row. Sessions are lost on restart; the voter logs in
 * again, which costs nothing.
 *
 * A session token is 32 random bytes (256 bits) as 64 lowercase hex digits. The table is keyed
 * by SHA-256 of the token, not the token itself: a heap dump or a debug print of the table does
 * not yield usable tokens, and the lookup's timing depends on a hash the attacker cannot steer.
 *
 * Memory is bounded: expired sessions are swept on every creation, each login keeps at most
 * `maxPerLogin` sessions (its oldest goes first) and the whole table at most `maxSessions`
 * (the globally oldest goes first), so a voter logging in in a loop cannot push out others.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { TallyError } from '../errors.js';
import { toHex } from '../wire.js';

/** Session token format: 64 lowercase hex digits. */
export const SESSION_TOKEN_RE = /^[0-9a-f]{64}$/;

/** Defaults: 15 minutes, 8 sessions per login, 100 000 in all. */
export const SESSION_DEFAULTS = {
  ttlMs: 15 * 60_000,
  maxPerLogin: 8,
  maxSessions: 100_000,
} as const;

/** Options of a SessionStore. */
export interface SessionOptions {
  /** lifetime of a session in ms, 1 s ≤ ttlMs ≤ 24 h */
  ttlMs?: number;
  /** most live sessions of one login, 1–1000 */
  maxPerLogin?: number;
  /** most live sessions in all, 1–10^7 */
  maxSessions?: number;
  /** clock in ms since the epoch (tests) */
  now?: () => number;
}

/** A created session, as returned to the client. `session` is SECRET. */
export interface NewSession {
  readonly session: string;
  readonly expiresAt: number;
}

/** What a valid session token resolves to. */
export interface SessionInfo {
  readonly login: string;
  readonly expiresAt: number;
}

function bounded(x: number | undefined, fallback: number, lo: number, hi: number, field: string): number {
  const v = x ?? fallback;
  if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new TallyError('OUT_OF_RANGE', `${field}: expected an integer in [${lo}, ${hi}], got ${v}`);
  return v;
}

function digest(token: string): string {
  return toHex(sha256(new TextEncoder().encode(token)));
}

/** In-memory session table. */
export class SessionStore {
  private readonly ttlMs: number;
  private readonly maxPerLogin: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  /** digest → session; Map iteration order is insertion order, i.e. oldest first */
  private readonly byDigest = new Map<string, SessionInfo>();
  /** login → digests of its sessions, oldest first */
  private readonly byLogin = new Map<string, string[]>();

  /**
   * @param options - see SessionOptions
   * @throws TallyError OUT_OF_RANGE for an option outside its range
   */
  constructor(options: SessionOptions = {}) {
    this.ttlMs = bounded(options.ttlMs, SESSION_DEFAULTS.ttlMs, 1000, 86_400_000, 'ttlMs');
    this.maxPerLogin = bounded(options.maxPerLogin, SESSION_DEFAULTS.maxPerLogin, 1, 1000, 'maxPerLogin');
    this.maxSessions = bounded(options.maxSessions, SESSION_DEFAULTS.maxSessions, 1, 10_000_000, 'maxSessions');
    this.now = options.now ?? Date.now;
  }

  /**
   * Open a session for an authenticated login.
   * @param login - the login that just proved its password (not re-validated here)
   * @returns the token (SECRET: give it to the client only) and its expiry, ms since the epoch
   */
  create(login: string): NewSession {
    const now = this.now();
    this.sweep(now);
    const own = this.byLogin.get(login) ?? [];
    while (own.length >= this.maxPerLogin) this.remove(own[0]!);
    while (this.byDigest.size >= this.maxSessions) {
      const oldest = this.byDigest.keys().next();
      if (oldest.done === true) break;
      this.remove(oldest.value);
    }
    const session = toHex(randomBytes(32));
    const d = digest(session);
    const info: SessionInfo = { login, expiresAt: now + this.ttlMs };
    this.byDigest.set(d, info);
    const list = this.byLogin.get(login);
    if (list) list.push(d);
    else this.byLogin.set(login, [d]);
    return { session, expiresAt: info.expiresAt };
  }

  /**
   * Resolve a token.
   * @param session - candidate token; anything not of the 64-hex form is simply unknown
   * @returns the session, or undefined if unknown or expired (an expired one is removed)
   */
  lookup(session: string): SessionInfo | undefined {
    if (typeof session !== 'string' || !SESSION_TOKEN_RE.test(session)) return undefined;
    const d = digest(session);
    const info = this.byDigest.get(d);
    if (info === undefined) return undefined;
    if (this.now() >= info.expiresAt) {
      this.remove(d);
      return undefined;
    }
    return info;
  }

  /**
   * End a session (logout).
   * @returns true if it existed
   */
  revoke(session: string): boolean {
    if (typeof session !== 'string' || !SESSION_TOKEN_RE.test(session)) return false;
    const d = digest(session);
    if (!this.byDigest.has(d)) return false;
    this.remove(d);
    return true;
  }

  /** Number of stored sessions, expired ones not yet swept included. */
  get size(): number {
    return this.byDigest.size;
  }

  /** Drop expired sessions. Sessions all have the same lifetime, so the oldest expire first. */
  private sweep(now: number): void {
    for (const [d, info] of this.byDigest) {
      if (now < info.expiresAt) break;
      this.remove(d);
    }
  }

  private remove(d: string): void {
    const info = this.byDigest.get(d);
    if (info === undefined) return;
    this.byDigest.delete(d);
    const list = this.byLogin.get(info.login);
    if (!list) return;
    const i = list.indexOf(d);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byLogin.delete(info.login);
  }
}
