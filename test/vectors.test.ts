/**
 * Known-answer and negative vectors (test/vectors/tallyboard-v2*.json).
 * 1. Regenerating the vectors from their seeds gives the committed files byte for byte: any
 *    format change fails here until the vectors are regenerated on purpose.
 * 2. The committed files verify on their own terms: an outside implementation can use them
 *    without running our generator.
 * 3. Every negative vector is rejected with exactly the code and the one check id it names.
 * 4. The tallyboard/1 vectors (kept as history) are refused by this version at check 2.1a: their
 *    `keys.paillier` is not a member of tallyboard/2's `keys` (structure comes before the version).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  ballotVerdict,
  buildNegativeVectors,
  buildVectors,
  ed25519Verdict,
  KAT_QUESTIONS,
  manifestVerdict,
  type NegativeVectors,
} from './helpers/kat.js';
import { parseManifest } from '../src/election/manifest.js';
import { parseBallot, verifyBallot } from '../src/election/ballot.js';
import { parseResults, TallyAccumulator, verifyTally } from '../src/election/tally.js';
import { verifyPartialDecryptionEntry } from '../src/election/partial-decryption.js';
import { toHex } from '../src/wire.js';

const read = (name: string) => JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8'));
const committed = read('tallyboard-v2.json') as ReturnType<typeof buildVectors>;
const negative = read('tallyboard-v2-negative.json') as NegativeVectors;

t.test('regenerated vectors equal the committed ones', async (t) => {
  const fresh = JSON.parse(JSON.stringify(buildVectors()));
  t.same(fresh, committed, 'positive vectors');
  t.same(JSON.parse(JSON.stringify(buildNegativeVectors(fresh))), negative, 'negative vectors');
});

t.test('committed vectors verify on their own', async (t) => {
  const election = parseManifest(committed.manifest);
  t.equal(committed.manifest.version, 'tallyboard/2');
  t.equal(election.fingerprintHex, committed.fingerprint, 'fingerprint');
  t.equal(election.questions.length, KAT_QUESTIONS.length);
  election.questions.forEach((q, i) => {
    t.same(q.allowed.map(String), committed.questions[i]!.allowed, `allowed set ${i}`);
    t.equal(toHex(q.allowedSetHash), committed.questions[i]!.allowedSetHash, `allowed set hash ${i}`);
  });
  const ballot = parseBallot(election, committed.ballot.json);
  const res = verifyBallot(election, ballot);
  t.ok(res.ok, 'ballot verifies');
  if (res.ok) t.equal(toHex(res.tracker), committed.ballot.tracker, 'tracker');
  const acc = new TallyAccumulator(election);
  for (const j of committed.tally.ballots) {
    const b = parseBallot(election, j);
    t.ok(verifyBallot(election, b).ok, 'tally ballot verifies');
    acc.add(b.answers.map((a) => a.c));
  }
  const pv = verifyPartialDecryptionEntry(election.threshold, election.fingerprint, acc.result(), committed.tally.partialDecryption);
  t.ok(pv.ok, 'the partial decryption verifies against the recomputed tally');
  const entries = new Map(pv.ok ? [[pv.entry.trustee, pv.entry] as const] : []);
  t.same(verifyTally(election, acc.result(), { trustees: committed.tally.trustees, results: parseResults(election, committed.tally.results) }, entries), { ok: true }, 'the result is the combination');
  t.same(committed.tally.results.map((r) => r.counts), [[1, 2, 0], [1, 1]], 'counts of the three KAT ballots');
});

t.test('every negative ballot vector is rejected with its one check id', async (t) => {
  const election = parseManifest(committed.manifest);
  t.ok(negative.ballots.length >= 26, `${negative.ballots.length} ballot vectors`);
  for (const v of negative.ballots) t.same(ballotVerdict(election, v.ballot), v.expected, v.description);
  t.notOk(JSON.stringify(negative).includes('"parse"'), 'no vector uses an id the spec does not define');
});

t.test('regression: mixed-order Ed25519 vectors get the verdict of spec §7.3 (issue 10.5)', async (t) => {
  t.ok(negative.ed25519.length >= 8);
  for (const v of negative.ed25519) t.same(ed25519Verdict(v), { valid: v.valid, check: v.check }, v.description);
  t.ok(negative.ed25519.some((v) => !v.valid && v.cofactoredAccepts && v.check === '7.3b'), 'an R + T signature the cofactored equation accepts');
  t.ok(negative.ed25519.some((v) => !v.valid && v.cofactoredAccepts && v.check === '7.3a'), 'an A + T key whose signature the cofactored equation accepts');
});

t.test('every manifest vector is refused with its one check id', async (t) => {
  t.ok(negative.manifests.length >= 20);
  for (const v of negative.manifests) t.same(manifestVerdict(v.manifest), v.expected, v.description);
});

t.test('the tallyboard/1 vectors (history) are refused by this version at 2.1a (keys.paillier is not a tallyboard/2 member)', async (t) => {
  const v1 = JSON.parse(readFileSync(new URL('./vectors/history/tallyboard-v1.json', import.meta.url), 'utf8')) as { manifest: unknown };
  t.same(manifestVerdict(v1.manifest), { code: 'BAD_MANIFEST', check: '2.1a' });
});
