/**
 * Proofs that a Paillier modulus is well formed (spec/13-trustees.md §13.5–§13.6), from Canetti,
 * Gennaro, Goldfeder, Makriyannis, Peled, "UC Non-Interactive, Proactive, Threshold ECDSA with
 * Identifiable Aborts" (CCS 2020; ePrint 2021/060): the Paillier–Blum modulus proof Π^mod, the
 * no-small-factor proof Π^fac, and the ring-Pedersen parameter proof Π^prm that Π^fac's
 * auxiliary parameters need. All three are made non-interactive with Fiat–Shamir over the
 * repository's tagged transcripts (spec §1.4–§1.5).
 *
 * Why both: Π^mod shows N = p^a·q^b is a Blum integer with gcd(N, φ(N)) = 1 — hence square-free
 * with exactly two prime factors — but says nothing about their sizes; Π^fac bounds both factors
 * from below, so nobody holds a modulus with a small factor that would let it decrypt alone.
 * Together they replace "the modulus is trusted to have large factors" (spec §11.3).
 *
 * Integers are kept non-negative: masks are drawn from [0, B) instead of the paper's ±B and an
 * honest prover redraws in the negligible case where a response would leave its range, so every
 * response has one fixed-length unsigned encoding (spec §1.2). Browser-safe (no `node:` imports).
 */
import { TallyError } from '../errors.js';
import { hexToInt, intToHex, parseHex } from '../wire.js';
import { bitLength, byteLength, fromBytesBE, gcd, mod, modInv, modPow, randomBelow, randomUnit } from './bigint.js';
import { TAGS, transcript } from './hash.js';
import { isqrt, PAILLIER_MAX_BITS, PAILLIER_MIN_BITS } from './paillier.js';
import type { Check } from './threshold-paillier.js';

type Rng = (n: number) => Uint8Array;

/** Rounds m of Π^mod: soundness error 2^−m against a Fiat–Shamir prover that may grind (spec §13.5). */
export const MOD_ROUNDS = 128;
/** Rounds m of Π^prm (binary challenges): soundness error 2^−m (spec §13.6). */
export const PRM_ROUNDS = 128;
/** ℓ of Π^fac: challenge length, and the statement is "no factor below about √N·2^−(ℓ+ε)" (spec §13.6). */
export const FAC_ELL = 256;
/**
 * ε of Π^fac: statistical slack of the masks (spec §13.6). ℓ + 128, not the paper's 2ℓ: the
 * tightest mask (r over e·σ̂) then hides to 2^(ℓ−ε) = 2^−128, and the proven bound on each
 * factor, √N/2^(ℓ+ε+1), stays above 2^t = 2^256 at the 2048-bit floor (2^382), which the ballot
 * proofs' soundness needs (spec §3.1); with ε = 2ℓ it would fall to about 2^254.
 */
export const FAC_EPS = 384;

/** Bases of the compositeness check 13.5b: the first 20 primes. */
const MR_BASES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n, 43n, 47n, 53n, 59n, 61n, 67n, 71n];

/**
 * Jacobi symbol (a/N) for odd N > 0.
 * @returns −1, 0 or 1
 */
export function jacobi(a: bigint, N: bigint): number {
  if (N <= 0n || (N & 1n) === 0n) throw new RangeError('jacobi: N must be odd and positive');
  a = mod(a, N);
  let t = 1;
  while (a !== 0n) {
    while ((a & 1n) === 0n) {
      a >>= 1n;
      const r = N & 7n;
      if (r === 3n || r === 5n) t = -t;
    }
    [a, N] = [N, a];
    if ((a & 3n) === 3n && (N & 3n) === 3n) t = -t;
    a %= N;
  }
  return N === 1n ? t : 0;
}

/**
 * True if one of the fixed Miller–Rabin bases proves N composite (check 13.5b). A witness is a
 * certificate: no prime passes. A product of two large primes has no known chance of lacking one.
 */
export function provablyComposite(N: bigint): boolean {
  if (N < 4n) return false;
  if ((N & 1n) === 0n) return true;
  let d = N - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  for (const a of MR_BASES) {
    if (a % N === 0n) continue;
    let x = modPow(a, d, N);
    if (x === 1n || x === N - 1n) continue;
    let witness = true;
    for (let r = 1; r < s; r++) {
      x = (x * x) % N;
      if (x === N - 1n) {
        witness = false;
        break;
      }
    }
    if (witness) return true;
  }
  return false;
}

/** First `len` bytes of H(tag-transcript ‖ U32(block)) for block = 0, 1, … (spec §13.5). */
function expand(len: number, block: (b: number) => Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(len / 32) * 32);
  for (let b = 0; b * 32 < len; b++) out.set(block(b), b * 32);
  return out.subarray(0, len);
}

function isUnit(x: bigint, N: bigint): boolean {
  return x > 0n && x < N && gcd(x, N) === 1n;
}

// ---------------------------------------------------------------------------------------------
// Π^mod: N is a Paillier–Blum modulus (CGGMP, Fig. "Paillier-Blum Modulus ZK").
// ---------------------------------------------------------------------------------------------

/** One round of Π^mod: x_i⁴ = (−1)^a_i · w^b_i · y_i and z_i^N = y_i (mod N). */
export interface ModRound {
  readonly x: bigint;
  readonly a: 0 | 1;
  readonly b: 0 | 1;
  readonly z: bigint;
}

/** A Π^mod proof: w with Jacobi symbol −1, and MOD_ROUNDS rounds. */
export interface ModulusProof {
  readonly w: bigint;
  readonly rounds: readonly ModRound[];
}

/** y_i of spec §13.5: L_N + 16 bytes of H(modulusProof, U32(L_N) ‖ INT(N, L_N) ‖ INT(w, L_N) ‖ U32(i) ‖ U32(j)) mod N. */
export function modChallenge(N: bigint, w: bigint, i: number): bigint {
  const L = byteLength(N);
  const bytes = expand(L + 16, (j) => transcript(TAGS.modulusProof).u32(L).int(N, L).int(w, L).u32(i).u32(j).digest());
  return fromBytesBE(bytes) % N;
}

/** Legendre symbol of a modulo an odd prime p by Euler's criterion: 1, −1 or 0. */
function legendre(a: bigint, p: bigint): number {
  const r = modPow(a, (p - 1n) / 2n, p);
  return r === 1n ? 1 : r === 0n ? 0 : -1;
}

/** CRT: the x mod p·q with x ≡ xp (mod p), x ≡ xq (mod q). */
function crt(xp: bigint, xq: bigint, p: bigint, q: bigint): bigint {
  return mod(xq + q * ((xp - xq) * modInv(q, p)), p * q);
}

/**
 * Prove that N = p·q is a Paillier–Blum modulus (Π^mod, spec §13.5).
 * @param p - prime ≡ 3 (mod 4)
 * @param q - prime ≡ 3 (mod 4), q ≠ p
 * @throws RangeError if p, q are not ≡ 3 (mod 4) (no proof exists then)
 */
export function proveModulus(p: bigint, q: bigint, rng?: Rng): ModulusProof {
  if ((p & 3n) !== 3n || (q & 3n) !== 3n || p === q) throw new RangeError('proveModulus: p and q must be distinct primes ≡ 3 (mod 4)');
  const N = p * q;
  // z_i = y_i^(N⁻¹ mod φ(N)) mod N, computed by CRT with half-size exponents (about 4× faster).
  const dp = modInv(N, p - 1n);
  const dq = modInv(N, q - 1n);
  let w: bigint;
  do w = randomUnit(N, rng);
  while (jacobi(w, N) !== -1);
  const wp = legendre(w, p);
  // For p ≡ 3 (mod 4), a^((p+1)/4) is the square root of a quadratic residue a that is itself a
  // residue, so raising to ((p+1)/4)² gives a fourth root.
  const ep = ((p + 1n) / 4n) ** 2n % (p - 1n);
  const eq = ((q + 1n) / 4n) ** 2n % (q - 1n);
  const rounds: ModRound[] = [];
  for (let i = 0; i < MOD_ROUNDS; i++) {
    const y = modChallenge(N, w, i);
    if (gcd(y, N) !== 1n) throw new RangeError('proveModulus: a challenge shares a factor with N');
    let lp = legendre(y, p);
    let lq = legendre(y, q);
    // w flips exactly one of the two symbols (its Jacobi symbol is −1); −1 flips both.
    let b: 0 | 1 = 0;
    if (lp !== lq) {
      b = 1;
      lp *= wp;
      lq *= -wp;
    }
    const a: 0 | 1 = lp === 1 ? 0 : 1;
    let yy = b ? (y * w) % N : y;
    if (a) yy = N - yy;
    const x = crt(modPow(yy, ep, p), modPow(yy, eq, q), p, q);
    rounds.push({ x, a, b, z: crt(modPow(y, dp, p), modPow(y, dq, q), p, q) });
  }
  return { w, rounds };
}

/**
 * Verify Π^mod for N (checks 13.5a–13.5e). Pure; never throws.
 * @param N - the modulus, already checked to be odd and of an accepted size by the caller's key rules
 */
export function verifyModulusProof(N: bigint, proof: ModulusProof): Check {
  if (!(N > 3n && (N & 1n) === 1n)) return { ok: false, check: '13.5a', reason: 'N must be odd' };
  if (!provablyComposite(N)) return { ok: false, check: '13.5b', reason: 'N is not provably composite' };
  const { w, rounds } = proof;
  if (!(isUnit(w, N) && jacobi(w, N) === -1)) return { ok: false, check: '13.5c', reason: 'w must be in Z*_N with Jacobi symbol −1' };
  if (rounds.length !== MOD_ROUNDS) return { ok: false, check: '13.5c', reason: `expected ${MOD_ROUNDS} rounds, got ${rounds.length}` };
  for (let i = 0; i < rounds.length; i++) {
    const { x, a, b, z } = rounds[i]!;
    if (!(x > 0n && x < N && z > 0n && z < N && (a === 0 || a === 1) && (b === 0 || b === 1))) {
      return { ok: false, check: '13.5c', reason: `round ${i}: x, z must be in (0, N) and a, b bits` };
    }
    const y = modChallenge(N, w, i);
    if (modPow(z, N, N) !== y) return { ok: false, check: '13.5d', reason: `round ${i}: z^N ≢ y (mod N)` };
    let rhs = b ? (y * w) % N : y;
    if (a) rhs = mod(-rhs, N);
    if (modPow(x, 4n, N) !== rhs) return { ok: false, check: '13.5e', reason: `round ${i}: x⁴ ≢ (−1)^a·w^b·y (mod N)` };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Ring-Pedersen parameters and Π^prm (CGGMP, Fig. "Ring-Pedersen Parameters ZK").
// ---------------------------------------------------------------------------------------------

/** Auxiliary parameters (N̂, s, t) of Π^fac, with s = t^λ mod N̂ (spec §13.6). */
export interface RingPedersen {
  /** N̂: product of two safe primes, factorization unknown to the Π^fac prover */
  readonly N: bigint;
  readonly s: bigint;
  readonly t: bigint;
}

/** Π^prm: A_i = t^{a_i}, z_i = a_i + e_i·λ mod φ(N̂), t^{z_i} = A_i · s^{e_i}. */
export interface RingPedersenProof {
  readonly A: readonly bigint[];
  readonly z: readonly bigint[];
}

function ringPedersenWrite<W extends { u32(x: number): W; int(x: bigint, l: number): W }>(w: W, rp: RingPedersen): W {
  const L = byteLength(rp.N);
  return w.u32(L).int(rp.N, L).int(rp.s, L).int(rp.t, L);
}

/** The challenge bits e_0 … e_{m−1} of Π^prm: the first m bits (most significant first) of H(…). */
function prmChallengeBits(rp: RingPedersen, A: readonly bigint[]): number[] {
  const L = byteLength(rp.N);
  const w = ringPedersenWrite(transcript(TAGS.ringPedersenProof), rp).list(A, (w2, x) => w2.int(x, L));
  const h = w.digest();
  return Array.from({ length: PRM_ROUNDS }, (_, i) => (h[i >> 3]! >> (7 - (i & 7))) & 1);
}

/**
 * Generate ring-Pedersen parameters from two safe primes P, Q and prove them (Π^prm). Run by a
 * party that is NOT the dealer of the modulus being proven (spec §13.6); it keeps λ and P, Q
 * to itself or erases them.
 */
export function generateRingPedersen(P: bigint, Q: bigint, rng?: Rng): { params: RingPedersen; proof: RingPedersenProof } {
  const N = P * Q;
  const phi = (P - 1n) * (Q - 1n);
  const tau = randomUnit(N, rng);
  const t = (tau * tau) % N;
  const lambda = randomBelow(phi, rng);
  const params = { N, s: modPow(t, lambda, N), t };
  const a = Array.from({ length: PRM_ROUNDS }, () => randomBelow(phi, rng));
  const A = a.map((ai) => modPow(t, ai, N));
  const e = prmChallengeBits(params, A);
  return { params, proof: { A, z: a.map((ai, i) => (ai + BigInt(e[i]!) * lambda) % phi) } };
}

/**
 * Verify ring-Pedersen parameters and their Π^prm (checks 13.6a–13.6c). Pure; never throws.
 * @param options.minBits - smallest accepted bit length of N̂ (default PAILLIER_MIN_BITS)
 */
export function verifyRingPedersen(rp: RingPedersen, proof: RingPedersenProof, options: { minBits?: number } = {}): Check {
  const bits = bitLength(rp.N);
  if (bits < (options.minBits ?? PAILLIER_MIN_BITS) || bits > PAILLIER_MAX_BITS || (rp.N & 1n) === 0n) {
    return { ok: false, check: '13.6a', reason: 'N̂ must be odd and of an accepted size' };
  }
  if (!isUnit(rp.s, rp.N) || !isUnit(rp.t, rp.N) || rp.s === 1n || rp.t === 1n) return { ok: false, check: '13.6a', reason: 's and t must be in Z*_N̂ and ≠ 1' };
  if (proof.A.length !== PRM_ROUNDS || proof.z.length !== PRM_ROUNDS) return { ok: false, check: '13.6b', reason: `expected ${PRM_ROUNDS} rounds` };
  if (!proof.A.every((x) => isUnit(x, rp.N)) || !proof.z.every((x) => x >= 0n && x < rp.N)) {
    return { ok: false, check: '13.6b', reason: 'A_i must be in Z*_N̂ and z_i in [0, N̂)' };
  }
  const e = prmChallengeBits(rp, proof.A);
  for (let i = 0; i < PRM_ROUNDS; i++) {
    const rhs = e[i] ? (proof.A[i]! * rp.s) % rp.N : proof.A[i]!;
    if (modPow(rp.t, proof.z[i]!, rp.N) !== rhs) return { ok: false, check: '13.6c', reason: `round ${i}: t^z ≢ A·s^e (mod N̂)` };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Π^fac: no factor of N0 below √N0 / 2^(ℓ+ε+1) (CGGMP, Fig. "No Small Factor Proof").
// ---------------------------------------------------------------------------------------------

/** A Π^fac proof (field names as in spec §13.6). */
export interface FactorProof {
  readonly P: bigint;
  readonly Q: bigint;
  readonly A: bigint;
  readonly B: bigint;
  readonly T: bigint;
  readonly sigma: bigint;
  readonly e: bigint;
  readonly z1: bigint;
  readonly z2: bigint;
  readonly w1: bigint;
  readonly w2: bigint;
  readonly v: bigint;
}

/** Exclusive upper bounds of every Π^fac field, from N0 and N̂ (spec §13.6). */
export function factorBounds(N0: bigint, Nh: bigint) {
  const le = 1n << BigInt(FAC_ELL + FAC_EPS);
  const l = 1n << BigInt(FAC_ELL);
  const S = isqrt(N0) + 1n;
  return {
    /** masks α, β ∈ [0, 2^(ℓ+ε)·S) */
    alpha: le * S,
    /** μ, ν ∈ [0, 2^ℓ·N̂) */
    mu: l * Nh,
    /** σ ∈ [0, 2^ℓ·N0·N̂) */
    sigma: l * N0 * Nh,
    /** r ∈ [0, 2^(ℓ+ε)·N0·N̂) */
    r: le * N0 * Nh,
    /** x, y ∈ [0, 2^(ℓ+ε)·N̂) */
    x: le * Nh,
    /** z1, z2 < 2^(ℓ+ε+1)·S: the range check that bounds the factors */
    z: 2n * le * S,
    /** w1, w2 < 2^(ℓ+ε+1)·N̂ */
    w: 2n * le * Nh,
    /** v < 2^(ℓ+ε+1)·N0·N̂ */
    v: 2n * le * N0 * Nh,
  };
}

function facChallenge(N0: bigint, rp: RingPedersen, pr: Pick<FactorProof, 'P' | 'Q' | 'A' | 'B' | 'T' | 'sigma'>): bigint {
  const L0 = byteLength(N0);
  const L = byteLength(rp.N);
  const Ls = byteLength(factorBounds(N0, rp.N).sigma);
  const w = ringPedersenWrite(transcript(TAGS.factorProof).u32(L0).int(N0, L0), rp)
    .int(pr.P, L).int(pr.Q, L).int(pr.A, L).int(pr.B, L).int(pr.T, L).int(pr.sigma, Ls);
  return fromBytesBE(w.digest());
}

/**
 * Prove that N0 = p·q has no small factor (Π^fac, spec §13.6) against ring-Pedersen parameters
 * `rp` that someone else generated. The prover does not check that p, q are large: a modulus
 * with a small factor yields a proof that fails the range check 13.6e.
 */
export function proveNoSmallFactor(p: bigint, q: bigint, rp: RingPedersen, rng?: Rng): FactorProof {
  const N0 = p * q;
  const { N, s, t } = rp;
  const bd = factorBounds(N0, N);
  for (;;) {
    const alpha = randomBelow(bd.alpha, rng);
    const beta = randomBelow(bd.alpha, rng);
    const mu = randomBelow(bd.mu, rng);
    const nu = randomBelow(bd.mu, rng);
    const sigma = randomBelow(bd.sigma, rng);
    const r = randomBelow(bd.r, rng);
    const x = randomBelow(bd.x, rng);
    const y = randomBelow(bd.x, rng);
    const P = (modPow(s, p, N) * modPow(t, mu, N)) % N;
    const Q = (modPow(s, q, N) * modPow(t, nu, N)) % N;
    const A = (modPow(s, alpha, N) * modPow(t, x, N)) % N;
    const B = (modPow(s, beta, N) * modPow(t, y, N)) % N;
    const T = (modPow(Q, alpha, N) * modPow(t, r, N)) % N;
    const e = facChallenge(N0, rp, { P, Q, A, B, T, sigma });
    const sigmaHat = sigma - nu * p;
    const proof = { P, Q, A, B, T, sigma, e, z1: alpha + e * p, z2: beta + e * q, w1: x + e * mu, w2: y + e * nu, v: r + e * sigmaHat };
    // An honest prover lands outside the ranges only with negligible probability (v < 0 or the
    // other factor dominating); a prover with a small factor always does for z1 or z2. Redraw
    // only in the first case, so a small factor still produces a (failing) proof.
    const inRange = proof.v >= 0n && proof.v < bd.v && proof.w1 < bd.w && proof.w2 < bd.w;
    if (inRange) return proof;
  }
}

/**
 * Verify Π^fac for N0 (checks 13.6d–13.6g). Pure; never throws. Ranges first, then equations.
 * @param rp - ring-Pedersen parameters already verified with `verifyRingPedersen`
 */
export function verifyNoSmallFactor(N0: bigint, rp: RingPedersen, pr: FactorProof): Check {
  const { N, s, t } = rp;
  const bd = factorBounds(N0, N);
  if (![pr.P, pr.Q, pr.A, pr.B, pr.T].every((x) => isUnit(x, N))) return { ok: false, check: '13.6d', reason: 'P, Q, A, B, T must be in Z*_N̂' };
  if (!(pr.sigma >= 0n && pr.sigma < bd.sigma && pr.e >= 0n && pr.e < 1n << BigInt(FAC_ELL))) {
    return { ok: false, check: '13.6d', reason: 'σ or e out of range' };
  }
  if (!(pr.w1 >= 0n && pr.w1 < bd.w && pr.w2 >= 0n && pr.w2 < bd.w && pr.v >= 0n && pr.v < bd.v)) {
    return { ok: false, check: '13.6d', reason: 'w1, w2 or v out of range' };
  }
  if (!(pr.z1 >= 0n && pr.z1 < bd.z && pr.z2 >= 0n && pr.z2 < bd.z)) {
    return { ok: false, check: '13.6e', reason: 'z1 or z2 out of range: N0 may have a small factor' };
  }
  if (facChallenge(N0, rp, pr) !== pr.e) return { ok: false, check: '13.6f', reason: 'challenge mismatch' };
  const R = (modPow(s, N0, N) * modPow(t, pr.sigma, N)) % N;
  const ok1 = (modPow(s, pr.z1, N) * modPow(t, pr.w1, N)) % N === (pr.A * modPow(pr.P, pr.e, N)) % N;
  const ok2 = (modPow(s, pr.z2, N) * modPow(t, pr.w2, N)) % N === (pr.B * modPow(pr.Q, pr.e, N)) % N;
  const ok3 = (modPow(pr.Q, pr.z1, N) * modPow(t, pr.v, N)) % N === (pr.T * modPow(R, pr.e, N)) % N;
  if (!(ok1 && ok2 && ok3)) return { ok: false, check: '13.6g', reason: 'a verification equation of Π^fac fails' };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// JSON wire forms (spec §13.7): fixed-length hex, lengths from N, N̂ and the bounds above.
// ---------------------------------------------------------------------------------------------

/** Wire form of Π^mod: w and x_i, z_i in L_N bytes; a_i, b_i as JSON numbers 0 or 1. */
export function modulusProofToJson(N: bigint, pr: ModulusProof) {
  const L = byteLength(N);
  return { w: intToHex(pr.w, L), rounds: pr.rounds.map((r) => ({ x: intToHex(r.x, L), a: r.a, b: r.b, z: intToHex(r.z, L) })) };
}

/** Parse Π^mod (wire form and round count before conversion). @throws TallyError MALFORMED */
export function modulusProofFromJson(N: bigint, json: unknown): ModulusProof {
  const L = byteLength(N);
  const o = json as { w?: unknown; rounds?: unknown } | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.rounds) || o.rounds.length !== MOD_ROUNDS) {
    throw new TallyError('MALFORMED', `modulus proof: expected an object with ${MOD_ROUNDS} rounds`);
  }
  const bit = (x: unknown, f: string): 0 | 1 => {
    if (x !== 0 && x !== 1) throw new TallyError('MALFORMED', `${f}: expected 0 or 1`);
    return x;
  };
  return {
    w: hexToInt(o.w, L, 'modProof.w'),
    rounds: o.rounds.map((r: { x?: unknown; a?: unknown; b?: unknown; z?: unknown } | null, i: number) => {
      if (typeof r !== 'object' || r === null) throw new TallyError('MALFORMED', `modProof.rounds[${i}]: expected an object`);
      return { x: hexToInt(r.x, L, `modProof.rounds[${i}].x`), a: bit(r.a, `modProof.rounds[${i}].a`), b: bit(r.b, `modProof.rounds[${i}].b`), z: hexToInt(r.z, L, `modProof.rounds[${i}].z`) };
    }),
  };
}

/** Wire form of ring-Pedersen parameters with their Π^prm (N̂ minimal hex, the rest L_N̂ bytes). */
export function ringPedersenToJson(rp: RingPedersen, pr: RingPedersenProof) {
  const L = byteLength(rp.N);
  return { N: intToHex(rp.N, L), s: intToHex(rp.s, L), t: intToHex(rp.t, L), A: pr.A.map((x) => intToHex(x, L)), z: pr.z.map((x) => intToHex(x, L)) };
}

/** Parse ring-Pedersen parameters and Π^prm. @throws TallyError MALFORMED */
export function ringPedersenFromJson(json: unknown): { params: RingPedersen; proof: RingPedersenProof } {
  const o = json as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) throw new TallyError('MALFORMED', 'ring-Pedersen parameters: expected an object');
  const nb = parseHex(o.N, 'ringPedersen.N', undefined, PAILLIER_MAX_BITS / 8);
  if (nb.length === 0 || nb[0] === 0) throw new TallyError('MALFORMED', 'ringPedersen.N: must be minimal big-endian');
  const L = nb.length;
  const list = (x: unknown, f: string) => {
    if (!Array.isArray(x) || x.length !== PRM_ROUNDS) throw new TallyError('MALFORMED', `${f}: expected ${PRM_ROUNDS} entries`);
    return x.map((y: unknown, i: number) => hexToInt(y, L, `${f}[${i}]`));
  };
  return {
    params: { N: fromBytesBE(nb), s: hexToInt(o.s, L, 'ringPedersen.s'), t: hexToInt(o.t, L, 'ringPedersen.t') },
    proof: { A: list(o.A, 'ringPedersen.A'), z: list(o.z, 'ringPedersen.z') },
  };
}

/** Byte lengths of the Π^fac fields (spec §13.7). */
export function factorProofLengths(N0: bigint, Nh: bigint) {
  const bd = factorBounds(N0, Nh);
  return { elem: byteLength(Nh), sigma: byteLength(bd.sigma), e: 32, z: byteLength(bd.z), w: byteLength(bd.w), v: byteLength(bd.v) };
}

const FAC_FIELDS = ['P', 'Q', 'A', 'B', 'T', 'sigma', 'e', 'z1', 'z2', 'w1', 'w2', 'v'] as const;
type FacLen = keyof ReturnType<typeof factorProofLengths>;
const FAC_LEN: Record<(typeof FAC_FIELDS)[number], FacLen> = { P: 'elem', Q: 'elem', A: 'elem', B: 'elem', T: 'elem', sigma: 'sigma', e: 'e', z1: 'z', z2: 'z', w1: 'w', w2: 'w', v: 'v' };

/** Wire form of Π^fac. @throws RangeError if a field does not fit its length (a failing proof from a small factor may not) */
export function factorProofToJson(N0: bigint, Nh: bigint, pr: FactorProof): Record<(typeof FAC_FIELDS)[number], string> {
  const len = factorProofLengths(N0, Nh);
  return Object.fromEntries(FAC_FIELDS.map((f) => [f, intToHex(pr[f], len[FAC_LEN[f]])])) as Record<(typeof FAC_FIELDS)[number], string>;
}

/** Parse Π^fac: every field at its fixed length (spec §13.7). @throws TallyError MALFORMED */
export function factorProofFromJson(N0: bigint, Nh: bigint, json: unknown): FactorProof {
  const o = json as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) throw new TallyError('MALFORMED', 'factor proof: expected an object');
  const len = factorProofLengths(N0, Nh);
  return Object.fromEntries(FAC_FIELDS.map((f) => [f, hexToInt(o[f], len[FAC_LEN[f]], `facProof.${f}`)])) as unknown as FactorProof;
}
