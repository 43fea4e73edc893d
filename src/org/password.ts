/**
 * Voter passwords: scrypt hashing with self-describing parameters, verification, and
 * generation of readable random passwords.
 *
 * Why scrypt (RFC 7914) and this string form: the register is the organization's most
 * sensitive file after the issuer key, and a stolen copy must cost an attacker memory-hard
 * work per guess. Each hash carries its own parameters and salt,
 *
 *     scrypt$N=32768,r=8,p=1$<salt: 32 hex digits>$<hash: 64 hex digits>
 *
 * so the cost can be raised later without invalidating existing entries, and a test register
 * hashed with a tiny N is self-evidently not a production one. Parameters read back from a
 * stored string are bounded BEFORE any work is done (N ≤ 2^20, memory 128·N·r ≤ 1 GiB), so a
 * corrupted or planted entry cannot make a login attempt allocate gigabytes.
 *
 * Hashing uses Node's native `crypto.scrypt` (OpenSSL), which runs on libuv's thread pool: a
 * hash costs the event loop nothing, several run in parallel (one per pool thread), and it is
 * several times faster than a JavaScript scrypt (issue 9.9). It is RFC 7914 scrypt, so the
 * stored strings are unchanged and hashes made by the former JavaScript implementation
 * (@noble/hashes) verify (test/org-password.test.ts cross-checks both). The caller bounds how
 * many run at once (each holds 128·N·r bytes: 32 MiB at the defaults). Comparison is
 * constant-time (`bytesEqual`). Passwords are normalized to Unicode NFC first (RFC 8265
 * OpaqueString does the same), so a password typed on another keyboard layout or copied from a
 * distribution file in another normalization still matches.
 */
import { scrypt as nodeScrypt } from 'node:crypto';
import { randomBytes } from '@noble/hashes/utils.js';
import { TallyError } from '../errors.js';
import { bytesEqual } from '../crypto/hash.js';
import { parseHex, toHex } from '../wire.js';

/** scrypt cost parameters: N (CPU/memory cost, a power of 2), r (block size), p (parallelism). */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** Production parameters: N = 2^15, r = 8, p = 1 (32 MiB, the RFC 7914 §2 interactive choice). */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

/** Bounds on parameters, checked on hashing and on every stored string before any work. */
export const SCRYPT_BOUNDS = {
  /** 2 ≤ N ≤ 2^20, N a power of two (a tiny N is admitted for tests: it is visible in the string) */
  maxN: 2 ** 20,
  maxR: 32,
  maxP: 16,
  /** 128·N·r bytes of memory */
  maxMemBytes: 2 ** 30,
  /** N·r·p, the work factor */
  maxWork: 2 ** 23,
} as const;

/** Salt length in bytes of new hashes (stored salts of 16–64 bytes are read back). */
export const PASSWORD_SALT_LEN = 16;
/** Derived-key length in bytes of new hashes (stored hashes of 16–64 bytes are read back). */
export const PASSWORD_HASH_LEN = 32;

/** Password policy: lengths in Unicode code points after NFC. */
export const PASSWORD_LIMITS = {
  /** for passwords chosen by the organization (CSV) */
  minLength: 10,
  /** for any password, chosen or typed at login */
  maxLength: 256,
} as const;

const STORED_MAX_LEN = 400;
const STORED_RE = /^scrypt\$N=([1-9][0-9]{0,7}),r=([1-9][0-9]{0,2}),p=([1-9][0-9]{0,2})\$([0-9a-f]{32,128})\$([0-9a-f]{32,128})$/;

/**
 * RFC 7914 scrypt on libuv's thread pool (node:crypto). `params` must be admitted by
 * aScryptParams; the password is encoded as UTF-8.
 * @returns dkLen bytes
 */
export function scryptNative(password: string, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> {
  // OpenSSL refuses when 128·N·r exceeds maxmem; the bounds keep that at most 1 GiB.
  const maxmem = 128 * params.N * params.r + 2 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    nodeScrypt(password, salt, dkLen, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength));
    });
  });
}

/** A parsed stored hash. */
export interface ParsedPasswordHash {
  readonly params: ScryptParams;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
}

/**
 * Check scrypt parameters against SCRYPT_BOUNDS.
 * @param params - 2 ≤ N ≤ 2^20 a power of two, 1 ≤ r ≤ 32, 1 ≤ p ≤ 16, 128·N·r ≤ 2^30, N·r·p ≤ 2^23
 * @returns params
 * @throws TallyError OUT_OF_RANGE naming the parameter
 */
export function aScryptParams(params: ScryptParams): ScryptParams {
  const { N, r, p } = params;
  const int = (x: number, lo: number, hi: number): boolean => Number.isSafeInteger(x) && x >= lo && x <= hi;
  if (!int(N, 2, SCRYPT_BOUNDS.maxN) || (N & (N - 1)) !== 0) {
    throw new TallyError('OUT_OF_RANGE', `scrypt N: expected a power of two in [2, 2^20], got ${N}`);
  }
  if (!int(r, 1, SCRYPT_BOUNDS.maxR)) throw new TallyError('OUT_OF_RANGE', `scrypt r: expected an integer in [1, ${SCRYPT_BOUNDS.maxR}], got ${r}`);
  if (!int(p, 1, SCRYPT_BOUNDS.maxP)) throw new TallyError('OUT_OF_RANGE', `scrypt p: expected an integer in [1, ${SCRYPT_BOUNDS.maxP}], got ${p}`);
  if (128 * N * r > SCRYPT_BOUNDS.maxMemBytes) throw new TallyError('OUT_OF_RANGE', `scrypt: 128·N·r = ${128 * N * r} bytes exceeds 2^30`);
  if (N * r * p > SCRYPT_BOUNDS.maxWork) throw new TallyError('OUT_OF_RANGE', `scrypt: N·r·p = ${N * r * p} exceeds 2^23`);
  return params;
}

/**
 * Parse a stored hash string, bounding everything before converting.
 * @param stored - `scrypt$N=…,r=…,p=…$<salt hex>$<hash hex>`, at most 400 characters, salt and
 *   hash each 16–64 bytes of lowercase hex
 * @returns the parameters, salt and hash
 * @throws TallyError MALFORMED if the string does not have that form
 * @throws TallyError OUT_OF_RANGE if the parameters break SCRYPT_BOUNDS
 */
export function parsePasswordHash(stored: string): ParsedPasswordHash {
  if (typeof stored !== 'string' || stored.length > STORED_MAX_LEN) {
    throw new TallyError('MALFORMED', `passwordHash: expected a string of at most ${STORED_MAX_LEN} characters`);
  }
  const m = STORED_RE.exec(stored);
  if (!m) throw new TallyError('MALFORMED', 'passwordHash: expected scrypt$N=<n>,r=<r>,p=<p>$<salt hex>$<hash hex>');
  const params = aScryptParams({ N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) });
  return { params, salt: parseHex(m[4], 'passwordHash salt', undefined, 64), hash: parseHex(m[5], 'passwordHash hash', undefined, 64) };
}

/**
 * Format parameters, salt and hash as the stored string (the inverse of parsePasswordHash).
 * @param h - admitted parameters, salt and hash
 * @returns `scrypt$N=…,r=…,p=…$<salt hex>$<hash hex>`
 */
export function formatPasswordHash(h: ParsedPasswordHash): string {
  return `scrypt$N=${h.params.N},r=${h.params.r},p=${h.params.p}$${toHex(h.salt)}$${toHex(h.hash)}`;
}

/**
 * NFC-normalize a password and bound its length.
 * @param password - a well-formed string of 1–256 code points (after NFC)
 * @param minLength - least admitted length in code points (1 for a login attempt)
 * @returns the normalized password
 * @throws TallyError MALFORMED for a non-string or ill-formed Unicode
 * @throws TallyError OUT_OF_RANGE for a length outside [minLength, 256]
 */
export function normalizePassword(password: unknown, minLength = 1): string {
  if (typeof password !== 'string') throw new TallyError('MALFORMED', 'password: expected a string');
  // UTF-16 units ≥ code points, and NFC expands by a bounded factor: pre-check before normalizing.
  if (password.length > 4 * PASSWORD_LIMITS.maxLength) {
    throw new TallyError('OUT_OF_RANGE', `password: at most ${PASSWORD_LIMITS.maxLength} characters`);
  }
  if (!password.isWellFormed()) throw new TallyError('MALFORMED', 'password: not well-formed Unicode');
  const nfc = password.normalize('NFC');
  const len = [...nfc].length;
  if (len < minLength || len > PASSWORD_LIMITS.maxLength) {
    throw new TallyError('OUT_OF_RANGE', `password: length must be in [${minLength}, ${PASSWORD_LIMITS.maxLength}] characters, got ${len}`);
  }
  return nfc;
}

/**
 * Hash a new password.
 * @param password - at least PASSWORD_LIMITS.minLength (10) and at most 256 code points
 * @param options - `params` (default DEFAULT_SCRYPT_PARAMS; tests pass a small N); `salt`
 *   (16 bytes, for known-answer tests only; the default is 16 fresh random bytes)
 * @returns the self-describing stored string
 * @throws TallyError OUT_OF_RANGE for a too short or too long password or bad parameters
 */
export async function hashPassword(
  password: string,
  options: { params?: ScryptParams; salt?: Uint8Array } = {},
): Promise<string> {
  const pw = normalizePassword(password, PASSWORD_LIMITS.minLength);
  const params = aScryptParams(options.params ?? DEFAULT_SCRYPT_PARAMS);
  const salt = options.salt ?? randomBytes(PASSWORD_SALT_LEN);
  if (salt.length !== PASSWORD_SALT_LEN) throw new TallyError('OUT_OF_RANGE', `salt: expected ${PASSWORD_SALT_LEN} bytes, got ${salt.length}`);
  const hash = await scryptNative(pw, salt, params, PASSWORD_HASH_LEN);
  return formatPasswordHash({ params, salt, hash });
}

/**
 * Verify a password against a stored hash, in time that depends on the stored parameters
 * only (not on where the password differs).
 * @param password - the attempt, 1–256 code points; anything else is simply not a match
 * @param stored - a string made by hashPassword
 * @returns true iff the password matches
 * @throws TallyError MALFORMED or OUT_OF_RANGE if `stored` is not an admitted hash string
 *   (a corrupt register entry: the caller should treat it as a server error)
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const { params, salt, hash } = parsePasswordHash(stored);
  let pw: string;
  let admissible = true;
  try {
    pw = normalizePassword(password, 1);
  } catch {
    // Still do the work, so that a malformed attempt costs the same time as a wrong one.
    pw = 'x';
    admissible = false;
  }
  const computed = await scryptNative(pw, salt, params, hash.length);
  return bytesEqual(computed, hash) && admissible;
}

/** Alphabet of generated passwords: Crockford's base 32 in lower case (no i, l, o, u). */
export const GENERATED_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A random, readable password: 4 groups of 5 characters from GENERATED_ALPHABET joined by
 * '-', e.g. `7hq2m-x0kd9-p4tzc-rw81n`. 20 characters × 5 bits = 100 bits of entropy; each
 * character takes the low 5 bits of one CSPRNG byte (256 is a multiple of 32: no bias).
 * @param rng - byte source (tests only); default is the platform CSPRNG
 * @returns a 23-character password
 */
export function generatePassword(rng: (n: number) => Uint8Array = randomBytes): string {
  const bytes = rng(20);
  if (bytes.length !== 20) throw new Error('generatePassword: rng returned the wrong length');
  let out = '';
  for (let i = 0; i < 20; i++) {
    if (i > 0 && i % 5 === 0) out += '-';
    out += GENERATED_ALPHABET[bytes[i]! & 31];
  }
  return out;
}

/**
 * A stored hash of a random password nobody knows, with the given parameters. A server runs
 * `verifyPassword` against it for unknown logins, so that an unknown login and a wrong
 * password cost the same time.
 * @param params - should equal the parameters of the real entries (default: production)
 */
export async function dummyPasswordHash(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  return hashPassword(generatePassword(), { params });
}
