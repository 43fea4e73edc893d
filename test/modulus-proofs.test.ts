/**
 * Proofs that the modulus is well formed (spec/13-trustees.md §13.5–§13.6): Π^mod, Π^prm and
 * Π^fac on the committed fixture moduli, including the 2048-bit modulus with a 200-bit factor
 * that Π^fac must refuse, a non-Blum modulus that Π^mod must refuse, and a prime that only the
 * compositeness check refuses. Safe-prime generation is exercised at a small size only.
 */
import t from 'tap';
import { checkPrimeSync } from 'node:crypto';
import { bitLength, modInv, modPow, randomBelow, randomUnit } from '../src/crypto/bigint.js';
import {
  factorBounds, factorProofFromJson, factorProofToJson, FAC_ELL, FAC_EPS, generateRingPedersen, jacobi, modChallenge, MOD_ROUNDS,
  modulusProofFromJson, modulusProofToJson, proveModulus, proveNoSmallFactor, provablyComposite, verifyModulusProof,
  verifyNoSmallFactor, verifyRingPedersen, type RingPedersen,
} from '../src/crypto/modulus-proofs.js';
import { generateSafeModulus, modulusDefect } from '../src/crypto/safe-prime.js';
import { isqrt } from '../src/crypto/paillier.js';
import { seededRng } from './helpers/fixtures.js';
import { bestEffortModulusProof } from './helpers/modulus-forgery.js';
import { thresholdPrimes } from './helpers/threshold-kat.js';

/** Ring-Pedersen parameters without Π^prm (its proof is tested on the small modulus; at 2048 bits it is slow). */
function ringPedersenFrom(P: bigint, Q: bigint, rng: (n: number) => Uint8Array): RingPedersen {
  const N = P * Q;
  const tau = randomUnit(N, rng);
  const tt = (tau * tau) % N;
  return { N, s: modPow(tt, randomBelow((P - 1n) * (Q - 1n), rng), N), t: tt };
}

t.test('Jacobi symbol agrees with Euler’s criterion on a prime and multiplies over p·q', async (t) => {
  const p = 1000003n; // prime
  const q = 1000033n; // prime
  for (const a of [2n, 3n, 5n, 12345n, 999999n]) {
    const euler = modPow(a, (p - 1n) / 2n, p) === 1n ? 1 : -1;
    t.equal(jacobi(a, p), euler, `(${a}/p)`);
    t.equal(jacobi(a, p * q), jacobi(a, p) * jacobi(a, q), `(${a}/pq) = (${a}/p)(${a}/q)`);
  }
  t.equal(jacobi(p, p * q), 0, 'a shared factor gives 0');
});

t.test('compositeness check 13.5b: primes never pass, products of two primes do', async (t) => {
  const { p, q } = thresholdPrimes('small');
  t.notOk(provablyComposite(p), 'a 256-bit prime');
  t.notOk(provablyComposite(2n ** 127n - 1n), 'a Mersenne prime');
  t.ok(provablyComposite(p * q), 'p·q');
  t.ok(provablyComposite(3215031751n), 'a strong pseudoprime to bases 2, 3, 5, 7 is caught by a later base');
});

t.test('Π^mod: a safe-prime modulus proves, its JSON round-trips, every round is checked', async (t) => {
  const { p, q } = thresholdPrimes('small');
  const N = p * q;
  const proof = proveModulus(p, q, seededRng('pimod'));
  t.equal(proof.rounds.length, MOD_ROUNDS);
  t.equal(jacobi(proof.w, N), -1, 'w has Jacobi symbol −1');
  const again = modulusProofFromJson(N, modulusProofToJson(N, proof));
  t.same(verifyModulusProof(N, again), { ok: true });
  const last = { ...proof, rounds: proof.rounds.map((r, i) => (i === MOD_ROUNDS - 1 ? { ...r, x: (r.x * 2n) % N } : r)) };
  t.equal((verifyModulusProof(N, last) as { check: string }).check, '13.5e', 'the last round is checked too');
  t.equal((verifyModulusProof(N, { ...proof, rounds: proof.rounds.slice(1) }) as { check: string }).check, '13.5c', 'one round short');
  t.equal((verifyModulusProof(N, { ...proof, w: 1n }) as { check: string }).check, '13.5c', 'w with Jacobi symbol 1');
});

t.test('Π^mod: a non-Blum modulus fails even for a prover who knows its factors', async (t) => {
  const { p, q } = thresholdPrimes('nonBlum');
  t.equal(p % 4n, 1n);
  t.throws(() => proveModulus(p, q), RangeError, 'the honest prover refuses');
  const forged = bestEffortModulusProof(p, q, seededRng('forge'));
  const r = verifyModulusProof(p * q, forged);
  t.equal(r.ok ? 'ok' : r.check, '13.5e', 'the best effort fails the fourth-root check');
});

t.test('Π^mod: a prime passes every round, so the compositeness check is what refuses it', async (t) => {
  const { p: P } = thresholdPrimes('small');
  const w = P - 1n;
  const e4 = ((P + 1n) / 4n) ** 2n % (P - 1n);
  const pInv = modInv(P, P - 1n);
  let rounds = 0;
  for (let i = 0; i < MOD_ROUNDS; i++) {
    const y = modChallenge(P, w, i);
    const a = modPow(y, (P - 1n) / 2n, P) === 1n ? 0n : 1n;
    const x = modPow(a ? P - y : y, e4, P);
    const z = modPow(y, pInv, P);
    if (modPow(z, P, P) === y && modPow(x, 4n, P) === (a ? P - y : y)) rounds++;
  }
  t.equal(rounds, MOD_ROUNDS, 'all rounds hold for a prime');
});

t.test('Π^prm: ring-Pedersen parameters prove s ∈ ⟨t⟩; a tampered or unrelated s fails', async (t) => {
  const { p, q } = thresholdPrimes('smallAux');
  const { params, proof } = generateRingPedersen(p, q, seededRng('prm'));
  t.same(verifyRingPedersen(params, proof, { minBits: 512 }), { ok: true });
  t.equal((verifyRingPedersen(params, proof) as { check: string }).check, '13.6a', 'a 512-bit N̂ is under the default floor');
  const other = { ...params, s: (params.s * params.s) % params.N };
  t.equal((verifyRingPedersen(other, proof, { minBits: 512 }) as { check: string }).check, '13.6c', 'another s with the same proof');
});

t.test('Π^fac: a 2048-bit safe-prime modulus proves; a 2048-bit modulus with a 200-bit factor fails 13.6e', async (t) => {
  const rng = seededRng('pifac');
  const aux = thresholdPrimes('aux2048');
  const rp = ringPedersenFrom(aux.p, aux.q, rng);
  const good = thresholdPrimes('safe2048');
  const N0 = good.p * good.q;
  const proof = proveNoSmallFactor(good.p, good.q, rp, rng);
  t.same(verifyNoSmallFactor(N0, rp, factorProofFromJson(N0, rp.N, factorProofToJson(N0, rp.N, proof))), { ok: true }, 'honest proof, through its JSON form');
  // What the range check proves: each factor is below 2^(ℓ+ε+1)·(⌊√N0⌋+1), so above N0 divided by that.
  const bound = factorBounds(N0, rp.N).z;
  t.ok(bitLength(N0 / bound) >= 1024 - FAC_ELL - FAC_EPS - 2, `the proven lower bound on each factor has ${bitLength(N0 / bound)} bits`);
  t.ok(N0 / bound > 1n << 256n, 'regression: at the 2048-bit floor the proven bound exceeds 2^t = 2^256 (spec §3.1 needs it)');

  const bad = thresholdPrimes('smallFactor');
  const Nbad = bad.p * bad.q;
  t.equal(bitLength(Nbad), 2048, 'the small-factor modulus has 2048 bits');
  t.equal(bitLength(bad.p), 200);
  const badProof = proveNoSmallFactor(bad.p, bad.q, rp, rng);
  const r = verifyNoSmallFactor(Nbad, rp, badProof);
  t.equal(r.ok ? 'ok' : r.check, '13.6e', 'the response for the large factor leaves its range');
  t.throws(() => factorProofToJson(Nbad, rp.N, badProof), RangeError, 'and cannot even be written at the fixed field length');
  t.ok(bitLength(bad.q) > bitLength(isqrt(Nbad)) + FAC_EPS, 'q is far above √N0·2^ε');
});

t.test('safe primes: a small modulus from native generation has safe, Blum, equal-length factors', async (t) => {
  const events: string[] = [];
  const m = await generateSafeModulus(128, { minBits: 32, onProgress: (e) => events.push(`${e.prime}:${e.state}`) });
  t.same(events.slice(0, 4), ['1:searching', '1:found', '2:searching', '2:found'], 'progress for each prime');
  for (const x of [m.p, m.q]) {
    t.ok(checkPrimeSync(x) && checkPrimeSync((x - 1n) / 2n), 'p and (p − 1)/2 are prime');
    t.equal(x % 4n, 3n, 'a safe prime is ≡ 3 (mod 4)');
  }
  t.equal(modulusDefect(m.p, m.q, 128), null, 'passes the spec §3.1 checks');
  t.equal(modulusDefect(m.p, m.p, 128), 'p = q');
  await t.rejects(generateSafeModulus(1024), RangeError, 'below the 2048-bit floor without minBits');
});
