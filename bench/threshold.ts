/**
 * Benchmark lines of issue 13 (spec/13-trustees.md), through the same library functions the
 * commands use: the key ceremony (`runCeremony`: safe-prime modulus, dealing 3 of 5, Π^mod, one
 * Π^fac against a trustee's parameters, and the self-check every verifier's step 4 repeats) at
 * 2048 and 3072 bits; one trustee's partial decryption of a tally with its proofs
 * (`partialDecryptTally`, what `tallyboard trustee decrypt` computes); and the verification of a
 * result from k = 3 trustees' entries (`verifyPartialDecryptionEntry` for each, then
 * `combineEntries`: what the coordinator and every auditor do).
 *
 * The ceremony lines are ONE run each (a safe-prime search is a random walk: its time varies
 * several-fold between runs, and a median of many would cost minutes); the others are medians.
 * The trustee's ring-Pedersen parameters come from the committed 2048-bit fixture (a trustee
 * generates them once, before the ceremony, with `tallyboard trustee init`: not the dealer's
 * time). The partial-decryption lines use the committed 2048-bit safe primes, so they do not
 * wait for a search.
 */
import { readFileSync } from 'node:fs';
import { modPow, randomUnit } from '../src/crypto/bigint.js';
import { generateRingPedersen } from '../src/crypto/modulus-proofs.js';
import { runCeremony } from '../src/trustee/ceremony.js';
import { combineEntries, partialDecryptTally, verifyPartialDecryptionEntry, type PartialDecryptionEntry } from '../src/election/partial-decryption.js';

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
  const trusteeParams = [generateRingPedersen(aux.p, aux.q)];

  for (const bits of sizes) {
    let primesDone = 0;
    let tPrimes = 0;
    const t0 = performance.now();
    await runCeremony({
      bits,
      trustees: 5,
      threshold: 3,
      trusteeRingPedersen: trusteeParams,
      onProgress: (p) => {
        if (p.phase === 'modulus' && p.prime.state === 'found' && ++primesDone === 2) tPrimes = performance.now();
      },
    });
    const t1 = performance.now();
    line(`ceremony-3of5-${bits}-1run`, (t1 - t0) / 1000, 's');
    line(`ceremony-3of5-${bits}-after-primes`, (t1 - (tPrimes || t0)) / 1000, 's');
  }

  // A 2048-bit 3-of-5 key from the committed safe primes; a tally of 2 questions.
  const { p, q } = get('safe2048');
  const { key, shares } = await runCeremony({ bits: 2048, trustees: 5, threshold: 3, trusteeRingPedersen: trusteeParams, primes: { p, q } });
  const pk = key.threshold;
  const enc = (m: bigint) => ((1n + m * pk.n) * modPow(randomUnit(pk.n), pk.n, pk.n2)) % pk.n2;
  const tally = [enc(12345n), enc(678n)];
  const fingerprint = new Uint8Array(32).fill(9);
  line('trustee-partial-decrypt-prove-2048-per-question', time(5, () => partialDecryptTally(pk, shares[0]!, tally.slice(0, 1), fingerprint)), 'ms');
  const payloads = shares.slice(0, 3).map((s) => JSON.parse(JSON.stringify(partialDecryptTally(pk, s, tally, fingerprint))) as unknown);
  line('result-verify-combine-3of5-2048-per-question', time(5, () => {
    const entries: PartialDecryptionEntry[] = payloads.map((j) => {
      const r = verifyPartialDecryptionEntry(pk, fingerprint, tally, j);
      if (!r.ok) throw new Error(`benchmark partial rejected: ${r.check}`);
      return r.entry;
    });
    const c = combineEntries(pk, entries, tally.length);
    if (c.plaintexts[0] !== 12345n || c.plaintexts[1] !== 678n) throw new Error('benchmark combination wrong');
  }) / tally.length, 'ms');
}
