/**
 * Paillier encryption with g = n + 1 (spec/03-paillier.md).
 *
 * Why Paillier: it is additively homomorphic, so the product of all ballots' ciphertexts
 * encrypts the sum of the votes and only ONE decryption per question is ever made; and with
 * g = n + 1 the key holder can recover the randomness of a ciphertext, which gives a proof of
 * correct decryption that anyone checks with one exponentiation (spec §8.2).
 *
 * With g = n + 1, g^m = 1 + m·n (mod n²), so encryption is c = (1 + m·n) · r^n mod n².
 * Public-key operations are our own (sliding-window modPow, see bigint.ts); decryption and
 * randomness recovery use paillier-bigint's CRT implementation, which we wrap after checking
 * the key's consistency ourselves.
 *
 * This module is browser-safe: no `node:` imports. Key generation lives in paillier-keygen.ts.
 */
import { PrivateKey as PbPrivateKey, PublicKey as PbPublicKey } from 'paillier-bigint';
import { TallyError } from '../errors.js';
import { CanonicalWriter } from '../canonical.js';
import { hexToInt, intToHex, parseHex } from '../wire.js';
import { bitLength, byteLength, fromBytesBE, gcd, mod, modInv, modPow, randomUnit } from './bigint.js';
import { TAGS, transcript } from './hash.js';

/** Smallest accepted modulus size in bits (spec §3.1). */
export const PAILLIER_MIN_BITS = 2048;
/** Largest accepted modulus size in bits: bounds the work a published key can cause. */
export const PAILLIER_MAX_BITS = 4096;
/** Default modulus size for new elections. */
export const PAILLIER_DEFAULT_BITS = 3072;
/** Number of n-th roots in a key proof (spec §3.3): 16 rounds × 16 bits of trial division. */
export const KEY_PROOF_ROUNDS = 16;
/** Trial division bound: n has no prime factor below this (spec §3.2, check 3.2c). */
export const TRIAL_DIVISION_BOUND = 1 << 16;

let smallPrimesCache: number[] | undefined;
/** Odd primes below TRIAL_DIVISION_BOUND (sieve, computed once). */
function smallPrimes(): number[] {
  if (smallPrimesCache) return smallPrimesCache;
  const sieve = new Uint8Array(TRIAL_DIVISION_BOUND);
  const out: number[] = [];
  for (let i = 2; i < TRIAL_DIVISION_BOUND; i++) {
    if (sieve[i]) continue;
    out.push(i);
    for (let j = i * i; j < TRIAL_DIVISION_BOUND; j += i) sieve[j] = 1;
  }
  smallPrimesCache = out;
  return out;
}

/** A validated Paillier public key with g = n + 1. Construct with `PaillierPublicKey.fromN`. */
export class PaillierPublicKey {
  /** n² */
  readonly n2: bigint;
  /** L_n: byte length of n (spec §1.2). */
  readonly nLen: number;
  /** L_{n²}: byte length of n². */
  readonly n2Len: number;

  private constructor(readonly n: bigint) {
    this.n2 = n * n;
    this.nLen = byteLength(n);
    this.n2Len = byteLength(this.n2);
  }

  /**
   * Validate n against the published-key rules of spec §3.2 (checks 3.2a–3.2d) and wrap it.
   * Does NOT check the key proof (§3.3); call `verifyKeyProof` for that.
   * @param n - modulus; 2048 ≤ bitLength(n) ≤ 4096, odd, not a perfect square, no prime factor < 2^16
   * @throws TallyError BAD_PUBLIC_KEY naming the failed check
   */
  static fromN(n: bigint): PaillierPublicKey {
    const bits = bitLength(n);
    if (bits < PAILLIER_MIN_BITS || bits > PAILLIER_MAX_BITS) {
      throw new TallyError('BAD_PUBLIC_KEY', `paillier n: bit length must be in [${PAILLIER_MIN_BITS}, ${PAILLIER_MAX_BITS}], got ${bits} (check 3.2a)`, { details: { check: '3.2a' } });
    }
    if (bits % 2 !== 0) {
      throw new TallyError('BAD_PUBLIC_KEY', `paillier n: bit length must be even (two primes of equal length), got ${bits} (check 3.2a)`, { details: { check: '3.2a' } });
    }
    if ((n & 1n) === 0n) throw new TallyError('BAD_PUBLIC_KEY', 'paillier n: must be odd (check 3.2b)', { details: { check: '3.2b' } });
    for (const p of smallPrimes()) {
      if (n % BigInt(p) === 0n) {
        throw new TallyError('BAD_PUBLIC_KEY', 'paillier n: has a prime factor below 2^16 (check 3.2c)', { details: { check: '3.2c' } });
      }
    }
    const s = isqrt(n);
    if (s * s === n) throw new TallyError('BAD_PUBLIC_KEY', 'paillier n: is a perfect square (check 3.2d)', { details: { check: '3.2d' } });
    return new PaillierPublicKey(n);
  }

  /**
   * True iff x ∈ Z*_{n²}: 0 < x < n² and gcd(x, n) = 1 (spec §3.4).
   * @param x - candidate ciphertext or commitment
   */
  isUnitModN2(x: bigint): boolean {
    return x > 0n && x < this.n2 && gcd(x, this.n) === 1n;
  }

  /**
   * Encrypt with explicit randomness: c = (1 + m·n) · r^n mod n².
   * @param m - plaintext, 0 ≤ m < n
   * @param r - randomness, 0 < r < n, gcd(r, n) = 1
   * @throws RangeError if m or r is out of range (programming error, not user input)
   */
  encrypt(m: bigint, r: bigint): bigint {
    if (m < 0n || m >= this.n) throw new RangeError('paillier encrypt: need 0 <= m < n');
    if (r <= 0n || r >= this.n || gcd(r, this.n) !== 1n) throw new RangeError('paillier encrypt: need r in Z*_n');
    return ((1n + m * this.n) % this.n2) * modPow(r, this.n, this.n2) % this.n2;
  }

  /**
   * Encrypt with fresh uniform randomness r ∈ Z*_n.
   * @returns the ciphertext and its randomness (the randomness is secret: it opens the vote)
   */
  encryptFresh(m: bigint, rng?: (n: number) => Uint8Array): { c: bigint; r: bigint } {
    const r = randomUnit(this.n, rng);
    return { c: this.encrypt(m, r), r };
  }

  /**
   * Homomorphic addition: the product of ciphertexts mod n², an encryption of the sum.
   * The empty product is 1 = Enc(0; 1), the encryption of zero votes (spec §8.1).
   */
  add(ciphertexts: Iterable<bigint>): bigint {
    let acc = 1n;
    for (const c of ciphertexts) acc = (acc * c) % this.n2;
    return acc;
  }

  /** (1 + n)^(−m) mod n² = 1 − m·n mod n²: removes plaintext m from a ciphertext. */
  gInversePow(m: bigint): bigint {
    return mod(1n - m * this.n, this.n2);
  }

  /** Canonical bytes (spec §3.1): BYTES(I2OSP(n, L_n)). */
  encode(w: CanonicalWriter): CanonicalWriter {
    return w.u32(this.nLen).int(this.n, this.nLen);
  }

  /** JSON wire form: `{ "n": hex of n in L_n bytes }`. */
  toJSON(): { n: string } {
    return { n: intToHex(this.n, this.nLen) };
  }

  /**
   * Parse and validate the JSON wire form.
   * @throws TallyError MALFORMED on bad hex (length checked before conversion), BAD_PUBLIC_KEY on a bad n
   */
  static fromJSON(obj: unknown): PaillierPublicKey {
    const o = obj as { n?: unknown } | null;
    if (typeof o !== 'object' || o === null) throw new TallyError('MALFORMED', 'paillier public key: expected an object');
    const bytes = parseHex(o.n, 'paillier.n', undefined, PAILLIER_MAX_BITS / 8);
    if (bytes.length === 0 || bytes[0] === 0) {
      throw new TallyError('MALFORMED', 'paillier.n: must be minimal big-endian (no leading zero byte)');
    }
    return PaillierPublicKey.fromN(fromBytesBE(bytes));
  }
}

/** Floor square root of x ≥ 0 (Newton). */
export function isqrt(x: bigint): bigint {
  if (x < 2n) return x;
  let y = 1n << BigInt(Math.ceil(bitLength(x) / 2));
  for (;;) {
    const z = (y + x / y) >> 1n;
    if (z >= y) return y;
    y = z;
  }
}

/** A Paillier secret key: the primes p and q of n = p·q. Holds the private key material. */
export class PaillierSecretKey {
  private readonly inner: PbPrivateKey;
  /** n^(−1) mod φ(n): the exponent that takes n-th roots in Z*_n. */
  private readonly nInvPhi: bigint;

  private constructor(
    readonly publicKey: PaillierPublicKey,
    private readonly p: bigint,
    private readonly q: bigint,
  ) {
    const phi = (p - 1n) * (q - 1n);
    const pbPub = new PbPublicKey(publicKey.n, publicKey.n + 1n);
    this.inner = new PbPrivateKey(phi, modInv(phi, publicKey.n), pbPub, p, q);
    this.nInvPhi = modInv(publicKey.n, phi);
  }

  /**
   * Build a secret key from its primes, checking consistency.
   * @param p - prime, bitLength(p) = bitLength(q)
   * @param q - prime, q ≠ p
   * @throws TallyError BAD_PRIVATE_KEY if the primes do not form a valid key
   */
  static fromPrimes(p: bigint, q: bigint): PaillierSecretKey {
    if (p === q || bitLength(p) !== bitLength(q)) {
      throw new TallyError('BAD_PRIVATE_KEY', 'paillier: p and q must be distinct and of equal bit length');
    }
    const n = p * q;
    const pk = PaillierPublicKey.fromN(n);
    if (gcd(n, (p - 1n) * (q - 1n)) !== 1n) throw new TallyError('BAD_PRIVATE_KEY', 'paillier: gcd(n, φ(n)) ≠ 1');
    return new PaillierSecretKey(pk, p, q);
  }

  /**
   * Decrypt c to its plaintext m, 0 ≤ m < n.
   * @param c - ciphertext in Z*_{n²}
   * @throws TallyError OUT_OF_RANGE if c ∉ Z*_{n²}
   */
  decrypt(c: bigint): bigint {
    if (!this.publicKey.isUnitModN2(c)) throw new TallyError('OUT_OF_RANGE', 'paillier decrypt: ciphertext not in Z*_{n²}');
    return this.inner.decrypt(c);
  }

  /**
   * Decrypt and recover the randomness: returns (m, r) with c = (1 + m·n)·r^n mod n², 0 < r < n.
   * Publishing (m, r) proves the decryption (spec §8.2).
   */
  open(c: bigint): { m: bigint; r: bigint } {
    const m = this.decrypt(c);
    // u = c·(1+n)^(−m) = r^n mod n²; r = (u mod n)^(n^(−1) mod φ(n)) mod n.
    const u = (c * this.publicKey.gInversePow(m)) % this.publicKey.n2;
    const r = this.nthRootModN(u % this.publicKey.n);
    return { m, r };
  }

  /** The unique n-th root modulo n of y ∈ Z*_n (exists because gcd(n, φ(n)) = 1). */
  nthRootModN(y: bigint): bigint {
    return modPow(y, this.nInvPhi, this.publicKey.n);
  }

  /** JSON form of the secret key. Secret: never log it, store it only encrypted (spec §11). */
  toJSON(): { n: string; p: string; q: string } {
    const half = byteLength(this.p > this.q ? this.p : this.q);
    return { n: intToHex(this.publicKey.n, this.publicKey.nLen), p: intToHex(this.p, half), q: intToHex(this.q, half) };
  }

  /**
   * Parse a secret key and check p·q = n.
   * @throws TallyError MALFORMED / BAD_PRIVATE_KEY
   */
  static fromJSON(obj: unknown): PaillierSecretKey {
    const o = obj as { n?: unknown; p?: unknown; q?: unknown } | null;
    if (typeof o !== 'object' || o === null) throw new TallyError('MALFORMED', 'paillier secret key: expected an object');
    const pk = PaillierPublicKey.fromJSON({ n: o.n });
    const half = typeof o.p === 'string' ? o.p.length / 2 : 0;
    if (!Number.isInteger(half) || half < 1 || half > PAILLIER_MAX_BITS / 16 + 1) {
      throw new TallyError('MALFORMED', 'paillier secret key: p has a bad length');
    }
    const p = hexToInt(o.p, half, 'paillier.p');
    const q = hexToInt(o.q, half, 'paillier.q');
    if (p * q !== pk.n) throw new TallyError('BAD_PRIVATE_KEY', 'paillier secret key: p·q ≠ n');
    return PaillierSecretKey.fromPrimes(p, q);
  }
}

// ---------------------------------------------------------------------------------------------
// Key proof (spec §3.3): n-th roots modulo n of KEY_PROOF_ROUNDS hash-derived elements.
// If gcd(n, φ(n)) ≠ 1, some prime r divides both n and φ(n); with r ≥ 2^16 (check 3.2c) at most
// a 1/r fraction of Z*_n are n-th residues, so each round passes with probability ≤ 2^−16 and
// 16 rounds with ≤ 2^−256. gcd(n, φ(n)) = 1 is what makes Enc a bijection on Z_n × Z*_n, so
// that a ciphertext has exactly one plaintext and the decryption proof is sound.
// ---------------------------------------------------------------------------------------------

/**
 * The i-th challenge element y_i ∈ Z_n (spec §3.3): the first L_n + 16 bytes of
 * H(keyProof, U32(L_n) ‖ INT(n, L_n) ‖ U32(i) ‖ U32(j)) for j = 0, 1, … concatenated, as an integer mod n.
 */
export function keyProofChallenge(pk: PaillierPublicKey, i: number): bigint {
  const need = pk.nLen + 16;
  const out = new Uint8Array(Math.ceil(need / 32) * 32);
  for (let j = 0; j * 32 < need; j++) {
    const w = transcript(TAGS.keyProof);
    pk.encode(w).u32(i).u32(j);
    out.set(w.digest(), j * 32);
  }
  return fromBytesBE(out.subarray(0, need)) % pk.n;
}

/** Prove gcd(n, φ(n)) = 1: the n-th roots x_i of y_i mod n. */
export function proveKey(sk: PaillierSecretKey): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < KEY_PROOF_ROUNDS; i++) out.push(sk.nthRootModN(keyProofChallenge(sk.publicKey, i)));
  return out;
}

/**
 * Verify a key proof (spec §3.3, check 3.3): exactly KEY_PROOF_ROUNDS values x_i, each with
 * 0 < x_i < n and x_i^n ≡ y_i (mod n). Pure; never throws.
 */
export function verifyKeyProof(pk: PaillierPublicKey, roots: readonly bigint[]): boolean {
  if (roots.length !== KEY_PROOF_ROUNDS) return false;
  return roots.every((x, i) => x > 0n && x < pk.n && modPow(x, pk.n, pk.n) === keyProofChallenge(pk, i));
}
