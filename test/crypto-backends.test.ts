/**
 * One verifier, two back ends (issue 12.3, spec §1.4 and §7.3): on Node, SHA-256 and the
 * Ed25519 equation run in OpenSSL (`node:crypto`); in a browser, in @noble. These tests run the
 * same cases through both and require the same verdict on every one: the published Ed25519
 * negative vectors, mixed-order keys and R, small-order points, non-canonical encodings,
 * S ≥ L, and a property test of random signatures with random single-bit damage.
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ed25519, ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { ed25519KeyPair, ed25519Sign, ed25519SignNative, ed25519Verify, ed25519VerifyNative, ed25519VerifyPortable } from '../src/crypto/ed25519.js';
import { nativeCrypto, nativeSha256 } from '../src/crypto/native.js';
import { sha256, sha256Portable } from '../src/crypto/hash.js';
import { mixedOrderKeyAndSignature, signWithTorsionR, torsionPoint8 } from './helpers/ed25519-mixed.js';
import { parseHex } from '../src/wire.js';

const native = nativeCrypto;
if (!native) throw new Error('these tests run on Node, where node:crypto must be found');

type Verify = (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean;
const portable: Verify = ed25519VerifyPortable;
const openssl: Verify = (s, m, p) => ed25519VerifyNative(native, s, m, p);

/** Both back ends on one case: the same verdict, and the expected one. */
function agree(t: Test, sig: Uint8Array, msg: Uint8Array, pk: Uint8Array, expected: boolean, what: string): void {
  const a = portable(sig, msg, pk);
  const b = openssl(sig, msg, pk);
  t.equal(a, b, `${what}: both back ends agree`);
  t.equal(a, expected, `${what}: ${expected ? 'accepted' : 'refused'}`);
}

const seed = new Uint8Array(32).fill(7);
const msg = new TextEncoder().encode('tallyboard: one verifier, two back ends');

t.test('the default back end on Node is node:crypto', async (t) => {
  t.ok(nativeCrypto, 'node:crypto found through process.getBuiltinModule');
  const kp = ed25519KeyPair(seed);
  t.ok(ed25519Verify(ed25519Sign(msg, kp.secretKey), msg, kp.publicKey));
});

t.test('Ed25519 negative vectors: the same verdict from both back ends', async (t) => {
  const negative = JSON.parse(readFileSync(new URL('./vectors/tallyboard-v2-negative.json', import.meta.url), 'utf8')) as {
    ed25519: { description: string; publicKey: string; signature: string; message: string; valid: boolean }[];
  };
  t.ok(negative.ed25519.length >= 8);
  for (const v of negative.ed25519) {
    const hex = (h: string) => parseHex(h, 'vector', h.length / 2);
    if (v.publicKey.length !== 64 || v.signature.length !== 128) continue; // shape cases: no equation to compare
    agree(t, hex(v.signature), hex(v.message), hex(v.publicKey), v.valid, v.description);
  }
});

t.test('mixed-order R and A, small-order points, identity R, S + L, non-canonical R', async (t) => {
  const kp = ed25519KeyPair(seed);
  const sig = ed25519Sign(msg, kp.secretKey);
  agree(t, sig, msg, kp.publicKey, true, 'honest');
  agree(t, signWithTorsionR(seed, msg), msg, kp.publicKey, false, 'R + T (order 8 component)');
  const mixed = mixedOrderKeyAndSignature(seed, msg);
  agree(t, mixed.signature, msg, mixed.publicKey, false, 'A + T with a signature both RFC equations accept');

  // Every small-order point as R and as A.
  for (const hex of ED25519_TORSION_SUBGROUP) {
    const T = parseHex(hex, 'T', 32);
    const r = sig.slice();
    r.set(T, 0);
    agree(t, r, msg, kp.publicKey, false, `small-order R ${hex.slice(0, 8)}…`);
    agree(t, sig, msg, T, false, `small-order A ${hex.slice(0, 8)}…`);
  }

  // S + L: the same equation, a second byte form.
  const bigS = sig.slice();
  let x = 0n;
  for (let i = 63; i >= 32; i--) x = (x << 8n) | BigInt(sig[i]!);
  x += ed25519.Point.CURVE().n;
  for (let i = 32; i < 64; i++) {
    bigS[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  agree(t, bigS, msg, kp.publicKey, false, 'S + L');

  // R with y replaced by y + p (when it fits in 255 bits): the same point, a non-canonical form.
  const p = 2n ** 255n - 19n;
  for (let i = 0; i < 64; i++) {
    const s2 = ed25519Sign(new Uint8Array([i]), kp.secretKey);
    let y = 0n;
    for (let j = 31; j >= 0; j--) y = (y << 8n) | BigInt(j === 31 ? s2[j]! & 0x7f : s2[j]!);
    if (y + p >= 2n ** 255n) continue;
    const yy = y + p;
    const r = s2.slice();
    let z = yy;
    for (let j = 0; j < 32; j++) {
      r[j] = Number(z & 0xffn);
      z >>= 8n;
    }
    r[31] = (r[31]! & 0x7f) | (s2[31]! & 0x80);
    agree(t, r, new Uint8Array([i]), kp.publicKey, false, 'R with y + p (non-canonical)');
  }

  // The identity as R with a crafted S: [S]B = [k]A is unreachable, but the encoding is refused first.
  const idR = sig.slice();
  idR.set(ed25519.Point.ZERO.toBytes(), 0);
  agree(t, idR, msg, kp.publicKey, false, 'R = identity');
  // A torsion point added to R with the RFC's nonce: the cofactorless equation fails.
  const tR = sig.slice();
  tR.set(ed25519.Point.fromBytes(sig.subarray(0, 32)).add(torsionPoint8()).toBytes(), 0);
  agree(t, tR, msg, kp.publicKey, false, 'R + T with the same S');
});

t.test('property: random signatures and single-bit damage, the same verdict from both back ends', async (t) => {
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 150; i++) {
    const kp = ed25519KeyPair(randomBytes(32));
    const m = Uint8Array.from(randomBytes(i % 40)); // a plain array: a Buffer's slice() would be a view
    const sig = ed25519Sign(m, kp.secretKey);
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [[sig, m, kp.publicKey]];
    const bit = (b: Uint8Array) => {
      const c = b.slice();
      const k = (i * 131) % (c.length * 8);
      c[k >> 3]! ^= 1 << (k & 7);
      return c;
    };
    cases.push([bit(sig), m, kp.publicKey], [sig, m, bit(kp.publicKey)]);
    if (m.length > 0) cases.push([sig, bit(m), kp.publicKey]);
    for (const [s, mm, pk] of cases) {
      const a = portable(s, mm, pk);
      if (a !== openssl(s, mm, pk)) {
        t.fail(`back ends disagree on case ${i}`);
        return;
      }
      if (a) accepted++;
      else refused++;
    }
  }
  t.equal(accepted, 150, 'every undamaged signature is accepted');
  t.ok(refused >= 150 * 2, 'damaged ones are refused');
});

t.test('Ed25519 signing: node:crypto returns the bytes of RFC 8032 (the RFC vector, random seeds and messages)', async (t) => {
  // RFC 8032 §7.1, TEST 2 (one-byte message 0x72).
  const rfcSeed = parseHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', 'seed', 32);
  const rfcSig = '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00';
  t.equal(Buffer.from(ed25519SignNative(native, Uint8Array.of(0x72), rfcSeed)).toString('hex'), rfcSig, 'RFC 8032 TEST 2');
  for (let i = 0; i < 200; i++) {
    const s = new Uint8Array(randomBytes(32));
    const m = new Uint8Array(randomBytes(i));
    const a = ed25519SignNative(native, m, s);
    if (!Buffer.from(a).equals(Buffer.from(ed25519.sign(m, s)))) {
      t.fail(`seed ${Buffer.from(s).toString('hex')}, message of ${i} bytes: the back ends differ`);
      return;
    }
  }
  t.pass('200 random seeds and messages: identical signatures');
  // A seed changed in place is never signed with under its old key.
  const k = new Uint8Array(32).fill(1);
  const before = ed25519SignNative(native, msg, k);
  k[0] = 2;
  t.same(ed25519SignNative(native, msg, k), ed25519.sign(msg, k), 'the key follows the seed bytes, not the array');
  t.not(Buffer.from(before).toString('hex'), Buffer.from(ed25519SignNative(native, msg, k)).toString('hex'));
});

t.test('SHA-256: node:crypto and @noble give the same digests', async (t) => {
  t.equal(Buffer.from(sha256()).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'FIPS 180-4: empty input');
  t.equal(Buffer.from(sha256(new TextEncoder().encode('abc'))).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'FIPS 180-4: "abc"');
  for (let i = 0; i < 200; i++) {
    const parts = [randomBytes(i), randomBytes((i * 37) % 300), randomBytes(i % 3 === 0 ? 70_000 : 5)];
    t.same(nativeSha256(native, parts), sha256Portable(...parts), `parts ${parts.map((p) => p.length).join('+')}`);
  }
  const d = sha256(new Uint8Array([1]));
  t.equal(Object.getPrototypeOf(d), Uint8Array.prototype, 'a plain Uint8Array, not a Buffer view');
});
