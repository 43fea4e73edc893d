/**
 * EMSA-PSS, the probabilistic signature encoding of RFC 8017 §9.1 (EMSA-PSS-ENCODE §9.1.1,
 * EMSA-PSS-VERIFY §9.1.2) with Hash = SHA-384 and MGF = MGF1-SHA-384 (§B.2.1), as used by
 * RSABSSA-SHA384-PSS(ZERO) in RFC 9474 (spec/07-tokens.md §7.1).
 *
 * Why a separate module: the encoding is a fixed, self-contained piece of RFC 8017 with its
 * own step numbering, reviewed against the RFC line by line; blind-rsa.ts is the RFC 9474
 * protocol around it (keys, blinding, CRT signing, wire forms). Splitting them keeps each
 * reviewable on its own and keeps the RFC 8017 step comments next to the only code they
 * describe. Internal (`_`): nothing outside src/crypto should import it; blind-rsa.ts
 * re-exports `_emsaPssEncode` and `_emsaPssVerify` for the known-answer tests.
 *
 * Both functions take the salt length as a parameter rather than fixing sLen = 48, so the
 * tests can also reproduce the PSSZERO (sLen = 0) vectors of RFC 9474; the protocol in
 * blind-rsa.ts always uses 48.
 *
 * Dependencies run one way: blind-rsa.ts imports this file (the encoding and the few byte
 * checks both need), and this file imports nothing from it.
 *
 * Browser-safe (no `node:` import). Verification returns at the first failing step, which is
 * not constant-time; its inputs (message, encoded message from a public signature) are public.
 */
import { sha384 } from '@noble/hashes/sha2.js';
import { TallyError } from '../errors.js';
import { bytesEqual } from './hash.js';

/** hLen: output length of SHA-384 in bytes. */
export const PSS_HASH_LEN = 48;

/**
 * Largest salt length accepted: 512 bytes, the length of the largest modulus blind-rsa.ts
 * admits (4096 bits). A longer salt could never fit, since emLen ≥ hLen + sLen + 2.
 */
const MAX_SALT_LEN = 512;

/**
 * Why EMSA-PSS-VERIFY rejected an encoded message, one value per check of RFC 8017 §9.1.2.
 * A subset of BlindRsaVerifyFailure in blind-rsa.ts, which adds the RSA-level checks.
 */
export type EmsaPssVerifyFailure =
  | 'bad-input' // an argument has the wrong type, or len(EM) ≠ ceil(emBits / 8)
  | 'em-too-short' // emLen < hLen + sLen + 2                (§9.1.2 step 3)
  | 'trailer' // last byte of EM ≠ 0xbc                      (§9.1.2 step 4)
  | 'leftmost-bits' // top 8·emLen − emBits bits of EM ≠ 0   (§9.1.2 step 6)
  | 'padding' // DB ≠ 0x00…00 ‖ 0x01 ‖ salt                  (§9.1.2 step 10)
  | 'hash-mismatch'; // H ≠ Hash(0x00^8 ‖ mHash ‖ salt)      (§9.1.2 step 14)

/** Result of _emsaPssVerify: valid ("consistent"), or the first step that failed. */
export type EmsaPssVerifyResult =
  | { readonly valid: true }
  | { readonly valid: false; readonly reason: EmsaPssVerifyFailure };

// ---------------------------------------------------------------------------------------------
// Byte checks, shared with blind-rsa.ts
// ---------------------------------------------------------------------------------------------

/** True for a Uint8Array, also one from another realm (iframe, worker). */
export function isBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array || (ArrayBuffer.isView(x) && x.constructor.name === 'Uint8Array');
}

/** Returns `x` if it is a Uint8Array. @throws TypeError otherwise */
export function aBytes(x: unknown, title: string): Uint8Array {
  if (!isBytes(x)) throw new TypeError(`${title}: expected a Uint8Array, got ${typeof x}`);
  return x;
}

/** Returns sLen if it is an integer, 0 ≤ sLen ≤ 512. @throws RangeError otherwise */
export function aSaltLen(sLen: number): number {
  if (!Number.isInteger(sLen) || sLen < 0 || sLen > MAX_SALT_LEN) {
    throw new RangeError(`sLen: expected an integer in [0, ${MAX_SALT_LEN}], got ${sLen}`);
  }
  return sLen;
}

/** a ‖ b ‖ …, as one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// MGF1, EMSA-PSS-ENCODE, EMSA-PSS-VERIFY, with Hash = SHA-384
// ---------------------------------------------------------------------------------------------

/** MGF1 with SHA-384 (RFC 8017 §B.2.1): the first maskLen bytes of ‖_i Hash(seed ‖ I2OSP(i, 4)). */
function mgf1(seed: Uint8Array, maskLen: number): Uint8Array {
  const out = new Uint8Array(maskLen);
  const counter = new Uint8Array(4);
  const view = new DataView(counter.buffer);
  for (let i = 0, off = 0; off < maskLen; i++, off += PSS_HASH_LEN) {
    view.setUint32(0, i);
    const block = sha384.create().update(seed).update(counter).digest();
    out.set(block.subarray(0, Math.min(PSS_HASH_LEN, maskLen - off)), off);
  }
  return out;
}

/** Byte mask keeping the low bits of EM's first byte: 8·emLen − emBits top bits cleared. */
function topByteMask(emLen: number, emBits: number): number {
  return 0xff >>> (8 * emLen - emBits);
}

/**
 * EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-384 and MGF1-SHA-384; sLen = salt.length.
 * INTERNAL: the protocol calls it with sLen = 48 only; tests use sLen = 0 for RFC 9474 PSSZERO.
 * @param msg - the message M (any length)
 * @param emBits - maximal bit length of EM, emBits ≥ 8·(hLen + sLen + 2) − 7
 * @param salt - the salt, 0 ≤ length ≤ 512
 * @returns EM, ceil(emBits / 8) bytes
 * @throws TallyError OUT_OF_RANGE ("encoding error") if emLen < hLen + sLen + 2
 */
export function _emsaPssEncode(msg: Uint8Array, emBits: number, salt: Uint8Array): Uint8Array {
  aBytes(msg, 'msg');
  aBytes(salt, 'salt');
  const sLen = aSaltLen(salt.length);
  if (!Number.isInteger(emBits) || emBits < 1) throw new RangeError(`emBits: expected a positive integer, got ${emBits}`);
  const emLen = Math.ceil(emBits / 8);
  const mHash = sha384(msg); // step 2
  if (emLen < PSS_HASH_LEN + sLen + 2) {
    throw new TallyError('OUT_OF_RANGE', `EMSA-PSS-ENCODE: encoding error, emLen ${emLen} < hLen + sLen + 2`);
  }
  const mPrime = concatBytes(new Uint8Array(8), mHash, salt); // step 5
  const H = sha384(mPrime); // step 6
  const dbLen = emLen - PSS_HASH_LEN - 1;
  const DB = new Uint8Array(dbLen); // steps 7–8: PS (zeros) ‖ 0x01 ‖ salt
  DB[dbLen - sLen - 1] = 0x01;
  DB.set(salt, dbLen - sLen);
  const dbMask = mgf1(H, dbLen); // step 9
  const EM = new Uint8Array(emLen);
  for (let i = 0; i < dbLen; i++) EM[i] = DB[i]! ^ dbMask[i]!; // step 10: maskedDB
  EM[0] = EM[0]! & topByteMask(emLen, emBits); // step 11
  EM.set(H, dbLen); // step 12: maskedDB ‖ H ‖ 0xbc
  EM[emLen - 1] = 0xbc;
  return EM;
}

/** Shorthand for a failed verification. */
function fail(reason: EmsaPssVerifyFailure): EmsaPssVerifyResult {
  return { valid: false, reason };
}

const VALID: EmsaPssVerifyResult = { valid: true };

/**
 * EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with SHA-384 and MGF1-SHA-384, reporting which step
 * failed. INTERNAL: the protocol calls it with sLen = 48 only; tests use sLen = 0 for PSSZERO.
 * @param msg - the message M
 * @param EM - the encoded message, exactly ceil(emBits / 8) bytes
 * @param emBits - maximal bit length of EM, emBits ≥ 1
 * @param sLen - salt length, 0 ≤ sLen ≤ 512
 * @returns valid, or the failing step; never throws on a malformed EM
 */
export function _emsaPssVerify(msg: Uint8Array, EM: Uint8Array, emBits: number, sLen: number): EmsaPssVerifyResult {
  if (!isBytes(msg) || !isBytes(EM) || !Number.isInteger(emBits) || emBits < 1) return fail('bad-input');
  if (!Number.isInteger(sLen) || sLen < 0 || sLen > MAX_SALT_LEN) return fail('bad-input');
  const emLen = Math.ceil(emBits / 8);
  if (EM.length !== emLen) return fail('bad-input');
  const mHash = sha384(msg); // step 2
  if (emLen < PSS_HASH_LEN + sLen + 2) return fail('em-too-short'); // step 3
  if (EM[emLen - 1] !== 0xbc) return fail('trailer'); // step 4
  const dbLen = emLen - PSS_HASH_LEN - 1; // step 5
  const maskedDB = EM.subarray(0, dbLen);
  const H = EM.subarray(dbLen, dbLen + PSS_HASH_LEN);
  const keep = topByteMask(emLen, emBits);
  if ((maskedDB[0]! & ~keep & 0xff) !== 0) return fail('leftmost-bits'); // step 6
  const dbMask = mgf1(H, dbLen); // step 7
  const DB = new Uint8Array(dbLen);
  for (let i = 0; i < dbLen; i++) DB[i] = maskedDB[i]! ^ dbMask[i]!; // step 8
  DB[0] = DB[0]! & keep; // step 9
  const psLen = dbLen - sLen - 1; // step 10: emLen − hLen − sLen − 2 zero bytes, then 0x01
  let nonZero = 0;
  for (let i = 0; i < psLen; i++) nonZero |= DB[i]!;
  if (nonZero !== 0 || DB[psLen] !== 0x01) return fail('padding');
  const salt = DB.subarray(dbLen - sLen); // step 11
  const H2 = sha384(concatBytes(new Uint8Array(8), mHash, salt)); // steps 12–13
  return bytesEqual(H, H2) ? VALID : fail('hash-mismatch'); // step 14
}
