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
  return ed25519.sign(message, secretKey);
}

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
  return primeOrderPoint(publicKey) !== undefined;
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
 * @param signature - 64 bytes
 * @param message - the signed bytes
 * @param publicKey - 32 bytes (7.3a)
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LEN) return false;
  if (!(message instanceof Uint8Array) || !(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_LEN) return false;
  const A = primeOrderPoint(publicKey);
  if (!A) return false;
  const rBytes = signature.subarray(0, 32);
  const R = primeOrderPoint(rBytes);
  if (!R) return false;
  const S = bytesToNumberLE(signature.subarray(32, 64));
  if (S >= L) return false;
  const k = bytesToNumberLE(sha512.create().update(rBytes).update(publicKey).update(message).digest()) % L;
  // Public values only: the variable-time multiplication is fine here.
  const SB = ed25519.Point.BASE.multiplyUnsafe(S);
  const kA = A.multiplyUnsafe(k);
  return SB.equals(R.add(kA));
}

/** Little-endian bytes to integer (RFC 8032 encodes scalars little-endian). */
function bytesToNumberLE(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
}
