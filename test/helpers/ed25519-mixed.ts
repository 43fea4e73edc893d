/**
 * Mixed-order Ed25519 values for negative vectors (spec §7.3, checks 7.3a and 7.3b).
 *
 * A verifier with the cofactored equation of RFC 8032 §5.1.7 accepts a signature whose R has a
 * torsion component (R + T, T of order 8) and usually a key A + T; a cofactorless verifier
 * (OpenSSL, libsodium, Go) rejects them. Tallyboard/2 refuses both, in every verifier. These
 * builders produce such values deterministically from a seed, by signing with the secret scalar
 * directly (the RFC's deterministic nonce cannot produce them). Tests only.
 */
import { ed25519, ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';

const L = ed25519.Point.CURVE().n;

/** A point of order exactly 8 (the generator T of the torsion subgroup). */
export function torsionPoint8(): InstanceType<typeof ed25519.Point> {
  for (const hex of ED25519_TORSION_SUBGROUP) {
    const p = ed25519.Point.fromHex(hex);
    if (!p.double().double().is0()) return p; // order 8: 4·T ≠ O
  }
  throw new Error('no point of order 8');
}

function le(x: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}
function fromLe(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
}
function challenge(R: Uint8Array, A: Uint8Array, msg: Uint8Array): bigint {
  return fromLe(sha512.create().update(R).update(A).update(msg).digest()) % L;
}
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

/**
 * A signature by `seed`'s key over `msg` whose R is [r]B + T (T of order 8). The cofactored
 * equation accepts it, the cofactorless one rejects it; tallyboard/2 rejects it (7.3b).
 */
export function signWithTorsionR(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
  const r = fromLe(sha512(concat(new TextEncoder().encode('mixed-order R'), concat(seed, msg)))) % L;
  const R = ed25519.Point.BASE.multiply(r).add(torsionPoint8()).toBytes();
  const k = challenge(R, pointBytes, msg);
  const S = (r + k * scalar) % L;
  return concat(R, le(S));
}

/**
 * A key A + T (T of order 8) for `seed`'s scalar, and a signature over `msg` under it made with
 * a nonce chosen so that the cofactorless equation holds too (k ≡ 0 mod 8): both equations of
 * RFC 8032 accept it; tallyboard/2 refuses the key itself (7.3a).
 */
export function mixedOrderKeyAndSignature(seed: Uint8Array, msg: Uint8Array): { publicKey: Uint8Array; signature: Uint8Array } {
  const { scalar } = ed25519.utils.getExtendedPublicKey(seed);
  const A = ed25519.Point.BASE.multiply(scalar).add(torsionPoint8()).toBytes();
  for (let i = 0; ; i++) {
    const r = fromLe(sha512(concat(new TextEncoder().encode(`mixed-order A ${i}`), concat(seed, msg)))) % L;
    const R = ed25519.Point.BASE.multiply(r).toBytes();
    const k = challenge(R, A, msg);
    if (k % 8n !== 0n) continue;
    return { publicKey: A, signature: concat(R, le((r + k * scalar) % L)) };
  }
}

/** RFC 8032's cofactored verification (noble, strict decoding): what tallyboard/1 accepted. */
export function cofactoredVerify(sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed25519.verify(sig, msg, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
