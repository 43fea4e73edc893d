/**
 * The key ceremony (spec §13.1–§13.3, §13.5–§13.6): run once by the dealer, on an offline machine.
 *
 * It draws a modulus from two safe primes, deals Shamir shares of the decryption exponent to l
 * trustees with threshold k, proves the modulus well formed (Π^mod; Π^fac against each
 * trustee's ring-Pedersen parameters, or against parameters it generates itself when none are
 * given), and returns the public election key (the manifest's `keys.election`) and the shares.
 * 1-of-1 (`tallyboard keygen`) is the same function with k = l = 1.
 *
 * Erasure: p, q, m and d live only in local variables of this function and of `dealShares`; they
 * are not returned, logged or stored. JavaScript cannot overwrite a bigint, so "erased" means
 * unreachable once this call returns (spec §11.3 says what the ceremony machine is trusted for).
 * Ring-Pedersen parameters generated here are known to the dealer, so the Π^fac made against
 * them convinces nobody who distrusts the dealer (spec §13.6); trustees should bring their own.
 */
import { generateSafeModulus, type SafePrimeProgress } from '../crypto/safe-prime.js';
import { dealShares, type KeyShare } from '../crypto/threshold-paillier.js';
import { generateRingPedersen, proveModulus, proveNoSmallFactor, verifyRingPedersen, type RingPedersen, type RingPedersenProof } from '../crypto/modulus-proofs.js';
import { PAILLIER_MIN_BITS, PaillierSecretKey } from '../crypto/paillier.js';
import { TallyError } from '../errors.js';
import { electionKeyToJson, parseElectionKey, type ElectionKey, type ElectionKeyJson } from '../election/election-key.js';

/** Progress of a ceremony, for a display. Phases in order; `prime` events come from the safe-prime search. */
export type CeremonyProgress =
  | { readonly phase: 'modulus'; readonly prime: SafePrimeProgress }
  | { readonly phase: 'auxiliary'; readonly prime: SafePrimeProgress }
  | { readonly phase: 'dealing' | 'modulus-proof' | 'factor-proofs' | 'self-check' | 'done' };

/** Ring-Pedersen parameters a trustee generated (with Π^prm) and brings to the ceremony. */
export interface TrusteeRingPedersen {
  readonly params: RingPedersen;
  readonly proof: RingPedersenProof;
}

export interface CeremonyOptions {
  /** bit length of n: even, 2048 … 4096 (default 3072) */
  readonly bits?: number;
  /** l: number of trustees, 1 … 64 */
  readonly trustees: number;
  /** k: threshold, 1 … l */
  readonly threshold: number;
  readonly onProgress?: (p: CeremonyProgress) => void;
  /** trustees' ring-Pedersen parameters (1 … l entries); when absent the ceremony generates one set itself */
  readonly trusteeRingPedersen?: readonly TrusteeRingPedersen[];
  /** smallest accepted size of n and N̂ (tests only; never lower it for an election) */
  readonly minBits?: number;
  /** for tests only: fixed safe primes instead of a search (p, q of the modulus; P, Q of the generated ring-Pedersen modulus) */
  readonly primes?: { readonly p: bigint; readonly q: bigint; readonly aux?: { readonly p: bigint; readonly q: bigint } };
  /** randomness (tests and vectors only) */
  readonly rng?: (n: number) => Uint8Array;
}

/** What the ceremony hands out: the public election key and one share per trustee (index i at position i − 1). */
export interface CeremonyOutput {
  readonly publicKey: ElectionKeyJson;
  readonly key: ElectionKey;
  readonly shares: readonly KeyShare[];
}

/**
 * Run the ceremony.
 * @throws TallyError OUT_OF_RANGE for bad sizes or counts; BAD_MODULUS_PROOF if a trustee's
 *   ring-Pedersen parameters fail Π^prm (13.6a–c)
 */
export async function runCeremony(options: CeremonyOptions): Promise<CeremonyOutput> {
  const bits = options.bits ?? 3072;
  const minBits = options.minBits ?? PAILLIER_MIN_BITS;
  const { trustees: l, threshold: k } = options;
  if (!Number.isSafeInteger(l) || l < 1 || l > 64 || !Number.isSafeInteger(k) || k < 1 || k > l) {
    throw new TallyError('OUT_OF_RANGE', `ceremony: need 1 ≤ threshold ≤ trustees ≤ 64, got threshold ${k}, trustees ${l}`);
  }
  const given = options.trusteeRingPedersen ?? [];
  if (given.length > l) throw new TallyError('OUT_OF_RANGE', `ceremony: at most ${l} ring-Pedersen parameter sets`);
  given.forEach((rp, i) => {
    const c = verifyRingPedersen(rp.params, rp.proof, { minBits });
    if (!c.ok) throw new TallyError('BAD_MODULUS_PROOF', `ceremony: ring-Pedersen parameters ${i + 1}: ${c.reason} (check ${c.check})`, { details: { check: c.check } });
  });
  const progress = options.onProgress ?? (() => {});
  const { p, q } = options.primes ?? (await generateSafeModulus(bits, { minBits, onProgress: (prime) => progress({ phase: 'modulus', prime }) }));
  let aux: TrusteeRingPedersen[] = [...given];
  if (aux.length === 0) {
    const ap = options.primes?.aux ?? (await generateSafeModulus(bits, { minBits, onProgress: (prime) => progress({ phase: 'auxiliary', prime }) }));
    aux = [generateRingPedersen(ap.p, ap.q, options.rng)];
  }
  progress({ phase: 'dealing' });
  const { publicKey: threshold, shares } = dealShares(p, q, k, l, options.rng ? { minBits, rng: options.rng } : { minBits });
  progress({ phase: 'modulus-proof' });
  const modulusProof = proveModulus(p, q, options.rng);
  progress({ phase: 'factor-proofs' });
  const auxiliary = aux.map((a) => ({ ringPedersen: a.params, prmProof: a.proof, factorProof: proveNoSmallFactor(p, q, a.params, options.rng) }));
  const publicKey = electionKeyToJson({ threshold, modulusProof, auxiliary });
  // Self-check: the published object passes every check a verifier runs (step 4's key checks).
  progress({ phase: 'self-check' });
  const key = parseElectionKey(JSON.parse(JSON.stringify(publicKey)), { minBits });
  progress({ phase: 'done' });
  return { publicKey, key, shares };
}

/**
 * TRANSITIONAL (spec §13.11): a 1-of-1 ceremony whose caller also keeps the whole secret key,
 * for the single-server election of `keygen` and the demos while the verification server still
 * publishes the opening (T, R) of §8.2, which needs p and q. The public key is the same object a
 * k-of-n ceremony publishes. Remove once the verification server decrypts with its share.
 */
export async function runSingleServerCeremony(bits: number, log: (line: string) => void = () => {}): Promise<CeremonyOutput & { secretKey: PaillierSecretKey }> {
  log(`generating a ${bits}-bit modulus from two safe primes (seconds to minutes)`);
  const { p, q } = await generateSafeModulus(bits, { onProgress: (e) => e.state === 'found' && log(`  safe prime ${e.prime} found`) });
  const out = await runCeremony({
    bits, trustees: 1, threshold: 1, primes: { p, q },
    onProgress: (e) => {
      if (e.phase === 'auxiliary' && e.prime.state === 'searching' && e.prime.prime === 1) log('generating the ring-Pedersen parameters of the no-small-factor proof');
      else if (e.phase === 'modulus-proof') log('proving the modulus well formed (Π^mod, Π^fac)');
    },
  });
  return { ...out, secretKey: PaillierSecretKey.fromPrimes(p, q) };
}
