/**
 * Known-answer and negative vectors for spec §2–§8 (protocol tallyboard/2), generated from
 * fixed seeds.
 *
 * `buildVectors()` runs the real code with a seeded byte source and returns everything an
 * independent implementation needs to compare byte for byte: a manifest and its fingerprint,
 * allowed sets and their hashes, a token's blind issuance, a ballot and its tracker, a tally
 * with its decryption proof, and mutated ballots with the check that must reject each.
 * The committed files in test/vectors/ are its output (`npm run vectors` rewrites them); the
 * test regenerates and compares, so any change to a format shows up as a failing test.
 *
 * Adding a negative vector for a new tallyboard/2 rule: add one `add(...)` line to the matching
 * section of `buildNegativeVectors` (ballots, ed25519, manifests), with the error code and the
 * ONE spec check id a verifier must report, then `npm run vectors`.
 */
import { manifestJson, fixtureElection, seededRng, blindRsaFixture, shareFixture } from './fixtures.js';
import { requestToken, completeToken, issueBlindSignature } from '../../src/election/token.js';
import {
  createBallot,
  ballotToJson,
  parseBallot,
  ballotBody,
  ballotSigningMessage,
  proofContext,
  tokenInputMessage,
  type Answer,
  type Ballot,
  type BallotJson,
} from '../../src/election/ballot.js';
import { ed25519Sign, ed25519Verify, isValidEd25519PublicKey } from '../../src/crypto/ed25519.js';
import { blind, blindSign, finalize } from '../../src/crypto/blind-rsa.js';
import { proveMembership } from '../../src/crypto/membership-proof.js';
import { encodeSelection } from '../../src/election/ballot-encoding.js';
import { parseManifest, type Election, type ManifestJson } from '../../src/election/manifest.js';
import { isTallyError } from '../../src/errors.js';
import { cofactoredVerify, mixedOrderKeyAndSignature, signWithTorsionR, torsionPoint8 } from './ed25519-mixed.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { decryptTally, resultsToJson, TallyAccumulator } from '../../src/election/tally.js';
import { intToHex, parseHex, toHex } from '../../src/wire.js';
import { verifyBallot } from '../../src/election/ballot.js';
import type { QuestionSpec } from './fixtures.js';
import { flipHexDigit } from './mutate.js';

export const KAT_QUESTIONS: QuestionSpec[] = [
  { id: 'mayor', options: 3, min: 1, max: 1 },
  { id: 'budget', options: 2, min: 0, max: 1 },
];

export interface NegativeVector {
  readonly description: string;
  readonly ballot: BallotJson;
  /** what a verifier must answer: catalog code and the ONE spec check id (§6.1a, §6.5, §5.4) */
  readonly expected: { readonly code: string; readonly check: string };
}

/** An Ed25519 vector (spec §7.3): a verifier must return `valid`, failing at `check`. */
export interface Ed25519Vector {
  readonly description: string;
  readonly publicKey: string;
  readonly message: string;
  readonly signature: string;
  readonly valid: boolean;
  /** the failing check, 7.3a (key) or 7.3b (signature); null when valid */
  readonly check: string | null;
  /** what RFC 8032's cofactored equation (tallyboard/1) says: the disagreement being closed */
  readonly cofactoredAccepts: boolean;
}

/** A manifest a verifier must refuse with `expected.check` (spec §2.1 order of checks). */
export interface ManifestVector {
  readonly description: string;
  readonly manifest: unknown;
  readonly expected: { readonly code: string; readonly check: string };
}

/** The negative-vector file: one section per kind of object. */
export interface NegativeVectors {
  readonly description: string;
  readonly ballots: NegativeVector[];
  readonly ed25519: Ed25519Vector[];
  readonly manifests: ManifestVector[];
}

/** Build the positive vectors (deterministic). */
export function buildVectors() {
  const manifest = manifestJson({ electionId: 'kat-2026', questions: KAT_QUESTIONS, maxVoters: 100 });
  const election = fixtureElection({ electionId: 'kat-2026', questions: KAT_QUESTIONS, maxVoters: 100 });
  const rng = seededRng('tallyboard/2 known-answer vectors');
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
  const { partial, result: tallyResultRecord } = decryptTally(election, shareFixture('a'), acc.result(), rng);
  const results = tallyResultRecord.results;
  return {
    description:
      'Tallyboard spec tallyboard/2 known-answer vectors. Keys are the committed test fixtures (test/fixtures). ' +
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
      partialDecryption: partial,
      trustees: tallyResultRecord.trustees,
      results: resultsToJson(election, results),
    },
  };
}


/**
 * A ballot for an arbitrary token key (possibly one the honest client could never make), with
 * proofs bound to that key and a token signature by the fixture issuer: what a malicious voter
 * holding a real issuance can produce.
 */
export function ballotForKey(
  election: Election,
  selections: readonly (readonly number[])[],
  publicKey: Uint8Array,
  sign: (message: Uint8Array) => Uint8Array,
  rng: (n: number) => Uint8Array,
): Ballot {
  const prefix = rng(32);
  const inputMsg = tokenInputMessage(election.fingerprint, { publicKey, prefix });
  const b = blind(election.tokenIssuer, inputMsg, { rng });
  const signature = finalize(election.tokenIssuer, inputMsg, blindSign(blindRsaFixture(), b.blindedMsg), b.inv);
  const answers: Answer[] = election.questions.map((q, i) => {
    const m = encodeSelection(selections[i]!, q.shape, election.digitBits);
    const { c, r } = election.paillier.encryptFresh(m, rng);
    return { c, proof: proveMembership(election.paillier, c, r, q.allowed, q.allowed.indexOf(m), proofContext(election, i, publicKey), rng) };
  });
  const unsigned = { election: election.fingerprint, token: { publicKey, prefix, signature }, answers };
  return { ...unsigned, signature: sign(ballotSigningMessage(ballotBody(election, unsigned))) };
}

/** What the project answers for a ballot JSON: catalog code and check id. */
export function ballotVerdict(election: Election, json: unknown): { code: string; check: string } {
  try {
    const r = verifyBallot(election, parseBallot(election, json));
    return r.ok ? { code: 'ACCEPTED', check: '-' } : { code: r.code, check: r.check };
  } catch (e) {
    const check = isTallyError(e) ? (e.details as { check?: string } | undefined)?.check : undefined;
    return isTallyError(e) ? { code: e.code, check: check ?? 'none' } : { code: 'THREW', check: String(e) };
  }
}

/** What the project answers for a manifest: catalog code and check id. */
export function manifestVerdict(json: unknown): { code: string; check: string } {
  try {
    parseManifest(json);
    return { code: 'ACCEPTED', check: '-' };
  } catch (e) {
    const check = isTallyError(e) ? (e.details as { check?: string } | undefined)?.check : undefined;
    return isTallyError(e) ? { code: e.code, check: check ?? 'none' } : { code: 'THREW', check: String(e) };
  }
}

/** What the project answers for an Ed25519 vector. */
export function ed25519Verdict(v: Pick<Ed25519Vector, 'publicKey' | 'message' | 'signature'>): { valid: boolean; check: string | null } {
  const pk = Buffer.from(v.publicKey, 'hex');
  if (!isValidEd25519PublicKey(new Uint8Array(pk))) return { valid: false, check: '7.3a' };
  const ok = ed25519Verify(new Uint8Array(Buffer.from(v.signature, 'hex')), new Uint8Array(Buffer.from(v.message, 'hex')), new Uint8Array(pk));
  return ok ? { valid: true, check: null } : { valid: false, check: '7.3b' };
}

/**
 * Build negative vectors by mutating the positive ballot. "Outsider" mutations keep the old
 * ballot signature; "voter" mutations are re-signed with the token's own key, as a malicious
 * voter would, so that they reach the proof checks.
 */
export function buildNegativeVectors(v: ReturnType<typeof buildVectors>): NegativeVectors {
  const election = fixtureElection({ electionId: 'kat-2026', questions: KAT_QUESTIONS, maxVoters: 100 });
  const rng = seededRng('tallyboard/2 negative vectors');
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
  // Shape errors (6.1a): refused while decoding, before any arithmetic.
  add('wrong number of answers', (b) => b.answers.pop(), 'MALFORMED', '6.1a');
  add('wrong number of branches (5.4a cannot fire for a ballot)', (b) => b.answers[0].proof.pop(), 'MALFORMED', '6.1a');
  add('ciphertext one hex digit short', (b) => (b.answers[0].c = b.answers[0].c.slice(1)), 'MALFORMED', '6.1a');
  add('challenge of 33 bytes (e_m ≥ 2^t cannot be encoded; 5.4e cannot fire for a ballot)', (b) => (b.answers[0].proof[0].e = '01' + b.answers[0].proof[0].e), 'MALFORMED', '6.1a');
  add('upper-case hex', (b) => (b.signature = b.signature.toUpperCase()), 'MALFORMED', '6.1a');
  add('an unknown member "voter" in the ballot (unsigned data on the board)', (b) => (b.voter = 'alice'), 'MALFORMED', '6.1a');
  add('an unknown member in the token', (b) => (b.token.note = 'x'), 'MALFORMED', '6.1a');
  add('an unknown member in a proof branch', (b) => (b.answers[1].proof[0].k = 0), 'MALFORMED', '6.1a');
  add('shape before fingerprint: another election and one answer missing', (b) => ((b.election = flipHexDigit(b.election, 0)), b.answers.pop()), 'MALFORMED', '6.1a');

  // Mixed-order Ed25519 (spec §7.3): accepted by a cofactored verifier, refused by tallyboard/2.
  const mixedSeed = rng(32);
  const mixed = mixedOrderKeyAndSignature(mixedSeed, new Uint8Array(0));
  const mixedBallot = ballotForKey(election, [[0], [1]], mixed.publicKey, (m) => mixedOrderKeyAndSignature(mixedSeed, m).signature, rng);
  out.push({ description: 'token key A + T (T of order 8), RSA-signed by the issuer, ballot signed so that both RFC 8032 equations accept', ballot: ballotToJson(election, mixedBallot), expected: { code: 'BAD_TOKEN', check: '6.5b' } });
  {
    const b = JSON.parse(JSON.stringify(v.ballot.json));
    const parsed = parseBallot(election, b);
    b.signature = toHex(signWithTorsionR(tokenSecret, ballotSigningMessage(ballotBody(election, parsed))));
    out.push({ description: 'ballot signature with R + T (T of order 8): the cofactored equation accepts it', ballot: b, expected: { code: 'BAD_BALLOT_SIGNATURE', check: '6.5d' } });
  }

  return { description: NEGATIVE_DESCRIPTION, ballots: out, ed25519: ed25519Vectors(rng), manifests: manifestVectors(v.manifest as unknown as ManifestJson) };
}

const NEGATIVE_DESCRIPTION =
  'Tallyboard spec tallyboard/2 negative vectors. ballots: mutated ballots of the kat-2026 election of tallyboard-v2.json, each with the error code and the ONE check id a verifier must report (spec §6.1a, §6.5, §5.4). ' +
  'ed25519: keys and signatures with the verdict of spec §7.3 (7.3a key, 7.3b signature) and what the cofactored RFC 8032 equation says. ' +
  'manifests: manifests with the first failing check of spec §2.1 (order 2.1a, 2.1b, 3.2a–3.2d, 3.3, 7.1.3, 7.3a, 4.2a, 4.2b).';

function ed25519Vectors(rng: (n: number) => Uint8Array): Ed25519Vector[] {
  const seed = rng(32);
  const msg = rng(32);
  const kp = { publicKey: ed25519.getPublicKey(seed) };
  const honest = ed25519Sign(msg, seed);
  const out: Ed25519Vector[] = [];
  const add = (description: string, publicKey: Uint8Array, signature: Uint8Array, valid: boolean, check: string | null) =>
    out.push({ description, publicKey: toHex(publicKey), message: toHex(msg), signature: toHex(signature), valid, check, cofactoredAccepts: cofactoredVerify(signature, msg, publicKey) });
  add('an honest signature', kp.publicKey, honest, true, null);
  add('R + T, T of order 8 (mixed-order R)', kp.publicKey, signWithTorsionR(seed, msg), false, '7.3b');
  const m = mixedOrderKeyAndSignature(seed, msg);
  add('key A + T, T of order 8 (mixed-order key), signature accepted by both RFC 8032 equations', m.publicKey, m.signature, false, '7.3a');
  add('key of order 8 (small order)', torsionPoint8().toBytes(), honest, false, '7.3a');
  add('key = identity (small order)', ed25519.Point.ZERO.toBytes(), honest, false, '7.3a');
  const nonCanonical = new Uint8Array(32).fill(0xff);
  nonCanonical[31] = 0x7f;
  add('key with y = 2^255 − 1 ≥ p (non-canonical encoding)', nonCanonical, honest, false, '7.3a');
  const rIdentity = honest.slice();
  rIdentity.set(ed25519.Point.ZERO.toBytes(), 0);
  add('R = identity', kp.publicKey, rIdentity, false, '7.3b');
  const sPlusL = honest.slice();
  let x = 0n;
  for (let i = 63; i >= 32; i--) x = (x << 8n) | BigInt(sPlusL[i]!);
  x += ed25519.Point.CURVE().n;
  for (let i = 32; i < 64; i++) {
    sPlusL[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  add('S + L (S ≥ L, a second byte form of the same signature)', kp.publicKey, sPlusL, false, '7.3b');
  return out;
}

function manifestVectors(base: ManifestJson): ManifestVector[] {
  const out: ManifestVector[] = [];
  // The expected check is the one named at the end of the description; the code follows from it.
  const codeOf = (check: string) =>
    check.startsWith('2.1') ? 'BAD_MANIFEST' : check === '4.2a' ? 'ENCODING_CAPACITY' : check === '4.2b' ? 'ALLOWED_SET_TOO_LARGE' : /^13\.[56]/.test(check) ? 'BAD_MODULUS_PROOF' : 'BAD_PUBLIC_KEY';
  const add = (description: string, f: (m: any) => void) => {
    const m = JSON.parse(JSON.stringify(base));
    f(m);
    const check = /\(([0-9.a-z]+)[:)]/.exec(description.slice(description.lastIndexOf('(')))![1]!;
    const expected = { code: codeOf(check), check };
    const got = manifestVerdict(m);
    if (got.code !== expected.code || got.check !== expected.check) {
      throw new Error(`manifest vector "${description}": the code answers ${got.code} ${got.check}`);
    }
    out.push({ description, manifest: m, expected });
  };
  add('version "tallyboard/1" (2.1b)', (m) => (m.version = 'tallyboard/1'));
  add('an unknown top-level member (2.1a)', (m) => (m.note = 'x'));
  add('an unknown member in keys.election (2.1a)', (m) => (m.keys.election.g = '02'));
  add('an unknown member in an option (2.1a)', (m) => (m.questions[0].options[0].color = 'red'));
  add('revoting as a string (2.1a)', (m) => (m.revoting = 'yes'));
  add('127 Π^mod rounds (2.1a)', (m) => m.keys.election.modulusProof.rounds.pop());
  add('structure before values: an empty title and an unknown member (2.1a)', (m) => ((m.title = ''), (m.extra = 1)));
  add('title of 501 astral code points (2.1b: characters are code points)', (m) => (m.title = '\u{1F600}'.repeat(501)));
  add('option id with a space (2.1b)', (m) => (m.questions[0].options[0].id = 'a b'));
  add('empty option title (2.1b)', (m) => (m.questions[0].options[0].title = ''));
  add('start before 1970 (2.1b)', (m) => (m.schedule.start = '1969-12-31T23:59:59.999Z'));
  add('upper-case board key (2.1b)', (m) => (m.keys.board = m.keys.board.toUpperCase()));
  add('wire forms before key rules: e = 3 and a short Π^mod value (2.1b)', (m) => ((m.keys.tokenIssuer.e = '00000003'), (m.keys.election.modulusProof.w = '00')));
  add('even Paillier modulus (3.2b)', (m) => (m.keys.election.n = m.keys.election.n.slice(0, -1) + 'e'));
  add('threshold 2 of 1 trustee (13.2b)', (m) => (m.keys.election.threshold = 2));
  add('v_0 not ≡ 1 mod n (13.2d)', (m) => (m.keys.election.v0 = '00'.repeat(511) + '02'));
  add('a forged verification key v_1 (13.2e)', (m) => (m.keys.election.verificationKeys[0] = '00'.repeat(511) + '04'));
  add('a Π^mod root z_3 replaced (13.5d)', (m) => (m.keys.election.modulusProof.rounds[3].z = '00'.repeat(255) + '05'));
  add('a Π^mod fourth root x_3 replaced (13.5e)', (m) => (m.keys.election.modulusProof.rounds[3].x = '00'.repeat(255) + '05'));
  add('a Π^prm response replaced (13.6c)', (m) => (m.keys.election.auxiliary[0].ringPedersen.z[5] = m.keys.election.auxiliary[0].ringPedersen.z[6]));
  add('a Π^fac response z1 out of range: a small factor is not excluded (13.6e)', (m) => (m.keys.election.auxiliary[0].factorProof.z1 = 'ff'.repeat(m.keys.election.auxiliary[0].factorProof.z1.length / 2)));
  add('a Π^fac challenge changed (13.6f)', (m) => (m.keys.election.auxiliary[0].factorProof.e = '00'.repeat(31) + '01'));
  add('token issuer e = 3 (7.1.3)', (m) => (m.keys.tokenIssuer.e = '00000003'));
  add('board key of small order (7.3a)', (m) => (m.keys.board = '01' + '00'.repeat(31)));
  add('board key A + T, mixed order (7.3a)', (m) => {
    const A = ed25519.Point.fromHex(m.keys.board);
    m.keys.board = toHex(A.add(torsionPoint8()).toBytes());
  });
  // Witnesses (spec §2.1, §9.9): the optional member, its structure, values and keys.
  const w = (m: any, quorum: number, keys: string[]) => (m.witnesses = { quorum, members: keys.map((key, i) => ({ name: `w${i}.example`, key })) });
  const wk = (i: number) => toHex(ed25519.Point.BASE.multiply(BigInt(1000 + i)).toBytes());
  add('witnesses with an unknown member (2.1a)', (m) => (w(m, 1, [wk(0)]), (m.witnesses.note = 'x')));
  add('witnesses with no member (2.1a)', (m) => w(m, 0, []));
  add('a witness quorum of 1 of 2: not more than half (2.1b)', (m) => w(m, 1, [wk(0), wk(1)]));
  add('a witness quorum above the number of witnesses (2.1b)', (m) => w(m, 2, [wk(0)]));
  add('two witnesses with one name (2.1b)', (m) => (w(m, 2, [wk(0), wk(1)]), (m.witnesses.members[1].name = 'w0.example')));
  add('a witness name with a space (2.1b)', (m) => (w(m, 1, [wk(0)]), (m.witnesses.members[0].name = 'w 0')));
  add('a witness key of small order (7.3a)', (m) => w(m, 2, [wk(0), '01' + '00'.repeat(31)]));
  add('64 options at maxVoters 2^32 − 1 do not fit the key (4.2a)', (m) => ((m.maxVoters = 2 ** 32 - 1), (m.questions[0].options = Array.from({ length: 64 }, (_, j) => ({ id: `o${j}`, title: 'x' })))));
  add('an allowed set of 2^11 (4.2b)', (m) => ((m.questions[0].options = Array.from({ length: 11 }, (_, j) => ({ id: `o${j}`, title: 'x' }))), (m.questions[0].min = 0), (m.questions[0].max = 11)));
  return out;
}
