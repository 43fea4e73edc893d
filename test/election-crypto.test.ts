/**
 * A full election at the crypto level (issue #2, "done when"): 3 questions, 100 ballots.
 * Every voter gets a token by blind issuance, encrypts and proves a random valid selection and
 * signs; every ballot is verified; the ciphertexts are multiplied; the key holder decrypts with
 * a proof; the proof verifies against the independently recomputed product; and the decoded
 * counts equal the plaintext counts kept on the side.
 */
import t from 'tap';
import { fixtureElection, fixtureToken, seededRng, shareFixture } from './helpers/fixtures.js';
import { parsePartialDecryptionPayload, verifyPartialDecryptionEntry } from '../src/election/partial-decryption.js';
import { createBallot, verifyBallot, parseBallot, ballotToJson } from '../src/election/ballot.js';
import { decryptTally, TallyAccumulator, verifyTally } from '../src/election/tally.js';
import { toHex } from '../src/wire.js';

const VOTERS = 100;
const election = fixtureElection({
  electionId: 'crypto-e2e',
  maxVoters: VOTERS,
  questions: [
    { id: 'president', options: 4, min: 1, max: 1 }, // |A| = 4
    { id: 'referendum', options: 2, min: 0, max: 1 }, // yes / no / blank, |A| = 3
    { id: 'council', options: 3, min: 0, max: 2 }, // up to two of three, |A| = 7
  ],
});

t.test(`${VOTERS} ballots, 3 questions: encrypt, prove, verify, sum, decrypt with proof`, async (t) => {
  const pick = seededRng('e2e selections');
  const expected = election.questions.map((q) => new Array<number>(q.shape.options).fill(0));
  const acc = new TallyAccumulator(election);
  const trackers = new Set<string>();
  let verified = 0;
  for (let v = 0; v < VOTERS; v++) {
    const selections = election.questions.map((q) => {
      const choices = q.allowed;
      const m = choices[pick(1)[0]! % choices.length]!;
      const sel: number[] = [];
      for (let j = 0; j < q.shape.options; j++) if ((m >> BigInt(election.digitBits * j)) & 1n) sel.push(j);
      return sel;
    });
    selections.forEach((sel, i) => sel.forEach((j) => expected[i]![j]!++));
    const token = fixtureToken(election);
    const enc = createBallot(election, selections, token);
    // Over the wire and back, as a server would receive it.
    const received = parseBallot(election, JSON.parse(JSON.stringify(ballotToJson(election, enc.ballot))));
    const res = verifyBallot(election, received);
    if (!res.ok) {
      t.fail(`ballot ${v} rejected: ${res.check} ${res.reason}`);
      continue;
    }
    verified++;
    trackers.add(toHex(res.tracker));
    acc.add(received.answers.map((a) => a.c));
  }
  t.equal(verified, VOTERS, 'every ballot verifies');
  t.equal(trackers.size, VOTERS, 'trackers are distinct');
  const { partial, result } = decryptTally(election, shareFixture('a'), acc.result());
  const entries = new Map([[1, parsePartialDecryptionPayload(election.threshold, election.questions.length, partial)]]);
  t.ok(verifyPartialDecryptionEntry(election.threshold, election.fingerprint, acc.result(), partial).ok, 'the partial decryption proofs verify against the recomputed product');
  t.same(verifyTally(election, acc.result(), result, entries), { ok: true }, 'the result is the combination');
  t.same(
    result.results.map((r) => r.counts.map(Number)),
    expected,
    'decoded counts equal the plaintext counts',
  );
  const total = expected[0]!.reduce((a, b) => a + b, 0);
  t.equal(total, VOTERS, 'single-choice question: counts add up to the number of ballots');
});
