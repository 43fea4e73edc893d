/**
 * Tests of RSA blind signatures (src/crypto/blind-rsa.ts, spec/07-tokens.md §7.1).
 *
 * Three layers: the four RFC 9474 known-answer vectors reproduced byte for byte (the two
 * PSSZERO ones through the sLen-parameterized `_` functions), round trips with fresh keys, and
 * generated negative vectors, each naming the exact reason or error code it must produce. A
 * negative case that fails for another reason fails the test: "some error" is not enough.
 */
import t from 'tap';
import { generatePrimeSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonical } from '../src/canonical.js';
import { isTallyError, type ErrorCode } from '../src/errors.js';
import { bitLength, byteLength, fromBytesBE, gcd, modInv, toBytesBE } from '../src/crypto/bigint.js';
import {
  _blind,
  _emsaPssEncode,
  _emsaPssVerify,
  _finalize,
  _verifyDetailed,
  blind,
  blindRsaPublicKeyFromJson,
  blindRsaPublicKeyOf,
  blindRsaPublicKeyToJson,
  blindRsaSecretKeyFromJson,
  blindRsaSecretKeyToJson,
  blindSign,
  encodeBlindRsaPublicKey,
  finalize,
  prepare,
  validateBlindRsaPublicKey,
  validateBlindRsaSecretKey,
  verify,
  verifyDetailed,
  type BlindRsaPublicKey,
  type BlindRsaSecretKey,
  type BlindRsaVerifyFailure,
} from '../src/crypto/blind-rsa.js';
import { generateBlindRsaKey } from '../src/crypto/blind-rsa-keygen.js';
import { parseHex, toHex } from '../src/wire.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface Rfc9474Vector {
  name: string;
  p: string;
  q: string;
  n: string;
  e: string;
  d: string;
  msg: string;
  msg_prefix: string;
  input_msg: string;
  sLen: string;
  salt: string;
  encoded_msg?: string;
  is_randomized: string;
  inv: string;
  blinded_msg: string;
  blind_sig: string;
  sig: string;
}

const VECTORS = JSON.parse(
  readFileSync(new URL('./vectors/rfc9474.json', import.meta.url), 'utf8'),
) as Rfc9474Vector[];

/** The vector file writes integers as "0x…" and byte strings as bare hex. */
const int = (s: string): bigint => BigInt(s.startsWith('0x') ? s : `0x${s}`);
const bytes = (s: string): Uint8Array => parseHex(s, 'vector');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The assertions the helpers use; both the root `t` and subtests have them. */
type Tap = Pick<typeof t, 'ok' | 'fail' | 'same' | 'match'>;

/** Assert that fn throws a TallyError with exactly this code (and a message matching `rule`). */
function throwsCode(tt: Tap, fn: () => unknown, code: ErrorCode, what: string, rule?: RegExp): void {
  try {
    fn();
  } catch (err) {
    tt.ok(isTallyError(err, code), `${what}: ${code}`, { found: err });
    if (rule !== undefined) tt.match((err as Error).message, rule, `${what}: the rule named`);
    return;
  }
  tt.fail(`${what}: expected ${code}, nothing was thrown`);
}

/** Assert that verification fails for exactly this reason. */
function failsWith(tt: Tap, got: ReturnType<typeof verifyDetailed>, reason: BlindRsaVerifyFailure, what: string): void {
  tt.same(got, { valid: false, reason }, `${what}: ${reason}`);
}

/** Copy of b with bit `bit` of byte `i` flipped. */
function flip(b: Uint8Array, i: number, bit = 0): Uint8Array {
  const c = Uint8Array.from(b);
  c[i] = c[i]! ^ (1 << bit);
  return c;
}

/** A fixed-output rng, for the prefix of prepare. */
const fixedRng = (out: Uint8Array) => (len: number) => {
  if (len !== out.length) throw new Error(`fixedRng: asked ${len} bytes, holds ${out.length}`);
  return Uint8Array.from(out);
};

// The EMSA-PSS reasons: a signature that is a valid RSA integer but a wrong encoding.
const ENCODING_REASONS: readonly BlindRsaVerifyFailure[] = ['trailer', 'leftmost-bits', 'padding', 'hash-mismatch'];

// ---------------------------------------------------------------------------------------------
// RFC 9474 Appendix A: the four known-answer vectors
// ---------------------------------------------------------------------------------------------

t.test('RFC 9474 test vectors, byte for byte', async (t) => {
  t.equal(VECTORS.length, 4, 'four vectors');
  for (const v of VECTORS) {
    t.test(v.name, async (t) => {
      const sk = validateBlindRsaSecretKey({ n: int(v.n), e: int(v.e), d: int(v.d), p: int(v.p), q: int(v.q) });
      const pk = blindRsaPublicKeyOf(sk);
      const sLen = Number(int(v.sLen));
      const randomized = int(v.is_randomized) === 1n;
      const msg = bytes(v.msg);
      const salt = bytes(v.salt);
      const inv = int(v.inv);
      const inputMsg = bytes(v.input_msg);
      t.equal(bitLength(pk.n), 4096, 'the vectors use a 4096-bit key');
      t.equal(salt.length, sLen, 'salt length = sLen');

      // Prepare: input_msg = msg_prefix ‖ msg.
      if (randomized) {
        const prep = prepare(msg, fixedRng(bytes(v.msg_prefix)));
        t.equal(toHex(prep.prefix), v.msg_prefix, 'prepare returns the prefix');
        t.equal(toHex(prep.inputMsg), v.input_msg, 'prepare: input_msg');
      } else {
        t.equal(v.msg_prefix, '', 'deterministic: empty prefix');
        t.equal(v.input_msg, v.msg, 'deterministic: input_msg = msg');
      }

      // EMSA-PSS-ENCODE (when the vector publishes encoded_msg), emBits = modBits − 1.
      const em = _emsaPssEncode(inputMsg, bitLength(pk.n) - 1, salt);
      if (v.encoded_msg !== undefined) t.equal(toHex(em), v.encoded_msg, 'encoded_msg');
      t.same(_emsaPssVerify(inputMsg, em, bitLength(pk.n) - 1, sLen), { valid: true }, 'EMSA-PSS-VERIFY accepts EM');

      // Blind, from the published salt and inv, and equally from r = inv^(−1).
      const b = sLen === 48 ? blind(pk, inputMsg, { salt, inv }) : _blind(pk, inputMsg, sLen, { salt, inv });
      t.equal(toHex(b.blindedMsg), v.blinded_msg, 'blinded_msg');
      t.equal(b.inv, inv, 'inv returned unchanged');
      const b2 = _blind(pk, inputMsg, sLen, { salt, r: modInv(inv, pk.n) });
      t.equal(toHex(b2.blindedMsg), v.blinded_msg, 'blinded_msg from r');
      t.equal(b2.inv, inv, 'inv computed from r');

      // BlindSign (independent of sLen).
      t.equal(toHex(blindSign(sk, bytes(v.blinded_msg))), v.blind_sig, 'blind_sig');

      // Finalize and Verify.
      const sig =
        sLen === 48
          ? finalize(pk, inputMsg, bytes(v.blind_sig), inv)
          : _finalize(pk, inputMsg, bytes(v.blind_sig), inv, sLen);
      t.equal(toHex(sig), v.sig, 'sig');
      t.same(_verifyDetailed(pk, inputMsg, bytes(v.sig), sLen), { valid: true }, 'sig verifies with its sLen');
      if (sLen === 48) {
        t.equal(verify(pk, inputMsg, bytes(v.sig)), true, 'public verify: true');
      } else {
        // The public API fixes sLen = 48: a PSSZERO signature has 0x01 where a salt should start.
        failsWith(t, verifyDetailed(pk, inputMsg, bytes(v.sig)), 'padding', 'PSSZERO sig under the PSS API');
        throwsCode(t, () => finalize(pk, inputMsg, bytes(v.blind_sig), inv), 'BAD_TOKEN', 'PSSZERO finalize under PSS');
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Round trips with fresh keys (generated once for the file)
// ---------------------------------------------------------------------------------------------

const sk2048 = generateBlindRsaKey(2048);
const pk2048 = blindRsaPublicKeyOf(sk2048);
const otherSk = generateBlindRsaKey(2048);

/**
 * A key whose bit length is ≡ 1 (mod 8), so emLen = len(n) − 1: EM is one byte shorter than the
 * signature (RFC 8017 §8.1.2 step 2c). OpenSSL will not make one (odd sizes come out one bit
 * short), so it is assembled here from two primes.
 */
function keyWithBits(bits: number): BlindRsaSecretKey {
  const e = 65537n;
  for (;;) {
    const p = generatePrimeSync(Math.ceil(bits / 2), { bigint: true });
    const q = generatePrimeSync(Math.floor(bits / 2), { bigint: true });
    const n = p * q;
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
    if (p === q || bitLength(n) !== bits || gcd(e, lambda) !== 1n) continue;
    return validateBlindRsaSecretKey({ n, e, d: modInv(e, lambda), p, q });
  }
}

/** The whole protocol, client and signer, on one message. */
function roundTrip(sk: BlindRsaSecretKey, msg: Uint8Array) {
  const pk = blindRsaPublicKeyOf(sk);
  const { inputMsg, prefix } = prepare(msg);
  const { blindedMsg, inv } = blind(pk, inputMsg);
  const blindSig = blindSign(sk, blindedMsg);
  const sig = finalize(pk, inputMsg, blindSig, inv);
  return { pk, inputMsg, prefix, blindedMsg, blindSig, inv, sig };
}

t.test('round trip with a fresh 2048-bit key', async (t) => {
  t.equal(bitLength(sk2048.n), 2048, 'generateBlindRsaKey(2048) gives 2048 bits');
  t.equal(sk2048.e, 65537n, 'e = 65537');
  const msg = utf8('tallyboard token message');
  const r = roundTrip(sk2048, msg);
  t.equal(r.prefix.length, 32, '32-byte prefix');
  t.same(r.inputMsg.subarray(32), msg, 'inputMsg = prefix ‖ msg');
  t.equal(r.blindedMsg.length, 256, 'blindedMsg is len(n)');
  t.equal(r.blindSig.length, 256, 'blindSig is len(n)');
  t.equal(r.sig.length, 256, 'sig is len(n)');
  t.equal(verify(pk2048, r.inputMsg, r.sig), true, 'verify');
  t.same(verifyDetailed(pk2048, r.inputMsg, r.sig), { valid: true }, 'verifyDetailed');

  const again = roundTrip(sk2048, msg);
  t.not(toHex(again.prefix), toHex(r.prefix), 'a fresh prefix each time');
  t.not(toHex(again.blindedMsg), toHex(r.blindedMsg), 'a fresh blinding each time');
  t.equal(verify(pk2048, again.inputMsg, again.sig), true, 'second signature verifies');

  const empty = roundTrip(sk2048, new Uint8Array(0));
  t.equal(verify(pk2048, empty.inputMsg, empty.sig), true, 'empty message');
});

t.test('round trip with a 2057-bit key (emLen = len(n) − 1)', async (t) => {
  const sk = keyWithBits(2057);
  t.equal(byteLength(sk.n), 258, 'len(n) = 258');
  const r = roundTrip(sk, utf8('odd size'));
  t.equal(r.sig.length, 258, 'sig is len(n)');
  t.equal(verify(r.pk, r.inputMsg, r.sig), true, 'verifies');
  // m = 256^(len(n) − 1) < n: a valid RSA integer that does not fit in emLen bytes.
  const k = byteLength(sk.n);
  const sigTooLarge = blindSign(sk, toBytesBE(1n << BigInt(8 * (k - 1)), k));
  failsWith(t, verifyDetailed(r.pk, r.inputMsg, sigTooLarge), 'em-too-large', 'I2OSP(m, emLen) fails');
});

t.test('keys: JSON and canonical encodings', async (t) => {
  const json = blindRsaPublicKeyToJson(pk2048);
  t.equal(json.n.length, 512, 'n: 2·len(n) hex digits');
  t.equal(json.e, '00010001', 'e: 4 bytes');
  t.same(blindRsaPublicKeyFromJson(json), pk2048, 'public key JSON round trip');

  const skJson = blindRsaSecretKeyToJson(sk2048);
  for (const f of ['d', 'p', 'q'] as const) t.equal(skJson[f].length, 512, `${f}: len(n) bytes`);
  t.same(blindRsaSecretKeyFromJson(skJson), sk2048, 'secret key JSON round trip');
  t.same(Object.keys(JSON.parse(JSON.stringify(skJson))).sort(), ['d', 'e', 'n', 'p', 'q'], 'fields');

  const enc = encodeBlindRsaPublicKey(canonical(), pk2048).finish();
  const expected = toHex(Uint8Array.of(0, 0, 1, 0)) + json.n + '00010001';
  t.equal(toHex(enc), expected, 'U32(L) ‖ INT(n, L) ‖ INT(e, 4)');
  t.equal(enc.length, 4 + 256 + 4, 'canonical length');

  const v = VECTORS[0]!;
  const big = blindRsaPublicKeyFromJson({ n: v.n.slice(2), e: '00010001' });
  t.equal(encodeBlindRsaPublicKey(canonical(), big).finish().length, 4 + 512 + 4, '4096-bit key encoding length');
});

// ---------------------------------------------------------------------------------------------
// Negative vectors: verify
// ---------------------------------------------------------------------------------------------

t.test('verify rejects, with the exact reason', async (t) => {
  const r = roundTrip(sk2048, utf8('ballot token'));
  const { inputMsg, sig } = r;
  const n = pk2048.n;
  const k = byteLength(n);

  // A flipped bit in sig: s' is still < n, but s'^e is a random integer, not a PSS encoding.
  for (const [i, bit] of [[k - 1, 0], [0, 0], [100, 5]] as const) {
    const bad = flip(sig, i, bit);
    t.equal(verify(pk2048, inputMsg, bad), false, `bit ${bit} of byte ${i} flipped: false`);
    const res = verifyDetailed(pk2048, inputMsg, bad);
    t.ok(!res.valid && ENCODING_REASONS.includes(res.reason), 'fails in EMSA-PSS-VERIFY', { res });
  }

  failsWith(t, verifyDetailed(pk2048, inputMsg, sig.subarray(0, k - 1)), 'sig-length', 'truncated sig');
  failsWith(t, verifyDetailed(pk2048, inputMsg, Uint8Array.of(...sig, 0)), 'sig-length', 'trailing garbage');
  failsWith(t, verifyDetailed(pk2048, inputMsg, Uint8Array.of(0, ...sig)), 'sig-length', 'leading zero byte');
  failsWith(t, verifyDetailed(pk2048, inputMsg, new Uint8Array(0)), 'sig-length', 'empty sig');
  t.equal(verify(pk2048, inputMsg, sig.subarray(1)), false, 'wrong length: verify false');

  failsWith(t, verifyDetailed(pk2048, inputMsg, toBytesBE(n, k)), 'sig-range', 'sig = n');
  failsWith(t, verifyDetailed(pk2048, inputMsg, new Uint8Array(k).fill(0xff)), 'sig-range', 'sig = 256^k − 1');
  t.equal(verify(pk2048, inputMsg, toBytesBE(n + 1n, k)), false, 'sig ≥ n: verify false');

  // The encoding is intact; only Hash(M) differs.
  failsWith(t, verifyDetailed(pk2048, utf8('ballot token'), sig), 'hash-mismatch', 'message without its prefix');
  failsWith(t, verifyDetailed(pk2048, flip(inputMsg, 40), sig), 'hash-mismatch', 'one bit of the message');
  failsWith(t, verifyDetailed(pk2048, flip(inputMsg, 0), sig), 'hash-mismatch', 'one bit of the prefix');
  t.equal(verify(pk2048, Uint8Array.of(...inputMsg, 0), sig), false, 'wrong message: verify false');

  // Another key of the same size.
  const otherPk = blindRsaPublicKeyOf(otherSk);
  t.equal(verify(otherPk, inputMsg, sig), false, 'another key: verify false');
  const res = verifyDetailed(otherPk, inputMsg, sig);
  t.ok(!res.valid && (res.reason === 'sig-range' || ENCODING_REASONS.includes(res.reason)), 'another key', { res });

  // Bad arguments never throw.
  failsWith(t, verifyDetailed({ n: n * 2n, e: 65537n }, inputMsg, sig), 'bad-public-key', 'even n');
  failsWith(t, verifyDetailed({ n, e: 3n }, inputMsg, sig), 'bad-public-key', 'e = 3');
  failsWith(t, verifyDetailed(null as unknown as BlindRsaPublicKey, inputMsg, sig), 'bad-public-key', 'null key');
  failsWith(t, verifyDetailed(pk2048, 'text' as unknown as Uint8Array, sig), 'bad-input', 'string message');
  failsWith(t, verifyDetailed(pk2048, inputMsg, toHex(sig) as unknown as Uint8Array), 'bad-input', 'hex sig');
  t.equal(verify(pk2048, inputMsg, undefined as unknown as Uint8Array), false, 'undefined sig: false');
});

t.test('EMSA-PSS-VERIFY: each check, on signed malformed encodings', async (t) => {
  // The RFC key signs crafted EMs (blindSign is raw RSA: z^d), so that each encoding check of
  // verify is reached through the whole RSASSA-PSS-VERIFY path, not only in isolation.
  const v = VECTORS.find((x) => x.name === 'RSABSSA-SHA384-PSS-Deterministic')!;
  const sk = validateBlindRsaSecretKey({ n: int(v.n), e: int(v.e), d: int(v.d), p: int(v.p), q: int(v.q) });
  const pk = blindRsaPublicKeyOf(sk);
  const inputMsg = bytes(v.input_msg);
  const emBits = bitLength(pk.n) - 1; // 4095
  const em = bytes(v.encoded_msg!);
  const emLen = em.length; // 512 = len(n)
  const dbLen = emLen - 48 - 1;
  const psLen = dbLen - 48 - 1;

  const cases: { what: string; em: Uint8Array; reason: BlindRsaVerifyFailure; viaRsa: boolean }[] = [
    { what: 'trailer 0xbc → 0xbd', em: flip(em, emLen - 1, 0), reason: 'trailer', viaRsa: true },
    { what: 'trailer 0xbc → 0x00', em: Uint8Array.of(...em.subarray(0, emLen - 1), 0), reason: 'trailer', viaRsa: true },
    // EM ≥ 2^4095 is also ≥ n for this key, so this one is checked on EM only.
    { what: 'leftmost bit set', em: flip(em, 0, 7), reason: 'leftmost-bits', viaRsa: false },
    { what: 'PS byte non-zero', em: flip(em, 1, 0), reason: 'padding', viaRsa: true },
    { what: 'last PS byte non-zero', em: flip(em, psLen - 1, 3), reason: 'padding', viaRsa: true },
    { what: '0x01 separator → 0x00', em: flip(em, psLen, 0), reason: 'padding', viaRsa: true },
    { what: '0x01 separator → 0x03', em: flip(em, psLen, 1), reason: 'padding', viaRsa: true },
    { what: 'salt byte changed', em: flip(em, dbLen - 1, 0), reason: 'hash-mismatch', viaRsa: true },
    { what: 'first salt byte changed', em: flip(em, psLen + 1, 7), reason: 'hash-mismatch', viaRsa: true },
    { what: 'H changed (unmasks DB to noise)', em: flip(em, dbLen, 0), reason: 'padding', viaRsa: true },
  ];
  t.same(_emsaPssVerify(inputMsg, em, emBits, 48), { valid: true }, 'the unmodified EM is valid');
  for (const c of cases) {
    failsWith(t, _emsaPssVerify(inputMsg, c.em, emBits, 48), c.reason, `EM: ${c.what}`);
    if (c.viaRsa) {
      const forged = blindSign(sk, c.em); // EM is len(n) bytes here and < n
      failsWith(t, verifyDetailed(pk, inputMsg, forged), c.reason, `signed: ${c.what}`);
    }
  }
  // leftmost-bits through RSA needs EM with its top bit set to stay below n: the 2048-bit key
  // (n ≥ 0xc0… as OpenSSL sets the top two bits of p and q) and a salt for which EM[0] < n[0] ⊕ 0x80.
  const k2 = byteLength(pk2048.n);
  const nTop = toBytesBE(pk2048.n, k2)[0]!;
  for (let i = 0; ; i++) {
    const em2 = _emsaPssEncode(inputMsg, bitLength(pk2048.n) - 1, new Uint8Array(48).fill(i));
    if ((em2[0]! | 0x80) >= nTop) continue;
    const forged = blindSign(sk2048, flip(em2, 0, 7));
    failsWith(t, verifyDetailed(pk2048, inputMsg, forged), 'leftmost-bits', 'signed: leftmost bit set');
    t.same(verifyDetailed(pk2048, inputMsg, blindSign(sk2048, em2)), { valid: true }, 'control: the same EM unflipped is valid');
    break;
  }

  const honest = blindSign(sk, em);
  t.equal(toHex(honest), v.sig, 'signing the untouched EM gives the RFC sig');

  // emLen < hLen + sLen + 2.
  const shortBits = 8 * (48 + 48 + 1);
  failsWith(t, _emsaPssVerify(inputMsg, new Uint8Array(97).fill(0xbc), shortBits, 48), 'em-too-short', 'EM too short');
  throwsCode(t, () => _emsaPssEncode(inputMsg, shortBits, new Uint8Array(48)), 'OUT_OF_RANGE', 'encode into too small an EM');
  failsWith(t, _emsaPssVerify(inputMsg, em.subarray(1), emBits, 48), 'bad-input', 'EM of the wrong length');
});

// ---------------------------------------------------------------------------------------------
// Negative vectors: blindSign, finalize, blind, prepare
// ---------------------------------------------------------------------------------------------

t.test('blindSign refuses bad input and faulty keys', async (t) => {
  const n = sk2048.n;
  const k = byteLength(n);
  throwsCode(t, () => blindSign(sk2048, toBytesBE(n, k)), 'OUT_OF_RANGE', 'z = n');
  throwsCode(t, () => blindSign(sk2048, toBytesBE(n + 1n, k)), 'OUT_OF_RANGE', 'z = n + 1');
  throwsCode(t, () => blindSign(sk2048, new Uint8Array(k).fill(0xff)), 'OUT_OF_RANGE', 'z = 256^k − 1');
  throwsCode(t, () => blindSign(sk2048, new Uint8Array(k - 1)), 'MALFORMED', 'blindedMsg too short');
  throwsCode(t, () => blindSign(sk2048, new Uint8Array(k + 1)), 'MALFORMED', 'blindedMsg too long');
  t.throws(() => blindSign(sk2048, 'ab' as unknown as Uint8Array), TypeError, 'not bytes: TypeError');

  // A "key" whose p is a product of two primes passes the algebraic checks (p·q = n and
  // e·d ≡ 1 mod lcm(p − 1, q − 1)) but RSA does not invert: the fault check must fire.
  let composite: BlindRsaSecretKey | undefined;
  while (composite === undefined) {
    const [p1, p2, q] = [0, 1, 2].map(() => generatePrimeSync(700, { bigint: true })) as [bigint, bigint, bigint];
    const p = p1 * p2;
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
    if (gcd(65537n, lambda) !== 1n) continue;
    composite = { n: p * q, e: 65537n, d: modInv(65537n, lambda), p, q };
  }
  const bad = validateBlindRsaSecretKey(composite); // passes the load-time checks
  const z = toBytesBE(123456789n, byteLength(bad.n));
  throwsCode(t, () => blindSign(bad, z), 'INTERNAL', 'signing failure: s^e ≠ z');
});

t.test('finalize refuses a corrupted blind signature', async (t) => {
  const { inputMsg, blindSig, inv } = roundTrip(sk2048, utf8('finalize me'));
  const k = byteLength(pk2048.n);
  throwsCode(t, () => finalize(pk2048, inputMsg, flip(blindSig, k - 1), inv), 'BAD_TOKEN', 'one bit of blindSig');
  throwsCode(t, () => finalize(pk2048, inputMsg, flip(blindSig, 7, 2), inv), 'BAD_TOKEN', 'another bit of blindSig');
  throwsCode(t, () => finalize(pk2048, inputMsg, blindSig, inv + 1n), 'BAD_TOKEN', 'wrong inv');
  throwsCode(t, () => finalize(pk2048, utf8('other'), blindSig, inv), 'BAD_TOKEN', 'wrong message');
  throwsCode(t, () => finalize(pk2048, inputMsg, blindSig.subarray(1), inv), 'MALFORMED', 'blindSig too short');
  throwsCode(t, () => finalize(pk2048, inputMsg, toBytesBE(pk2048.n, k), inv), 'OUT_OF_RANGE', 'blindSig = n');
  throwsCode(t, () => finalize(pk2048, inputMsg, blindSig, 0n), 'OUT_OF_RANGE', 'inv = 0');
  throwsCode(t, () => finalize(pk2048, inputMsg, blindSig, pk2048.n), 'OUT_OF_RANGE', 'inv = n');
  throwsCode(t, () => finalize({ n: pk2048.n, e: 3n }, inputMsg, blindSig, inv), 'BAD_PUBLIC_KEY', 'bad key');
  t.equal(verify(pk2048, inputMsg, finalize(pk2048, inputMsg, blindSig, inv)), true, 'the untouched one finalizes');
  try {
    finalize(pk2048, inputMsg, flip(blindSig, 0), inv);
  } catch (err) {
    t.ok(isTallyError(err, 'BAD_TOKEN') && typeof err.details?.['reason'] === 'string', 'BAD_TOKEN carries the reason');
  }
});

t.test('blind and prepare refuse bad input', async (t) => {
  const { inputMsg } = prepare(utf8('m'));
  const n = pk2048.n;
  throwsCode(t, () => blind(pk2048, inputMsg, { salt: new Uint8Array(47) }), 'MALFORMED', 'salt of 47 bytes');
  throwsCode(t, () => blind(pk2048, inputMsg, { salt: new Uint8Array(0) }), 'MALFORMED', 'empty salt');
  throwsCode(t, () => blind(pk2048, inputMsg, { inv: 0n }), 'OUT_OF_RANGE', 'inv = 0');
  throwsCode(t, () => blind(pk2048, inputMsg, { inv: n }), 'OUT_OF_RANGE', 'inv = n');
  throwsCode(t, () => blind(pk2048, inputMsg, { r: n + 1n }), 'OUT_OF_RANGE', 'r > n');
  throwsCode(t, () => blind(pk2048, inputMsg, { r: sk2048.p }), 'OUT_OF_RANGE', 'r not a unit (r = p)');
  t.throws(() => blind(pk2048, inputMsg, { r: 2n, inv: 3n }), TypeError, 'both r and inv');
  t.throws(() => blind(pk2048, inputMsg, { rng: () => new Uint8Array(3) }), RangeError, 'rng of the wrong length');
  throwsCode(t, () => blind({ n: n - 1n, e: 65537n }, inputMsg), 'BAD_PUBLIC_KEY', 'blind with an even n');
  t.throws(() => prepare(utf8('m'), () => new Uint8Array(31)), RangeError, 'prefix rng of 31 bytes');
  t.throws(() => prepare('m' as unknown as Uint8Array), TypeError, 'string message');
});

// ---------------------------------------------------------------------------------------------
// Negative vectors: public and secret keys
// ---------------------------------------------------------------------------------------------

t.test('public key rules: BAD_PUBLIC_KEY', async (t) => {
  const n = pk2048.n;
  // A 2050-bit prime: times a small prime it is odd, in the size range, with one small factor.
  const odd2050 = generatePrimeSync(2050, { bigint: true });
  t.equal(validateBlindRsaPublicKey(pk2048), pk2048, 'the good key passes and is returned');
  const cases: [string, BlindRsaPublicKey, RegExp][] = [
    ['e = 3', { n, e: 3n }, /e must be 65537/],
    ['e = 65539', { n, e: 65539n }, /e must be 65537/],
    ['e = 1', { n, e: 1n }, /e must be 65537/],
    ['even n', { n: n + 1n, e: 65537n }, /odd/],
    ['n = 0', { n: 0n, e: 65537n }, /odd/],
    ['negative n', { n: -n, e: 65537n }, /odd/],
    ['1024-bit n', { n: modulusOfBits(1024), e: 65537n }, /got 1024/],
    ['2047-bit n', { n: (n >> 1n) | 1n, e: 65537n }, /got 2047/],
    ['4097-bit n', { n: (1n << 4096n) | 1n, e: 65537n }, /got 4097/],
    ['n divisible by 3', { n: 3n * odd2050, e: 65537n }, /small prime factor 3$/],
    ['n divisible by 997', { n: 997n * odd2050, e: 65537n }, /small prime factor 997$/],
    ['n not a bigint', { n: Number(n) as unknown as bigint, e: 65537n }, /bigint/],
    ['no e', { n } as unknown as BlindRsaPublicKey, /bigint/],
  ];
  for (const [what, pk, rule] of cases) {
    throwsCode(t, () => validateBlindRsaPublicKey(pk), 'BAD_PUBLIC_KEY', what, rule);
  }
  t.doesNotThrow(() => validateBlindRsaPublicKey({ n: 1009n * odd2050, e: 65537n }), '1009 is above the bound');

  // Through JSON: a well-formed key that breaks a rule is BAD_PUBLIC_KEY, not MALFORMED.
  const json = blindRsaPublicKeyToJson(pk2048);
  throwsCode(t, () => blindRsaPublicKeyFromJson({ ...json, e: '00000003' }), 'BAD_PUBLIC_KEY', 'JSON e = 3');
  throwsCode(t, () => blindRsaPublicKeyFromJson({ ...json, n: json.n.slice(0, -2) + 'fe' }), 'BAD_PUBLIC_KEY', 'JSON even n');
  const n1024 = modulusOfBits(1024);
  throwsCode(t, () => blindRsaPublicKeyFromJson({ n: n1024.toString(16), e: '00010001' }), 'BAD_PUBLIC_KEY', 'JSON 1024-bit n');
  throwsCode(t, () => blindRsaPublicKeyToJson({ n, e: 3n }), 'BAD_PUBLIC_KEY', 'toJson of a bad key');
  throwsCode(t, () => encodeBlindRsaPublicKey(canonical(), { n, e: 3n }), 'BAD_PUBLIC_KEY', 'encode a bad key');
});

/** A product of two random primes of bits/2 bits each (a real but too small RSA modulus). */
function modulusOfBits(bits: number): bigint {
  for (;;) {
    const n = generatePrimeSync(bits / 2, { bigint: true }) * generatePrimeSync(bits / 2, { bigint: true });
    if (bitLength(n) === bits) return n;
  }
}

t.test('public key JSON: MALFORMED', async (t) => {
  const json = blindRsaPublicKeyToJson(pk2048);
  const cases: [string, unknown][] = [
    ['uppercase n', { ...json, n: json.n.toUpperCase() }],
    ['uppercase e', { ...json, e: '0001000F' }],
    ['odd length n', { ...json, n: json.n.slice(1) }],
    ['odd length e', { ...json, e: '0010001' }],
    ['e of 3 bytes', { ...json, e: '010001' }],
    ['e of 8 bytes', { ...json, e: '0000000000010001' }],
    ['n with a leading zero byte', { ...json, n: '00' + json.n }],
    ['n too long (513 bytes)', { ...json, n: 'ff' + json.n.repeat(2).slice(0, 1024) }],
    ['n empty', { ...json, n: '' }],
    ['n with 0x prefix', { ...json, n: '0x' + json.n.slice(2) }],
    ['n with a space', { ...json, n: json.n.slice(0, 100) + ' ' + json.n.slice(101) }],
    ['n as a number', { ...json, n: 12345 }],
    ['n missing', { e: json.e }],
    ['unknown field', { ...json, kid: 'x' }],
    ['not an object', 'n,e'],
    ['null', null],
    ['array', [json.n, json.e]],
  ];
  for (const [what, obj] of cases) throwsCode(t, () => blindRsaPublicKeyFromJson(obj), 'MALFORMED', what);
  // The size bound applies before any conversion: a 10 MB string is refused as MALFORMED.
  throwsCode(t, () => blindRsaPublicKeyFromJson({ n: 'a'.repeat(10_000_000), e: json.e }), 'MALFORMED', '10 MB n');
});

t.test('secret key JSON: BAD_PRIVATE_KEY and MALFORMED', async (t) => {
  const json = blindRsaSecretKeyToJson(sk2048);
  const k = byteLength(sk2048.n);
  const hex = (x: bigint) => toHex(toBytesBE(x, k));
  const bad: [string, Record<string, string>][] = [
    ['p·q ≠ n (p + 2)', { ...json, p: hex(sk2048.p + 2n) }],
    ['q = p', { ...json, q: hex(sk2048.p) }],
    ['d + 1', { ...json, d: hex(sk2048.d + 1n) }],
    ['d of the other key', { ...json, d: hex(otherSk.d % sk2048.n) }],
    ['d = 0', { ...json, d: hex(0n) }],
    ['p = 1, q = n', { ...json, p: hex(1n), q: hex(sk2048.n) }],
  ];
  for (const [what, obj] of bad) throwsCode(t, () => blindRsaSecretKeyFromJson(obj), 'BAD_PRIVATE_KEY', what);
  throwsCode(t, () => blindRsaSecretKeyFromJson({ ...json, e: '00000003' }), 'BAD_PUBLIC_KEY', 'e = 3');
  throwsCode(t, () => blindRsaSecretKeyFromJson({ ...json, d: json.d.slice(2) }), 'MALFORMED', 'd one byte short');
  throwsCode(t, () => blindRsaSecretKeyFromJson({ ...json, p: json.p.toUpperCase() }), 'MALFORMED', 'uppercase p');
  throwsCode(t, () => blindRsaSecretKeyFromJson({ n: json.n, e: json.e, d: json.d, p: json.p }), 'MALFORMED', 'q missing');
  throwsCode(
    t,
    () => validateBlindRsaSecretKey({ ...sk2048, p: sk2048.q, q: sk2048.p, n: sk2048.n, d: sk2048.d + 2n }),
    'BAD_PRIVATE_KEY',
    'validate: wrong d',
  );
  const valid = validateBlindRsaSecretKey({ ...sk2048, p: sk2048.q, q: sk2048.p });
  t.equal(verify(pk2048, ...signWith(valid)), true, 'p and q in either order sign correctly');
});

/** Sign a fixed message with sk; returns [inputMsg, sig] for verify. */
function signWith(sk: BlindRsaSecretKey): [Uint8Array, Uint8Array] {
  const r = roundTrip(sk, utf8('order of p and q'));
  return [r.inputMsg, r.sig];
}

t.test('generateBlindRsaKey refuses bad sizes', async (t) => {
  for (const bits of [1024, 2047, 2049, 4098, 8192, 2048.5]) {
    t.throws(() => generateBlindRsaKey(bits), RangeError, `${bits} bits`);
  }
  t.equal(fromBytesBE(toBytesBE(sk2048.n, 256)), sk2048.n, 'sanity');
});
