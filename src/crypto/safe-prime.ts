/**
 * Safe primes and the threshold election's Paillier modulus (spec/13-trustees.md §13.1,
 * spec/03-paillier.md §3.1). Node-only: primes come from OpenSSL via `crypto.generatePrime`.
 *
 * Why safe primes: threshold decryption (Shoup; Damgård–Jurik §4) works in the group of
 * squares of Z*_{n²}, of order n·p'·q'. With p = 2p'+1 and q = 2q'+1 that group is cyclic and
 * has no small subgroup apart from the order-n part, so a random square generates it and the
 * share-verification proofs are sound. A safe prime p = 2p'+1 with p' an odd prime is always
 * ≡ 3 (mod 4), so n = p·q is a Blum integer, which the modulus proof Π^mod (modulus-proofs.ts)
 * needs.
 *
 * Why the native generator: OpenSSL sieves p' and 2p'+1 together; a JavaScript Miller–Rabin
 * search for 1536-bit safe primes would take many minutes. The price is that one native call
 * is one opaque unit of work: progress is reported per prime found, not per candidate tried
 * (OpenSSL's callback is not exposed by Node).
 */
import { generatePrime } from 'node:crypto';
import { bitLength, gcd } from './bigint.js';
import { PAILLIER_MAX_BITS, PAILLIER_MIN_BITS } from './paillier.js';

/** Progress of a modulus generation, for a display. */
export interface SafePrimeProgress {
  /** which prime is being searched: 1 for p, 2 for q (3, 4, … after a rare restart) */
  readonly prime: number;
  /** 'searching' when a native search starts, 'found' when it returns */
  readonly state: 'searching' | 'found';
  /** bit length of the prime sought */
  readonly bits: number;
}

/**
 * One safe prime p = 2p' + 1 (p' prime) of exactly `bits` bits, from OpenSSL, off the main thread.
 * @param bits - 16 ≤ bits ≤ PAILLIER_MAX_BITS / 2
 * @returns p with bitLength(p) = bits and (p − 1)/2 prime
 * @throws RangeError for an unsupported size
 */
export function generateSafePrime(bits: number): Promise<bigint> {
  if (!Number.isInteger(bits) || bits < 16 || bits > PAILLIER_MAX_BITS / 2) {
    throw new RangeError(`safe prime: bits must be an integer in [16, ${PAILLIER_MAX_BITS / 2}], got ${bits}`);
  }
  return new Promise((resolve, reject) => {
    generatePrime(bits, { safe: true, bigint: true }, (err, prime) => (err ? reject(err) : resolve(prime)));
  });
}

/** The two safe primes of a threshold modulus. Secret: the dealer erases them after the ceremony. */
export interface SafeModulus {
  readonly n: bigint;
  /** p = 2p' + 1 */
  readonly p: bigint;
  /** q = 2q' + 1 */
  readonly q: bigint;
}

/**
 * Check that (p, q) form a modulus that spec §3.1 and §13.1 accept: distinct safe primes of
 * bits/2 bits each, n = p·q of exactly `bits` bits, |p − q| ≥ 2^(bits/2 − 100), p ≡ q ≡ 3 (mod 4).
 * Primality of p, q, p', q' is the caller's (the generator's) guarantee; this checks the rest.
 * @returns null when acceptable, otherwise the reason
 */
export function modulusDefect(p: bigint, q: bigint, bits: number): string | null {
  const half = bits / 2;
  if (p === q) return 'p = q';
  if (bitLength(p) !== half || bitLength(q) !== half) return `p and q must both have ${half} bits`;
  if (bitLength(p * q) !== bits) return `p·q must have exactly ${bits} bits`;
  const diff = p > q ? p - q : q - p;
  if (bitLength(diff) < half - 100) return '|p − q| is too small (Fermat factoring)';
  if ((p & 3n) !== 3n || (q & 3n) !== 3n) return 'p and q must be ≡ 3 (mod 4)';
  if (gcd(p * q, (p - 1n) * (q - 1n)) !== 1n) return 'gcd(n, φ(n)) ≠ 1';
  return null;
}

/**
 * Generate n = p·q from two safe primes of equal length (spec §13.1).
 * @param bits - even; PAILLIER_MIN_BITS ≤ bits ≤ PAILLIER_MAX_BITS unless `minBits` lowers the floor (small test moduli only)
 * @param options.onProgress - called when each native search starts and ends
 * @param options.minBits - smallest accepted size (default PAILLIER_MIN_BITS); never lower it for an election
 * @throws RangeError for an unsupported size
 */
export async function generateSafeModulus(
  bits: number,
  options: { onProgress?: (p: SafePrimeProgress) => void; minBits?: number } = {},
): Promise<SafeModulus> {
  const minBits = options.minBits ?? PAILLIER_MIN_BITS;
  if (!Number.isInteger(bits) || bits % 2 !== 0 || bits < minBits || bits > PAILLIER_MAX_BITS || bits < 32) {
    throw new RangeError(`safe modulus: bits must be even and in [${minBits}, ${PAILLIER_MAX_BITS}], got ${bits}`);
  }
  const half = bits / 2;
  let count = 0;
  const one = async (): Promise<bigint> => {
    const prime = ++count;
    options.onProgress?.({ prime, state: 'searching', bits: half });
    const x = await generateSafePrime(half);
    options.onProgress?.({ prime, state: 'found', bits: half });
    return x;
  };
  let p = await one();
  for (;;) {
    const q = await one();
    // A defect (equal primes, a short product) is astronomically rare: draw q again.
    if (modulusDefect(p, q, bits) === null) return { n: p * q, p, q };
    if (bitLength(p) !== half) p = await one();
  }
}
