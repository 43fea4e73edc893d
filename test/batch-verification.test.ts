/**
 * Batch verification (spec §5.7, §11.4): the bucket-method multi-exponentiation against the
 * naive product; the batch verifier's reports against the per-proof verifier's on honest
 * ballots, on every committed negative vector, on ballots crafted with order-2 equation errors
 * (−1 and ω), and with one bad ballot hidden among many (bisection); the key holder's order-3
 * element, the limit §11.4 states; and the client precomputation (spec §5.6).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { multiExp } from '../src/crypto/multiexp.js';
import { modPow, randomBelow } from '../src/crypto/bigint.js';
import { createBallot, parseBallot, precomputeBallot, verifyBallot, type Ballot, type BallotCheck, type VoterToken } from '../src/election/ballot.js';
import { verifyBallots } from '../src/election/ballot-batch.js';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { fixtureElection, fixtureToken, seededRng } from './helpers/fixtures.js';
import { craftBallot, fixtureFactors, omega, orderThree, resign } from './helpers/crafted-ballot.js';
import type { NegativeVector } from './helpers/kat.js';

const QUESTIONS = [
  { id: 'mayor', options: 4, min: 1, max: 1 },
  { id: 'budget', options: 2, min: 0, max: 1 },
];
const election = fixtureElection({ electionId: 'batch-test', questions: QUESTIONS, maxVoters: 1000 });
const pk = election.paillier;
const { n, n2 } = pk;
const factors = fixtureFactors('a');
const tokens: VoterToken[] = [fixtureToken(election), fixtureToken(election)];

/** A few distinct honest ballots, reused to fill large chunks cheaply (duplicates are the caller's concern, §10). */
const honest: Ballot[] = Array.from({ length: 6 }, (_, i) => createBallot(election, [[i % 4], i % 3 === 0 ? [] : [i % 2]], tokens[i % 2]!).ballot);

/** What the per-proof verifier says, as plain data (trackers as hex) for t.same. */
function plain(r: BallotCheck): unknown {
  return r.ok ? { ok: true, tracker: Buffer.from(r.tracker).toString('hex') } : r;
}

/** Per-proof results, computed once per distinct ballot object. */
const perProofCache = new Map<Ballot, unknown>();
function perProof(e: Election, b: Ballot): unknown {
  let r = perProofCache.get(b);
  if (r === undefined) perProofCache.set(b, (r = plain(verifyBallot(e, b))));
  return r;
}


t.test('multiExp equals the product of single exponentiations (property, random inputs)', async (t) => {
  const moduli = [7n, 65537n, (1n << 127n) - 1n, n, n2];
  for (let trial = 0; trial < 40; trial++) {
    const m = moduli[trial % moduli.length]!;
    const count = Number(randomBelow(40n));
    const bits = [1n, 8n, 64n, 128n, 390n][trial % 5]!;
    const bases = Array.from({ length: count }, () => randomBelow(m + 5n));
    const exps = Array.from({ length: count }, (_, i) => (i % 7 === 3 ? 0n : randomBelow(1n << bits)));
    let naive = 1n % m;
    for (let i = 0; i < count; i++) naive = (naive * modPow(bases[i]!, exps[i]!, m)) % m;
    t.equal(multiExp(bases, exps, m), naive, `trial ${trial}: ${count} bases, ${bits}-bit exponents, ${m.toString(2).length}-bit modulus`);
  }
  t.equal(multiExp([], [], n), 1n, 'empty product');
  t.equal(multiExp([5n, 6n], [0n, 0n], 11n), 1n, 'all exponents zero');
  t.throws(() => multiExp([2n], [-1n], 11n), RangeError, 'negative exponent');
  t.throws(() => multiExp([2n], [], 11n), RangeError, 'length mismatch');
});

t.test('the fixture factors are those of the election key', async (t) => {
  t.equal(factors.p * factors.q, n);
});

t.test('batch and per-proof agree on honest ballots', async (t) => {
  const chunk = Array.from({ length: 24 }, (_, i) => honest[i % honest.length]!);
  const got = verifyBallots(election, chunk).map(plain);
  t.same(got, chunk.map((b) => perProof(election, b)));
  t.ok(got.every((r) => (r as { ok: boolean }).ok), 'all accepted');
  t.same(verifyBallots(election, []), [], 'empty chunk');
});

t.test('regression: an order-2 equation error gets the same verdict from batch and per-proof (spec §11.4)', async (t) => {
  // Before tallyboard/2, 5.4g rejected these while a batch over squares accepted them.
  const w = omega(factors);
  t.equal((w * w) % n2, 1n, 'ω² = 1');
  t.not(w, 1n);
  t.not(w, n2 - 1n);
  const cases: [string, { question: number; branch: number; factor: bigint }][] = [
    ['−a on the real branch', { question: 0, branch: 2, factor: n2 - 1n }],
    ['−a on a simulated branch', { question: 0, branch: 0, factor: n2 - 1n }],
    ['ω·a on a simulated branch (key holder)', { question: 1, branch: 1, factor: w }],
    ['−ω·a on the real branch (key holder)', { question: 1, branch: 0, factor: (n2 - w) % n2 }],
  ];
  const crafted = cases.map(([, tw]) => craftBallot(election, tokens[0]!, [[2], [0]], tw));
  for (let i = 0; i < cases.length; i++) {
    const single = plain(verifyBallot(election, crafted[i]!));
    t.same(single, { ok: true, tracker: (single as { tracker: string }).tracker }, `${cases[i]![0]}: per-proof accepts`);
  }
  const chunk = [...honest, ...crafted];
  // Many runs: the δ are fresh each time; an order-2 error must never change the verdict.
  for (let run = 0; run < 8; run++) t.same(verifyBallots(election, chunk).map(plain), chunk.map((b) => perProof(election, b)), `run ${run}: identical reports`);
});

t.test('batch and per-proof give identical reports on every committed negative vector', async (t) => {
  const read = (name: string) => JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8'));
  const kat = parseManifest(read('tallyboard-v2.json').manifest);
  const negative = (read('tallyboard-v2-negative.json') as { ballots: NegativeVector[] }).ballots;
  const good = parseBallot(kat, read('tallyboard-v2.json').ballot.json);
  const parsed: { d: string; b: Ballot }[] = [];
  for (const v of negative) {
    try {
      parsed.push({ d: v.description, b: parseBallot(kat, v.ballot) });
    } catch {
      // rejected at decoding ('parse'): neither verifier ever sees it
    }
  }
  t.ok(parsed.length >= 10, `${parsed.length} negative vectors reach the verifiers`);
  // All in one chunk, honest ballots around them, then each alone.
  const chunk = [good, ...parsed.map((p) => p.b), good];
  const batch = verifyBallots(kat, chunk).map(plain);
  chunk.forEach((b, i) => t.same(batch[i], perProof(kat, b), i === 0 || i === chunk.length - 1 ? 'honest ballot' : parsed[i - 1]!.d));
  for (const p of parsed) t.same(verifyBallots(kat, [p.b]).map(plain), [perProof(kat, p.b)], `${p.d}, alone`);
});

/** A ballot failing 5.4g only: one response replaced, re-signed by its voter. */
function badResponse(base: Ballot, question: number, branch: number): Ballot {
  const answers = base.answers.map((a, q) =>
    q !== question ? a : { c: a.c, proof: a.proof.map((br, k) => (k === branch ? { ...br, z: (br.z * 2n) % n } : br)) },
  );
  return resign(election, { ...base, answers }, tokens[0]!.secretKey);
}

t.test('bisection names the one bad ballot among 200, with the per-proof report', async (t) => {
  const base = honest[0]!; // token 0
  const bad = badResponse(base, 1, 1);
  const expected = perProof(election, bad);
  t.match(expected, { ok: false, code: 'INVALID_PROOF', check: '5.4g', question: 1 }, 'per-proof rejects it at 5.4g');
  for (const at of [0, 137, 199]) {
    const chunk = Array.from({ length: 200 }, (_, i) => (i === at ? bad : honest[i % honest.length]!));
    const got = verifyBallots(election, chunk).map(plain);
    const failed = got.map((r, i) => ((r as { ok: boolean }).ok ? -1 : i)).filter((i) => i >= 0);
    t.same(failed, [at], `bad ballot at ${at}: only it fails`);
    t.same(got[at], expected, `bad ballot at ${at}: the per-proof report`);
  }
});

t.test('the batched coprimality check names a response sharing a factor with n', async (t) => {
  // z = p passes the range 0 < z < n and leaves the challenge intact: only gcd(z, n) = 1 rejects.
  const base = honest[0]!;
  const answers = base.answers.map((a, q) => (q !== 0 ? a : { c: a.c, proof: a.proof.map((br, k) => (k === 3 ? { ...br, z: factors.p } : br)) }));
  const bad = resign(election, { ...base, answers }, tokens[0]!.secretKey);
  t.match(perProof(election, bad), { ok: false, check: '5.4d', question: 0 });
  const chunk = [...honest, bad, ...honest];
  t.same(verifyBallots(election, chunk).map(plain), chunk.map((b) => perProof(election, b)));
});

t.test("regression: the ceremony's safe primes leave the key holder no element of order 3 (spec §11.4, §13.1)", async (t) => {
  // Before the trustees, a key holder could choose p with 3 | p − 1 and craft a commitment
  // a·g3 (g3 of order 3) that per-proof 5.4g rejects while a batch accepts it whenever δ ≡ 0
  // (mod 3). With p = 2p′ + 1 and q = 2q′ + 1 (p′, q′ > 3 prime), p − 1 = 2p′ and q − 1 = 2q′, so
  // Z*_{n²} has no element of order 3 (nor of any small odd order) and the case is gone.
  t.equal(orderThree(factors), undefined, 'no element of order 3 under the fixture election key');
  for (const x of [factors.p, factors.q]) {
    t.equal((x - 1n) % 3n === 0n, false, '3 does not divide p − 1 (a safe prime)');
    t.equal(((x - 1n) / 2n) % 2n, 1n, '(p − 1)/2 is odd');
  }
});

t.test('client precomputation: proofs made after the choice verify, for every member of A (spec §5.6)', async (t) => {
  const rng = seededRng('batch-test precomputation');
  for (let choice = 0; choice < 4; choice++) {
    const pre = precomputeBallot(election, rng);
    const enc = createBallot(election, [[choice], [1]], tokens[0]!, rng, undefined, pre);
    t.same(plain(verifyBallot(election, enc.ballot)), { ok: true, tracker: Buffer.from(enc.tracker).toString('hex') }, `choice ${choice}`);
    // The ciphertext is the encryption with the precomputed randomness.
    t.equal(enc.ballot.answers[0]!.c, pk.encrypt(enc.plaintexts[0]!, pre[0]!.r), 'c = Enc(m; r)');
    // Every simulated response is w_k·r^(e_k) mod n for the precomputed w_k, in order.
    const proof = enc.ballot.answers[0]!.proof;
    const sims = proof.map((br, k) => ({ br, k })).filter(({ k }) => k !== election.questions[0]!.allowed.indexOf(enc.plaintexts[0]!));
    sims.forEach(({ br }, s) => t.equal(br.z, (pre[0]!.proof.w[s]! * modPow(pre[0]!.r, br.e, n)) % n, `simulated response ${s}`));
    t.equal(proof[election.questions[0]!.allowed.indexOf(enc.plaintexts[0]!)]!.a, pre[0]!.proof.rhoN, 'real commitment is ρ^n');
  }
  t.throws(() => createBallot(election, [[0], []], tokens[0]!, undefined, undefined, precomputeBallot(election).slice(1)), RangeError);
});
