/**
 * Benchmark lines of issue 13 (spec/13-trustees.md): the key ceremony (safe-prime modulus,
 * dealing, Π^mod and one Π^fac) at 2048 and 3072 bits, a trustee's partial decryption with its
 * proof, and the verification and combination of k partial decryptions (3 of 5).
 *
 * The ceremony lines are ONE run each (a safe-prime search is a random walk: its time varies
 * several-fold between runs, and a median of many would cost minutes); the others are medians.
 * The ring-Pedersen parameters are the committed 2048-bit fixture (a trustee generates them
 * once, before the ceremony; not part of the dealer's time).
 */
import { readFileSync } from 'node:fs';
import { randomUnit, modPow } from '../src/crypto/bigint.js';
import { generateSafeModulus } from '../src/crypto/safe-prime.js';
import { combinePartials, dealShares, partialDecrypt, verifyPartial } from '../src/crypto/threshold-paillier.js';
import { proveModulus, proveNoSmallFactor, verifyModulusProof, verifyNoSmallFactor, type RingPedersen } from '../src/crypto/modulus-proofs.js';

type Line = (name: string, value: number, unit: string) => void;
type Time = (runs: number, f: () => void) => number;

/**
 * Print the threshold lines.
 * @param root - the repository root (for test/fixtures/threshold-moduli.json)
 * @param line - prints one `bench <name> <value> <unit>` line
 * @param time - median wall time of `runs` calls, in ms
 * @param sizes - modulus sizes of the ceremony lines (each one run)
 */
export async function benchThreshold(root: URL, line: Line, time: Time, sizes: readonly number[]): Promise<void> {
  const fx = JSON.parse(readFileSync(new URL('test/fixtures/threshold-moduli.json', root), 'utf8')) as Record<string, { p: string; q: string }>;
  const get = (k: string) => ({ p: BigInt('0x' + fx[k]!.p), q: BigInt('0x' + fx[k]!.q) });
  const aux = get('aux2048');
  const N = aux.p * aux.q;
  const tau = randomUnit(N);
  const tt = (tau * tau) % N;
  const rp: RingPedersen = { N, s: modPow(tt, 65537n, N), t: tt };

  for (const bits of sizes) {
    const t0 = performance.now();
    const m = await generateSafeModulus(bits);
    const t1 = performance.now();
    dealShares(m.p, m.q, 3, 5);
    proveModulus(m.p, m.q);
    proveNoSmallFactor(m.p, m.q, rp);
    const t2 = performance.now();
    line(`ceremony-safe-primes-${bits}-1run`, (t1 - t0) / 1000, 's');
    line(`ceremony-deal-3of5-prove-mod-fac-${bits}`, t2 - t1, 'ms');
  }

  const { p, q } = get('safe2048');
  const { publicKey: pk, shares } = dealShares(p, q, 3, 5);
  const n = pk.n;
  const c = ((1n + 12345n * n) * modPow(randomUnit(n), n, pk.n2)) % pk.n2;
  const ctx = new Uint8Array(36);
  line('threshold-partial-decrypt-prove-2048', time(5, () => partialDecrypt(pk, shares[0]!, c, ctx)), 'ms');
  const parts = shares.slice(0, 3).map((s) => partialDecrypt(pk, s, c, ctx));
  line('threshold-verify-combine-3of5-2048', time(5, () => {
    for (const pd of parts) if (!verifyPartial(pk, c, ctx, pd).ok) throw new Error('benchmark partial rejected');
    if (combinePartials(pk, parts) !== 12345n) throw new Error('benchmark combination wrong');
  }), 'ms');
  const mp = proveModulus(p, q);
  const fp = proveNoSmallFactor(p, q, rp);
  line('modulus-proofs-verify-mod-fac-2048', time(3, () => {
    if (!verifyModulusProof(n, mp).ok || !verifyNoSmallFactor(n, rp, fp).ok) throw new Error('benchmark modulus proof rejected');
  }), 'ms');
}
