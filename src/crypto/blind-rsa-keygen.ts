/**
 * Generation of the organization's blind-RSA token key (spec/07-tokens.md §7.1).
 *
 * Node-only, kept apart from blind-rsa.ts so that the browser bundle of the voter client never
 * pulls in node:crypto. Prime generation is the one step we do not write ourselves: OpenSSL's
 * RSA key generation (behind crypto.generateKeyPairSync) is tested, constant-time where it
 * matters and much faster than BigInt Miller–Rabin. The key is exported as a JWK and its
 * fields converted to bigint; the result is run through validateBlindRsaSecretKey, so a key
 * that comes out of here obeys exactly the rules a loaded key obeys.
 */
import { generateKeyPairSync } from 'node:crypto';
import { fromBytesBE } from './bigint.js';
import {
  MAX_MODULUS_BITS,
  MIN_MODULUS_BITS,
  validateBlindRsaSecretKey,
  type BlindRsaSecretKey,
} from './blind-rsa.js';

/** Decode one base64url JWK field into a bigint. */
function jwkInt(jwk: Record<string, unknown>, field: string): bigint {
  const v = jwk[field];
  if (typeof v !== 'string' || v.length === 0) throw new Error(`generateBlindRsaKey: JWK field ${field} missing`);
  return fromBytesBE(new Uint8Array(Buffer.from(v, 'base64url')));
}

/**
 * Generate a fresh RSA key for RSABSSA-SHA384-PSS-Randomized with e = 65537.
 * Takes about a second at 3072 bits (OpenSSL prime search; the time varies run to run).
 * @param bits - modulus bit length, an even integer, 2048 ≤ bits ≤ 4096 (default 3072). Even
 *   because OpenSSL 3 splits an odd length unevenly and returns a modulus one bit short
 *   (asking for 2049 bits gives 2048; measured with Node 20).
 * @returns the secret key {n, e, d, p, q}, validated; its public half is blindRsaPublicKeyOf(sk)
 * @throws RangeError if bits is odd or outside [2048, 4096]
 * @throws Error if the generated key does not have exactly `bits` bits (never expected)
 */
export function generateBlindRsaKey(bits = 3072): BlindRsaSecretKey {
  if (!Number.isInteger(bits) || bits % 2 !== 0 || bits < MIN_MODULUS_BITS || bits > MAX_MODULUS_BITS) {
    throw new RangeError(
      `generateBlindRsaKey: bits must be an even integer in [${MIN_MODULUS_BITS}, ${MAX_MODULUS_BITS}], got ${bits}`,
    );
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
  const jwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const sk: BlindRsaSecretKey = {
    n: jwkInt(jwk, 'n'),
    e: jwkInt(jwk, 'e'),
    d: jwkInt(jwk, 'd'),
    p: jwkInt(jwk, 'p'),
    q: jwkInt(jwk, 'q'),
  };
  if (sk.n.toString(2).length !== bits) {
    throw new Error(`generateBlindRsaKey: OpenSSL returned a ${sk.n.toString(2).length}-bit modulus, not ${bits}`);
  }
  return validateBlindRsaSecretKey(sk);
}
