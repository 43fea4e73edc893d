/**
 * Ed25519 signatures (RFC 8032) for eligibility tokens and the bulletin board's checkpoints
 * (spec/07-tokens.md §7.3, spec/09-board.md).
 *
 * A thin wrapper over @noble/curves that fixes the verification policy in one place (spec §7.3,
 * checks 7.3a and 7.3b): strict RFC 8032 decoding (NOT ZIP-215), so that a public key or
 * signature has exactly one accepted byte form; the key A and the signature's R must both lie
 * in the prime-order subgroup (order exactly L), and the equation is the cofactorless
 * [S]B = R + [k]A. RFC 8032 allows a cofactored and a cofactorless equation, which disagree
 * exactly when A or R has a torsion component; requiring both in the prime-order subgroup
 * removes that case, so every conforming verifier (OpenSSL, libsodium, Go, noble) reaches the
 * same verdict. Verification never throws on bad input.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { nativeCrypto, type NativeCrypto } from './native.js';
import { bytesEqual } from './hash.js';

/** Byte lengths (RFC 8032). */
export const ED25519_PUBLIC_KEY_LEN = 32;
export const ED25519_SECRET_KEY_LEN = 32;
export const ED25519_SIGNATURE_LEN = 64;

/** An Ed25519 key pair; `secretKey` is the 32-byte seed. */
export interface Ed25519KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Fresh key pair from the platform CSPRNG (or a given 32-byte seed, for test vectors). */
export function ed25519KeyPair(seed: Uint8Array = randomBytes(ED25519_SECRET_KEY_LEN)): Ed25519KeyPair {
  if (seed.length !== ED25519_SECRET_KEY_LEN) throw new RangeError('ed25519: seed must be 32 bytes');
  return { secretKey: seed, publicKey: ed25519.getPublicKey(seed) };
}

/** Public key of a 32-byte seed. */
export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}

/**
 * Sign `message` (deterministic, RFC 8032).
 * @param secretKey - 32-byte seed
 * @returns 64-byte signature
 */
export function ed25519Sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return nativeCrypto ? ed25519SignNative(nativeCrypto, message, secretKey) : ed25519.sign(message, secretKey);
}

/**
 * Signing with OpenSSL (`node:crypto`). RFC 8032 signing is deterministic, so this returns the
 * very bytes @noble/curves returns (tested on random seeds and messages); it costs a fraction
 * of the portable code, which matters because the board signs a checkpoint on every append.
 * The key object is kept per seed array (with a copy of the seed, compared on every use, so a
 * seed changed in place is never signed with under its old key).
 */
export function ed25519SignNative(native: NativeCrypto, message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== ED25519_SECRET_KEY_LEN) throw new RangeError('ed25519: seed must be 32 bytes');
  let held = signingKeys.get(secretKey);
  if (held === undefined || !bytesEqual(held.seed, secretKey)) {
    const x = base64url(ed25519.getPublicKey(secretKey));
    held = { seed: Uint8Array.from(secretKey), key: native.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x, d: base64url(secretKey) }, format: 'jwk' }) };
    signingKeys.set(secretKey, held);
  }
  return Uint8Array.from(native.sign(null, message, held.key));
}

/** OpenSSL key objects by seed array (see {@link ed25519SignNative}). */
const signingKeys = new WeakMap<Uint8Array, { readonly seed: Uint8Array; readonly key: unknown }>();

/** The order L of the prime-order subgroup (RFC 8032 §5.1). */
const L = ed25519.Point.CURVE().n;

/**
 * Decode a point for the rules of spec §7.3: a canonical encoding (y < p, RFC 8032 §5.1.3)
 * of a point of order exactly L, i.e. in the prime-order subgroup and not the identity.
 * Returns undefined otherwise. A point with a torsion component (order 2L, 4L or 8L) or of
 * small order is refused, so that the cofactored and the cofactorless equations agree on every
 * accepted signature (spec §7.3, check 7.3b).
 */
function primeOrderPoint(bytes: Uint8Array): InstanceType<typeof ed25519.Point> | undefined {
  try {
    const p = ed25519.Point.fromBytes(bytes, false);
    if (p.is0() || !p.isTorsionFree()) return undefined;
    return p;
  } catch {
    return undefined;
  }
}

/**
 * True iff `publicKey` passes check 7.3a (spec §7.3): 32 bytes, a canonical point encoding, a
 * point of order exactly L (in the prime-order subgroup, not the identity). Never throws.
 * This refuses small-order keys and keys with a torsion component (A + T, T of order 8).
 */
export function isValidEd25519PublicKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_LEN) return false;
  return cachedKey(publicKey) !== undefined;
}

/**
 * Verify a signature with the one equation of spec §7.3 (check 7.3b). Pure; never throws.
 *
 * The rules, in order: the key passes 7.3a; the signature is 64 bytes; R = sig[0:32] is a
 * canonical encoding of a point of order exactly L; S = sig[32:64] read little-endian is < L;
 * k = SHA-512(R ‖ A ‖ message) mod L; and [S]B = R + [k]A (cofactorless). With A and R in the
 * prime-order subgroup this equation and the cofactored one of RFC 8032 §5.1.7 accept exactly
 * the same signatures, so OpenSSL, libsodium, Go and this code agree.
 *
 * Two back ends, one verdict (spec §7.3, "Implementing the rule"): on Node the equation is
 * OpenSSL's (`node:crypto`), elsewhere @noble/curves'. Both first apply the checks OpenSSL does
 * not make (7.3a on A, S < L, R not the identity); R's subgroup membership then follows from
 * the equation itself, because [S]B − [k]A lies in the subgroup when A does.
 *
 * @param signature - 64 bytes
 * @param message - the signed bytes
 * @param publicKey - 32 bytes (7.3a)
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return nativeCrypto ? ed25519VerifyNative(nativeCrypto, signature, message, publicKey) : ed25519VerifyPortable(signature, message, publicKey);
}

/** The canonical encoding of the identity point (y = 1, x = 0). */
const IDENTITY = (() => {
  const b = new Uint8Array(32);
  b[0] = 1;
  return b;
})();

/**
 * The checks both back ends make before the equation: lengths, 7.3a on A (cached per key),
 * S < L, and R not the canonical identity. Returns the decoded A, or undefined to refuse.
 */
function precheck(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): InstanceType<typeof ed25519.Point> | undefined {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LEN) return undefined;
  if (!(message instanceof Uint8Array) || !(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_LEN) return undefined;
  const A = cachedKey(publicKey);
  if (!A) return undefined;
  if (bytesToNumberLE(signature.subarray(32, 64)) >= L) return undefined;
  if (bytesEqualPublic(signature.subarray(0, 32), IDENTITY)) return undefined;
  return A;
}

/**
 * The portable back end (@noble/curves): R is decoded strictly (a non-canonical encoding is
 * refused) and the cofactorless equation [S]B = R + [k]A is checked on points.
 */
export function ed25519VerifyPortable(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const A = precheck(signature, message, publicKey);
  if (!A) return false;
  const rBytes = signature.subarray(0, 32);
  let R: InstanceType<typeof ed25519.Point>;
  try {
    R = ed25519.Point.fromBytes(rBytes, false);
  } catch {
    return false;
  }
  const S = bytesToNumberLE(signature.subarray(32, 64));
  const k = bytesToNumberLE(sha512.create().update(rBytes).update(publicKey).update(message).digest()) % L;
  // Public values only: the variable-time multiplication is fine here.
  const SB = ed25519.Point.BASE.multiplyUnsafe(S);
  const kA = A.multiplyUnsafe(k);
  return SB.equals(R.add(kA));
}

/**
 * The native back end (OpenSSL through `node:crypto`). OpenSSL's Ed25519 verification computes
 * R' = [S]B − [k]A with k = SHA-512(R ‖ A ‖ M) mod L and compares the ENCODING of R' with the
 * signature's R bytes: the cofactorless equation, and since an encoding it produces is
 * canonical, a non-canonical R never matches. The checks OpenSSL does not promise (A canonical
 * and of order L, S < L, R not the identity) are made first, by `precheck`.
 */
export function ed25519VerifyNative(native: NativeCrypto, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!precheck(signature, message, publicKey)) return false;
  try {
    const key = native.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(publicKey) }, format: 'jwk' });
    return native.verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/**
 * 7.3a results by key. Decoding a key and checking [L]A = 0 is the largest part of a
 * verification; a board checks every checkpoint under one key and a revoting token signs again
 * under its key. Bounded: the map is emptied when full (it is a cache, not a record).
 */
const KEY_CACHE_MAX = 4096;
const keyCache = new Map<string, InstanceType<typeof ed25519.Point> | null>();

function cachedKey(publicKey: Uint8Array): InstanceType<typeof ed25519.Point> | undefined {
  const id = base64url(publicKey);
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit ?? undefined;
  const A = primeOrderPoint(publicKey);
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(id, A ?? null);
  return A;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Unpadded base64url (RFC 4648 §5) of a 32-byte key, for a JWK and the cache's keys. */
function base64url(b: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  if (i < b.length) {
    const rest = b.length - i;
    const n = (b[i]! << 16) | (rest === 2 ? b[i + 1]! << 8 : 0);
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!;
    if (rest === 2) out += B64URL[(n >> 6) & 63]!;
  }
  return out;
}

/** Equality of two public byte strings. */
function bytesEqualPublic(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Little-endian bytes to integer (RFC 8032 encodes scalars little-endian). */
function bytesToNumberLE(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
}
