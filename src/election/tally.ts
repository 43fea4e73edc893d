/**
 * The tally (spec/08-tally.md): homomorphic sum of the counted ballots, its decryption with a
 * proof, and the pure check that a published result matches a recomputed encrypted tally.
 *
 * Only aggregates are ever decrypted: one ciphertext per question, the product of every counted
 * ballot's ciphertext for that question. The verifier never trusts a published encrypted tally;
 * it recomputes the product from the ballots it checked and verifies the opening against THAT.
 */
import { TallyError } from '../errors.js';
import { proveDecryption, verifyDecryption } from '../crypto/decryption-proof.js';
import type { PaillierSecretKey } from '../crypto/paillier.js';
import { hexToInt, intToHex } from '../wire.js';
import { decodeCounts } from './ballot-encoding.js';
import type { Election } from './manifest.js';

/** Published result of one question (spec §8.4). */
export interface QuestionResult {
  /** the encrypted tally: product of the counted ciphertexts mod n² */
  readonly c: bigint;
  /** the opening (spec §8.2): plaintext T and randomness R */
  readonly T: bigint;
  readonly R: bigint;
  /** per-option counts decoded from T, in option order */
  readonly counts: readonly bigint[];
}

/** JSON wire form of a question result; counts are JSON numbers (each < B ≤ 2^32). */
export interface QuestionResultJson {
  readonly c: string;
  readonly T: string;
  readonly R: string;
  readonly counts: readonly number[];
}

/** Running homomorphic sum per question (spec §8.1). Starts at Enc(0; 1) = 1. */
export class TallyAccumulator {
  private readonly products: bigint[];
  private counted = 0;

  constructor(private readonly election: Election) {
    this.products = election.questions.map(() => 1n);
  }

  /** Multiply in one ballot's ciphertexts; the caller has verified the ballot. */
  add(ciphertexts: readonly bigint[]): void {
    const n2 = this.election.paillier.n2;
    if (ciphertexts.length !== this.products.length) throw new RangeError('TallyAccumulator.add: wrong number of ciphertexts');
    ciphertexts.forEach((c, i) => {
      this.products[i] = (this.products[i]! * c) % n2;
    });
    this.counted++;
  }

  /** Number of ballots multiplied in. */
  get ballotsCounted(): number {
    return this.counted;
  }

  /** The encrypted tally per question. */
  result(): bigint[] {
    return [...this.products];
  }
}

/**
 * Decrypt an encrypted tally and prove it (spec §8.2–8.3). Run by the key holder only.
 * @throws TallyError TALLY_OVERFLOW if a T does not decode (impossible for valid ballots)
 */
export function decryptTally(sk: PaillierSecretKey, election: Election, encrypted: readonly bigint[]): QuestionResult[] {
  return encrypted.map((c, i) => {
    const { T, R } = proveDecryption(sk, c);
    const counts = decodeCounts(T, election.questions[i]!.shape.options, election.digitBits);
    return { c, T, R, counts };
  });
}

/** Outcome of checking a published result. */
export type TallyCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly check: string; readonly question: number; readonly reason: string; readonly expected?: string; readonly computed?: string };

/**
 * Check published results against the encrypted tally the verifier recomputed (spec §10,
 * step 10). Per question in order, the checks run in the order 8.4b, 8.2a–8.2d, 8.3a, 8.4c,
 * 8.4d, 8.4e, and the first failure is returned. Pure; never throws.
 * @param recomputed - the verifier's own product of counted ciphertexts per question
 * @param published - the published results (shape already checked: 8.4a)
 * @param ballotsCounted - N, the number of counted ballots; when given, the sanity checks 8.4d
 *   (every count ≤ N) and 8.4e (min·N ≤ Σ counts ≤ max·N) run too
 */
export function verifyTally(election: Election, recomputed: readonly bigint[], published: readonly QuestionResult[], ballotsCounted?: number): TallyCheck {
  if (published.length !== election.questions.length) {
    return { ok: false, check: '8.4a', question: -1, reason: `expected ${election.questions.length} results, got ${published.length}` };
  }
  for (let i = 0; i < published.length; i++) {
    const p = published[i]!;
    const mine = recomputed[i]!;
    if (p.c !== mine) {
      return { ok: false, check: '8.4b', question: i, reason: 'published encrypted tally differs from the recomputed product', expected: p.c.toString(16), computed: mine.toString(16) };
    }
    const d = verifyDecryption(election.paillier, mine, { T: p.T, R: p.R });
    if (!d.ok) return { ok: false, check: d.check, question: i, reason: d.reason };
    let counts: bigint[];
    try {
      counts = decodeCounts(p.T, election.questions[i]!.shape.options, election.digitBits);
    } catch {
      return { ok: false, check: '8.3a', question: i, reason: 'T ≥ B^k: the tally does not decode into counts' };
    }
    const same = counts.length === p.counts.length && counts.every((x, j) => x === p.counts[j]);
    if (!same) {
      return { ok: false, check: '8.4c', question: i, reason: 'published counts differ from the counts decoded from T', expected: p.counts.join(','), computed: counts.join(',') };
    }
    if (ballotsCounted !== undefined) {
      const N = BigInt(ballotsCounted);
      const j = counts.findIndex((x) => x > N);
      if (j >= 0) return { ok: false, check: '8.4d', question: i, reason: `option ${j} has ${counts[j]} votes, more than the ${N} ballots counted` };
      const { min, max } = election.questions[i]!.shape;
      const total = counts.reduce((a, b) => a + b, 0n);
      if (total < BigInt(min) * N || total > BigInt(max) * N) {
        return { ok: false, check: '8.4e', question: i, reason: `${total} selections in all, outside [${min}·${N}, ${max}·${N}]` };
      }
    }
  }
  return { ok: true };
}

/** JSON wire form of results. */
export function resultsToJson(election: Election, results: readonly QuestionResult[]): QuestionResultJson[] {
  const { nLen, n2Len } = election.paillier;
  return results.map((r) => ({ c: intToHex(r.c, n2Len), T: intToHex(r.T, nLen), R: intToHex(r.R, nLen), counts: r.counts.map(Number) }));
}

const RESULT_MEMBERS = ['c', 'T', 'R', 'counts'] as const;

/**
 * Parse published results; shape and lengths only (verifyTally checks the algebra).
 * @throws TallyError MALFORMED
 */
export function parseResults(election: Election, json: unknown): QuestionResult[] {
  const { nLen, n2Len } = election.paillier;
  if (!Array.isArray(json) || json.length !== election.questions.length) {
    throw new TallyError('MALFORMED', `results: expected ${election.questions.length} entries`);
  }
  return json.map((x: unknown, i) => {
    const r = x as Partial<Record<keyof QuestionResultJson, unknown>> | null;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new TallyError('MALFORMED', `results[${i}]: expected an object`);
    // Exactly c, T, R, counts: an extra member would be unchecked data on the board (§8.4a).
    for (const k of RESULT_MEMBERS) if (!Object.hasOwn(r, k)) throw new TallyError('MALFORMED', `results[${i}]: missing member ${JSON.stringify(k)}`);
    for (const k in r) {
      if (Object.hasOwn(r, k) && !(RESULT_MEMBERS as readonly string[]).includes(k)) throw new TallyError('MALFORMED', `results[${i}]: unknown member ${JSON.stringify(k.slice(0, 64))}`);
    }
    const k = election.questions[i]!.shape.options;
    if (!Array.isArray(r.counts) || r.counts.length !== k || !r.counts.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) {
      throw new TallyError('MALFORMED', `results[${i}].counts: expected ${k} non-negative integers`);
    }
    return {
      c: hexToInt(r.c, n2Len, `results[${i}].c`),
      T: hexToInt(r.T, nLen, `results[${i}].T`),
      R: hexToInt(r.R, nLen, `results[${i}].R`),
      counts: (r.counts as number[]).map((v) => BigInt(v)),
    };
  });
}
