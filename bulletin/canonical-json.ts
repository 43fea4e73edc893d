/**
 * A parser that accepts canonical JSON text and nothing else (spec/09-board.md §9.1.3, §9.7).
 *
 * Why not JSON.parse: a board file must have one byte form per record, and JSON.parse
 * accepts many spellings of one value (whitespace, key order, "1.0", "\u0041", "\/") and
 * silently keeps the last of two duplicate keys. It would also build an arbitrarily deep
 * structure before any limit could be checked. This recognizer rejects, at the first
 * offending character, everything {@link canonicalJson} would not have written: whitespace,
 * keys out of order or repeated, non-integer or unsafe numbers, "-0", leading zeros,
 * escapes JSON.stringify does not use, and nesting deeper than the caller's limit. Its
 * recursion depth is bounded by that limit.
 *
 * The input is a string (a line already decoded from strict UTF-8); the caller bounds its
 * length. Callers that want belt and braces may also check canonicalJson(result) === text,
 * which holds for every accepted input (test/board-value.test.ts checks it).
 */
import { TallyError } from '../src/errors.js';
import { compareKeys, VALUE_LIMITS, type JsonValue } from './value-encoding.js';

/** Characters that may appear unescaped inside a canonical string: all but ", \ and C0. */
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;
const DIGITS = /[0-9]*/y;
/** Longest decimal spelling of a safe integer: 9007199254740991 has 16 digits. */
const MAX_DIGITS = 16;

/** Short escapes JSON.stringify writes, by the escaped character. */
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Parses canonical JSON text.
 *
 * @param text - the text; its length is bounded by the caller (e.g. an 8 MiB line cap)
 * @param maxDepth - deepest nesting of arrays/objects accepted, 0 ≤ maxDepth; default 16
 * @returns the value; objects are plain objects (a key "__proto__" is an own property)
 * @throws TallyError MALFORMED naming the offset of the first non-canonical character;
 *   TOO_LARGE when nesting exceeds maxDepth
 */
export function parseCanonicalJson(text: string, maxDepth: number = VALUE_LIMITS.maxDepth): JsonValue {
  const p = new Parser(text, maxDepth);
  const v = p.value(0);
  if (p.pos !== text.length) p.fail('trailing characters after the value');
  return v;
}

class Parser {
  pos = 0;
  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  fail(what: string): never {
    throw new TallyError('MALFORMED', `canonical JSON: ${what} at offset ${this.pos}`, { details: { offset: this.pos } });
  }

  private expect(lit: string): void {
    if (!this.s.startsWith(lit, this.pos)) this.fail(`expected ${JSON.stringify(lit)}`);
    this.pos += lit.length;
  }

  value(depth: number): JsonValue {
    const c = this.s[this.pos];
    switch (c) {
      case 'n':
        this.expect('null');
        return null;
      case 't':
        this.expect('true');
        return true;
      case 'f':
        this.expect('false');
        return false;
      case '"':
        return this.string();
      case '[':
        return this.array(depth + 1);
      case '{':
        return this.object(depth + 1);
      case undefined:
        return this.fail('unexpected end of text');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.integer();
        return this.fail(`unexpected character ${JSON.stringify(c)}`);
    }
  }

  private integer(): number {
    const start = this.pos;
    const negative = this.s[this.pos] === '-';
    if (negative) this.pos++;
    DIGITS.lastIndex = this.pos;
    const digits = DIGITS.exec(this.s)![0];
    if (digits.length === 0) this.fail('expected a digit');
    if (digits.length > 1 && digits[0] === '0') this.fail('leading zero');
    if (negative && digits === '0') this.fail('-0 is not canonical');
    if (digits.length > MAX_DIGITS) this.fail('integer is not a safe integer');
    this.pos += digits.length;
    const next = this.s[this.pos];
    if (next === '.' || next === 'e' || next === 'E') this.fail('only integers are allowed (no fraction or exponent)');
    const n = Number(this.s.slice(start, this.pos));
    if (!Number.isSafeInteger(n)) {
      this.pos = start;
      this.fail('integer is not a safe integer');
    }
    return n;
  }

  private string(): string {
    this.pos++; // opening quote
    let out = '';
    for (;;) {
      PLAIN_RUN.lastIndex = this.pos;
      const run = PLAIN_RUN.exec(this.s)![0];
      out += run;
      this.pos += run.length;
      const c = this.s[this.pos];
      if (c === '"') {
        this.pos++;
        break;
      }
      if (c === undefined) this.fail('unterminated string');
      if (c !== '\\') this.fail('control character must be escaped');
      const e = this.s[this.pos + 1];
      if (e !== undefined && Object.hasOwn(SHORT_ESCAPES, e)) {
        out += SHORT_ESCAPES[e]!;
        this.pos += 2;
        continue;
      }
      if (e === 'u') {
        // JSON.stringify uses \u only for C0 controls without a short form: \u00XX, lowercase.
        const hex = this.s.slice(this.pos + 2, this.pos + 6);
        if (!/^00[01][0-9a-f]$/.test(hex)) this.fail('\\u escape is only canonical for control characters, as \\u00xx');
        const code = parseInt(hex, 16);
        if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) {
          this.fail('this control character has a short escape');
        }
        out += String.fromCharCode(code);
        this.pos += 6;
        continue;
      }
      this.fail('escape not used by canonical JSON');
    }
    if (!out.isWellFormed()) this.fail('string is not well-formed Unicode');
    return out;
  }

  private array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.tooDeep();
    this.pos++; // [
    const items: JsonValue[] = [];
    if (this.s[this.pos] === ']') {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.value(depth));
      const c = this.s[this.pos];
      if (c === ']') {
        this.pos++;
        return items;
      }
      if (c !== ',') this.fail('expected "," or "]"');
      this.pos++;
    }
  }

  private object(depth: number): Record<string, JsonValue> {
    if (depth > this.maxDepth) this.tooDeep();
    this.pos++; // {
    const o: Record<string, JsonValue> = {};
    if (this.s[this.pos] === '}') {
      this.pos++;
      return o;
    }
    let prev: string | undefined;
    for (;;) {
      if (this.s[this.pos] !== '"') this.fail('expected a string key');
      const keyAt = this.pos;
      const key = this.string();
      if (prev !== undefined && compareKeys(prev, key) >= 0) {
        this.pos = keyAt;
        this.fail(compareKeys(prev, key) === 0 ? `duplicate key ${JSON.stringify(key)}` : `key ${JSON.stringify(key)} out of order`);
      }
      prev = key;
      this.expect(':');
      Object.defineProperty(o, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
      const c = this.s[this.pos];
      if (c === '}') {
        this.pos++;
        return o;
      }
      if (c !== ',') this.fail('expected "," or "}"');
      this.pos++;
    }
  }

  private tooDeep(): never {
    throw new TallyError('TOO_LARGE', `canonical JSON: nesting deeper than ${this.maxDepth} at offset ${this.pos}`, {
      details: { offset: this.pos, maxDepth: this.maxDepth },
    });
  }
}
