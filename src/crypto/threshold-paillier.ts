/**
 * k-of-n threshold Paillier decryption (spec/13-trustees.md §13.2–§13.4), after Shoup
 * ("Practical Threshold Signatures", EUROCRYPT 2000) and Damgård–Jurik ("A Generalisation, a
 * Simplification and Some Applications of Paillier's Probabilistic Public-Key System", PKC 2001,
 * §4, with s = 1).
 *
 * Why this scheme: it keeps the election's encryption exactly as it is (g = n + 1, spec §3), so
 * ballots, proofs and the homomorphic tally do not change; only the final decryption of each
 * question's tally is split among trustees. The secret exponent d satisfies d ≡ 0 (mod m) and
 * d ≡ 1 (mod n) with m = p'q', so c^(4Δ²d) = (1+n)^(4Δ²·M) for c = Enc(M): Shamir shares of d over
 * Z_{n·m}, combined "in the exponent" with Lagrange coefficients multiplied by Δ = l! (which
 * makes them integers without knowing m), give back M. 1-of-1 is the same code with k = l = 1.
 *
 * Why a verification base derived from n (and not chosen by the dealer): the share proofs are
 * sound only if v generates the squares of Z*_{n²}; a dealer-chosen v of small order would let
 * a trustee forge partial decryptions. Hashing n to v leaves nobody a choice.
 *
 * Browser-safe (no `node:` imports): the verifier and the web results page reuse it.
 * Not constant-time (see bigint.ts): a trustee should decrypt on a machine it controls.
 */
import { TallyError } from '../errors.js';
import type { CanonicalWriter } from '../canonical.js';
import { hexToInt, intToHex, parseHex } from '../wire.js';
import { bitLength, byteLength, fromBytesBE, gcd, mod, modInv, modPow, randomBelow } from './bigint.js';
import { TAGS, transcript } from './hash.js';
import { PAILLIER_MAX_BITS, PAILLIER_MIN_BITS } from './paillier.js';

/** Largest number of trustees: bounds Δ = l! (64! < 2^297) and so every exponent a verifier computes. */
export const MAX_TRUSTEES = 64;
/** Challenge length t in bits (spec §1.1). */
export const CHALLENGE_BITS = 256;

type Rng = (n: number) => Uint8Array;

/** l! as a bigint. */
export function factorial(l: number): bigint {
  let f = 1n;
  for (let i = 2; i <= l; i++) f *= BigInt(i);
  return f;
}

/**
 * The public threshold key (spec §13.2): n, threshold k, number of trustees l, the derived base
 * v and the verification keys v_i = v^(Δ·s_i) mod n². Build with `thresholdPublicKey`.
 */
export interface ThresholdPublicKey {
  readonly n: bigint;
  readonly n2: bigint;
  /** L_n and L_{n²} (spec §1.1) */
  readonly nLen: number;
  readonly n2Len: number;
  /** k: any k trustees decrypt, k − 1 learn nothing */
  readonly k: number;
  /** l: number of trustees; indices are 1 … l */
  readonly l: number;
  /** Δ = l! */
  readonly delta: bigint;
  /** v: verification base, H-derived square in Z*_{n²} (spec §13.2) */
  readonly v: bigint;
  /** v_i for i = 1 … l, at index i − 1 */
  readonly vi: readonly bigint[];
  /** v_0 = v^d mod n², ≡ 1 (mod n): the (1+n)-component of v (spec §13.2, check 13.2d) */
  readonly v0: bigint;
  /** ρ ∈ Z*_n with ρ^n · v_0 ≡ v (mod n²): shows v / v_0 is an n-th residue (check 13.2d) */
  readonly rho: bigint;
  /** R: the proof's mask r is drawn from [0, 2^R) (spec §13.4) */
  readonly maskBits: number;
  /** L_z = R/8 + 1: byte length of a response z < 2^(R+1) */
  readonly zLen: number;
}

/** Range of sizes a caller accepts for n; elections use the default (spec §3.2a). */
export interface SizeOptions {
  /** smallest accepted bit length of n (default PAILLIER_MIN_BITS; lower only for small test moduli) */
  readonly minBits?: number;
}

/**
 * The verification base v (spec §13.2): for j = 0, 1, …, y_j is the first L_{n²} + 16 bytes of
 * H(thresholdBase, U32(L_n) ‖ INT(n, L_n) ‖ U32(j) ‖ U32(b)) for b = 0, 1, … as an integer mod n²;
 * the first y_j in Z*_{n²} gives v = y_j² mod n².
 */
export function verificationBase(n: bigint): bigint {
  const nLen = byteLength(n);
  const n2 = n * n;
  const need = byteLength(n2) + 16;
  for (let j = 0; ; j++) {
    const buf = new Uint8Array(Math.ceil(need / 32) * 32);
    for (let b = 0; b * 32 < need; b++) {
      buf.set(transcript(TAGS.thresholdBase).u32(nLen).int(n, nLen).u32(j).u32(b).digest(), b * 32);
    }
    const y = fromBytesBE(buf.subarray(0, need)) % n2;
    if (y !== 0n && gcd(y, n) === 1n) return (y * y) % n2;
  }
}

/** The public values of a threshold key before validation. */
export interface ThresholdKeyValues {
  readonly n: bigint;
  readonly k: number;
  readonly l: number;
  readonly vi: readonly bigint[];
  readonly v0: bigint;
  readonly rho: bigint;
}

/**
 * Validate a threshold key and build it (checks 13.2a–13.2e).
 * 13.2d and 13.2e make the dealer's output publicly checkable: every v_i lies on one polynomial
 * of degree < k "in the exponent", and its value at 0 is d with d ≡ 1 (mod n), so that any k
 * shares that pass their proofs combine to the true plaintext even if the dealer cheated.
 * @param values.n - modulus: odd, minBits ≤ bitlen(n) ≤ 4096, bitlen even
 * @param values.k - threshold, 1 ≤ k ≤ l
 * @param values.l - trustees, 1 ≤ l ≤ MAX_TRUSTEES
 * @param values.vi - l verification keys, each in Z*_{n²}
 * @param values.v0 - v^d: 0 < v_0 < n², v_0 ≡ 1 (mod n)
 * @param values.rho - 0 < ρ < n, gcd(ρ, n) = 1, ρ^n · v_0 ≡ v (mod n²)
 * @throws TallyError BAD_PUBLIC_KEY naming the failed check
 */
export function thresholdPublicKey(values: ThresholdKeyValues, options: SizeOptions = {}): ThresholdPublicKey {
  const shape = thresholdShape(values.n, values.k, values.l, values.vi, options);
  const { n, n2, v, delta, k, l, vi } = shape;
  const { v0, rho } = values;
  if (!(v0 > 0n && v0 < n2 && v0 % n === 1n && v0 !== 1n)) {
    throw new TallyError('BAD_PUBLIC_KEY', 'threshold key: v_0 must be in (1, n²) with v_0 ≡ 1 (mod n) (check 13.2d)', { details: { check: '13.2d' } });
  }
  if (!(rho > 0n && rho < n && gcd(rho, n) === 1n && (modPow(rho, n, n2) * v0) % n2 === v)) {
    throw new TallyError('BAD_PUBLIC_KEY', 'threshold key: ρ^n · v_0 ≢ v (mod n²) (check 13.2d)', { details: { check: '13.2d' } });
  }
  // 13.2e: with S = {1 … k}, ∏ v_i^(2λ_{0,i}) = v_0^(2Δ²) and, for j > k, v_j^Δ = ∏ v_i^(λ_{j,i}).
  const S = Array.from({ length: k }, (_, i) => i + 1);
  const at = (x: number) => {
    let acc = 1n;
    for (const i of S) acc = (acc * powSigned(vi[i - 1]!, lagrangeAt(delta, S, i, x), n2)) % n2;
    return acc;
  };
  // ∏ v_i^(λ_{0,i}) = v^(Δ²·f(0)); squared, it must be v_0^(2Δ²) = v^(2Δ²·d).
  if (modPow(at(0), 2n, n2) !== modPow(v0, 2n * delta * delta, n2)) {
    throw new TallyError('BAD_PUBLIC_KEY', 'threshold key: the verification keys do not interpolate to v_0 (check 13.2e)', { details: { check: '13.2e' } });
  }
  for (let j = k + 1; j <= l; j++) {
    if (modPow(vi[j - 1]!, delta, n2) !== at(j)) {
      throw new TallyError('BAD_PUBLIC_KEY', `threshold key: v_${j} is not on the polynomial of v_1 … v_${k} (check 13.2e)`, { details: { check: '13.2e' } });
    }
  }
  return { ...shape, v0, rho };
}

/** x^e mod m for any integer e (negative: through the inverse); x ∈ Z*_m. */
function powSigned(x: bigint, e: bigint, m: bigint): bigint {
  return e < 0n ? modPow(modInv(x, m), -e, m) : modPow(x, e, m);
}

/** λ_{x,i}^S = Δ·∏_{j∈S, j≠i} (x − j)/(i − j), an integer because Δ = l! and S ⊆ {1 … l}. */
function lagrangeAt(delta: bigint, S: readonly number[], i: number, x: number): bigint {
  let num = delta;
  let den = 1n;
  for (const j of S) {
    if (j === i) continue;
    num *= BigInt(x - j);
    den *= BigInt(i - j);
  }
  if (num % den !== 0n) throw new RangeError('lagrange: Δ·λ is not an integer (an index is above l)');
  return num / den;
}

/** Checks 13.2a–13.2c and the derived values; no dealer-consistency check. */
function thresholdShape(n: bigint, k: number, l: number, vi: readonly bigint[], options: SizeOptions): Omit<ThresholdPublicKey, 'v0' | 'rho'> {
  const minBits = options.minBits ?? PAILLIER_MIN_BITS;
  const bits = bitLength(n);
  if (bits < minBits || bits > PAILLIER_MAX_BITS || bits % 2 !== 0 || (n & 1n) === 0n) {
    throw new TallyError('BAD_PUBLIC_KEY', `threshold key: n must be odd with an even bit length in [${minBits}, ${PAILLIER_MAX_BITS}], got ${bits} bits (check 13.2a)`, { details: { check: '13.2a' } });
  }
  if (!Number.isSafeInteger(l) || l < 1 || l > MAX_TRUSTEES) {
    throw new TallyError('BAD_PUBLIC_KEY', `threshold key: trustees must be in [1, ${MAX_TRUSTEES}], got ${l} (check 13.2b)`, { details: { check: '13.2b' } });
  }
  if (!Number.isSafeInteger(k) || k < 1 || k > l) {
    throw new TallyError('BAD_PUBLIC_KEY', `threshold key: threshold must be in [1, ${l}], got ${k} (check 13.2b)`, { details: { check: '13.2b' } });
  }
  const n2 = n * n;
  if (vi.length !== l) throw new TallyError('BAD_PUBLIC_KEY', `threshold key: expected ${l} verification keys, got ${vi.length} (check 13.2c)`, { details: { check: '13.2c' } });
  vi.forEach((x, i) => {
    if (!(x > 0n && x < n2 && gcd(x, n) === 1n)) {
      throw new TallyError('BAD_PUBLIC_KEY', `threshold key: verification key of trustee ${i + 1} is not in Z*_{n²} (check 13.2c)`, { details: { check: '13.2c' } });
    }
  });
  const delta = factorial(l);
  // R = 8·(L_{n²} + L(Δ) + 2t/8) ≥ bitlen(n²) + bitlen(Δ) + 2t: r hides e·Δ·s_i < 2^t·Δ·n² to
  // within 2^−t. Byte-aligned so that z < 2^(R+1) always has a spare high byte: a response out
  // of range is representable on the wire and refused by check 13.4e, not by the parser.
  const n2Len = byteLength(n2);
  const maskBits = 8 * (n2Len + byteLength(delta) + (2 * CHALLENGE_BITS) / 8);
  return {
    n, n2, nLen: byteLength(n), n2Len, k, l, delta,
    v: verificationBase(n), vi: [...vi], maskBits, zLen: maskBits / 8 + 1,
  };
}

/**
 * Canonical bytes of a threshold key (spec §13.7), for the manifest's fingerprint:
 * U32(L_n) ‖ INT(n, L_n) ‖ U32(k) ‖ U32(l) ‖ LIST(INT(v_i, L_{n²})) ‖ INT(v_0, L_{n²}) ‖ INT(ρ, L_n).
 */
export function encodeThresholdKey<W extends CanonicalWriter>(w: W, pk: ThresholdPublicKey): W {
  w.u32(pk.nLen).int(pk.n, pk.nLen).u32(pk.k).u32(pk.l).list(pk.vi, (w2, x) => w2.int(x, pk.n2Len));
  return w.int(pk.v0, pk.n2Len).int(pk.rho, pk.nLen);
}

/** A trustee's secret share s_i = f(i) mod n·m (spec §13.3). Secret: store it only encrypted. */
export interface KeyShare {
  /** i, 1 ≤ i ≤ l */
  readonly index: number;
  /** s_i, 0 ≤ s_i < n·m < n² */
  readonly s: bigint;
}

/** What the dealer hands out: the public key and one share per trustee. */
export interface Dealing {
  readonly publicKey: ThresholdPublicKey;
  readonly shares: readonly KeyShare[];
}

/**
 * Split the decryption key of n = p·q among l trustees with threshold k (spec §13.3). The dealer
 * runs this once on the ceremony machine and then erases p, q and everything derived from them.
 * @param p - safe prime p = 2p'+1, p ≡ 3 (mod 4)
 * @param q - safe prime q = 2q'+1 of the same length, q ≠ p
 * @param k - threshold, 1 ≤ k ≤ l
 * @param l - trustees, 1 ≤ l ≤ MAX_TRUSTEES, l < min(p', q')
 * @param rng - randomness of the polynomial (defaults to the platform CSPRNG)
 * @throws TallyError BAD_PRIVATE_KEY if p, q cannot form a threshold key
 */
export function dealShares(p: bigint, q: bigint, k: number, l: number, options: SizeOptions & { rng?: Rng } = {}): Dealing {
  if (p === q || (p & 3n) !== 3n || (q & 3n) !== 3n || bitLength(p) !== bitLength(q)) {
    throw new TallyError('BAD_PRIVATE_KEY', 'threshold dealer: p and q must be distinct primes ≡ 3 (mod 4) of equal length');
  }
  const n = p * q;
  const pp = (p - 1n) / 2n;
  const qq = (q - 1n) / 2n;
  const m = pp * qq;
  if (gcd(n, m) !== 1n || BigInt(l) >= (pp < qq ? pp : qq)) {
    throw new TallyError('BAD_PRIVATE_KEY', 'threshold dealer: gcd(n, p′q′) ≠ 1 or too many trustees for this modulus');
  }
  const nm = n * m;
  // d ≡ 0 (mod m), d ≡ 1 (mod n): d = m·(m⁻¹ mod n), 0 < d < n·m.
  const d = m * modInv(m, n);
  const coeffs = [d];
  for (let j = 1; j < k; j++) coeffs.push(randomBelow(nm, options.rng));
  const shares: KeyShare[] = [];
  for (let i = 1; i <= l; i++) {
    // Horner evaluation of f at i, reduced mod n·m.
    let y = 0n;
    for (let j = coeffs.length - 1; j >= 0; j--) y = (y * BigInt(i) + coeffs[j]!) % nm;
    shares.push({ index: i, s: y });
  }
  // Validate k and l through the same checks a verifier runs, then compute v_i = v^(Δ·s_i),
  // v_0 = v^d and ρ, the n-th root of v / v_0 (check 13.2d), and re-run every public check.
  const shape = thresholdShape(n, k, l, Array.from({ length: l }, () => 1n), options);
  const vi = shares.map((sh) => modPow(shape.v, shape.delta * sh.s, shape.n2));
  const v0 = modPow(shape.v, d, shape.n2);
  const unit = (shape.v * modInv(v0, shape.n2)) % shape.n2;
  const rho = modPow(unit % n, modInv(n, (p - 1n) * (q - 1n)), n);
  return { publicKey: thresholdPublicKey({ n, k, l, vi, v0, rho }, options), shares };
}

/** A partial decryption with its proof (spec §13.4); field names as in the spec. */
export interface PartialDecryption {
  /** i: the trustee's index */
  readonly index: number;
  /** c_i = c^(2Δ·s_i) mod n² */
  readonly ci: bigint;
  /** e: Fiat–Shamir challenge, 0 ≤ e < 2^256 */
  readonly e: bigint;
  /** z = r + e·Δ·s_i, 0 ≤ z < 2^(R+1) */
  readonly z: bigint;
}

/** Challenge e of spec §13.4 over the proof's statement and commitments a, b. */
function partialChallenge(pk: ThresholdPublicKey, context: Uint8Array, index: number, c: bigint, ci: bigint, a: bigint, b: bigint): bigint {
  const w = transcript(TAGS.partialDecryption)
    .u32(pk.nLen).int(pk.n, pk.nLen)
    .u32(pk.k).u32(pk.l)
    .bytes(context)
    .u32(index)
    .int(c, pk.n2Len)
    .int(ci, pk.n2Len)
    .int(pk.vi[index - 1]!, pk.n2Len)
    .int(a, pk.n2Len)
    .int(b, pk.n2Len);
  return fromBytesBE(w.digest());
}

/**
 * Trustee i's partial decryption of c with its proof (spec §13.4): c_i = c^(2Δ·s_i) and a proof
 * that log_{c⁴}(c_i²) = log_v(v_i) (= Δ·s_i).
 * @param pk - the threshold key
 * @param share - the trustee's share (its v_i must be pk.vi[index − 1])
 * @param c - ciphertext in Z*_{n²} (a question's encrypted tally; never a single ballot)
 * @param context - bytes bound into the challenge (the election fingerprint and question index, spec §13.4)
 * @throws TallyError OUT_OF_RANGE if c ∉ Z*_{n²} or the share's index is not 1 … l
 */
export function partialDecrypt(pk: ThresholdPublicKey, share: KeyShare, c: bigint, context: Uint8Array, rng?: Rng): PartialDecryption {
  if (!(c > 0n && c < pk.n2 && gcd(c, pk.n) === 1n)) throw new TallyError('OUT_OF_RANGE', 'partial decryption: ciphertext not in Z*_{n²}');
  if (!Number.isSafeInteger(share.index) || share.index < 1 || share.index > pk.l) {
    throw new TallyError('OUT_OF_RANGE', `partial decryption: trustee index must be in [1, ${pk.l}]`);
  }
  const x = pk.delta * share.s;
  const ci = modPow(c, 2n * x, pk.n2);
  const c4 = modPow(c, 4n, pk.n2);
  const r = randomBelow(1n << BigInt(pk.maskBits), rng);
  const a = modPow(c4, r, pk.n2);
  const b = modPow(pk.v, r, pk.n2);
  const e = partialChallenge(pk, context, share.index, c, ci, a, b);
  return { index: share.index, ci, e, z: r + e * x };
}

/** Result of a verification: ok, or the spec check that failed and why. */
export type Check = { readonly ok: true } | { readonly ok: false; readonly check: string; readonly reason: string };

/**
 * Verify a partial decryption of c (spec §13.4, checks 13.4a–13.4f). Pure; never throws.
 * Ranges are checked before any exponentiation.
 */
export function verifyPartial(pk: ThresholdPublicKey, c: bigint, context: Uint8Array, pd: PartialDecryption): Check {
  const { index, ci, e, z } = pd;
  if (!(Number.isSafeInteger(index) && index >= 1 && index <= pk.l)) return { ok: false, check: '13.4a', reason: `trustee index must be in [1, ${pk.l}]` };
  if (!(c > 0n && c < pk.n2 && gcd(c, pk.n) === 1n)) return { ok: false, check: '13.4b', reason: 'ciphertext is not in Z*_{n²}' };
  if (!(ci > 0n && ci < pk.n2 && gcd(ci, pk.n) === 1n)) return { ok: false, check: '13.4c', reason: 'c_i is not in Z*_{n²}' };
  if (!(e >= 0n && e < 1n << BigInt(CHALLENGE_BITS))) return { ok: false, check: '13.4d', reason: 'e is not in [0, 2^256)' };
  if (!(z >= 0n && z < 1n << BigInt(pk.maskBits + 1))) return { ok: false, check: '13.4e', reason: `z is not in [0, 2^${pk.maskBits + 1})` };
  // a = (c⁴)^z · (c_i²)^(−e), b = v^z · v_i^(−e): the commitments the challenge must reproduce.
  const a = (modPow(c, 4n * z, pk.n2) * modInv(modPow(ci, 2n * e, pk.n2), pk.n2)) % pk.n2;
  const b = (modPow(pk.v, z, pk.n2) * modInv(modPow(pk.vi[index - 1]!, e, pk.n2), pk.n2)) % pk.n2;
  if (partialChallenge(pk, context, index, c, ci, a, b) !== e) {
    return { ok: false, check: '13.4f', reason: 'challenge mismatch: the proof that log_{c⁴}(c_i²) = log_v(v_i) does not verify' };
  }
  return { ok: true };
}

/**
 * λ_{0,i}^S = Δ·∏_{j∈S, j≠i} j / (j − i), an integer because Δ = l! (spec §13.4).
 * @param S - distinct indices in [1, l]
 * @param i - a member of S
 */
export function lagrangeCoefficient(delta: bigint, S: readonly number[], i: number): bigint {
  return lagrangeAt(delta, S, i, 0);
}

/**
 * Combine partial decryptions of c into the plaintext (spec §13.4, 13.4g):
 * c' = ∏_{i∈S} c_i^(2λ_{0,i}^S) mod n², M = L(c') · (4Δ²)⁻¹ mod n.
 * Does NOT check the proofs: call `verifyPartial` on each first (or use `decryptWithPartials`).
 * Uses the k partials with the smallest indices when more are given; any k valid ones give the same M.
 * @throws TallyError TOO_FEW_PARTIAL_DECRYPTIONS with fewer than k distinct trustees,
 *   BAD_PARTIAL_DECRYPTION on a repeated index or if c' ≢ 1 (mod n) (some share is wrong)
 */
export function combinePartials(pk: ThresholdPublicKey, partials: readonly PartialDecryption[]): bigint {
  const byIndex = new Map<number, PartialDecryption>();
  for (const pd of partials) {
    if (byIndex.has(pd.index)) throw new TallyError('BAD_PARTIAL_DECRYPTION', `combine: trustee ${pd.index} appears twice (check 13.4g)`, { details: { index: pd.index, check: '13.4g' } });
    if (!Number.isSafeInteger(pd.index) || pd.index < 1 || pd.index > pk.l) throw new TallyError('BAD_PARTIAL_DECRYPTION', `combine: trustee index ${pd.index} out of range (check 13.4a)`, { details: { index: pd.index, check: '13.4a' } });
    byIndex.set(pd.index, pd);
  }
  if (byIndex.size < pk.k) {
    throw new TallyError('TOO_FEW_PARTIAL_DECRYPTIONS', `combine: need ${pk.k} partial decryptions from distinct trustees, got ${byIndex.size} (check 13.4g)`, { details: { expected: pk.k, got: byIndex.size, check: '13.4g' } });
  }
  const S = [...byIndex.keys()].sort((x, y) => x - y).slice(0, pk.k);
  let acc = 1n;
  for (const i of S) {
    acc = (acc * powSigned(byIndex.get(i)!.ci, 2n * lagrangeCoefficient(pk.delta, S, i), pk.n2)) % pk.n2;
  }
  if (acc % pk.n !== 1n) throw new TallyError('BAD_PARTIAL_DECRYPTION', 'combine: c′ ≢ 1 (mod n): a partial decryption is wrong (check 13.4g)', { details: { check: '13.4g' } });
  const L = (acc - 1n) / pk.n;
  return mod(L * modInv(4n * pk.delta * pk.delta, pk.n), pk.n);
}

/**
 * Verify every partial decryption of c, then combine (checks 13.4a–13.4g). The first invalid one
 * is reported by trustee index and check id; invalid partials are never combined.
 * @throws TallyError BAD_PARTIAL_DECRYPTION (details: index, check) or TOO_FEW_PARTIAL_DECRYPTIONS
 */
export function decryptWithPartials(pk: ThresholdPublicKey, c: bigint, context: Uint8Array, partials: readonly PartialDecryption[]): bigint {
  for (const pd of partials) {
    const r = verifyPartial(pk, c, context, pd);
    if (!r.ok) {
      throw new TallyError('BAD_PARTIAL_DECRYPTION', `partial decryption of trustee ${pd.index}: ${r.reason} (check ${r.check})`, { details: { index: pd.index, check: r.check } });
    }
  }
  return combinePartials(pk, partials);
}

// ---------------------------------------------------------------------------------------------
// JSON wire forms (spec §13.7). Big integers are fixed-length hex (spec §1.3); n is minimal hex.
// ---------------------------------------------------------------------------------------------

/** JSON of the public threshold key. v is not published: every verifier derives it from n. */
export interface ThresholdPublicKeyJson {
  readonly n: string;
  readonly threshold: number;
  readonly trustees: number;
  readonly verificationKeys: readonly string[];
  readonly v0: string;
  readonly rho: string;
}

/** Wire form of a threshold public key. */
export function thresholdKeyToJson(pk: ThresholdPublicKey): ThresholdPublicKeyJson {
  return {
    n: intToHex(pk.n, pk.nLen), threshold: pk.k, trustees: pk.l,
    verificationKeys: pk.vi.map((x) => intToHex(x, pk.n2Len)), v0: intToHex(pk.v0, pk.n2Len), rho: intToHex(pk.rho, pk.nLen),
  };
}

/**
 * Parse and validate a threshold public key (lengths before conversion, then checks 13.2a–13.2c).
 * @throws TallyError MALFORMED or BAD_PUBLIC_KEY
 */
export function thresholdKeyFromJson(json: unknown, options: SizeOptions = {}): ThresholdPublicKey {
  const o = json as Partial<Record<keyof ThresholdPublicKeyJson, unknown>> | null;
  if (typeof o !== 'object' || o === null) throw new TallyError('MALFORMED', 'threshold key: expected an object');
  const nBytes = parseHex(o.n, 'threshold.n', undefined, PAILLIER_MAX_BITS / 8);
  if (nBytes.length === 0 || nBytes[0] === 0) throw new TallyError('MALFORMED', 'threshold.n: must be minimal big-endian (no leading zero byte)');
  if (!Number.isSafeInteger(o.trustees) || !Number.isSafeInteger(o.threshold)) throw new TallyError('MALFORMED', 'threshold key: threshold and trustees must be integers');
  const l = o.trustees as number;
  if (l < 1 || l > MAX_TRUSTEES) throw new TallyError('BAD_PUBLIC_KEY', `threshold key: trustees must be in [1, ${MAX_TRUSTEES}] (check 13.2b)`, { details: { check: '13.2b' } });
  if (!Array.isArray(o.verificationKeys) || o.verificationKeys.length !== l) {
    throw new TallyError('MALFORMED', `threshold.verificationKeys: expected ${l} entries`);
  }
  const n = fromBytesBE(nBytes);
  const n2Len = byteLength(n * n);
  const vi = o.verificationKeys.map((x: unknown, i: number) => hexToInt(x, n2Len, `threshold.verificationKeys[${i}]`));
  const v0 = hexToInt(o.v0, n2Len, 'threshold.v0');
  const rho = hexToInt(o.rho, nBytes.length, 'threshold.rho');
  return thresholdPublicKey({ n, k: o.threshold as number, l, vi, v0, rho }, options);
}

/** JSON of a partial decryption. */
export interface PartialDecryptionJson {
  readonly index: number;
  readonly ci: string;
  readonly e: string;
  readonly z: string;
}

/** Wire form of a partial decryption. */
export function partialToJson(pk: ThresholdPublicKey, pd: PartialDecryption): PartialDecryptionJson {
  return { index: pd.index, ci: intToHex(pd.ci, pk.n2Len), e: intToHex(pd.e, 32), z: intToHex(pd.z, pk.zLen) };
}

/**
 * Parse a partial decryption: wire form only (verifyPartial checks ranges and the proof).
 * @throws TallyError MALFORMED
 */
export function partialFromJson(pk: ThresholdPublicKey, json: unknown): PartialDecryption {
  const o = json as Partial<Record<keyof PartialDecryptionJson, unknown>> | null;
  if (typeof o !== 'object' || o === null) throw new TallyError('MALFORMED', 'partial decryption: expected an object');
  if (!Number.isSafeInteger(o.index)) throw new TallyError('MALFORMED', 'partial decryption: index must be an integer');
  return {
    index: o.index as number,
    ci: hexToInt(o.ci, pk.n2Len, 'partial.ci'),
    e: hexToInt(o.e, 32, 'partial.e'),
    z: hexToInt(o.z, pk.zLen, 'partial.z'),
  };
}

/** JSON of a key share (secret: only ever stored encrypted under the trustee's passphrase). */
export interface KeyShareJson {
  readonly index: number;
  readonly s: string;
}

/** Wire form of a key share: s in L_{n²} bytes. */
export function shareToJson(pk: ThresholdPublicKey, share: KeyShare): KeyShareJson {
  return { index: share.index, s: intToHex(share.s, pk.n2Len) };
}

/**
 * Parse a key share and check it against its verification key: v^(Δ·s_i) = v_i (check 13.3a).
 * @throws TallyError MALFORMED, or BAD_PRIVATE_KEY if the share does not match the public key
 */
export function shareFromJson(pk: ThresholdPublicKey, json: unknown): KeyShare {
  const o = json as Partial<Record<keyof KeyShareJson, unknown>> | null;
  if (typeof o !== 'object' || o === null) throw new TallyError('MALFORMED', 'key share: expected an object');
  const index = o.index;
  if (!Number.isSafeInteger(index) || (index as number) < 1 || (index as number) > pk.l) throw new TallyError('MALFORMED', `key share: index must be in [1, ${pk.l}]`);
  const s = hexToInt(o.s, pk.n2Len, 'share.s');
  if (modPow(pk.v, pk.delta * s, pk.n2) !== pk.vi[(index as number) - 1]) {
    throw new TallyError('BAD_PRIVATE_KEY', `key share ${index as number}: v^(Δ·s) ≠ v_${index as number} (check 13.3a)`, { details: { index, check: '13.3a' } });
  }
  return { index: index as number, s };
}
