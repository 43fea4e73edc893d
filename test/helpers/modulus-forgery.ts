/**
 * The best a prover can do for Π^mod on a modulus that is NOT Paillier–Blum (test only).
 *
 * Knowing p and q, it computes z_i = y_i^(N⁻¹ mod φ) honestly and, for each round, searches all
 * four (a, b) for a genuine fourth root of (−1)^a·w^b·y_i modulo p and q (Tonelli–Shanks, every
 * square root at both levels). For p ≡ q ≡ 1 (mod 4) some round has no fourth root for any
 * (a, b), so the proof it outputs must fail check 13.5e: the negative vector "a non-Blum modulus".
 * Written straight from the definitions, slow and simple, never used by the product.
 */
import { gcd, mod, modInv, modPow, randomUnit } from '../../src/crypto/bigint.js';
import { jacobi, modChallenge, MOD_ROUNDS, type ModulusProof, type ModRound } from '../../src/crypto/modulus-proofs.js';

/** All square roots of a modulo the odd prime p (empty when a is a non-residue). */
function sqrtsModP(a: bigint, p: bigint): bigint[] {
  a = mod(a, p);
  if (a === 0n) return [0n];
  if (modPow(a, (p - 1n) / 2n, p) !== 1n) return [];
  let Q = p - 1n;
  let S = 0n;
  while ((Q & 1n) === 0n) {
    Q >>= 1n;
    S++;
  }
  let z = 2n;
  while (modPow(z, (p - 1n) / 2n, p) !== p - 1n) z++;
  let M = S;
  let c = modPow(z, Q, p);
  let t = modPow(a, Q, p);
  let R = modPow(a, (Q + 1n) / 2n, p);
  while (t !== 1n) {
    let i = 0n;
    let tt = t;
    while (tt !== 1n) {
      tt = (tt * tt) % p;
      i++;
    }
    const b = modPow(c, 1n << (M - i - 1n), p);
    M = i;
    c = (b * b) % p;
    t = (t * c) % p;
    R = (R * b) % p;
  }
  return R === p - R ? [R] : [R, p - R];
}

/** A fourth root of a modulo p, if any. */
function fourthRootModP(a: bigint, p: bigint): bigint | undefined {
  for (const r of sqrtsModP(a, p)) {
    const s = sqrtsModP(r, p);
    if (s.length) return s[0];
  }
  return undefined;
}

/** Best-effort Π^mod for any N = p·q with gcd(N, φ(N)) = 1; rounds without a fourth root get x = 1. */
export function bestEffortModulusProof(p: bigint, q: bigint, rng: (n: number) => Uint8Array): ModulusProof {
  const N = p * q;
  const nInv = modInv(N, (p - 1n) * (q - 1n));
  let w: bigint;
  do w = randomUnit(N, rng);
  while (jacobi(w, N) !== -1);
  const rounds: ModRound[] = [];
  for (let i = 0; i < MOD_ROUNDS; i++) {
    const y = modChallenge(N, w, i);
    let round: ModRound = { x: 1n, a: 0, b: 0, z: modPow(y, nInv, N) };
    for (const [a, b] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
      let v = b ? (y * w) % N : y;
      if (a) v = N - v;
      if (gcd(v, N) !== 1n) continue;
      const xp = fourthRootModP(v, p);
      const xq = fourthRootModP(v, q);
      if (xp === undefined || xq === undefined) continue;
      const x = mod(xq + q * ((xp - xq) * modInv(q, p)), N);
      round = { x, a, b, z: round.z };
      break;
    }
    rounds.push(round);
  }
  return { w, rounds };
}
