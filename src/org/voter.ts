/**
 * The voter record of the organization's register, and the rules its fields obey.
 *
 * One place defines what a login, an e-mail address and a name may be, so that the CSV
 * import, the HTTP routes and every register implementation refuse the same inputs with the
 * same messages. The rules are deliberately narrow: a login is an identifier a voter types,
 * compared byte for byte (case-sensitive, ASCII only, so no Unicode normalization question
 * arises); an e-mail is checked for plausibility by a linear-time regular expression, never
 * "validated" (only a message that arrives proves an address); names are free Unicode text
 * but without control, line-separator or bidirectional-override characters, which would let
 * a register entry spoof another one on a printed list or in a log.
 *
 * Every checker bounds the length BEFORE running a regular expression over the input.
 */
import { TallyError } from '../errors.js';
import { parsePasswordHash } from './password.js';

/** A registered voter. `passwordHash` is SECRET-adjacent: never sent to a client, never logged. */
export interface Voter {
  readonly login: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string;
  /** self-describing scrypt string, see password.ts */
  readonly passwordHash: string;
  /**
   * The voter's reference salt (spec §7.5), 64 lowercase hex digits (32 random bytes), given to
   * the voter with their password: their public register reference is computed from it.
   */
  readonly refSalt: string;
}

/** What a voter may see about themselves: the record without the password hash and salt. */
export type PublicVoter = Omit<Voter, 'passwordHash' | 'refSalt'>;

const REF_SALT_RE = /^[0-9a-f]{64}$/;

/** Field limits of the register. */
export const VOTER_LIMITS = {
  loginMaxLength: 64,
  /** RFC 5321 §4.5.3.1.3 path limit minus the angle brackets */
  emailMaxLength: 254,
  /** RFC 5321 §4.5.3.1.1 */
  emailLocalMaxLength: 64,
  /** in Unicode code points */
  nameMaxLength: 100,
} as const;

/** Logins: 1–64 of A–Z a–z 0–9 . _ @ - ; case-sensitive. */
export const LOGIN_RE = /^[A-Za-z0-9._@-]+$/;

/**
 * E-mail plausibility (the WHATWG "valid e-mail address" shape, but requiring a dot in the
 * domain). Linear time: the local part is one character class; each domain label starts
 * after a literal dot, has a bounded middle ({0,61}) and cannot contain a dot, so no two
 * ways of matching the same input exist for the engine to backtrack through.
 */
export const EMAIL_RE =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/**
 * Characters refused in names: C0/C1 controls (\p{Cc}), line and paragraph separators, and
 * the bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069).
 */
const NAME_FORBIDDEN_RE = /[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;

function malformed(field: string, message: string): TallyError {
  return new TallyError('MALFORMED', `${field}: ${message}`, { details: { field } });
}

/**
 * Check a login.
 * @param x - candidate; a string of 1–64 characters from [A-Za-z0-9._@-]
 * @param field - field name for the message
 * @returns x
 * @throws TallyError MALFORMED naming the rule broken
 */
export function aLogin(x: unknown, field = 'login'): string {
  if (typeof x !== 'string') throw malformed(field, 'expected a string');
  if (x.length === 0 || x.length > VOTER_LIMITS.loginMaxLength) {
    throw malformed(field, `length must be in [1, ${VOTER_LIMITS.loginMaxLength}], got ${x.length}`);
  }
  if (!LOGIN_RE.test(x)) throw malformed(field, 'only the characters A-Z a-z 0-9 . _ @ - are allowed');
  return x;
}

/**
 * Check an e-mail address for plausibility.
 * @param x - candidate; at most 254 characters, local part at most 64, matching EMAIL_RE
 * @param field - field name for the message
 * @returns x
 * @throws TallyError MALFORMED naming the rule broken
 */
export function aEmail(x: unknown, field = 'email'): string {
  if (typeof x !== 'string') throw malformed(field, 'expected a string');
  if (x.length === 0 || x.length > VOTER_LIMITS.emailMaxLength) {
    throw malformed(field, `length must be in [1, ${VOTER_LIMITS.emailMaxLength}], got ${x.length}`);
  }
  const at = x.indexOf('@');
  if (at > VOTER_LIMITS.emailLocalMaxLength) {
    throw malformed(field, `the part before @ must be at most ${VOTER_LIMITS.emailLocalMaxLength} characters`);
  }
  if (!EMAIL_RE.test(x)) throw malformed(field, `${JSON.stringify(x.slice(0, 80))} is not a plausible e-mail address`);
  return x;
}

/**
 * Check a first or last name.
 * @param x - candidate; 1–100 code points, well-formed Unicode, no control characters, not
 *   starting or ending with white space
 * @param field - field name for the message
 * @returns x
 * @throws TallyError MALFORMED naming the rule broken
 */
export function aName(x: unknown, field: string): string {
  if (typeof x !== 'string') throw malformed(field, 'expected a string');
  // UTF-16 length bounds the code-point count from above (≤ 2 units each): cheap pre-check.
  if (x.length === 0 || x.length > 2 * VOTER_LIMITS.nameMaxLength) {
    throw malformed(field, `length must be in [1, ${VOTER_LIMITS.nameMaxLength}] characters, got ${x.length} UTF-16 units`);
  }
  if (!x.isWellFormed()) throw malformed(field, 'not well-formed Unicode');
  const codePoints = [...x].length;
  if (codePoints > VOTER_LIMITS.nameMaxLength) {
    throw malformed(field, `length must be in [1, ${VOTER_LIMITS.nameMaxLength}] characters, got ${codePoints}`);
  }
  if (NAME_FORBIDDEN_RE.test(x)) throw malformed(field, 'control, line-separator and bidirectional-control characters are not allowed');
  if (x.trim().length === 0) throw malformed(field, 'must not be blank');
  if (x.trim() !== x) throw malformed(field, 'must not start or end with white space');
  return x;
}

/**
 * Check a whole voter record (the boundary of every register implementation).
 * @param x - candidate object with exactly the six Voter members
 * @returns a fresh, frozen Voter
 * @throws TallyError MALFORMED on a missing, extra or invalid member (the password hash must
 *   parse as a self-describing scrypt string with admitted parameters)
 */
export function aVoter(x: unknown): Voter {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw malformed('voter', 'expected an object');
  const o = x as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(',');
  if (keys !== 'email,firstName,lastName,login,passwordHash,refSalt') {
    throw malformed('voter', `expected exactly the members email, firstName, lastName, login, passwordHash, refSalt; got ${keys.slice(0, 200)}`);
  }
  if (typeof o.refSalt !== 'string' || !REF_SALT_RE.test(o.refSalt)) throw malformed('refSalt', 'expected 64 lowercase hex digits');
  if (typeof o.passwordHash !== 'string') throw malformed('passwordHash', 'expected a string');
  parsePasswordHash(o.passwordHash); // throws MALFORMED / OUT_OF_RANGE
  return Object.freeze({
    login: aLogin(o.login),
    firstName: aName(o.firstName, 'firstName'),
    lastName: aName(o.lastName, 'lastName'),
    email: aEmail(o.email),
    passwordHash: o.passwordHash,
    refSalt: o.refSalt,
  });
}

/**
 * The voter without its password hash, for responses.
 * @param v - a voter
 * @returns a new object with login, names and e-mail only
 */
export function publicVoter(v: Voter): PublicVoter {
  return { login: v.login, firstName: v.firstName, lastName: v.lastName, email: v.email };
}
