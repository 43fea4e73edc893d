/**
 * Known-answer and negative vectors (test/vectors/tallyboard-v1*.json).
 * 1. Regenerating the vectors from their seeds gives the committed files byte for byte: any
 *    format change fails here until the vectors are regenerated on purpose.
 * 2. The committed files verify on their own terms: an outside implementation can use them
 *    without running our generator.
 * 3. Every negative vector is rejected with exactly the code and check it names.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { buildNegativeVectors, buildVectors, KAT_QUESTIONS, type NegativeVector } from './helpers/kat.js';
import { parseManifest } from '../src/election/manifest.js';
import { parseBallot, verifyBallot } from '../src/election/ballot.js';
import { parseResults, TallyAccumulator, verifyTally } from '../src/election/tally.js';
import { toHex } from '../src/wire.js';
import { isTallyError } from '../src/errors.js';

const read = (name: string) => JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8'));
const committed = read('tallyboard-v1.json') as ReturnType<typeof buildVectors>;
const negative = read('tallyboard-v1-negative.json') as NegativeVector[];

t.test('regenerated vectors equal the committed ones', async (t) => {
  const fresh = JSON.parse(JSON.stringify(buildVectors()));
  t.same(fresh, committed, 'positive vectors');
  t.same(JSON.parse(JSON.stringify(buildNegativeVectors(fresh))), negative, 'negative vectors');
});

t.test('committed vectors verify on their own', async (t) => {
  const election = parseManifest(committed.manifest);
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
  t.same(verifyTally(election, acc.result(), parseResults(election, committed.tally.results)), { ok: true }, 'tally and decryption proof verify');
  t.same(committed.tally.results.map((r) => r.counts), [[1, 2, 0], [1, 1]], 'counts of the three KAT ballots');
});

t.test('every negative vector is rejected as it says', async (t) => {
  const election = parseManifest(committed.manifest);
  t.ok(negative.length >= 20, `${negative.length} negative vectors`);
  for (const v of negative) {
    let got: { code: string; check: string };
    try {
      const b = parseBallot(election, v.ballot);
      const r = verifyBallot(election, b);
      got = r.ok ? { code: 'ACCEPTED', check: '-' } : { code: r.code, check: r.check };
    } catch (e) {
      got = isTallyError(e) ? { code: e.code, check: 'parse' } : { code: 'THREW', check: String(e) };
    }
    t.same(got, v.expected, v.description);
  }
});
