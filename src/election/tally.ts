/**
 * The tally (spec/08-tally.md): homomorphic sum of the counted ballots, its decryption with a
 * proof, and the pure check that a published result matches a recomputed encrypted tally.
 *
 * Only aggregates are ever decrypted: one ciphertext per question, the product of every counted
 * ballot's ciphertext for that question. The verifier never trusts a published encrypted tally;
 * it recomputes the product from the ballots it checked and verifies the opening against THAT.
 */
import { TallyError } from '../errors.js';
import { combineEntries, parsePartialDecryptionPayload, partialDecryptTally, type Combination, type PartialDecryptionEntry, type PartialDecryptionPayload } from './partial-decryption.js';
import type { KeyShare } from '../crypto/threshold-paillier.js';
import { hexToInt, intToHex } from '../wire.js';
import { decodeCounts } from './ballot-encoding.js';
import type { Election } from './manifest.js';

/** Published result of one question (spec §8.4). */
export interface QuestionResult {
  /** the encrypted tally: product of the counted ciphertexts mod n² */
  readonly c: bigint;
  /** T: the plaintext of c, combined from the partial decryptions of the trustees S (spec §13.4) */
  readonly T: bigint;
  /** per-option counts decoded from T, in option order */
  readonly counts: readonly bigint[];
}

/** The `result` entry (spec §8.4): the set S of k trustees combined, and one result per question. */
export interface TallyResult {
  /** S: k distinct trustee indices, ascending, each with a `partial-decryption` entry on the board */
  readonly trustees: readonly number[];
  readonly results: readonly QuestionResult[];
}

/** JSON wire form of a question result; counts are JSON numbers (each < B ≤ 2^32). */
export interface QuestionResultJson {
  readonly c: string;
  readonly T: string;
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
 * The result of a combination (spec §8.4, §13.4): counts decoded from each combined plaintext.
 * @param combination - from `combineEntries` over verified entries
 * @throws TallyError TALLY_OVERFLOW if a T does not decode (impossible for valid ballots)
 */
export function tallyResult(election: Election, encrypted: readonly bigint[], combination: Combination): TallyResult {
  return {
    trustees: [...combination.trustees],
    results: encrypted.map((c, i) => {
      const T = combination.plaintexts[i]!;
      return { c, T, counts: decodeCounts(T, election.questions[i]!.shape.options, election.digitBits) };
    }),
  };
}

/**
 * Decrypt as the only trustee needed (k = 1: a 1-of-1 key, the single-server election): this
 * trustee's `partial-decryption` payload and the result it combines to (spec §13.4). The caller
 * has verified the board and journals before publishing (spec §8.5).
 * @throws TallyError OUT_OF_RANGE if the key's threshold is not 1
 */
export function decryptTally(election: Election, share: KeyShare, encrypted: readonly bigint[], rng?: (n: number) => Uint8Array): { partial: PartialDecryptionPayload; result: TallyResult } {
  if (election.threshold.k !== 1) throw new TallyError('OUT_OF_RANGE', `decryptTally: the key needs ${election.threshold.k} trustees; combine their entries instead`);
  const partial = partialDecryptTally(election.threshold, share, encrypted, election.fingerprint, rng);
  const entry = parsePartialDecryptionPayload(election.threshold, encrypted.length, partial);
  return { partial, result: tallyResult(election, encrypted, combineEntries(election.threshold, [entry], encrypted.length)) };
}

/** Outcome of checking a published result. */
export type TallyCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly check: string; readonly question: number; readonly reason: string; readonly expected?: string; readonly computed?: string };

/**
 * Check a published result against the encrypted tally the verifier recomputed and the
 * `partial-decryption` entries it verified (spec §10, step 10). First 13.4g on S: exactly k
 * distinct trustees, ascending, each with a verified entry, whose combination succeeds; then per
 * question in order 8.4b, 8.4f, 8.3a, 8.4c, 8.4d, 8.4e. The first failure is returned. Pure;
 * never throws.
 * @param recomputed - the verifier's own product of counted ciphertexts per question
 * @param published - the published result (shape already checked: 8.4a)
 * @param verified - the entries that passed 13.4p and 13.4a–13.4f, by trustee index
 * @param ballotsCounted - N; when given, the sanity checks 8.4d and 8.4e run too
 */
export function verifyTally(
  election: Election,
  recomputed: readonly bigint[],
  published: TallyResult,
  verified: ReadonlyMap<number, PartialDecryptionEntry>,
  ballotsCounted?: number,
): TallyCheck {
  const pk = election.threshold;
  const S = published.trustees;
  if (published.results.length !== election.questions.length) {
    return { ok: false, check: '8.4a', question: -1, reason: `expected ${election.questions.length} results, got ${published.results.length}` };
  }
  if (S.length !== pk.k || S.some((i, j) => j > 0 && i <= S[j - 1]!)) {
    return { ok: false, check: '13.4g', question: -1, reason: `trustees must be exactly ${pk.k} distinct indices in ascending order, got [${S.join(', ')}]` };
  }
  const missing = S.find((i) => !verified.has(i));
  if (missing !== undefined) {
    return { ok: false, check: '13.4g', question: -1, reason: `trustee ${missing} has no valid partial-decryption entry on the board` };
  }
  let combination: Combination;
  try {
    combination = combineEntries(pk, S.map((i) => verified.get(i)!), election.questions.length);
  } catch (e) {
    const q = (e as { details?: { question?: unknown } }).details?.question;
    return { ok: false, check: '13.4g', question: typeof q === 'number' ? q : -1, reason: e instanceof Error ? e.message : String(e) };
  }
  for (let i = 0; i < published.results.length; i++) {
    const p = published.results[i]!;
    const mine = recomputed[i]!;
    if (p.c !== mine) {
      return { ok: false, check: '8.4b', question: i, reason: 'published encrypted tally differs from the recomputed product', expected: p.c.toString(16), computed: mine.toString(16) };
    }
    const T = combination.plaintexts[i]!;
    if (p.T !== T) {
      return { ok: false, check: '8.4f', question: i, reason: 'published T differs from the combination of the partial decryptions of S', expected: p.T.toString(16), computed: T.toString(16) };
    }
    let counts: bigint[];
    try {
      counts = decodeCounts(T, election.questions[i]!.shape.options, election.digitBits);
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
  return results.map((r) => ({ c: intToHex(r.c, n2Len), T: intToHex(r.T, nLen), counts: r.counts.map(Number) }));
}

const RESULT_MEMBERS = ['c', 'T', 'counts'] as const;

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
    // Exactly c, T, counts: an extra member would be unchecked data on the board (§8.4a).
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
      counts: (r.counts as number[]).map((v) => BigInt(v)),
    };
  });
}
