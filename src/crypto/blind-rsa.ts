/**
 * RSA blind signatures, RFC 9474, variant RSABSSA-SHA384-PSS-Randomized (spec/07-tokens.md §7.1).
 *
 * Why blind RSA: the organization must sign each voter's eligibility token exactly once, yet
 * must not be able to link the token later seen on the bulletin board to the voter it signed
 * for. In RFC 9474 the signer only ever sees z = m·r^e mod n with r uniform in Z*_n, which is
 * uniform and independent of the message; the output is an ordinary RSASSA-PSS signature that
 * any RFC 8017 verifier checks, so an auditor needs no blind-signature code at all.
 *
 * Why this variant (spec §7.1.2): RFC 9474 §5 recommends the Randomized variants because, by
 * its §7.3, a signer that publishes a malformed key (which the cheap checks of spec §7.1.3
 * cannot rule out) can learn about low-entropy messages unless each message carries fresh
 * entropy the signer cannot know: the 32-byte prefix chosen by the client. PSS (sLen = 48)
 * rather than PSSZERO for interoperability with ordinary RSA-PSS verifiers; both are
 * RECOMMENDED and both are covered by the unforgeability proof RFC 9474 §7 cites. SHA-384
 * because all RFC 9474 variants use it.
 *
 * Layout: the protocol functions (prepare, blind, blindSign, finalize, verify) with the salt
 * length fixed at 48, key validation and wire encodings. The RFC 8017 §9.1 encoding steps
 * (MGF1, EMSA-PSS-ENCODE, EMSA-PSS-VERIFY) are in _emsa-pss.ts. Exports starting with `_` take
 * sLen as a parameter so that the known-answer tests can also reproduce the PSSZERO vectors of
 * RFC 9474; they are not part of the protocol and nothing outside tests should call them.
 *
 * Browser-safe: no `node:` import; randomness comes from @noble/hashes `randomBytes`
 * (crypto.getRandomValues). Key generation, which needs node:crypto, is in blind-rsa-keygen.ts.
 *
 * Not constant-time: BigInt arithmetic leaks timing by operand size (see SECURITY.md). The
 * signer's secret exponent is used only in blindSign, on the server.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import type { CanonicalWriter } from '../canonical.js';
import { TallyError } from '../errors.js';
import { hexToInt, intToHex, parseHex } from '../wire.js';
import { PSS_HASH_LEN, _emsaPssEncode, _emsaPssVerify, aBytes, aSaltLen, concatBytes, isBytes } from './_emsa-pss.js';
import { bitLength, byteLength, fromBytesBE, gcd, modInv, modPow, randomUnit, toBytesBE } from './bigint.js';

/** EMSA-PSS (RFC 8017 §9.1) lives in _emsa-pss.ts; re-exported for the known-answer tests. */
export { _emsaPssEncode, _emsaPssVerify };

// ---------------------------------------------------------------------------------------------
// Parameters (spec §7.1.1)
// ---------------------------------------------------------------------------------------------

/** The RFC 9474 variant implemented here. */
export const RSABSSA_VARIANT = 'RSABSSA-SHA384-PSS-Randomized';
/** hLen: output length of SHA-384 in bytes (defined with the encoding in _emsa-pss.ts). */
export { PSS_HASH_LEN };
/** sLen: PSS salt length in bytes (= hLen, RFC 9474 §5). */
export const PSS_SALT_LEN = 48;
/** Length of the random message prefix of the Randomized variant (RFC 9474 §4.1). */
export const MSG_PREFIX_LEN = 32;
/** The only public exponent a published key may have. */
export const PUBLIC_EXPONENT = 65537n;
/** Smallest admitted modulus bit length. */
export const MIN_MODULUS_BITS = 2048;
/** Largest admitted modulus bit length. */
export const MAX_MODULUS_BITS = 4096;
/** Byte length of e in the canonical and JSON encodings. */
export const EXPONENT_WIRE_LEN = 4;
/** Trial division bound of the public-key sanity check: no prime factor below this. */
export const SMALL_PRIME_BOUND = 1000;

/** Largest modulus byte length; bounds every wire string before it is converted. */
const MAX_MODULUS_BYTES = MAX_MODULUS_BITS / 8;

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** Public key (n, e). Valid when it passes validateBlindRsaPublicKey. */
export interface BlindRsaPublicKey {
  readonly n: bigint;
  readonly e: bigint;
}

/**
 * Secret key: the public key plus d and the prime factors p, q of n. The CRT exponents
 * dp, dq and qInv are derived (and cached) on first use.
 */
export interface BlindRsaSecretKey extends BlindRsaPublicKey {
  readonly d: bigint;
  readonly p: bigint;
  readonly q: bigint;
}

/** JSON wire form of a public key: lowercase fixed-length hex (spec §7.1.4). */
export interface BlindRsaPublicKeyJson {
  readonly n: string;
  readonly e: string;
}

/** JSON wire form of a secret key: n and e as for the public key, d, p, q in len(n) bytes. */
export interface BlindRsaSecretKeyJson extends BlindRsaPublicKeyJson {
  readonly d: string;
  readonly p: string;
  readonly q: string;
}

/** Source of random bytes: returns exactly `len` uniformly random bytes. */
export type Rng = (len: number) => Uint8Array;

/** Output of prepare (RFC 9474 §4.1). */
export interface Prepared {
  /** input_msg = msg_prefix ‖ msg: the message that is blinded, signed and verified. */
  readonly inputMsg: Uint8Array;
  /** msg_prefix: 32 random bytes. */
  readonly prefix: Uint8Array;
}

/**
 * Options of blind. All of them exist for known-answer tests; production code passes none.
 * At most one of `r` and `inv` may be given.
 */
export interface BlindOptions {
  /** Random source for the salt and r (default: the platform CSPRNG). */
  readonly rng?: Rng;
  /** The PSS salt, exactly sLen bytes. */
  readonly salt?: Uint8Array;
  /** The blinding factor r, 0 < r < n, gcd(r, n) = 1. */
  readonly r?: bigint;
  /** The inverse of r mod n (what RFC 9474 vectors publish), 0 < inv < n, gcd(inv, n) = 1. */
  readonly inv?: bigint;
}

/** Output of blind (RFC 9474 §4.2). */
export interface Blinded {
  /** blinded_msg: z = m·r^e mod n as len(n) bytes; sent to the signer. */
  readonly blindedMsg: Uint8Array;
  /** inv = r^(−1) mod n; kept secret by the client until finalize. */
  readonly inv: bigint;
}

/**
 * Why a signature was rejected, one value per check of RFC 8017 §8.1.2 and §9.1.2
 * (spec §7.1.5 lists them in order). The §9.1.2 values are produced by _emsaPssVerify
 * (EmsaPssVerifyFailure in _emsa-pss.ts, a subset of this type).
 */
export type BlindRsaVerifyFailure =
  | 'bad-input' // an argument has the wrong type
  | 'bad-public-key' // the key fails the published-key rules (§7.1.3)
  | 'sig-length' // len(sig) ≠ len(n)                       (RFC 8017 §8.1.2 step 1)
  | 'sig-range' // s ≥ n                                     (§8.1.2 step 2b, RSAVP1)
  | 'em-too-large' // m ≥ 256^emLen                          (§8.1.2 step 2c, I2OSP)
  | 'em-too-short' // emLen < hLen + sLen + 2                (§9.1.2 step 3)
  | 'trailer' // last byte of EM ≠ 0xbc                      (§9.1.2 step 4)
  | 'leftmost-bits' // top 8·emLen − emBits bits of EM ≠ 0   (§9.1.2 step 6)
  | 'padding' // DB ≠ 0x00…00 ‖ 0x01 ‖ salt                  (§9.1.2 step 10)
  | 'hash-mismatch'; // H ≠ Hash(0x00^8 ‖ mHash ‖ salt)      (§9.1.2 step 14)

/** Result of verifyDetailed: valid, or the first check that failed. */
export type BlindRsaVerifyResult =
  | { readonly valid: true }
  | { readonly valid: false; readonly reason: BlindRsaVerifyFailure };

// ---------------------------------------------------------------------------------------------
// Small assertion helpers (isBytes, aBytes, aSaltLen and concatBytes are in _emsa-pss.ts)
// ---------------------------------------------------------------------------------------------

/** Returns `x` if it is a bigint. @throws TypeError otherwise */
function aBigint(x: unknown, title: string): bigint {
  if (typeof x !== 'bigint') throw new TypeError(`${title}: expected a bigint, got ${typeof x}`);
  return x;
}

/** Wraps an Rng so that a wrong output length is an error rather than a weak value. */
function checkedRng(rng: Rng): Rng {
  return (len: number) => {
    const b = rng(len);
    if (!isBytes(b) || b.length !== len) throw new RangeError(`rng: expected ${len} random bytes`);
    return b;
  };
}

// ---------------------------------------------------------------------------------------------
// Public key validation (spec §7.1.3)
// ---------------------------------------------------------------------------------------------

/** The primes below SMALL_PRIME_BOUND (168 of them), by a sieve at load time. */
const SMALL_PRIMES: readonly bigint[] = (() => {
  const composite = new Uint8Array(SMALL_PRIME_BOUND);
  const out: bigint[] = [];
  for (let i = 2; i < SMALL_PRIME_BOUND; i++) {
    if (composite[i] === 1) continue;
    out.push(BigInt(i));
    for (let j = i * i; j < SMALL_PRIME_BOUND; j += i) composite[j] = 1;
  }
  return out;
})();

/** The first published-key rule that `pk` breaks, or undefined if it satisfies all. */
function publicKeyProblem(pk: unknown): string | undefined {
  if (typeof pk !== 'object' || pk === null) return 'expected an object {n, e}';
  const { n, e } = pk as { n?: unknown; e?: unknown };
  if (typeof n !== 'bigint' || typeof e !== 'bigint') return 'n and e must be bigints';
  if (e !== PUBLIC_EXPONENT) return `e must be ${PUBLIC_EXPONENT}`;
  if (n <= 0n || (n & 1n) === 0n) return 'n must be a positive odd integer';
  const bits = bitLength(n);
  if (bits < MIN_MODULUS_BITS || bits > MAX_MODULUS_BITS) {
    return `n must have between ${MIN_MODULUS_BITS} and ${MAX_MODULUS_BITS} bits, got ${bits}`;
  }
  for (const p of SMALL_PRIMES) if (n % p === 0n) return `n has the small prime factor ${p}`;
  return undefined;
}

/**
 * Check the rules a verifier applies to a published token key (spec §7.1.3): e = 65537,
 * n odd, 2048 ≤ bitLength(n) ≤ 4096, and no prime factor of n below 1000.
 * These rules are cheap sanity checks; they do not prove n is an RSA modulus.
 * @param pk - candidate public key
 * @returns `pk`, checked
 * @throws TallyError BAD_PUBLIC_KEY naming the first rule broken
 */
export function validateBlindRsaPublicKey<K extends BlindRsaPublicKey>(pk: K): K {
  const problem = publicKeyProblem(pk);
  if (problem !== undefined) throw new TallyError('BAD_PUBLIC_KEY', `blind RSA public key: ${problem}`);
  return pk;
}

/** Modulus length k = len(n) in bytes: the length of blinded_msg, blind_sig and sig. */
export function modulusLength(pk: BlindRsaPublicKey): number {
  return byteLength(pk.n);
}

// ---------------------------------------------------------------------------------------------
// Secret key validation and CRT parameters
// ---------------------------------------------------------------------------------------------

/** CRT form of a validated secret key (RFC 8017 §3.2, second representation). */
interface Crt {
  readonly n: bigint;
  readonly e: bigint;
  readonly p: bigint;
  readonly q: bigint;
  readonly dp: bigint;
  readonly dq: bigint;
  readonly qInv: bigint;
}

/** CRT parameters of keys that passed validation, so blindSign validates each key once. */
const crtCache = new WeakMap<BlindRsaSecretKey, Crt>();

/** Throws BAD_PRIVATE_KEY with the given reason. */
function badPrivate(reason: string): never {
  throw new TallyError('BAD_PRIVATE_KEY', `blind RSA secret key: ${reason}`);
}

/** Validate `sk` and derive its CRT parameters. */
function computeCrt(sk: BlindRsaSecretKey): Crt {
  if (typeof sk !== 'object' || sk === null) badPrivate('expected an object {n, e, d, p, q}');
  const { n, e, d, p, q } = sk;
  for (const [name, v] of [['d', d], ['p', p], ['q', q]] as const) {
    if (typeof v !== 'bigint') badPrivate(`${name} must be a bigint`);
  }
  validateBlindRsaPublicKey({ n, e });
  if (!(1n < p && p < n) || !(1n < q && q < n)) badPrivate('p and q must satisfy 1 < p, q < n');
  if (p === q) badPrivate('p and q must be distinct');
  if (p * q !== n) badPrivate('p·q ≠ n');
  if (!(0n < d && d < n)) badPrivate('d must satisfy 0 < d < n');
  const g = gcd(p - 1n, q - 1n);
  const lambda = ((p - 1n) / g) * (q - 1n);
  if ((e * d) % lambda !== 1n) badPrivate('e·d ≢ 1 (mod lcm(p − 1, q − 1))');
  // Distinct primes are coprime; composite "factors" sharing a divisor are refused here.
  let qInv: bigint;
  try {
    qInv = modInv(q, p);
  } catch (cause) {
    throw new TallyError('BAD_PRIVATE_KEY', 'blind RSA secret key: q is not invertible mod p', { cause });
  }
  return { n, e, p, q, dp: d % (p - 1n), dq: d % (q - 1n), qInv };
}

/** CRT parameters of `sk`, validating it on first use. */
function crtOf(sk: BlindRsaSecretKey): Crt {
  let crt = crtCache.get(sk);
  if (crt === undefined) {
    crt = computeCrt(sk);
    crtCache.set(sk, crt);
  }
  return crt;
}

/**
 * Check that a secret key is consistent (spec §7.1.3): its public part passes
 * validateBlindRsaPublicKey, 1 < p, q < n, p ≠ q, p·q = n, 0 < d < n and
 * e·d ≡ 1 (mod lcm(p − 1, q − 1)). Primality of p and q is not tested; blindSign's
 * fault check catches a key for which RSA does not invert.
 * @param sk - candidate secret key
 * @returns `sk`, checked
 * @throws TallyError BAD_PUBLIC_KEY if (n, e) breaks a published-key rule
 * @throws TallyError BAD_PRIVATE_KEY naming the first inconsistency otherwise
 */
export function validateBlindRsaSecretKey<K extends BlindRsaSecretKey>(sk: K): K {
  crtOf(sk);
  return sk;
}

/** The public half (n, e) of a secret key, as a new object. */
export function blindRsaPublicKeyOf(sk: BlindRsaSecretKey): BlindRsaPublicKey {
  return { n: sk.n, e: sk.e };
}

// ---------------------------------------------------------------------------------------------
// Wire encodings (spec §7.1.4)
// ---------------------------------------------------------------------------------------------

/**
 * Parse the hex of n: an even number of lowercase hex digits, 2 to 2·512 of them (checked
 * BEFORE conversion), with a non-zero first byte so that each n has one wire form.
 */
function parseModulusHex(s: unknown, field: string): bigint {
  if (typeof s !== 'string') throw new TallyError('MALFORMED', `${field}: expected a hex string`);
  if (s.length === 0 || s.length % 2 !== 0 || s.length > 2 * MAX_MODULUS_BYTES) {
    throw new TallyError(
      'MALFORMED',
      `${field}: expected an even number of hex digits, 2 to ${2 * MAX_MODULUS_BYTES}, got ${s.length}`,
    );
  }
  const bytes = parseHex(s, field, s.length / 2);
  if (bytes[0] === 0) throw new TallyError('MALFORMED', `${field}: leading zero byte (not the minimal length)`);
  return fromBytesBE(bytes);
}

/** Refuse anything but a plain object with exactly the given keys. */
function aExactObject(obj: unknown, keys: readonly string[], title: string): Record<string, unknown> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new TallyError('MALFORMED', `${title}: expected an object`);
  }
  const rec = obj as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    if (!keys.includes(k)) throw new TallyError('MALFORMED', `${title}: unknown field "${k}"`);
  }
  for (const k of keys) if (!(k in rec)) throw new TallyError('MALFORMED', `${title}: missing field "${k}"`);
  return rec;
}

/**
 * JSON wire form of a public key: n as exactly len(n) bytes of lowercase hex (no leading zero
 * byte), e as exactly 4 bytes ("00010001").
 * @param pk - a key that passes validateBlindRsaPublicKey
 * @throws TallyError BAD_PUBLIC_KEY if it does not
 */
export function blindRsaPublicKeyToJson(pk: BlindRsaPublicKey): BlindRsaPublicKeyJson {
  validateBlindRsaPublicKey(pk);
  return { n: intToHex(pk.n, byteLength(pk.n)), e: intToHex(pk.e, EXPONENT_WIRE_LEN) };
}

/**
 * Decode and validate a public key from its JSON wire form.
 * @param obj - `{ n, e }` exactly; n: 2 to 1024 lowercase hex digits, even count, first byte
 *   non-zero; e: exactly 8 lowercase hex digits
 * @returns the validated key
 * @throws TallyError MALFORMED on a wrong shape, unknown field, or bad hex form
 * @throws TallyError BAD_PUBLIC_KEY if the decoded key breaks a published-key rule
 */
export function blindRsaPublicKeyFromJson(obj: unknown): BlindRsaPublicKey {
  return validateBlindRsaPublicKey(blindRsaPublicKeyWire(obj));
}

/**
 * The wire-form half of {@link blindRsaPublicKeyFromJson} (spec §7.1.4): exact members, hex
 * forms and lengths; does NOT apply the key rules of §7.1.3 (call validateBlindRsaPublicKey).
 * @throws TallyError MALFORMED
 */
export function blindRsaPublicKeyWire(obj: unknown): BlindRsaPublicKey {
  const rec = aExactObject(obj, ['n', 'e'], 'blind RSA public key');
  const n = parseModulusHex(rec['n'], 'n');
  const e = hexToInt(rec['e'], EXPONENT_WIRE_LEN, 'e');
  return { n, e };
}

/**
 * Canonical bytes of a public key (spec §7.1.4): U32(L) ‖ INT(n, L) ‖ INT(e, 4), L = len(n).
 * @param w - the writer to append to
 * @param pk - a key that passes validateBlindRsaPublicKey
 * @returns `w`, for chaining
 * @throws TallyError BAD_PUBLIC_KEY if the key is invalid
 */
export function encodeBlindRsaPublicKey<W extends CanonicalWriter>(w: W, pk: BlindRsaPublicKey): W {
  validateBlindRsaPublicKey(pk);
  const L = byteLength(pk.n);
  w.u32(L).int(pk.n, L).int(pk.e, EXPONENT_WIRE_LEN);
  return w;
}

/**
 * JSON form of a secret key: n and e as blindRsaPublicKeyToJson, d, p and q each as exactly
 * len(n) bytes of lowercase hex. This is secret material: store it, never publish it.
 * @param sk - a key that passes validateBlindRsaSecretKey
 * @throws TallyError BAD_PUBLIC_KEY or BAD_PRIVATE_KEY if it does not
 */
export function blindRsaSecretKeyToJson(sk: BlindRsaSecretKey): BlindRsaSecretKeyJson {
  validateBlindRsaSecretKey(sk);
  const k = byteLength(sk.n);
  return {
    ...blindRsaPublicKeyToJson(sk),
    d: intToHex(sk.d, k),
    p: intToHex(sk.p, k),
    q: intToHex(sk.q, k),
  };
}

/**
 * Decode and validate a secret key: the public part as blindRsaPublicKeyFromJson, then d, p, q
 * each exactly 2·len(n) hex digits, then the consistency rules of validateBlindRsaSecretKey.
 * @param obj - `{ n, e, d, p, q }` exactly
 * @throws TallyError MALFORMED on a wrong shape or bad hex form
 * @throws TallyError BAD_PUBLIC_KEY if (n, e) breaks a published-key rule
 * @throws TallyError BAD_PRIVATE_KEY if p·q ≠ n, e·d ≢ 1 (mod lcm(p − 1, q − 1)), etc.
 */
export function blindRsaSecretKeyFromJson(obj: unknown): BlindRsaSecretKey {
  const rec = aExactObject(obj, ['n', 'e', 'd', 'p', 'q'], 'blind RSA secret key');
  const { n, e } = blindRsaPublicKeyFromJson({ n: rec['n'], e: rec['e'] });
  const k = byteLength(n);
  const sk: BlindRsaSecretKey = {
    n,
    e,
    d: hexToInt(rec['d'], k, 'd'),
    p: hexToInt(rec['p'], k, 'p'),
    q: hexToInt(rec['q'], k, 'q'),
  };
  return validateBlindRsaSecretKey(sk);
}

// ---------------------------------------------------------------------------------------------
// The protocol (RFC 9474 §4), sLen as a parameter in the `_` forms
// ---------------------------------------------------------------------------------------------

/** Shorthand for a failed verification. */
function fail(reason: BlindRsaVerifyFailure): BlindRsaVerifyResult {
  return { valid: false, reason };
}

/**
 * RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) with SHA-384, MGF1-SHA-384 and the given sLen.
 * INTERNAL: use verify / verifyDetailed (sLen = 48).
 * @returns valid, or the first failing check; never throws
 */
export function _verifyDetailed(
  pk: BlindRsaPublicKey,
  inputMsg: Uint8Array,
  sig: Uint8Array,
  sLen: number,
): BlindRsaVerifyResult {
  if (!isBytes(inputMsg) || !isBytes(sig)) return fail('bad-input');
  if (publicKeyProblem(pk) !== undefined) return fail('bad-public-key');
  const { n, e } = pk;
  const k = byteLength(n);
  if (sig.length !== k) return fail('sig-length'); // step 1
  const s = fromBytesBE(sig); // step 2a
  if (s >= n) return fail('sig-range'); // step 2b: RSAVP1 requires 0 ≤ s < n
  const m = modPow(s, e, n);
  const emBits = bitLength(n) - 1;
  const emLen = Math.ceil(emBits / 8);
  if (m >> BigInt(8 * emLen) !== 0n) return fail('em-too-large'); // step 2c: I2OSP(m, emLen)
  return _emsaPssVerify(inputMsg, toBytesBE(m, emLen), emBits, sLen); // step 3
}

/** Returns x if 0 < x < n and gcd(x, n) = 1. @throws TallyError OUT_OF_RANGE otherwise */
function aUnit(x: unknown, n: bigint, title: string): bigint {
  const v = aBigint(x, title);
  if (!(0n < v && v < n) || gcd(v, n) !== 1n) {
    throw new TallyError('OUT_OF_RANGE', `${title}: expected 0 < ${title} < n with gcd(${title}, n) = 1`);
  }
  return v;
}

/**
 * RFC 9474 §4.2 Blind with the given sLen. INTERNAL: use blind (sLen = 48).
 * @throws see blind
 */
export function _blind(pk: BlindRsaPublicKey, inputMsg: Uint8Array, sLen: number, opts: BlindOptions = {}): Blinded {
  validateBlindRsaPublicKey(pk);
  aBytes(inputMsg, 'inputMsg');
  aSaltLen(sLen);
  if (opts.r !== undefined && opts.inv !== undefined) throw new TypeError('blind: give at most one of r and inv');
  const { n, e } = pk;
  const rng = checkedRng(opts.rng ?? randomBytes);
  const salt = opts.salt ?? rng(sLen);
  aBytes(salt, 'salt');
  if (salt.length !== sLen) throw new TallyError('MALFORMED', `salt: expected ${sLen} bytes, got ${salt.length}`);
  // Step 1: EMSA-PSS-ENCODE with emBits = modBits − 1, as RSASSA-PSS-SIGN does (RFC 8017 §8.1.1).
  const encodedMsg = _emsaPssEncode(inputMsg, bitLength(n) - 1, salt);
  const m = fromBytesBE(encodedMsg); // step 3
  if (gcd(m, n) !== 1n) {
    // Steps 4–5: a non-unit m would reveal a factor of n and cannot be blinded.
    throw new TallyError('OUT_OF_RANGE', 'blind: invalid input, the encoded message is not coprime with n');
  }
  let r: bigint;
  let inv: bigint;
  if (opts.r !== undefined) {
    r = aUnit(opts.r, n, 'r');
    inv = modInv(r, n);
  } else if (opts.inv !== undefined) {
    inv = aUnit(opts.inv, n, 'inv');
    r = modInv(inv, n);
  } else {
    r = randomUnit(n, rng); // step 6: uniform in [1, n) with gcd(r, n) = 1
    inv = modInv(r, n); // step 7
  }
  const x = modPow(r, e, n); // step 9: RSAVP1(pk, r)
  const z = (m * x) % n; // step 10
  return { blindedMsg: toBytesBE(z, byteLength(n)), inv }; // steps 11–12
}

/**
 * RFC 9474 §4.4 Finalize with the given sLen. INTERNAL: use finalize (sLen = 48).
 * @throws see finalize
 */
export function _finalize(
  pk: BlindRsaPublicKey,
  inputMsg: Uint8Array,
  blindSig: Uint8Array,
  inv: bigint,
  sLen: number,
): Uint8Array {
  validateBlindRsaPublicKey(pk);
  aBytes(inputMsg, 'inputMsg');
  aBytes(blindSig, 'blindSig');
  aSaltLen(sLen);
  const { n } = pk;
  const k = byteLength(n);
  if (blindSig.length !== k) {
    // Step 1: "unexpected input size".
    throw new TallyError('MALFORMED', `blindSig: expected ${k} bytes, got ${blindSig.length}`);
  }
  const z = fromBytesBE(blindSig); // step 2
  if (z >= n) throw new TallyError('OUT_OF_RANGE', 'blindSig: expected an integer below n');
  const invChecked = aUnit(inv, n, 'inv');
  const sig = toBytesBE((z * invChecked) % n, k); // steps 3–4
  const result = _verifyDetailed(pk, inputMsg, sig, sLen); // step 5
  if (!result.valid) {
    throw new TallyError('BAD_TOKEN', `finalize: the unblinded signature does not verify (${result.reason})`, {
      details: { reason: result.reason },
    });
  }
  return sig; // step 6
}

/**
 * Prepare (RFC 9474 §4.1, PrepareRandomize): prepend 32 random bytes to the message.
 * The client keeps `prefix`; the verifier needs inputMsg = prefix ‖ msg.
 * @param msg - the message, any length
 * @param rng - random source, for tests (default: the platform CSPRNG)
 * @returns inputMsg = prefix ‖ msg and prefix (32 bytes)
 * @throws TypeError if msg is not a Uint8Array; RangeError if rng returns the wrong length
 */
export function prepare(msg: Uint8Array, rng: Rng = randomBytes): Prepared {
  aBytes(msg, 'msg');
  const prefix = checkedRng(rng)(MSG_PREFIX_LEN);
  return { inputMsg: concatBytes(prefix, msg), prefix: Uint8Array.from(prefix) };
}

/**
 * Blind (RFC 9474 §4.2): PSS-encode inputMsg with a fresh salt (sLen = 48, emBits = modBits − 1),
 * and multiply by r^e for a fresh uniform r ∈ Z*_n.
 * @param pk - the signer's public key (validated here)
 * @param inputMsg - the output of prepare
 * @param opts - test-only injections: rng, salt (48 bytes), r or inv (0 < · < n, a unit mod n)
 * @returns blindedMsg (len(n) bytes, send to the signer) and inv = r^(−1) mod n (keep secret)
 * @throws TallyError BAD_PUBLIC_KEY if pk breaks a published-key rule
 * @throws TallyError OUT_OF_RANGE if the encoded message is not coprime with n (a bad key), or
 *   an injected r / inv is not a unit mod n
 * @throws TallyError MALFORMED if an injected salt is not 48 bytes
 */
export function blind(pk: BlindRsaPublicKey, inputMsg: Uint8Array, opts: BlindOptions = {}): Blinded {
  return _blind(pk, inputMsg, PSS_SALT_LEN, opts);
}

/**
 * BlindSign (RFC 9474 §4.3): s = z^d mod n by CRT, then the fault check s^e ≡ z (mod n) so that
 * a faulty CRT half never leaks a factor of n.
 * @param sk - the signer's secret key (validated on first use, then cached)
 * @param blindedMsg - exactly len(n) bytes, as an integer 0 ≤ z < n
 * @returns blindSig, len(n) bytes
 * @throws TallyError BAD_PUBLIC_KEY or BAD_PRIVATE_KEY if sk is invalid
 * @throws TallyError MALFORMED if blindedMsg has the wrong length
 * @throws TallyError OUT_OF_RANGE if z ≥ n
 * @throws TallyError INTERNAL ("signing failure") if s^e ≢ z: a fault, or a key whose p or q is
 *   not prime; the signature is withheld
 */
export function blindSign(sk: BlindRsaSecretKey, blindedMsg: Uint8Array): Uint8Array {
  const { n, e, p, q, dp, dq, qInv } = crtOf(sk);
  aBytes(blindedMsg, 'blindedMsg');
  const k = byteLength(n);
  if (blindedMsg.length !== k) {
    throw new TallyError('MALFORMED', `blindedMsg: expected ${k} bytes, got ${blindedMsg.length}`);
  }
  const z = fromBytesBE(blindedMsg); // step 1
  if (z >= n) throw new TallyError('OUT_OF_RANGE', 'blindedMsg: message representative out of range, z ≥ n');
  // Step 2, RSASP1 (RFC 8017 §5.2.1, CRT form): s = s_q + q·(qInv·(s_p − s_q) mod p).
  const sp = modPow(z, dp, p);
  const sq = modPow(z, dq, q);
  let h = (qInv * (sp - sq)) % p;
  if (h < 0n) h += p;
  const s = sq + q * h;
  if (modPow(s, e, n) !== z) {
    // Steps 3–4.
    throw new TallyError('INTERNAL', 'blindSign: signing failure, s^e ≠ z (mod n)');
  }
  return toBytesBE(s, k); // step 5
}

/**
 * Finalize (RFC 9474 §4.4): sig = blindSig · inv mod n, returned only if it verifies.
 * @param pk - the signer's public key (validated here)
 * @param inputMsg - the same inputMsg that was blinded
 * @param blindSig - the signer's reply, exactly len(n) bytes, 0 ≤ value < n
 * @param inv - from blind, 0 < inv < n, gcd(inv, n) = 1
 * @returns sig, len(n) bytes, an RSASSA-PSS signature of inputMsg
 * @throws TallyError BAD_PUBLIC_KEY if pk breaks a published-key rule
 * @throws TallyError MALFORMED if blindSig has the wrong length
 * @throws TallyError OUT_OF_RANGE if blindSig ≥ n or inv is not a unit mod n
 * @throws TallyError BAD_TOKEN ("invalid signature") if the result does not verify
 */
export function finalize(pk: BlindRsaPublicKey, inputMsg: Uint8Array, blindSig: Uint8Array, inv: bigint): Uint8Array {
  return _finalize(pk, inputMsg, blindSig, inv, PSS_SALT_LEN);
}

/**
 * Verification (RFC 9474 §4.5) with the first failing check: RSASSA-PSS-VERIFY with SHA-384,
 * MGF1-SHA-384, sLen = 48 (spec §7.1.5). Pure: no state, no I/O, never throws.
 * @param pk - the signer's public key; a key breaking a published-key rule gives 'bad-public-key'
 * @param inputMsg - prefix ‖ msg
 * @param sig - the signature, expected len(n) bytes
 */
export function verifyDetailed(pk: BlindRsaPublicKey, inputMsg: Uint8Array, sig: Uint8Array): BlindRsaVerifyResult {
  return _verifyDetailed(pk, inputMsg, sig, PSS_SALT_LEN);
}

/**
 * Verification (RFC 9474 §4.5): true iff sig is a valid RSASSA-PSS (SHA-384, MGF1-SHA-384,
 * sLen = 48) signature of inputMsg under pk, and pk passes the published-key rules.
 * Pure: never throws; any malformed input (wrong length, sig ≥ n, wrong types) gives false.
 * @param pk - the signer's public key
 * @param inputMsg - prefix ‖ msg
 * @param sig - the signature
 */
export function verify(pk: BlindRsaPublicKey, inputMsg: Uint8Array, sig: Uint8Array): boolean {
  return _verifyDetailed(pk, inputMsg, sig, PSS_SALT_LEN).valid;
}
