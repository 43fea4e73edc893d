/**
 * The one canonical byte encoder (spec/01-encoding.md §1.2).
 *
 * Everything Tallyboard hashes or signs is built with this writer, so that two
 * implementations that follow the spec produce the same bytes: fixed-length big-endian
 * integers whose length comes from context (a ciphertext takes the byte length of n², a
 * response that of n), length-prefixed byte and UTF-8 strings, count-prefixed lists.
 * Nothing here ever hashes `JSON.stringify` output: JSON key order and number formatting are
 * not canonical across implementations.
 */
import { toBytesBE } from './crypto/bigint.js';

const utf8 = new TextEncoder();

/** Largest count or length the encoding admits (U32). */
export const U32_MAX = 0xffffffff;

/** Append-only builder of canonical bytes. Methods return `this` for chaining. */
export class CanonicalWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  /** U8: one byte, 0 ≤ x ≤ 255. */
  u8(x: number): this {
    if (!Number.isInteger(x) || x < 0 || x > 0xff) throw new RangeError(`u8: out of range: ${x}`);
    return this.push(Uint8Array.of(x));
  }

  /** U32: four bytes big-endian, 0 ≤ x < 2^32. */
  u32(x: number): this {
    if (!Number.isInteger(x) || x < 0 || x > U32_MAX) throw new RangeError(`u32: out of range: ${x}`);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, x);
    return this.push(b);
  }

  /** U64: eight bytes big-endian, 0 ≤ x ≤ 2^53 − 1 (a JS safe integer, e.g. milliseconds). */
  u64(x: number): this {
    if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`u64: out of range: ${x}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(x));
    return this.push(b);
  }

  /** BOOL: one byte, 0x00 or 0x01. */
  bool(x: boolean): this {
    return this.u8(x ? 1 : 0);
  }

  /** INT(x, len): x as exactly `len` big-endian bytes, 0 ≤ x < 256^len. */
  int(x: bigint, len: number): this {
    return this.push(toBytesBE(x, len));
  }

  /** FIXED: raw bytes whose length the context fixes (a hash, a key); no length prefix. */
  fixed(b: Uint8Array, expectedLength?: number): this {
    if (expectedLength !== undefined && b.length !== expectedLength) {
      throw new RangeError(`fixed: expected ${expectedLength} bytes, got ${b.length}`);
    }
    return this.push(b);
  }

  /** BYTES: U32 length, then the bytes. */
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    return this.push(b);
  }

  /** STR: the UTF-8 encoding as BYTES. Lone surrogates are refused (they have no UTF-8 form). */
  str(s: string): this {
    if (!s.isWellFormed()) throw new RangeError('str: string is not well-formed Unicode');
    return this.bytes(utf8.encode(s));
  }

  /** LIST: U32 count, then each item written by `each`. */
  list<T>(items: readonly T[], each: (w: this, item: T, index: number) => void): this {
    this.u32(items.length);
    items.forEach((item, i) => each(this, item, i));
    return this;
  }

  /** The bytes written so far, as one array. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

/** Start a new canonical encoding. */
export function canonical(): CanonicalWriter {
  return new CanonicalWriter();
}
