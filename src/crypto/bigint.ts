/**
 * Big-integer arithmetic for the cryptographic core: modular exponentiation, inverses, gcd,
 * fixed-length big-endian conversion and uniform sampling.
 *
 * Why our own and not bigint-crypto-utils: every proof and verification is dominated by
 * x^n mod n² with a 2048-to-3072-bit exponent, and a sliding-window exponentiation is ~22%
 * faster than the binary method that library uses (measured on this project's machine,
 * `npm run bench`). The rest are a few lines each and keep the browser bundle small.
 *
 * Not constant-time: JavaScript BigInt operations leak timing by operand size. SECURITY.md
 * says what this means for each party.
 */
import { randomBytes } from '@noble/hashes/utils.js';

/** Number of bits of x ≥ 0 (0 for x = 0). */
export function bitLength(x: bigint): number {
  if (x < 0n) throw new RangeError(`bitLength: expected x >= 0, got a negative value`);
  return x === 0n ? 0 : x.toString(2).length;
}

/** Number of bytes needed to hold x ≥ 0 (at least 1). */
export function byteLength(x: bigint): number {
  return Math.max(1, Math.ceil(bitLength(x) / 8));
}

/** Non-negative remainder of a mod m, for m > 0. */
export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Greatest common divisor of |a| and |b|. */
export function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * Inverse of a modulo m.
 * @param a - any integer
 * @param m - modulus, m > 1
 * @returns x with a·x ≡ 1 (mod m), 0 < x < m
 * @throws RangeError if gcd(a, m) ≠ 1
 */
export function modInv(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('modInv: argument is not invertible modulo m');
  return mod(oldS, m);
}

/**
 * base^exp mod m by left-to-right sliding-window exponentiation.
 * @param base - any integer (reduced mod m first)
 * @param exp - exponent, exp ≥ 0 (use modInv for negative powers)
 * @param m - modulus, m ≥ 1
 */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  if (m < 1n) throw new RangeError('modPow: modulus must be >= 1');
  if (exp < 0n) throw new RangeError('modPow: exponent must be >= 0');
  if (m === 1n) return 0n;
  const b = mod(base, m);
  if (exp === 0n) return 1n;
  const bits = exp.toString(2);
  const len = bits.length;
  // Window width by exponent size: balances the table cost against squarings saved.
  const w = len > 1536 ? 6 : len > 512 ? 5 : len > 128 ? 4 : len > 32 ? 3 : 1;
  if (w === 1) {
    let r = 1n;
    for (let i = 0; i < len; i++) {
      r = (r * r) % m;
      if (bits.charCodeAt(i) === 49) r = (r * b) % m;
    }
    return r;
  }
  // odd[i] = b^(2i+1)
  const odd: bigint[] = [b];
  const b2 = (b * b) % m;
  const half = 1 << (w - 1);
  for (let i = 1; i < half; i++) odd.push((odd[i - 1]! * b2) % m);
  let r = 1n;
  let i = 0;
  while (i < len) {
    if (bits.charCodeAt(i) === 48) {
      r = (r * r) % m;
      i++;
      continue;
    }
    let j = Math.min(i + w, len);
    while (bits.charCodeAt(j - 1) === 48) j--;
    let v = 0;
    for (let k = i; k < j; k++) {
      v = (v << 1) | (bits.charCodeAt(k) - 48);
      r = (r * r) % m;
    }
    r = (r * odd[(v - 1) >> 1]!) % m;
    i = j;
  }
  return r;
}

/**
 * Big-endian unsigned bytes of x, exactly `len` bytes long.
 * @throws RangeError if x < 0 or x ≥ 256^len
 */
export function toBytesBE(x: bigint, len: number): Uint8Array {
  if (x < 0n) throw new RangeError('toBytesBE: negative integer');
  const hex = x.toString(16);
  if (hex.length > 2 * len) throw new RangeError(`toBytesBE: integer does not fit in ${len} bytes`);
  const out = new Uint8Array(len);
  hexDigitsInto(hex, out, len - (hex.length >> 1) - (hex.length & 1));
  return out;
}

/** Unsigned big-endian integer value of `bytes` (the empty array is 0). */
export function fromBytesBE(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt('0x' + bytesToHex(bytes));
}

/** Two lowercase hex digits of each byte value. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Value of each lowercase hex digit by character code, −1 for any other character below 128. */
const HEX_VALUE = Int8Array.from({ length: 128 }, (_, c) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1));

/** Lowercase hex of bytes (two digits per byte). */
export function bytesToHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX_PAIRS[b[i]!]!;
  return s;
}

/**
 * Write the digits of `hex` (lowercase; the caller has checked the alphabet, or produced them
 * with BigInt's toString(16)) into `out` from byte `at`: an odd count is read as if it had one
 * leading zero. Returns `out`.
 */
export function hexDigitsInto(hex: string, out: Uint8Array, at: number): Uint8Array {
  let i = 0;
  let o = at;
  if (hex.length & 1) {
    out[o++] = HEX_VALUE[hex.charCodeAt(0)]!;
    i = 1;
  }
  for (; i < hex.length; i += 2, o++) out[o] = (HEX_VALUE[hex.charCodeAt(i)]! << 4) | HEX_VALUE[hex.charCodeAt(i + 1)]!;
  return out;
}

/**
 * Uniform integer in [0, bound) by rejection sampling on bitLength(bound) random bits.
 * Each try succeeds with probability > 1/2, so the loop ends quickly.
 * @param bound - bound > 0
 * @param rng - source of random bytes (defaults to the platform CSPRNG)
 */
export function randomBelow(bound: bigint, rng: (n: number) => Uint8Array = randomBytes): bigint {
  if (bound <= 0n) throw new RangeError('randomBelow: bound must be > 0');
  const bits = bitLength(bound - 1n);
  if (bits === 0) return 0n;
  const nBytes = Math.ceil(bits / 8);
  const excess = BigInt(nBytes * 8 - bits);
  for (;;) {
    const x = fromBytesBE(rng(nBytes)) >> excess;
    if (x < bound) return x;
  }
}

/**
 * Uniform element of Z*_n: 0 < r < n with gcd(r, n) = 1.
 * @param n - modulus, n > 2
 */
export function randomUnit(n: bigint, rng: (n: number) => Uint8Array = randomBytes): bigint {
  for (;;) {
    const r = randomBelow(n, rng);
    if (r > 0n && gcd(r, n) === 1n) return r;
  }
}
