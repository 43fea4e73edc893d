/**
 * Ed25519 signatures (RFC 8032) for eligibility tokens and the bulletin board's checkpoints
 * (spec/07-tokens.md §7.3, spec/09-board.md).
 *
 * A thin wrapper over @noble/curves that fixes the verification policy in one place:
 * strict RFC 8032 decoding (NOT ZIP-215), so that a public key or signature has exactly one
 * accepted byte form, and small-order public keys are refused, since a signature under such a
 * key does not bind the signer to the message. Verification never throws on bad input.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';

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

/**
 * True iff `publicKey` is a canonical encoding of a curve point that is not of small order
 * (spec §7.3 check). Never throws.
 */
export function isValidEd25519PublicKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_LEN) return false;
  try {
    const p = ed25519.Point.fromBytes(publicKey, false);
    return !p.isSmallOrder();
  } catch {
    return false;
  }
}

/**
 * Verify a signature with strict RFC 8032 rules. Pure; never throws.
 * @param signature - 64 bytes
 * @param message - the signed bytes
 * @param publicKey - 32 bytes, canonical, not small order
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LEN) return false;
  if (!isValidEd25519PublicKey(publicKey)) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
