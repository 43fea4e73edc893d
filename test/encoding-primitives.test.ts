/**
 * The primitives everything is built on: big-integer arithmetic (spec §1.1), the canonical
 * encoder (§1.2), the JSON wire form (§1.3) and the tag table (§1.4). Known answers are written
 * out byte for byte so that an independent implementation can compare.
 */
import t from 'tap';
import { bitLength, byteLength, fromBytesBE, gcd, modInv, modPow, randomBelow, randomUnit, toBytesBE } from '../src/crypto/bigint.js';
import { canonical } from '../src/canonical.js';
import { TAGS, SPEC_VERSION, hashTagged, transcript, bytesEqual } from '../src/crypto/hash.js';
import { hexToInt, intToHex, parseHex, toHex } from '../src/wire.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { throwsCode } from './helpers/assert.js';
import { seededRng } from './helpers/fixtures.js';

function naivePow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

t.test('modPow agrees with square-and-multiply for every window width', async (t) => {
  const rng = seededRng('modpow');
  const m = fromBytesBE(rng(64)) | 1n;
  for (const bits of [0, 1, 2, 31, 33, 100, 129, 300, 513, 1000, 1537, 2048]) {
    const e = bits === 0 ? 0n : fromBytesBE(rng(Math.ceil(bits / 8) + 1)) % (1n << BigInt(bits)) | (1n << BigInt(bits - 1));
    const b = fromBytesBE(rng(64));
    t.equal(modPow(b, e, m), naivePow(b, e, m), `exponent of ${bits} bits`);
  }
  t.equal(modPow(5n, 3n, 1n), 0n, 'mod 1');
  t.equal(modPow(-2n, 3n, 7n), 6n, 'negative base reduced first');
  t.throws(() => modPow(2n, -1n, 7n), RangeError);
});

t.test('modInv, gcd, byte conversions', async (t) => {
  t.equal(modInv(3n, 7n), 5n);
  t.equal(modInv(-3n, 7n), 2n);
  t.throws(() => modInv(6n, 9n), RangeError, 'not invertible');
  t.equal(gcd(12n, -18n), 6n);
  t.same([...toBytesBE(258n, 4)], [0, 0, 1, 2]);
  t.equal(fromBytesBE(Uint8Array.of(0, 0, 1, 2)), 258n);
  t.equal(fromBytesBE(new Uint8Array(0)), 0n);
  t.throws(() => toBytesBE(256n, 1), RangeError, 'does not fit');
  t.throws(() => toBytesBE(-1n, 4), RangeError, 'negative');
  t.equal(bitLength(0n), 0);
  t.equal(bitLength(255n), 8);
  t.equal(byteLength(0n), 1);
  t.equal(byteLength(256n), 2);
});

t.test('property: sampling stays in range', async (t) => {
  const rng = seededRng('sampling');
  for (const bound of [1n, 2n, 3n, 255n, 256n, 257n, (1n << 130n) + 5n]) {
    for (let i = 0; i < 50; i++) {
      const x = randomBelow(bound, rng);
      if (x < 0n || x >= bound) t.fail(`randomBelow(${bound}) gave ${x}`);
    }
  }
  for (let i = 0; i < 50; i++) {
    const u = randomUnit(15n, rng);
    if (u <= 0n || u >= 15n || gcd(u, 15n) !== 1n) t.fail(`randomUnit(15) gave ${u}`);
  }
  t.pass('all samples in range');
});

t.test('canonical encoder: known bytes (spec §1.2)', async (t) => {
  const bytes = canonical()
    .u8(7)
    .u32(0x01020304)
    .u64(2 ** 40 + 5)
    .bool(true)
    .int(0x0abcn, 3)
    .bytes(Uint8Array.of(9, 8))
    .str('é')
    .list([1, 2], (w, x) => w.u8(x))
    .finish();
  t.equal(
    toHex(bytes),
    '07' + '01020304' + '0000010000000005' + '01' + '000abc' + '00000002' + '0908' + '00000002' + 'c3a9' + '00000002' + '0102',
  );
  t.throws(() => canonical().u32(2 ** 32), RangeError);
  t.throws(() => canonical().u64(-1), RangeError);
  t.throws(() => canonical().str('\ud800'), RangeError, 'lone surrogate has no UTF-8 form');
  t.throws(() => canonical().fixed(new Uint8Array(3), 4), RangeError);
});

t.test('tagged hash: H(tag, body) = SHA-256(STR(tag) ‖ body) (spec §1.4)', async (t) => {
  const body = Uint8Array.of(1, 2, 3);
  const expected = sha256(canonical().str(TAGS.tracker).fixed(body).finish());
  t.ok(bytesEqual(hashTagged(TAGS.tracker, body), expected));
  t.ok(bytesEqual(transcript(TAGS.tracker).fixed(body).digest(), expected), 'transcript builder agrees');
  t.equal(
    toHex(hashTagged(TAGS.fingerprint, new Uint8Array(0))),
    toHex(sha256(new Uint8Array([0, 0, 0, 33, ...new TextEncoder().encode('tallyboard/1/election-fingerprint')]))),
    'tag length prefix is U32 big-endian',
  );
  const tags = Object.values(TAGS);
  t.equal(new Set(tags).size, tags.length, 'every tag is unique');
  // A tag names the version that defined its input layout (spec §1.4): tallyboard/1/… layouts
  // are unchanged in tallyboard/2, a layout defined or changed later carries its own version.
  const current = Number(SPEC_VERSION.split('/')[1]);
  for (const tag of tags) {
    const m = /^tallyboard\/(\d+)\/[a-z-]+$/.exec(tag);
    t.ok(m && Number(m[1]) >= 1 && Number(m[1]) <= current, `${tag} is versioned`);
  }
});

t.test('wire hex: one form per value (spec §1.3)', async (t) => {
  t.equal(intToHex(10n, 2), '000a');
  t.equal(hexToInt('000a', 2, 'x'), 10n);
  throwsCode(t, () => hexToInt('0A', 1, 'x'), 'MALFORMED', 'upper case');
  throwsCode(t, () => hexToInt('a', 1, 'x'), 'MALFORMED', 'short');
  throwsCode(t, () => hexToInt('000a', 1, 'x'), 'MALFORMED', 'long (leading zeros)');
  throwsCode(t, () => hexToInt('0x0a', 2, 'x'), 'MALFORMED', '0x prefix');
  throwsCode(t, () => hexToInt(10, 1, 'x'), 'MALFORMED', 'a number');
  throwsCode(t, () => parseHex('abc', 'x'), 'MALFORMED', 'odd length');
  throwsCode(t, () => parseHex('ab'.repeat(11), 'x', undefined, 10), 'MALFORMED', 'above the maximum length');
  t.same([...parseHex('', 'x')], []);
});
