/**
 * The canonical value encoding and canonical JSON of board payloads (spec/09-board.md §9.1.2,
 * §9.1.3): known-answer bytes for every kind of value (written out by hand from the spec's
 * rules), the spec's worked example, rejection of everything outside the model, the limits,
 * strict decoding, and round trips over seeded random values.
 */
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { canonicalJson, compareKeys, decodeValue, encodeValue, VALUE_LIMITS, type JsonValue } from '../bulletin/value-encoding.js';
import { parseCanonicalJson } from '../bulletin/canonical-json.js';
import { parseHex, toHex } from '../src/wire.js';
import { throwsCode } from './helpers/assert.js';
import { seeded } from './helpers/board.js';

const hex = (v: unknown): string => toHex(encodeValue(v));

t.test('known-answer bytes for each kind of value', async (t) => {
  const cases: [string, unknown, string][] = [
    ['null', null, '00'],
    ['false', false, '0100'],
    ['true', true, '0101'],
    ['0', 0, '02' + '0000000000000000'],
    ['1', 1, '02' + '0000000000000001'],
    ['-1', -1, '02' + 'ffffffffffffffff'],
    ['2^53 − 1', Number.MAX_SAFE_INTEGER, '02' + '001fffffffffffff'],
    ['−(2^53 − 1)', -Number.MAX_SAFE_INTEGER, '02' + 'ffe0000000000001'],
    ['empty string', '', '03' + '00000000'],
    ['"a"', 'a', '03' + '00000001' + '61'],
    ['"é" (2 UTF-8 bytes)', 'é', '03' + '00000002' + 'c3a9'],
    ['"😀" (surrogate pair, 4 UTF-8 bytes)', '😀', '03' + '00000004' + 'f09f9880'],
    ['BOM is content', '\ufeff', '03' + '00000003' + 'efbbbf'],
    ['[]', [], '04' + '00000000'],
    ['[null, true]', [null, true], '04' + '00000002' + '00' + '0101'],
    ['{}', {}, '05' + '00000000'],
    ['{"b":1,"a":null} sorted', { b: 1, a: null }, '05' + '00000002' + '00000001' + '61' + '00' + '00000001' + '62' + '02' + '0000000000000001'],
  ];
  for (const [name, v, want] of cases) {
    t.equal(hex(v), want, name);
    t.same(decodeValue(parseHex(want, name, want.length / 2)), v, `${name} decodes back`);
  }
});

t.test('worked example of spec §9.1.2', async (t) => {
  const v = { vote: [1, -2], ok: true, é: null, id: 'a\nb' };
  t.equal(
    hex(v),
    '0500000004' +
      '00000002' + '6964' + '03' + '00000003' + '610a62' +
      '00000002' + '6f6b' + '0101' +
      '00000004' + '766f7465' + '04' + '00000002' + '020000000000000001' + '02fffffffffffffffe' +
      '00000002' + 'c3a9' + '00',
  );
  t.equal(canonicalJson(v), '{"id":"a\\nb","ok":true,"vote":[1,-2],"é":null}');
});

t.test('keys sort by UTF-8 bytes, not by UTF-16 code units', async (t) => {
  // U+FFFF (EF BF BF) < U+1F600 (F0 9F 98 80) in UTF-8, but '\uffff' > '\ud83d' in UTF-16.
  const v = { '😀': 2, '\uffff': 1, z: 0, '': 3, za: 4 };
  t.equal(canonicalJson(v), '{"":3,"z":0,"za":4,"\uffff":1,"😀":2}');
  t.ok(compareKeys('\uffff', '😀') < 0);
  t.ok(compareKeys('z', 'za') < 0);
  t.equal(compareKeys('é', 'é'), 0);
  const keys = Object.keys(decodeValue(encodeValue(v)) as object);
  t.same(keys, ['', 'z', 'za', '\uffff', '😀'], 'decoded in canonical order');
});

t.test('canonical JSON text', async (t) => {
  t.equal(canonicalJson(null), 'null');
  t.equal(canonicalJson(-42), '-42');
  t.equal(canonicalJson(Number.MAX_SAFE_INTEGER), '9007199254740991');
  t.equal(canonicalJson('q"\\/\b\f\n\r\t\u0000\u001f\u007f\u2028'), '"q\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\u007f\u2028"');
  t.equal(canonicalJson({ b: [true, false, {}], a: [] }), '{"a":[],"b":[true,false,{}]}');
  t.equal(canonicalJson(JSON.parse('{"__proto__":1}')), '{"__proto__":1}', '__proto__ is an ordinary key');
});

t.test('the parser accepts canonical text only', async (t) => {
  const good = ['null', 'true', '0', '-1', '9007199254740991', '""', '"\\u0000\\u001f\\n"', '[]', '{}', '{"a":[1,{"b":null}],"b":"x"}', '"é😀\u2028"'];
  good.forEach((s, i) => {
    const v = parseCanonicalJson(s);
    t.equal(canonicalJson(v), s, `accepts good[${i}]`); // not the text itself: U+2028 would break a TAP line
  });
  const bad: [string, string][] = [
    [' null', 'leading space'],
    ['null ', 'trailing space'],
    ['{"a": 1}', 'space after colon'],
    ['[1, 2]', 'space after comma'],
    ['{"b":1,"a":2}', 'keys out of order'],
    ['{"a":1,"a":2}', 'duplicate key'],
    ['{"😀":1,"\uffff":2}', 'UTF-16 order instead of UTF-8 order'],
    ['1.0', 'fraction'],
    ['1e3', 'exponent'],
    ['-0', 'negative zero'],
    ['01', 'leading zero'],
    ['9007199254740992', '2^53'],
    ['-9007199254740992', '−2^53'],
    ['12345678901234567890', '20 digits'],
    ['"\\u0041"', 'needless \\u escape'],
    ['"\\/"', 'escaped slash'],
    ['"\\u000a"', '\\u escape of a character with a short form'],
    ['"\\u001F"', 'upper-case hex'],
    ['"\\ud800"', 'escaped lone surrogate'],
    ['"\u0001"', 'raw control character'],
    ['"abc', 'unterminated string'],
    ['[1,]', 'trailing comma'],
    ['{"a":1}x', 'trailing garbage'],
    ['', 'empty'],
    ['NaN', 'NaN'],
    ['True', 'capitalised literal'],
    ["{'a':1}", 'single quotes'],
  ];
  for (const [s, why] of bad) throwsCode(t, () => parseCanonicalJson(s), 'MALFORMED', why);
  throwsCode(t, () => parseCanonicalJson('"\ud800"'), 'MALFORMED', 'raw lone surrogate');
});

t.test('values outside the model are rejected', async (t) => {
  const bad: [unknown, string][] = [
    [1.5, 'float'],
    [-0, '-0'],
    [2 ** 53, '2^53'],
    [-(2 ** 53), '−2^53'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    ['\ud800', 'lone high surrogate'],
    ['a\udc00', 'lone low surrogate'],
    [undefined, 'undefined'],
    [1n, 'bigint'],
    [new Date(0), 'Date'],
    [new Map(), 'Map'],
    [new Uint8Array(1), 'Uint8Array'],
    [() => 1, 'function'],
    [[1, undefined], 'undefined item'],
    [{ a: undefined }, 'undefined member'],
    [{ ['\ud800']: 1 }, 'lone surrogate key'],
  ];
  for (const [v, why] of bad) {
    throwsCode(t, () => encodeValue(v), 'MALFORMED', `encodeValue: ${why}`);
    throwsCode(t, () => canonicalJson(v), 'MALFORMED', `canonicalJson: ${why}`);
  }
  // eslint-disable-next-line no-sparse-arrays
  throwsCode(t, () => encodeValue([1, , 2]), 'MALFORMED', 'array hole', 'hole');
  throwsCode(t, () => encodeValue({ a: { b: [1.25] } }, 'payload'), 'MALFORMED', 'the path is named', 'payload.a.b[0]');
});

t.test('depth limit: 16 levels accepted, 17 rejected, everywhere', async (t) => {
  const nest = (d: number): JsonValue => (d === 0 ? 1 : d % 2 ? [nest(d - 1)] : { k: nest(d - 1) });
  const ok = nest(VALUE_LIMITS.maxDepth);
  const deep = nest(VALUE_LIMITS.maxDepth + 1);
  t.same(decodeValue(encodeValue(ok)), ok);
  t.same(parseCanonicalJson(canonicalJson(ok)), ok);
  throwsCode(t, () => encodeValue(deep), 'TOO_LARGE', 'encodeValue');
  throwsCode(t, () => canonicalJson(deep), 'TOO_LARGE', 'canonicalJson');
  throwsCode(t, () => parseCanonicalJson('['.repeat(17) + ']'.repeat(17)), 'TOO_LARGE', 'parser');
  // An attacker's 1M-deep text fails at depth 17, not with a stack overflow.
  throwsCode(t, () => parseCanonicalJson('['.repeat(1_000_000)), 'TOO_LARGE', 'parser, 1M brackets');
  const enc17 = new Uint8Array(5 * 17 + 1);
  for (let i = 0; i < 17; i++) enc17.set([0x04, 0, 0, 0, 1], 5 * i);
  throwsCode(t, () => decodeValue(enc17), 'TOO_LARGE', 'decodeValue');
});

t.test('size limits: 4 MiB of encoding and 4 MiB of JSON, checked before allocating', async (t) => {
  // A realistic large ballot: 1024 branches × 3 values of 1024 hex digits ≈ 3 MiB.
  const hex1k = 'ab'.repeat(512);
  const ballot = { branches: Array.from({ length: 1024 }, () => ({ c: hex1k, e: hex1k, z: hex1k })) };
  const started = performance.now();
  const enc = encodeValue(ballot);
  t.ok(enc.length > 3_000_000 && enc.length <= VALUE_LIMITS.maxEncodedBytes, `3 MiB ballot accepted (${enc.length} bytes)`);
  t.same(decodeValue(enc), ballot, 'and decodes back');
  t.comment(`encode + decode of a ${(enc.length / 2 ** 20).toFixed(1)} MiB ballot: ${(performance.now() - started).toFixed(0)} ms`);

  throwsCode(t, () => encodeValue('x'.repeat(VALUE_LIMITS.maxEncodedBytes)), 'TOO_LARGE', 'one 4 MiB string');
  throwsCode(t, () => encodeValue('x'.repeat(64 * 2 ** 20)), 'TOO_LARGE', 'a 64 MiB string is refused before UTF-8 encoding');
  throwsCode(t, () => encodeValue(new Array(5_000_000).fill(null)), 'TOO_LARGE', '5M nulls: the count alone exceeds the budget');
  // 1 MiB of control characters is 1 MiB encoded but 6 MiB of JSON (\u0001 each).
  throwsCode(t, () => encodeValue('\u0001'.repeat(2 ** 20)), 'TOO_LARGE', 'JSON text over 4 MiB', 'canonical JSON');
  t.ok(encodeValue('\u0001'.repeat(600_000)).length > 0, '600 k control characters (3.6 MB of JSON) accepted');

  // Decoding: a count larger than the bytes left is refused without allocating.
  throwsCode(t, () => decodeValue(parseHex('04ffffffff', 'x', 5)), 'MALFORMED', 'array count 2^32 − 1');
  throwsCode(t, () => decodeValue(parseHex('05ffffffff', 'x', 5)), 'MALFORMED', 'object count 2^32 − 1');
  throwsCode(t, () => decodeValue(parseHex('03ffffffff', 'x', 5)), 'MALFORMED', 'string length 2^32 − 1');
  throwsCode(t, () => decodeValue(new Uint8Array(VALUE_LIMITS.maxEncodedBytes + 1)), 'TOO_LARGE', 'input over 4 MiB');
});

t.test('decoding accepts the canonical encoding only', async (t) => {
  const bad: [string, string][] = [
    ['', 'empty'],
    ['06', 'unknown tag'],
    ['0102', 'boolean byte 02'],
    ['0020', 'trailing byte'],
    ['02002000000000000000', 'integer 2^53'],
    ['02ffe0000000000000', 'integer −2^53'],
    ['0200000000', 'truncated integer'],
    ['0300000001ff', 'invalid UTF-8'],
    ['0300000002c080', 'overlong UTF-8'],
    ['0300000003eda080', 'UTF-8-encoded surrogate'],
    ['050000000200000001620000000001610' + '0', 'keys out of order'],
    ['0500000002000000016100000000016100', 'duplicate key'],
    ['0400000002' + '00', 'missing item'],
  ];
  for (const [h, why] of bad) throwsCode(t, () => decodeValue(parseHex(h, why, h.length / 2)), 'MALFORMED', why);
});

t.test('round trips over seeded random values', async (t) => {
  const rng = seeded('board-value-roundtrip');
  const pick = (n: number): number => rng(4).reduce((a, b) => a * 256 + b, 0) % n;
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\u0001', '\u007f', 'é', '\u2028', '\uffff', '😀', '\ufeff'];
  const str = (): string => Array.from({ length: pick(6) }, () => alphabet[pick(alphabet.length)]!).join('');
  const gen = (depth: number): JsonValue => {
    switch (pick(depth >= 5 ? 4 : 6)) {
      case 0:
        return null;
      case 1:
        return pick(2) === 0;
      case 2: {
        const mags = [0, 1, 255, 2 ** 31, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER];
        const m = mags[pick(mags.length)]!;
        return pick(2) === 0 || m === 0 ? m : -m;
      }
      case 3:
        return str();
      case 4:
        return Array.from({ length: pick(4) }, () => gen(depth + 1));
      default: {
        const o: Record<string, JsonValue> = {};
        for (let i = pick(4); i > 0; i--) o[str()] = gen(depth + 1);
        return o;
      }
    }
  };
  const failures: string[] = [];
  for (let i = 0; i < 300; i++) {
    const v = gen(0);
    const enc = encodeValue(v);
    const text = canonicalJson(v);
    const sameJson = (x: unknown): boolean => isDeepStrictEqual(x, v); // key order does not matter
    if (!sameJson(decodeValue(enc))) failures.push(`#${i} decode(encode(v))`);
    if (toHex(encodeValue(decodeValue(enc))) !== toHex(enc)) failures.push(`#${i} encoding is not a fixed point`);
    if (!sameJson(parseCanonicalJson(text)) || canonicalJson(parseCanonicalJson(text)) !== text) failures.push(`#${i} parse(canonicalJson(v))`);
    if (!sameJson(JSON.parse(text))) failures.push(`#${i} the text is not ordinary JSON for v`);
  }
  t.same(failures, [], '300 random values round-trip through both forms');
});
