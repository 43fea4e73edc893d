/**
 * Ballot encoding (spec/04-ballot-encoding.md): a question's selection is ONE plaintext
 * m = Σ x_j · B^j, where x_j ∈ {0,1} says whether option j is selected and B = 2^b is the
 * smallest power of two greater than maxVoters.
 *
 * Why one ciphertext per question and B > maxVoters: the sum of at most maxVoters plaintexts
 * then has every option's count in its own base-B digit with no carry into the next option
 * (the original prototype used base 10 and ten votes for one candidate spilled into the next).
 * One ciphertext per question, with a 1-out-of-|A| proof over the whole allowed set, proves the
 * min/max rule in one proof instead of one proof per option plus a sum proof.
 */
import { TallyError } from '../errors.js';
import { bitLength } from '../crypto/bigint.js';

/** Largest allowed set a question may have (spec §4.3): bounds the size and cost of a proof. */
export const MAX_ALLOWED_SET = 1024;

/** The encoding parameters of one question. */
export interface QuestionShape {
  /** k: number of options, 1 ≤ k */
  readonly options: number;
  /** 0 ≤ min ≤ max */
  readonly min: number;
  /** max ≤ k, max ≥ 1 */
  readonly max: number;
}

/**
 * b = bitLength(maxVoters), so B = 2^b is the smallest power of two > maxVoters (spec §4.1).
 * @param maxVoters - 1 ≤ maxVoters < 2^32
 */
export function digitBits(maxVoters: number): number {
  if (!Number.isSafeInteger(maxVoters) || maxVoters < 1) throw new RangeError('maxVoters must be a positive integer');
  return bitLength(BigInt(maxVoters));
}

/** Number of subsets of k items with size in [min, max] (exact, with bigints). */
export function allowedSetSize(q: QuestionShape): bigint {
  let total = 0n;
  let binom = 1n; // C(k, 0)
  for (let s = 0; s <= q.max; s++) {
    if (s > 0) binom = (binom * BigInt(q.options - s + 1)) / BigInt(s);
    if (s >= q.min) total += binom;
  }
  return total;
}

/**
 * Check that a question can be encoded under modulus n (spec §4.2): B^k < n and |A| ≤ 1024.
 * @throws TallyError ENCODING_CAPACITY or ALLOWED_SET_TOO_LARGE with a message a person can act on
 */
export function checkQuestionCapacity(q: QuestionShape, b: number, n: bigint, label: string): void {
  if (1n << BigInt(b * q.options) >= n) {
    throw new TallyError(
      'ENCODING_CAPACITY',
      `${label}: ${q.options} options × ${b} bits per count do not fit under a ${bitLength(n)}-bit modulus (need B^k < n); ` +
        `use fewer options, a smaller maxVoters, or a larger key`,
      { details: { options: q.options, digitBits: b, modulusBits: bitLength(n) } },
    );
  }
  const size = allowedSetSize(q);
  if (size > BigInt(MAX_ALLOWED_SET)) {
    throw new TallyError(
      'ALLOWED_SET_TOO_LARGE',
      `${label}: choosing ${q.min} to ${q.max} of ${q.options} options allows ${size} ballots, more than ${MAX_ALLOWED_SET}; ` +
        `narrow min/max or split the question`,
      { details: { allowedSetSize: size.toString(), limit: MAX_ALLOWED_SET } },
    );
  }
}

/**
 * The allowed set A of a question, sorted ascending (spec §4.3): every m = Σ x_j·2^(b·j) with
 * min ≤ Σ x_j ≤ max. The size is checked BEFORE enumeration.
 * @throws TallyError ALLOWED_SET_TOO_LARGE if |A| > 1024
 */
export function allowedSet(q: QuestionShape, b: number): bigint[] {
  const size = allowedSetSize(q);
  if (size > BigInt(MAX_ALLOWED_SET)) {
    throw new TallyError('ALLOWED_SET_TOO_LARGE', `allowed set has ${size} members, more than ${MAX_ALLOWED_SET}`);
  }
  const out: bigint[] = [];
  const chosen: number[] = [];
  const rec = (start: number) => {
    if (chosen.length >= q.min) out.push(encodeSelection(chosen, q, b));
    if (chosen.length === q.max) return;
    for (let j = start; j < q.options; j++) {
      chosen.push(j);
      rec(j + 1);
      chosen.pop();
    }
  };
  rec(0);
  return out.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

/**
 * m = Σ_{j ∈ selected} B^j.
 * @param selected - distinct option indices in [0, k), with min ≤ count ≤ max
 * @throws TallyError BAD_SELECTION naming the broken rule
 */
export function encodeSelection(selected: readonly number[], q: QuestionShape, b: number): bigint {
  const seen = new Set<number>();
  for (const j of selected) {
    if (!Number.isInteger(j) || j < 0 || j >= q.options) {
      throw new TallyError('BAD_SELECTION', `option index ${j} is not in [0, ${q.options})`);
    }
    if (seen.has(j)) throw new TallyError('BAD_SELECTION', `option ${j} is selected twice`);
    seen.add(j);
  }
  if (seen.size < q.min || seen.size > q.max) {
    throw new TallyError('BAD_SELECTION', `select between ${q.min} and ${q.max} options, got ${seen.size}`);
  }
  let m = 0n;
  for (const j of seen) m += 1n << BigInt(b * j);
  return m;
}

/**
 * Split a sum T into per-option counts: count_j = ⌊T / B^j⌋ mod B (spec §8.3).
 * @param total - decrypted tally T ≥ 0
 * @returns k counts, each in [0, B)
 * @throws TallyError TALLY_OVERFLOW if T ≥ B^k (the sum cannot come from valid ballots)
 */
export function decodeCounts(total: bigint, options: number, b: number): bigint[] {
  if (total < 0n || total >= 1n << BigInt(b * options)) {
    throw new TallyError('TALLY_OVERFLOW', `tally is not in [0, B^k) and does not decode into ${options} counts of ${b} bits`);
  }
  const mask = (1n << BigInt(b)) - 1n;
  const counts: bigint[] = [];
  for (let j = 0; j < options; j++) counts.push((total >> BigInt(b * j)) & mask);
  return counts;
}

/** Inverse of encodeSelection for a single ballot: the selected option indices of m ∈ A. */
export function decodeSelection(m: bigint, options: number, b: number): number[] {
  const selected: number[] = [];
  decodeCounts(m, options, b).forEach((c, j) => {
    if (c > 1n) throw new TallyError('BAD_SELECTION', `plaintext has digit ${c} for option ${j}, not 0 or 1`);
    if (c === 1n) selected.push(j);
  });
  return selected;
}
