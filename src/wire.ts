/**
 * JSON wire encoding of big integers and byte strings (spec/01-encoding.md §1.3).
 *
 * Choice: lowercase hexadecimal of the canonical fixed-length big-endian bytes, so that a
 * ciphertext is exactly 2·len(n²) hex digits. One value has exactly one wire form: the JSON
 * string IS the canonical bytes, which makes "hash what was published" trivial and stops
 * malleability by leading zeros, upper case or signs. Hex over base64: readable in a board
 * file, no padding variants, and every language parses it.
 *
 * Parsers check the length and alphabet of the string BEFORE converting, so an oversized input
 * is refused without allocating a big integer for it.
 */
import { TallyError } from './errors.js';
import { bytesToHex, hexDigitsInto } from './crypto/bigint.js';

const HEX_RE = /^[0-9a-f]*$/;

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  return bytesToHex(b);
}

/**
 * Parse lowercase hex into bytes.
 * @param s - the wire string
 * @param field - field name for the error message
 * @param len - exact byte length required, or undefined for any even length up to `maxLen`
 * @param maxLen - upper bound on the byte length when `len` is undefined
 * @throws TallyError MALFORMED on a bad alphabet or length
 */
export function parseHex(s: unknown, field: string, len?: number, maxLen = 1 << 20): Uint8Array {
  if (typeof s !== 'string') throw new TallyError('MALFORMED', `${field}: expected a hex string`);
  if (len !== undefined && s.length !== 2 * len) {
    throw new TallyError('MALFORMED', `${field}: expected ${2 * len} hex digits, got ${s.length}`);
  }
  if (len === undefined && (s.length % 2 !== 0 || s.length > 2 * maxLen)) {
    throw new TallyError('MALFORMED', `${field}: expected an even number of hex digits, at most ${2 * maxLen}, got ${s.length}`);
  }
  if (!HEX_RE.test(s)) throw new TallyError('MALFORMED', `${field}: expected lowercase hex digits only`);
  return hexDigitsInto(s, new Uint8Array(s.length / 2), 0);
}

/**
 * Wire form of 0 ≤ x < 256^len: exactly 2·len lowercase hex digits.
 * @throws RangeError if x < 0 or x ≥ 256^len (caller bug)
 */
export function intToHex(x: bigint, len: number): string {
  if (x < 0n) throw new RangeError('intToHex: negative integer');
  // BigInt's own hex conversion: the same digits as going through bytes, without the copies
  // (an auditor converts every ciphertext, commitment and response of a board).
  const hex = x.toString(16);
  if (hex.length > 2 * len) throw new RangeError(`intToHex: integer does not fit in ${len} bytes`);
  return hex.padStart(2 * len, '0');
}

/**
 * Parse a fixed-length hex integer. The range of the value (e.g. 0 < c < n²) is checked by the
 * caller, which knows the algebraic meaning; this only enforces the wire form.
 * @throws TallyError MALFORMED unless `s` is exactly 2·len lowercase hex digits
 */
export function hexToInt(s: unknown, len: number, field: string): bigint {
  if (typeof s !== 'string') throw new TallyError('MALFORMED', `${field}: expected a hex string`);
  if (s.length !== 2 * len) throw new TallyError('MALFORMED', `${field}: expected ${2 * len} hex digits, got ${s.length}`);
  if (!HEX_RE.test(s)) throw new TallyError('MALFORMED', `${field}: expected lowercase hex digits only`);
  // Validated above (length, then alphabet), so BigInt parses exactly these digits.
  return s.length === 0 ? 0n : BigInt('0x' + s);
}
