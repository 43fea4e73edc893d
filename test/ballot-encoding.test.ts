/**
 * Ballot encoding (spec §4): allowed sets, capacity limits, encode→decode round trips and the
 * decoding of sums into counts.
 */
import t from 'tap';
import {
  allowedSet,
  allowedSetSize,
  checkQuestionCapacity,
  decodeCounts,
  decodeSelection,
  digitBits,
  encodeSelection,
  MAX_ALLOWED_SET,
} from '../src/election/ballot-encoding.js';
import { throwsCode } from './helpers/assert.js';
import { paillierFixture } from './helpers/fixtures.js';

const n = paillierFixture('a').publicKey.n;

t.test('digit size B = 2^b is the smallest power of two > maxVoters', async (t) => {
  for (const [maxVoters, b] of [[1, 1], [2, 2], [3, 2], [100, 7], [127, 7], [128, 8], [1000, 10], [2 ** 32 - 1, 32]] as const) {
    t.equal(digitBits(maxVoters), b, `maxVoters ${maxVoters} → b ${b}`);
    t.ok(2 ** b > maxVoters && 2 ** (b - 1) <= maxVoters, 'smallest such power');
  }
});

t.test('allowed set sizes and order', async (t) => {
  t.equal(allowedSetSize({ options: 4, min: 1, max: 1 }), 4n);
  t.equal(allowedSetSize({ options: 4, min: 0, max: 1 }), 5n, 'blank allowed');
  t.equal(allowedSetSize({ options: 5, min: 0, max: 5 }), 32n, 'any subset');
  t.equal(allowedSetSize({ options: 10, min: 2, max: 3 }), 45n + 120n);
  t.equal(allowedSetSize({ options: 64, min: 2, max: 2 }), 2016n, 'C(64,2)');
  const A = allowedSet({ options: 3, min: 0, max: 2 }, 2);
  t.same(A, [0n, 1n, 4n, 5n, 16n, 17n, 20n], 'B = 4: blank, single and pairs, ascending');
  for (let i = 1; i < A.length; i++) t.ok(A[i - 1]! < A[i]!, 'strictly ascending');
});

t.test('property: encode→decode round trip for every member of A', async (t) => {
  const shape = { options: 6, min: 0, max: 3 };
  const b = 7;
  let count = 0;
  for (const m of allowedSet(shape, b)) {
    const sel = decodeSelection(m, shape.options, b);
    t.equal(encodeSelection(sel, shape, b), m);
    count++;
  }
  t.equal(count, 1 + 6 + 15 + 20);
});

t.test('selections that break the rules', async (t) => {
  const q = { options: 4, min: 1, max: 2 };
  throwsCode(t, () => encodeSelection([], q, 7), 'BAD_SELECTION', 'below min');
  throwsCode(t, () => encodeSelection([0, 1, 2], q, 7), 'BAD_SELECTION', 'above max');
  throwsCode(t, () => encodeSelection([1, 1], q, 7), 'BAD_SELECTION', 'same option twice');
  throwsCode(t, () => encodeSelection([4], q, 7), 'BAD_SELECTION', 'index = k');
  throwsCode(t, () => encodeSelection([-1], q, 7), 'BAD_SELECTION', 'negative index');
  throwsCode(t, () => encodeSelection([0.5], q, 7), 'BAD_SELECTION', 'fractional index');
});

t.test('capacity: B^k < n and |A| ≤ 1024 (spec §4.2)', async (t) => {
  // 2048-bit n: b = 32 allows at most 63 options (32·63 = 2016 < 2047), 64 is refused.
  t.doesNotThrow(() => checkQuestionCapacity({ options: 63, min: 1, max: 1 }, 32, n, 'q'));
  throwsCode(t, () => checkQuestionCapacity({ options: 64, min: 1, max: 1 }, 32, n, 'q'), 'ENCODING_CAPACITY', '64 options × 32 bits');
  throwsCode(t, () => checkQuestionCapacity({ options: 11, min: 0, max: 11 }, 7, n, 'q'), 'ALLOWED_SET_TOO_LARGE', '2048 subsets', 'allows 2048 ballots');
  t.doesNotThrow(() => checkQuestionCapacity({ options: 10, min: 0, max: 10 }, 7, n, 'q'), '2^10 = 1024 is allowed');
  throwsCode(t, () => allowedSet({ options: 64, min: 2, max: 2 }, 7), 'ALLOWED_SET_TOO_LARGE', 'enumeration refuses before allocating');
  t.equal(MAX_ALLOWED_SET, 1024);
});

t.test('decoding counts; T ≥ B^k is an error', async (t) => {
  const b = 7;
  const T = 3n + (5n << 7n) + (127n << 14n);
  t.same(decodeCounts(T, 3, b), [3n, 5n, 127n]);
  t.same(decodeCounts(0n, 3, b), [0n, 0n, 0n]);
  throwsCode(t, () => decodeCounts(1n << 21n, 3, b), 'TALLY_OVERFLOW', 'T = B^k');
  throwsCode(t, () => decodeCounts(-1n, 3, b), 'TALLY_OVERFLOW', 'T < 0');
  throwsCode(t, () => decodeSelection(2n, 3, b), 'BAD_SELECTION', 'digit 2 is not a selection');
});
