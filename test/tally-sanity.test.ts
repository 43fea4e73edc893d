/**
 * Result sanity checks 8.4d and 8.4e (spec §8.4, issue 10.12): a correctly decrypted tally whose
 * counts no set of N valid ballots can produce is refused. Such a tally cannot arise from valid
 * ballots and a sound proof check; the checks are a cheap second line against an overflow or
 * modulus trick. The encrypted tallies here are made directly by the key holder (fixture key).
 */
import t from 'tap';
import { decryptTally, verifyTally } from '../src/election/tally.js';
import { fixtureElection, shareFixture } from './helpers/fixtures.js';
import { parsePartialDecryptionPayload } from '../src/election/partial-decryption.js';

const election = fixtureElection({ electionId: 'sanity', questions: [{ id: 'q', options: 3, min: 1, max: 1 }], maxVoters: 100 });
const B = 1n << BigInt(election.digitBits);
const tallyOf = (counts: bigint[]) => {
  const T = counts.reduce((acc, c, j) => acc + c * B ** BigInt(j), 0n);
  const { c } = election.paillier.encryptFresh(T);
  const { partial, result } = decryptTally(election, shareFixture('a'), [c]);
  return { c, results: result, entries: new Map([[1, parsePartialDecryptionPayload(election.threshold, 1, partial)]]) };
};

t.test('regression: a count larger than the ballots counted fails 8.4d', async (t) => {
  const { c, results, entries } = tallyOf([5n, 0n, 0n]);
  t.same(verifyTally(election, [c], results, entries), { ok: true }, 'the combination alone verifies');
  const r = verifyTally(election, [c], results, entries, 2);
  t.equal(r.ok ? 'ok' : r.check, '8.4d');
});

t.test('regression: total selections outside [min·N, max·N] fail 8.4e', async (t) => {
  const few = tallyOf([1n, 0n, 0n]);
  const r1 = verifyTally(election, [few.c], few.results, few.entries, 2);
  t.equal(r1.ok ? 'ok' : r1.check, '8.4e', 'one selection for two single-choice ballots');
  const many = tallyOf([2n, 2n, 0n]);
  const r2 = verifyTally(election, [many.c], many.results, many.entries, 2);
  t.equal(r2.ok ? 'ok' : r2.check, '8.4e', 'four selections for two single-choice ballots');
  const right = tallyOf([1n, 1n, 0n]);
  t.same(verifyTally(election, [right.c], right.results, right.entries, 2), { ok: true }, 'two selections for two ballots');
});
