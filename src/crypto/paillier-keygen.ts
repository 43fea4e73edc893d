/**
 * Paillier key generation (spec/03-paillier.md §3.1). Node-only: primes come from OpenSSL via
 * `crypto.generatePrime`, which is native and far faster than a JavaScript Miller–Rabin.
 *
 * Why not paillier-bigint's generateRandomKeys: it draws p with bits/2 + 1 bits and q with
 * bits/2 bits, so p and q are NOT of equal length, which the spec requires (it keeps both
 * primes above 2^t for the proofs' soundness and makes gcd(n, φ(n)) = 1 automatic).
 */
import { generatePrime } from 'node:crypto';
import { bitLength } from './bigint.js';
import { PAILLIER_DEFAULT_BITS, PAILLIER_MAX_BITS, PAILLIER_MIN_BITS, PaillierSecretKey } from './paillier.js';

/** OpenSSL prime generation off the main thread, as a bigint. */
function generatePrimeAsync(size: number): Promise<bigint> {
  return new Promise((resolve, reject) => {
    generatePrime(size, { bigint: true }, (err, prime) => (err ? reject(err) : resolve(prime)));
  });
}

/**
 * Generate a Paillier key with n of exactly `bits` bits, p and q of bits/2 bits each.
 * @param bits - even, PAILLIER_MIN_BITS ≤ bits ≤ PAILLIER_MAX_BITS (default 3072)
 * @param onProgress - called after each prime is found (for a progress display)
 * @throws RangeError for an unsupported size
 */
export async function generatePaillierKey(
  bits: number = PAILLIER_DEFAULT_BITS,
  onProgress?: (primesFound: number) => void,
): Promise<PaillierSecretKey> {
  if (!Number.isInteger(bits) || bits % 2 !== 0 || bits < PAILLIER_MIN_BITS || bits > PAILLIER_MAX_BITS) {
    throw new RangeError(`paillier keygen: bits must be even and in [${PAILLIER_MIN_BITS}, ${PAILLIER_MAX_BITS}], got ${bits}`);
  }
  const half = bits / 2;
  let found = 0;
  for (;;) {
    const p = await generatePrimeAsync(half);
    onProgress?.(++found);
    const q = await generatePrimeAsync(half);
    onProgress?.(++found);
    // Equal lengths, distinct, product of full length, and far apart (a Fermat factorization of
    // close primes needs |p − q| small; with random 1024-bit primes this never loops in practice).
    if (p === q || bitLength(p) !== half || bitLength(q) !== half) continue;
    if (bitLength(p * q) !== bits) continue;
    const diff = p > q ? p - q : q - p;
    if (bitLength(diff) < half - 100) continue;
    return PaillierSecretKey.fromPrimes(p, q);
  }
}
