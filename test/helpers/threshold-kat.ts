/**
 * Known-answer and negative vectors of spec/13-trustees.md, generated from a fixed seed.
 *
 * `buildThresholdVectors()` runs a small deterministic ceremony — the committed 512-bit
 * safe-prime modulus `small` (test/fixtures/threshold-moduli.json), 3 of 5 trustees, a seeded
 * byte source — and returns its public output (threshold key, Π^mod, ring-Pedersen parameters
 * with Π^prm, Π^fac), the shares, two ciphertexts with every trustee's partial decryption and
 * proof, several combinations, and a 1-of-1 ceremony on the same modulus. The modulus is far
 * below the 2048-bit floor so that the vectors are small and fast; verifiers read them with
 * `minBits = 512`. `buildThresholdNegativeVectors()` mutates them, each mutation with the catalog
 * code and check id a verifier must report.
 *
 * test/vectors/tallyboard-v2-threshold.json is their output, written by
 * `npm run build && node dist/test/helpers/write-threshold-vectors.js`; test/threshold.test.ts
 * regenerates and compares byte for byte.
 */
import { readFileSync } from 'node:fs';
import { seededRng } from './fixtures.js';
import { bestEffortModulusProof } from './modulus-forgery.js';
import { modInv, modPow, randomBelow } from '../../src/crypto/bigint.js';
import { SPEC_VERSION } from '../../src/crypto/hash.js';
import {
  dealShares, encodeThresholdKey, partialDecrypt, partialToJson, shareToJson, thresholdKeyToJson, combinePartials,
  type ThresholdPublicKey, type PartialDecryption,
} from '../../src/crypto/threshold-paillier.js';
import {
  factorProofToJson, generateRingPedersen, modChallenge, MOD_ROUNDS, modulusProofToJson, proveModulus, proveNoSmallFactor, ringPedersenToJson,
} from '../../src/crypto/modulus-proofs.js';
import { intToHex, toHex } from '../../src/wire.js';
import { canonical } from '../../src/canonical.js';

/** Smallest modulus size the vectors use (their n has 512 bits). */
export const VECTOR_MIN_BITS = 512;

const fixtureDir = new URL(import.meta.url.includes('/dist/test/') ? '../../../test/fixtures/' : '../fixtures/', import.meta.url);

/** The committed primes of test/fixtures/threshold-moduli.json. */
export function thresholdPrimes(name: 'small' | 'smallAux' | 'safe2048' | 'safe2048b' | 'aux2048' | 'smallFactor' | 'nonBlum'): { p: bigint; q: bigint } {
  const all = JSON.parse(readFileSync(new URL('threshold-moduli.json', fixtureDir), 'utf8')) as Record<string, { p: string; q: string }>;
  const e = all[name]!;
  return { p: BigInt('0x' + e.p), q: BigInt('0x' + e.q) };
}

/** Paillier encryption with g = n + 1 for any modulus size (the vectors' n is below PaillierPublicKey's floor). */
export function encryptRaw(n: bigint, m: bigint, r: bigint): bigint {
  const n2 = n * n;
  return (((1n + m * n) % n2) * modPow(r, n, n2)) % n2;
}

/** The bytes bound into every partial-decryption challenge of the vectors (stands for fingerprint ‖ question). */
export function vectorContext(question: number): Uint8Array {
  const c = new Uint8Array(36).fill(0xab);
  new DataView(c.buffer).setUint32(32, question);
  return c;
}

/** Build the positive vectors (deterministic). */
export function buildThresholdVectors() {
  const rng = seededRng(`${SPEC_VERSION} threshold vectors`);
  const { p, q } = thresholdPrimes('small');
  const aux = thresholdPrimes('smallAux');
  const n = p * q;
  const { publicKey: pk, shares } = dealShares(p, q, 3, 5, { minBits: VECTOR_MIN_BITS, rng });
  const modProof = proveModulus(p, q, rng);
  const rp = generateRingPedersen(aux.p, aux.q, rng);
  const facProof = proveNoSmallFactor(p, q, rp.params, rng);
  const messages = [0x0102_0304_0506n, 42n];
  const ciphertexts = messages.map((M) => {
    const r = randomBelow(n - 2n, rng) + 2n;
    return { M, r, c: encryptRaw(n, M, r) };
  });
  const partials = ciphertexts.map(({ c }, qi) => shares.map((sh) => partialDecrypt(pk, sh, c, vectorContext(qi), rng)));
  const subsets = [[1, 2, 3], [3, 4, 5], [1, 3, 5], [2, 4, 5, 1]];
  const combinations = ciphertexts.flatMap((_, qi) =>
    subsets.map((S) => ({ question: qi, indices: S, M: intToHex(combinePartials(pk, S.map((i) => partials[qi]![i - 1]!)), pk.nLen) })),
  );
  // 1-of-1: the same code path with k = l = 1.
  const single = dealShares(p, q, 1, 1, { minBits: VECTOR_MIN_BITS, rng });
  const singlePartial = partialDecrypt(single.publicKey, single.shares[0]!, ciphertexts[0]!.c, vectorContext(0), rng);
  return {
    description: 'Threshold decryption and modulus proofs (spec/13-trustees.md): a 3-of-5 ceremony on a 512-bit safe-prime modulus (minBits 512 for these vectors only), generated from a fixed seed',
    version: SPEC_VERSION,
    minBits: VECTOR_MIN_BITS,
    ceremony: {
      publicKey: thresholdKeyToJson(pk),
      publicKeyBytes: toHex(encodeThresholdKey(canonical(), pk).finish()),
      v: intToHex(pk.v, pk.n2Len),
      modulusProof: modulusProofToJson(n, modProof),
      ringPedersen: ringPedersenToJson(rp.params, rp.proof),
      factorProof: factorProofToJson(n, rp.params.N, facProof),
    },
    secret: { p: intToHex(p, 32), q: intToHex(q, 32), shares: shares.map((s) => shareToJson(pk, s)) },
    questions: ciphertexts.map(({ M, r, c }, qi) => ({
      context: toHex(vectorContext(qi)),
      M: intToHex(M, pk.nLen),
      r: intToHex(r, pk.nLen),
      c: intToHex(c, pk.n2Len),
      partials: partials[qi]!.map((pd) => partialToJson(pk, pd)),
    })),
    combinations,
    oneOfOne: {
      publicKey: thresholdKeyToJson(single.publicKey),
      share: shareToJson(single.publicKey, single.shares[0]!),
      partial: partialToJson(single.publicKey, singlePartial),
      M: intToHex(combinePartials(single.publicKey, [singlePartial]), pk.nLen),
    },
  };
}

export type ThresholdVectors = ReturnType<typeof buildThresholdVectors>;

/** What a verifier must report for a negative vector. */
export interface ExpectedFailure {
  readonly code: string;
  readonly check: string;
}

/** One negative vector: what is verified, the mutated input, and the expected failure. */
export type ThresholdNegative =
  | { description: string; kind: 'partial'; question: number; publicKey?: unknown; partial: unknown; expected: ExpectedFailure }
  | { description: string; kind: 'combine'; question: number; partials: unknown[]; expected: ExpectedFailure }
  | { description: string; kind: 'share'; share: unknown; expected: ExpectedFailure }
  | { description: string; kind: 'key'; publicKey: unknown; expected: ExpectedFailure }
  | { description: string; kind: 'modulusProof'; n: string; proof: unknown; expected: ExpectedFailure }
  | { description: string; kind: 'ringPedersen'; ringPedersen: unknown; expected: ExpectedFailure }
  | { description: string; kind: 'factorProof'; proof: unknown; expected: ExpectedFailure };

/** Mutate the positive vectors into negative ones (deterministic). */
export function buildThresholdNegativeVectors(v: ThresholdVectors, pk: ThresholdPublicKey, shares: readonly { index: number; s: bigint }[]): ThresholdNegative[] {
  const rng = seededRng(`${SPEC_VERSION} threshold negative vectors`);
  const bad = (code: string, check: string): ExpectedFailure => ({ code, check });
  const c0 = BigInt('0x' + v.questions[0]!.c);
  const c1 = BigInt('0x' + v.questions[1]!.c);
  const pj = (pd: PartialDecryption) => partialToJson(pk, pd);
  const p2 = v.questions[0]!.partials[1]!;
  const out: ThresholdNegative[] = [];

  const wrongShare = partialDecrypt(pk, { index: 2, s: shares[1]!.s + 1n }, c0, vectorContext(0), rng);
  out.push({ description: 'a wrong share: trustee 2 decrypts with s_2 + 1 and proves honestly for that value', kind: 'partial', question: 0, partial: pj(wrongShare), expected: bad('BAD_PARTIAL_DECRYPTION', '13.4f') });

  const otherQuestion = partialDecrypt(pk, shares[1]!, c1, vectorContext(0), rng);
  out.push({ description: "a share of the wrong question: trustee 2's partial decryption of question 1's tally, presented for question 0", kind: 'partial', question: 0, partial: pj(otherQuestion), expected: bad('BAD_PARTIAL_DECRYPTION', '13.4f') });

  out.push({ description: 'a partial decryption of question 0 whose proof was made for question 1 (context)', kind: 'partial', question: 1, partial: p2, expected: bad('BAD_PARTIAL_DECRYPTION', '13.4f') });

  out.push({ description: 'a response out of range: z = 2^(R+1)', kind: 'partial', question: 0, partial: { ...p2, z: intToHex(1n << BigInt(pk.maskBits + 1), pk.zLen) }, expected: bad('BAD_PARTIAL_DECRYPTION', '13.4e') });

  out.push({ description: 'a response shifted by one: z + 1', kind: 'partial', question: 0, partial: { ...p2, z: intToHex(BigInt('0x' + p2.z) + 1n, pk.zLen) }, expected: bad('BAD_PARTIAL_DECRYPTION', '13.4f') });

  out.push({ description: 'c_i = 0 is not in Z*_{n²}', kind: 'partial', question: 0, partial: { ...p2, ci: intToHex(0n, pk.n2Len) }, expected: bad('BAD_PARTIAL_DECRYPTION', '13.4c') });

  out.push({ description: 'c_i = n (shares the factors of n)', kind: 'partial', question: 0, partial: { ...p2, ci: intToHex(pk.n, pk.n2Len) }, expected: bad('BAD_PARTIAL_DECRYPTION', '13.4c') });

  out.push({ description: 'trustee index 6 of 5', kind: 'partial', question: 0, partial: { ...p2, index: 6 }, expected: bad('BAD_PARTIAL_DECRYPTION', '13.4a') });

  out.push({ description: "trustee 3 presents trustee 2's partial decryption as its own", kind: 'partial', question: 0, partial: { ...p2, index: 3 }, expected: bad('BAD_PARTIAL_DECRYPTION', '13.4f') });

  // A forged v_i: a trustee holding some s' publishes v^(Δ·s') in place of v_2 and proves against it.
  const sForged = randomBelow(pk.n * pk.n, rng);
  const forgedKey = { ...pk, vi: pk.vi.map((x, i) => (i === 1 ? modPow(pk.v, pk.delta * sForged, pk.n2) : x)) };
  const forgedPartial = partialDecrypt(forgedKey, { index: 2, s: sForged }, c0, vectorContext(0), rng);
  out.push({ description: 'a forged v_2: a partial decryption with a proof valid for v^(Δ·s′) ≠ v_2, checked against the published v_2', kind: 'partial', question: 0, partial: pj(forgedPartial), expected: bad('BAD_PARTIAL_DECRYPTION', '13.4f') });
  out.push({ description: "a share that does not match its verification key (v^(Δ·s′) ≠ v_2)", kind: 'share', share: { index: 2, s: intToHex(sForged, pk.n2Len) }, expected: bad('BAD_PRIVATE_KEY', '13.3a') });

  // A dishonest dealer (check 13.2d–13.2e): the published key itself is refused.
  const P0 = BigInt('0x' + v.secret.p);
  const Q0 = BigInt('0x' + v.secret.q);
  const m = ((P0 - 1n) / 2n) * ((Q0 - 1n) / 2n);
  const d = m * modInv(m, pk.n);
  const kj = v.ceremony.publicKey;
  const hx = (x: bigint) => intToHex(x, pk.n2Len);
  const shifted = shares.map((sh) => hx(modPow(pk.v, pk.delta * 2n * sh.s, pk.n2)));
  out.push({ description: 'a dealer publishing verification keys of shares of 2d (every result would be doubled) with the true v_0', kind: 'key', publicKey: { ...kj, verificationKeys: shifted }, expected: bad('BAD_PUBLIC_KEY', '13.2e') });
  out.push({ description: 'the same dealer also publishing v_0 = v^(2d) (≡ 1 mod n, but ρ no longer fits)', kind: 'key', publicKey: { ...kj, verificationKeys: shifted, v0: hx(modPow(pk.v, 2n * d, pk.n2)) }, expected: bad('BAD_PUBLIC_KEY', '13.2d') });
  out.push({ description: 'a forged v_2 in the published key (v^(Δ·s′) for a random s′)', kind: 'key', publicKey: { ...kj, verificationKeys: kj.verificationKeys.map((x, i) => (i === 1 ? hx(forgedKey.vi[1]!) : x)) }, expected: bad('BAD_PUBLIC_KEY', '13.2e') });
  out.push({ description: 'v_5 off the polynomial (multiplied by v)', kind: 'key', publicKey: { ...kj, verificationKeys: kj.verificationKeys.map((x, i) => (i === 4 ? hx((BigInt('0x' + x) * pk.v) % pk.n2) : x)) }, expected: bad('BAD_PUBLIC_KEY', '13.2e') });
  out.push({ description: 'ρ altered (ρ + 1)', kind: 'key', publicKey: { ...kj, rho: intToHex(pk.rho + 1n, pk.nLen) }, expected: bad('BAD_PUBLIC_KEY', '13.2d') });

  out.push({ description: 'fewer than k: two valid partial decryptions of a 3-of-5 key', kind: 'combine', question: 0, partials: [v.questions[0]!.partials[0]!, v.questions[0]!.partials[4]!], expected: bad('TOO_FEW_PARTIAL_DECRYPTIONS', '13.4g') });
  out.push({ description: 'k entries but one trustee twice', kind: 'combine', question: 0, partials: [v.questions[0]!.partials[0]!, v.questions[0]!.partials[1]!, v.questions[0]!.partials[0]!], expected: bad('BAD_PARTIAL_DECRYPTION', '13.4g') });

  const nb = thresholdPrimes('nonBlum');
  out.push({ description: 'a non-Blum modulus (p ≡ q ≡ 1 mod 4): the best-effort Π^mod of a prover who knows p and q', kind: 'modulusProof', n: intToHex(nb.p * nb.q, 64), proof: modulusProofToJson(nb.p * nb.q, bestEffortModulusProof(nb.p, nb.q, rng)), expected: bad('BAD_MODULUS_PROOF', '13.5e') });
  const mp = v.ceremony.modulusProof;
  const flipped = (h: string) => (h.slice(0, -1) + ((parseInt(h.slice(-1), 16) ^ 1).toString(16)));
  out.push({ description: 'Π^mod with z_0 altered', kind: 'modulusProof', n: v.ceremony.publicKey.n, proof: { ...mp, rounds: mp.rounds.map((r, i) => (i === 0 ? { ...r, z: flipped(r.z) } : r)) }, expected: bad('BAD_MODULUS_PROOF', '13.5d') });
  out.push({ description: 'Π^mod with a_5 flipped', kind: 'modulusProof', n: v.ceremony.publicKey.n, proof: { ...mp, rounds: mp.rounds.map((r, i) => (i === 5 ? { ...r, a: 1 - r.a } : r)) }, expected: bad('BAD_MODULUS_PROOF', '13.5e') });
  // A prime P ≡ 3 (mod 4) passes every round (−1 has Jacobi symbol −1, ±y always has a fourth
  // root, z = y^(P⁻¹ mod (P−1))): only the compositeness check 13.5b refuses it.
  const P = BigInt('0x' + v.secret.p);
  const wP = P - 1n;
  const e4 = ((P + 1n) / 4n) ** 2n % (P - 1n);
  const pInv = modInv(P, P - 1n);
  const primeRounds = Array.from({ length: MOD_ROUNDS }, (_, i) => {
    const y = modChallenge(P, wP, i);
    const a = modPow(y, (P - 1n) / 2n, P) === 1n ? 0 : 1;
    return { x: modPow(a ? P - y : y, e4, P), a: a as 0 | 1, b: 0 as const, z: modPow(y, pInv, P) };
  });
  out.push({ description: 'Π^mod for a prime N = p (it passes every round; only compositeness refuses it)', kind: 'modulusProof', n: intToHex(P, 32), proof: modulusProofToJson(P, { w: wP, rounds: primeRounds }), expected: bad('BAD_MODULUS_PROOF', '13.5b') });

  const rpj = v.ceremony.ringPedersen;
  out.push({ description: 'Π^prm with z_3 altered', kind: 'ringPedersen', ringPedersen: { ...rpj, z: rpj.z.map((x, i) => (i === 3 ? flipped(x) : x)) }, expected: bad('BAD_MODULUS_PROOF', '13.6c') });
  out.push({ description: 'ring-Pedersen s = 1', kind: 'ringPedersen', ringPedersen: { ...rpj, s: intToHex(1n, rpj.s.length / 2) }, expected: bad('BAD_MODULUS_PROOF', '13.6a') });

  const fp = v.ceremony.factorProof;
  out.push({ description: 'Π^fac with e altered', kind: 'factorProof', proof: { ...fp, e: flipped(fp.e) }, expected: bad('BAD_MODULUS_PROOF', '13.6f') });
  out.push({ description: 'Π^fac with w1 altered', kind: 'factorProof', proof: { ...fp, w1: flipped(fp.w1) }, expected: bad('BAD_MODULUS_PROOF', '13.6g') });
  out.push({ description: 'Π^fac with z1 above its range', kind: 'factorProof', proof: { ...fp, z1: 'ff'.repeat(fp.z1.length / 2) }, expected: bad('BAD_MODULUS_PROOF', '13.6e') });
  return out;
}
