/**
 * Known-answer and negative vectors for spec §2–§8, generated from fixed seeds.
 *
 * `buildVectors()` runs the real code with a seeded byte source and returns everything an
 * independent implementation needs to compare byte for byte: a manifest and its fingerprint,
 * allowed sets and their hashes, a token's blind issuance, a ballot and its tracker, a tally
 * with its decryption proof, and mutated ballots with the check that must reject each.
 * The committed files in test/vectors/ are its output (`npm run vectors` rewrites them); the
 * test regenerates and compares, so any change to a format shows up as a failing test.
 */
import { manifestJson, fixtureElection, seededRng, blindRsaFixture, paillierFixture } from './fixtures.js';
import { requestToken, completeToken, issueBlindSignature } from '../../src/election/token.js';
import { createBallot, ballotToJson, parseBallot, ballotBody, ballotSigningMessage, type BallotJson } from '../../src/election/ballot.js';
import { ed25519Sign } from '../../src/crypto/ed25519.js';
import { decryptTally, resultsToJson, TallyAccumulator } from '../../src/election/tally.js';
import { intToHex, parseHex, toHex } from '../../src/wire.js';
import type { QuestionSpec } from './fixtures.js';
import { flipHexDigit } from './mutate.js';

export const KAT_QUESTIONS: QuestionSpec[] = [
  { id: 'mayor', options: 3, min: 1, max: 1 },
  { id: 'budget', options: 2, min: 0, max: 1 },
];

export interface NegativeVector {
  readonly description: string;
  readonly ballot: BallotJson;
  /** what a verifier must answer: catalog code and spec check ('parse' for MALFORMED at decoding) */
  readonly expected: { readonly code: string; readonly check: string };
}

/** Build the positive vectors (deterministic). */
export function buildVectors() {
  const manifest = manifestJson({ electionId: 'kat-2026', questions: KAT_QUESTIONS, maxVoters: 100 });
  const election = fixtureElection({ electionId: 'kat-2026', questions: KAT_QUESTIONS, maxVoters: 100 });
  const rng = seededRng('tallyboard/1 known-answer vectors');
  const sk = blindRsaFixture();
  const pending = requestToken(election, rng);
  const blindSig = issueBlindSignature(sk, pending.blindedMsg);
  const token = completeToken(election, pending, blindSig);
  const selections = [[1], []];
  const enc = createBallot(election, selections, token, rng);
  // A tally of three ballots (this one and two more from the same seed).
  const acc = new TallyAccumulator(election);
  acc.add(enc.ballot.answers.map((a) => a.c));
  const more = [[[0], [1]], [[1], [0]]].map((sel) => {
    const p = requestToken(election, rng);
    const tk = completeToken(election, p, issueBlindSignature(sk, p.blindedMsg));
    return createBallot(election, sel, tk, rng);
  });
  for (const b of more) acc.add(b.ballot.answers.map((a) => a.c));
  const results = decryptTally(paillierFixture('a'), election, acc.result());
  return {
    description:
      'Tallyboard spec v1 known-answer vectors. Keys are the committed test fixtures (test/fixtures). ' +
      'All randomness comes from a seeded SHA-256 counter stream, so every value is reproducible.',
    manifest,
    fingerprint: election.fingerprintHex,
    digitBits: election.digitBits,
    questions: election.questions.map((q) => ({
      allowed: q.allowed.map((m) => m.toString()),
      allowedSetHash: toHex(q.allowedSetHash),
    })),
    token: {
      secretKey: toHex(pending.secretKey),
      publicKey: toHex(pending.publicKey),
      prefix: toHex(pending.prefix),
      inputMsg: toHex(pending.inputMsg),
      blindedMsg: toHex(pending.blindedMsg),
      blindSig: toHex(blindSig),
      signature: toHex(token.credential.signature),
    },
    ballot: {
      selections,
      plaintexts: enc.plaintexts.map((m) => m.toString()),
      randomness: enc.randomness.map((r) => intToHex(r, election.paillier.nLen)),
      json: ballotToJson(election, enc.ballot),
      tracker: toHex(enc.tracker),
    },
    tally: {
      ballots: [enc.ballot, ...more.map((b) => b.ballot)].map((b) => ballotToJson(election, b)),
      results: resultsToJson(election, results),
    },
  };
}


/**
 * Build negative vectors by mutating the positive ballot. "Outsider" mutations keep the old
 * ballot signature; "voter" mutations are re-signed with the token's own key, as a malicious
 * voter would, so that they reach the proof checks.
 */
export function buildNegativeVectors(v: ReturnType<typeof buildVectors>): NegativeVector[] {
  const election = fixtureElection({ electionId: 'kat-2026', questions: KAT_QUESTIONS, maxVoters: 100 });
  const tokenSecret = parseHex(v.token.secretKey, 'token.secretKey', 32);
  const other = v.tally.ballots[1]!;
  const out: NegativeVector[] = [];
  const add = (description: string, mutate: (b: any) => void, code: string, check: string, resign = false) => {
    const b = JSON.parse(JSON.stringify(v.ballot.json));
    mutate(b);
    if (resign) {
      const parsed = parseBallot(election, b);
      b.signature = toHex(ed25519Sign(ballotSigningMessage(ballotBody(election, parsed)), tokenSecret));
    }
    out.push({ description: resign ? `${description} (re-signed by the token holder)` : description, ballot: b, expected: { code, check } });
  };
  const n = election.paillier.n;
  const n2Len = election.paillier.n2Len;
  const nLen = election.paillier.nLen;
  // Outsider tampering: the ballot signature no longer matches.
  add('election fingerprint of another election', (b) => (b.election = flipHexDigit(b.election, 0)), 'WRONG_ELECTION', '6.5a');
  add('token public key replaced by another valid token key', (b) => (b.token.publicKey = other.token.publicKey), 'BAD_TOKEN', '6.5c');
  add('flipped digit in the token signature', (b) => (b.token.signature = flipHexDigit(b.token.signature, 100)), 'BAD_TOKEN', '6.5c');
  add('token prefix changed', (b) => (b.token.prefix = flipHexDigit(b.token.prefix, 5)), 'BAD_TOKEN', '6.5c');
  add('flipped digit in the ballot signature', (b) => (b.signature = flipHexDigit(b.signature, 10)), 'BAD_BALLOT_SIGNATURE', '6.5d');
  add('flipped digit in a ciphertext', (b) => (b.answers[0].c = flipHexDigit(b.answers[0].c, 700)), 'BAD_BALLOT_SIGNATURE', '6.5d');
  // A malicious voter re-signs: the proofs must catch it.
  add('flipped digit in a ciphertext', (b) => (b.answers[0].c = flipHexDigit(b.answers[0].c, 700)), 'INVALID_PROOF', '5.4f', true);
  add('flipped digit in a commitment a_m', (b) => (b.answers[0].proof[1].a = flipHexDigit(b.answers[0].proof[1].a, 300)), 'INVALID_PROOF', '5.4f', true);
  add('flipped digit in a challenge e_m', (b) => (b.answers[0].proof[1].e = flipHexDigit(b.answers[0].proof[1].e, 40)), 'INVALID_PROOF', '5.4f', true);
  add('flipped digit in a response z_m', (b) => (b.answers[1].proof[2].z = flipHexDigit(b.answers[1].proof[2].z, 400)), 'INVALID_PROOF', '5.4g', true);
  add('response z_m = n', (b) => (b.answers[0].proof[0].z = intToHex(n, nLen)), 'INVALID_PROOF', '5.4d', true);
  add('commitment a_m = 0', (b) => (b.answers[0].proof[0].a = intToHex(0n, n2Len)), 'INVALID_PROOF', '5.4c', true);
  add('ciphertext c = n (gcd(c, n) ≠ 1)', (b) => (b.answers[1].c = intToHex(n, n2Len)), 'INVALID_PROOF', '5.4b', true);
  add('answers of the two questions swapped', (b) => (b.answers = [b.answers[1], b.answers[0]]), 'INVALID_PROOF', '5.4f', true);
  add("another voter's answers copied under this token", (b) => (b.answers = other.answers), 'INVALID_PROOF', '5.4f', true);
  // Shape errors: refused while decoding, before any arithmetic.
  add('wrong number of answers', (b) => b.answers.pop(), 'MALFORMED', 'parse');
  add('wrong number of branches', (b) => b.answers[0].proof.pop(), 'MALFORMED', 'parse');
  add('ciphertext one hex digit short', (b) => (b.answers[0].c = b.answers[0].c.slice(1)), 'MALFORMED', 'parse');
  add('challenge of 33 bytes (e_m ≥ 2^t cannot be encoded)', (b) => (b.answers[0].proof[0].e = '01' + b.answers[0].proof[0].e), 'MALFORMED', 'parse');
  add('upper-case hex', (b) => (b.signature = b.signature.toUpperCase()), 'MALFORMED', 'parse');
  return out;
}
