/**
 * The canonical encoding of a board payload: restricted JSON values, their byte encoding and
 * their canonical JSON text (spec/09-board.md §9.1.2).
 *
 * Why it exists: the board is blind to election semantics, so a payload is an opaque JSON
 * value to it — yet the board must hash it, and an auditor in another language must get the
 * same hash. JSON text is not canonical (key order, whitespace, number spellings, escapes,
 * duplicate keys), so the hash is taken over a small tagged binary encoding with exactly one
 * byte form per value, and the published JSON text is pinned to exactly one spelling too.
 *
 * The value model is deliberately narrow: null, booleans, well-formed strings, safe integers
 * (no floats, no −0: a float has no single decimal spelling across languages), arrays, and
 * objects with distinct keys sorted by their UTF-8 bytes. Depth and size are bounded, and the
 * bounds are enforced while walking — a string's length and an array's count are compared
 * with the remaining budget before anything proportional to them is allocated.
 *
 * Encoding (tag byte, then the body; U32 and STR as in spec/01-encoding.md §1.2):
 *   null → 00 · false → 01 00 · true → 01 01 · integer → 02 ‖ 8-byte big-endian two's
 *   complement · string → 03 ‖ STR · array → 04 ‖ U32(count) ‖ items ·
 *   object → 05 ‖ U32(count) ‖ (STR(key) ‖ value)* in ascending UTF-8 order of the keys.
 */
import { TallyError } from '../src/errors.js';

/** A payload value (spec §9.1.2). Objects are plain objects; arrays have no holes. */
export type JsonValue = null | boolean | number | string | JsonArray | JsonObject;
/** An array of payload values. */
export type JsonArray = readonly JsonValue[];
/** An object of payload values; keys are distinct by construction. */
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** Limits on one payload value (spec §9.1.2). */
export const VALUE_LIMITS = {
  /** Deepest nesting of arrays and objects; a scalar has depth 0, `[]` depth 1. */
  maxDepth: 16,
  /** Largest value encoding, in bytes (4 MiB). */
  maxEncodedBytes: 4 * 1024 * 1024,
  /** Largest canonical JSON text, in UTF-8 bytes (4 MiB), so every entry fits an export line. */
  maxJsonBytes: 4 * 1024 * 1024,
} as const;

/** The tag byte of each kind of value. */
export const VALUE_TAGS = { null: 0x00, bool: 0x01, int: 0x02, string: 0x03, array: 0x04, object: 0x05 } as const;

const utf8 = new TextEncoder();
/** fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a leading U+FEFF is content. */
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/**
 * Order of two well-formed strings by their UTF-8 bytes (= by code points), the order of
 * object keys in both canonical forms. JavaScript's `<` compares UTF-16 code units, which
 * puts U+10000… (surrogate pairs, D800–DFFF) before U+E000–U+FFFF; this corrects for that.
 *
 * @param a - a well-formed string
 * @param b - a well-formed string
 * @returns a negative number if a < b, 0 if equal, positive if a > b
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000; // surrogates sort above U+FFFF
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** What kind of payload value `v` is, or undefined if it is none (a float, a Date, …). */
type Kind = 'null' | 'bool' | 'int' | 'string' | 'array' | 'object';

function kindOf(v: unknown): Kind | undefined {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isSafeInteger(v) && !Object.is(v, -0) ? 'int' : undefined;
    case 'string':
      return 'string';
    case 'object': {
      if (Array.isArray(v)) return 'array';
      const proto: unknown = Object.getPrototypeOf(v);
      return proto === Object.prototype || proto === null ? 'object' : undefined;
    }
    default:
      return undefined;
  }
}

function describe(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'object' && v !== null) return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Path of the value being walked, for error messages ("payload.votes[3].c"). */
class Path {
  private parts: (string | number)[] = [];
  constructor(private readonly root: string) {}
  push(p: string | number): void {
    this.parts.push(p);
  }
  pop(): void {
    this.parts.pop();
  }
  get depth(): number {
    return this.parts.length;
  }
  toString(): string {
    let s = this.root;
    for (const p of this.parts) {
      s += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
    }
    return s;
  }
}

function malformed(path: Path, what: string): TallyError {
  return new TallyError('MALFORMED', `${path.toString()}: ${what}`);
}

function tooDeep(path: Path): TallyError {
  return new TallyError('TOO_LARGE', `${path.toString()}: nesting deeper than ${VALUE_LIMITS.maxDepth}`, {
    details: { maxDepth: VALUE_LIMITS.maxDepth },
  });
}

/**
 * Running totals of both canonical sizes, checked on every addition so that a walk stops as
 * soon as either limit is passed.
 */
class Budget {
  encoded = 0;
  json = 0;
  constructor(private readonly path: Path) {}
  add(encoded: number, json: number): void {
    this.encoded += encoded;
    this.json += json;
    if (this.encoded > VALUE_LIMITS.maxEncodedBytes) {
      throw new TallyError('TOO_LARGE', `${this.path.toString()}: value encoding exceeds ${VALUE_LIMITS.maxEncodedBytes} bytes`, {
        details: { limit: VALUE_LIMITS.maxEncodedBytes },
      });
    }
    if (this.json > VALUE_LIMITS.maxJsonBytes) {
      throw new TallyError('TOO_LARGE', `${this.path.toString()}: canonical JSON exceeds ${VALUE_LIMITS.maxJsonBytes} bytes`, {
        details: { limit: VALUE_LIMITS.maxJsonBytes },
      });
    }
  }
}

const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/;

/** UTF-8 length of JSON.stringify(s), given the UTF-8 length of s. */
function jsonStringBytes(s: string, utf8Length: number): number {
  let n = utf8Length + 2;
  if (!NEEDS_ESCAPE.test(s)) return n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) n += 1;
    else if (c < 0x20) n += 5; // \u00XX: 6 bytes instead of 1
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/**
 * The canonical value encoding of a payload (spec §9.1.2), validating it on the way.
 *
 * @param value - a payload value: depth ≤ 16, encoding ≤ 4 MiB, canonical JSON ≤ 4 MiB
 * @param field - name used in error messages, e.g. "payload"
 * @returns the encoding, a fresh array
 * @throws TallyError MALFORMED for a value outside the model (float, −0, unsafe integer,
 *   lone surrogate, undefined, array hole, non-plain object, …), naming its path
 * @throws TallyError TOO_LARGE when the depth or a size limit is exceeded
 */
export function encodeValue(value: unknown, field = 'value'): Uint8Array {
  const path = new Path(field);
  const budget = new Budget(path);
  const out = new ByteWriter();
  encodeInto(value, path, budget, out);
  return out.finish();
}

/**
 * A growable byte buffer. The encoder writes straight into it rather than collecting one small
 * Uint8Array per tag, length and key: an object of 250,000 members would otherwise allocate
 * three quarters of a million typed arrays (about 200 MB of garbage) for a 2 MB encoding, which
 * is what made the auditor's memory grow with hostile payloads (spec §10.5). Its size is
 * bounded by the budget, which is checked before each write.
 */
class ByteWriter {
  #buf = new Uint8Array(256);
  #len = 0;

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  byte(x: number): void {
    this.#ensure(1);
    this.#buf[this.#len++] = x;
  }

  u32(x: number): void {
    this.#ensure(4);
    const b = this.#buf;
    b[this.#len] = (x >>> 24) & 0xff;
    b[this.#len + 1] = (x >>> 16) & 0xff;
    b[this.#len + 2] = (x >>> 8) & 0xff;
    b[this.#len + 3] = x & 0xff;
    this.#len += 4;
  }

  int64(x: number): void {
    this.#ensure(8);
    new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#len, 8).setBigInt64(0, BigInt(x));
    this.#len += 8;
  }

  /** STR(s) = U32(UTF-8 length) ‖ UTF-8(s); returns the UTF-8 length. */
  str(s: string): number {
    this.#ensure(4 + 3 * s.length);
    const start = this.#len + 4;
    const { written } = utf8.encodeInto(s, this.#buf.subarray(start, start + 3 * s.length));
    this.u32(written);
    this.#len += written;
    return written;
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

function encodeInto(v: unknown, path: Path, budget: Budget, out: ByteWriter): void {
  const kind = kindOf(v);
  switch (kind) {
    case 'null':
      budget.add(1, 4);
      out.byte(VALUE_TAGS.null);
      return;
    case 'bool':
      budget.add(2, v ? 4 : 5);
      out.byte(VALUE_TAGS.bool);
      out.byte(v ? 1 : 0);
      return;
    case 'int':
      budget.add(9, String(v).length);
      out.byte(VALUE_TAGS.int);
      out.int64(v as number);
      return;
    case 'string': {
      budget.add(1, 0); // the tag byte
      out.byte(VALUE_TAGS.string);
      encodeString(v as string, path, budget, 0, out);
      return;
    }
    case 'array': {
      const a = v as readonly unknown[];
      if (path.depth >= VALUE_LIMITS.maxDepth) throw tooDeep(path);
      // Every item takes ≥ 1 byte, so the count alone can exceed the budget.
      budget.add(5 + a.length, 2 + Math.max(0, a.length - 1));
      out.byte(VALUE_TAGS.array);
      out.u32(a.length);
      for (let i = 0; i < a.length; i++) {
        if (!(i in a)) throw malformed(path, `array hole at index ${i}`);
        path.push(i);
        budget.add(-1, 0); // the byte reserved for this item above
        encodeInto(a[i], path, budget, out);
        path.pop();
      }
      return;
    }
    case 'object': {
      const o = v as Readonly<Record<string, unknown>>;
      if (path.depth >= VALUE_LIMITS.maxDepth) throw tooDeep(path);
      const keys = Object.keys(o);
      budget.add(5, 2 + Math.max(0, keys.length - 1));
      out.byte(VALUE_TAGS.object);
      out.u32(keys.length);
      for (const k of keys) if (!k.isWellFormed()) throw malformed(path, 'object key is not well-formed Unicode');
      keys.sort(compareKeys);
      for (const k of keys) {
        path.push(k);
        encodeString(k, path, budget, 1, out); // the ':' after the key
        encodeInto(o[k], path, budget, out);
        path.pop();
      }
      return;
    }
    default:
      throw malformed(path, `not a payload value (null, boolean, safe integer, string, array or plain object): ${describe(v)}`);
  }
}

/** STR(s) into `out`, after the well-formedness and size checks. */
function encodeString(s: string, path: Path, budget: Budget, jsonExtra: number, out: ByteWriter): void {
  if (!s.isWellFormed()) throw malformed(path, 'string is not well-formed Unicode (lone surrogate)');
  // Each UTF-16 unit is ≥ 1 UTF-8 byte: refuse an oversized string before encoding it.
  budget.add(4 + s.length, 0);
  const length = out.str(s);
  budget.add(length - s.length, jsonStringBytes(s, length) + jsonExtra);
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/**
 * Decodes a value encoding, accepting only the canonical form (the inverse of
 * {@link encodeValue}: decodeValue(encodeValue(v)) equals v, and every accepted input is the
 * encoding of what it decodes to).
 *
 * @param bytes - 1 ≤ length ≤ 4 MiB
 * @param field - name used in error messages
 * @returns the value; objects are plain objects
 * @throws TallyError MALFORMED on an unknown tag, a boolean byte other than 00/01, an integer
 *   outside ±(2^53 − 1), invalid UTF-8, keys not strictly ascending, a count larger than the
 *   remaining bytes allow, or trailing bytes
 * @throws TallyError TOO_LARGE when the input, the depth or the JSON size exceeds its limit
 */
export function decodeValue(bytes: Uint8Array, field = 'value'): JsonValue {
  const path = new Path(field);
  if (bytes.length > VALUE_LIMITS.maxEncodedBytes) {
    throw new TallyError('TOO_LARGE', `${field}: value encoding exceeds ${VALUE_LIMITS.maxEncodedBytes} bytes`);
  }
  const r = new Reader(bytes, path);
  const budget = new Budget(path);
  const v = r.value(budget);
  if (r.offset !== bytes.length) throw malformed(path, `${bytes.length - r.offset} trailing bytes`);
  return v;
}

class Reader {
  offset = 0;
  private readonly view: DataView;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly path: Path,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): void {
    if (n > this.bytes.length - this.offset) {
      throw malformed(this.path, `truncated: need ${n} bytes at offset ${this.offset}, ${this.bytes.length - this.offset} left`);
    }
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.offset++]!;
  }

  private u32(): number {
    this.need(4);
    const x = this.view.getUint32(this.offset);
    this.offset += 4;
    return x;
  }

  private str(budget: Budget, jsonExtra: number): string {
    const len = this.u32();
    this.need(len);
    let s: string;
    try {
      s = utf8Strict.decode(this.bytes.subarray(this.offset, this.offset + len));
    } catch {
      throw malformed(this.path, `invalid UTF-8 at offset ${this.offset}`);
    }
    this.offset += len;
    budget.add(0, jsonStringBytes(s, len) + jsonExtra);
    return s;
  }

  value(budget: Budget): JsonValue {
    const at = this.offset;
    const tag = this.u8();
    switch (tag) {
      case VALUE_TAGS.null:
        budget.add(0, 4);
        return null;
      case VALUE_TAGS.bool: {
        const b = this.u8();
        if (b > 1) throw malformed(this.path, `boolean byte must be 00 or 01, got ${b} at offset ${at + 1}`);
        budget.add(0, b ? 4 : 5);
        return b === 1;
      }
      case VALUE_TAGS.int: {
        this.need(8);
        const x = this.view.getBigInt64(this.offset);
        this.offset += 8;
        if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw malformed(this.path, `integer ${x} is not a safe integer`);
        }
        const n = Number(x);
        budget.add(0, String(n).length);
        return n;
      }
      case VALUE_TAGS.string:
        return this.str(budget, 0);
      case VALUE_TAGS.array: {
        if (this.path.depth >= VALUE_LIMITS.maxDepth) throw tooDeep(this.path);
        const count = this.u32();
        // Each item takes ≥ 1 byte: check before allocating the array.
        if (count > this.bytes.length - this.offset) throw malformed(this.path, `array count ${count} exceeds the remaining bytes`);
        budget.add(0, 2 + Math.max(0, count - 1));
        const items: JsonValue[] = new Array<JsonValue>(count);
        for (let i = 0; i < count; i++) {
          this.path.push(i);
          items[i] = this.value(budget);
          this.path.pop();
        }
        return items;
      }
      case VALUE_TAGS.object: {
        if (this.path.depth >= VALUE_LIMITS.maxDepth) throw tooDeep(this.path);
        const count = this.u32();
        // Each member takes ≥ 5 bytes (an empty key and a null).
        if (count > (this.bytes.length - this.offset) / 5) throw malformed(this.path, `object count ${count} exceeds the remaining bytes`);
        budget.add(0, 2 + Math.max(0, count - 1));
        const o: Record<string, JsonValue> = {};
        let prev: string | undefined;
        for (let i = 0; i < count; i++) {
          const key = this.str(budget, 1);
          if (prev !== undefined && compareKeys(prev, key) >= 0) {
            throw malformed(this.path, `object keys not strictly ascending: ${JSON.stringify(prev)} then ${JSON.stringify(key)}`);
          }
          prev = key;
          this.path.push(key);
          // defineProperty, not assignment: a key "__proto__" must become an own property.
          Object.defineProperty(o, key, { value: this.value(budget), enumerable: true, writable: true, configurable: true });
          this.path.pop();
        }
        return o;
      }
      default:
        throw malformed(this.path, `unknown value tag ${tag} at offset ${at}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Canonical JSON text
// ---------------------------------------------------------------------------------------

/**
 * The canonical JSON text of a value (spec §9.1.3): no whitespace, object keys in ascending
 * UTF-8 order, strings exactly as JSON.stringify writes them, integers in plain decimal.
 * Checks the value model and the depth limit (depth counted from `value` itself), not the
 * size limits — callers pass values already admitted or bounded by an input cap.
 *
 * @param value - a JSON value of the restricted model; nesting ≤ maxDepth
 * @param maxDepth - deepest nesting allowed, 0 ≤ maxDepth; default 16 (records wrapping a
 *   payload pass 17)
 * @returns the text
 * @throws TallyError MALFORMED for a value outside the model; TOO_LARGE when too deep
 */
export function canonicalJson(value: unknown, maxDepth: number = VALUE_LIMITS.maxDepth): string {
  const parts: string[] = [];
  writeJson(value, new Path('value'), maxDepth, parts);
  return parts.join('');
}

function writeJson(v: unknown, path: Path, maxDepth: number, out: string[]): void {
  switch (kindOf(v)) {
    case 'null':
      out.push('null');
      return;
    case 'bool':
      out.push(v ? 'true' : 'false');
      return;
    case 'int':
      out.push(String(v));
      return;
    case 'string':
      if (!(v as string).isWellFormed()) throw malformed(path, 'string is not well-formed Unicode (lone surrogate)');
      out.push(JSON.stringify(v));
      return;
    case 'array': {
      const a = v as readonly unknown[];
      if (path.depth >= maxDepth) throw tooDeep(path);
      out.push('[');
      for (let i = 0; i < a.length; i++) {
        if (!(i in a)) throw malformed(path, `array hole at index ${i}`);
        if (i > 0) out.push(',');
        path.push(i);
        writeJson(a[i], path, maxDepth, out);
        path.pop();
      }
      out.push(']');
      return;
    }
    case 'object': {
      const o = v as Readonly<Record<string, unknown>>;
      if (path.depth >= maxDepth) throw tooDeep(path);
      const keys = Object.keys(o);
      for (const k of keys) if (!k.isWellFormed()) throw malformed(path, 'object key is not well-formed Unicode');
      keys.sort(compareKeys);
      out.push('{');
      keys.forEach((k, i) => {
        if (i > 0) out.push(',');
        out.push(JSON.stringify(k), ':');
        path.push(k);
        writeJson(o[k], path, maxDepth, out);
        path.pop();
      });
      out.push('}');
      return;
    }
    default:
      throw malformed(path, `not a payload value (null, boolean, safe integer, string, array or plain object): ${describe(v)}`);
  }
}
