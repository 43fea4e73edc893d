/**
 * Ballots (spec/06-ballot.md): their wire form, canonical bytes, signature, tracker, creation
 * on the voter's side and pure verification.
 *
 * A ballot carries, for every question, ONE Paillier ciphertext and its membership proof; the
 * voter's eligibility token (an Ed25519 public key with the organization's RSA blind signature
 * over it); and an Ed25519 signature by the token key over the ballot body. The proofs bind the
 * token key through their Fiat–Shamir challenge, so a ballot copied under another token fails.
 *
 * Parsing checks every length against the election BEFORE converting anything, so a ballot of
 * the wrong shape costs no big-integer work. `verifyBallot` is pure: it takes an Election and a
 * parsed Ballot and returns the first failed check with its catalog code.
 */
import { TallyError, type ErrorCode } from '../errors.js';
import { canonical } from '../canonical.js';
import { HASH_LEN, SPEC_VERSION, TAGS, hashTagged } from '../crypto/hash.js';
import { bytesEqual } from '../crypto/hash.js';
import { hexToInt, intToHex, parseHex, toHex } from '../wire.js';
import {
  CHALLENGE_LEN,
  precomputeMembership,
  proveMembership,
  verifyMembership,
  type MembershipPrecomputation,
  type MembershipProof,
  type ProofCheck,
  type ProofContext,
} from '../crypto/membership-proof.js';
import type { PaillierPublicKey } from '../crypto/paillier.js';
import { modPow, randomUnit } from '../crypto/bigint.js';
import {
  ED25519_PUBLIC_KEY_LEN,
  ED25519_SIGNATURE_LEN,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  isValidEd25519PublicKey,
} from '../crypto/ed25519.js';
import { verify as verifyBlindRsa } from '../crypto/blind-rsa.js';
import { encodeSelection } from './ballot-encoding.js';
import type { Election } from './manifest.js';
import { byteLength } from '../crypto/bigint.js';

/** Length of the RFC 9474 random message prefix. */
export const TOKEN_PREFIX_LEN = 32;

/** An eligibility token as it appears in a ballot (spec §7.2). */
export interface TokenCredential {
  /** Ed25519 public key of the token, 32 bytes */
  readonly publicKey: Uint8Array;
  /** RFC 9474 message prefix, 32 bytes */
  readonly prefix: Uint8Array;
  /** unblinded RSA signature over prefix ‖ tokenMessage, L_rsa bytes */
  readonly signature: Uint8Array;
}

/** One question's answer: the ciphertext and its proof. */
export interface Answer {
  /** c: the encrypted selection, in Z*_{n²} (range checked by the proof verifier) */
  readonly c: bigint;
  readonly proof: MembershipProof;
}

/** A parsed ballot (spec §6.1). */
export interface Ballot {
  /** election fingerprint, 32 bytes */
  readonly election: Uint8Array;
  readonly token: TokenCredential;
  readonly answers: readonly Answer[];
  /** Ed25519 signature by the token key over H(ballotSignature, body), 64 bytes */
  readonly signature: Uint8Array;
}

/** JSON wire form of a ballot (spec §6.1). */
export interface BallotJson {
  readonly election: string;
  readonly token: { readonly publicKey: string; readonly prefix: string; readonly signature: string };
  readonly answers: readonly { readonly c: string; readonly proof: readonly { a: string; e: string; z: string }[] }[];
  readonly signature: string;
}

/** Byte length of the token issuer's RSA modulus, the length of a token signature. */
export function tokenSignatureLength(election: Election): number {
  return byteLength(election.tokenIssuer.n);
}

/**
 * The message the organization signs blindly (spec §7.2):
 * STR(tokenMessage tag) ‖ FIXED(fingerprint) ‖ FIXED(token public key).
 * RFC 9474's input message is prefix ‖ this.
 */
export function tokenMessage(fingerprint: Uint8Array, tokenPublicKey: Uint8Array): Uint8Array {
  return canonical().str(TAGS.tokenMessage).fixed(fingerprint, HASH_LEN).fixed(tokenPublicKey, ED25519_PUBLIC_KEY_LEN).finish();
}

/** prefix ‖ tokenMessage: the input message of RFC 9474's verify. */
export function tokenInputMessage(fingerprint: Uint8Array, token: { publicKey: Uint8Array; prefix: Uint8Array }): Uint8Array {
  const msg = tokenMessage(fingerprint, token.publicKey);
  const out = new Uint8Array(TOKEN_PREFIX_LEN + msg.length);
  out.set(token.prefix, 0);
  out.set(msg, TOKEN_PREFIX_LEN);
  return out;
}

/**
 * Canonical ballot body (spec §6.2): every field but the signature.
 * STR(version) ‖ FIXED(election) ‖ FIXED(token.publicKey) ‖ FIXED(token.prefix) ‖ BYTES(token.signature)
 * ‖ LIST(answers: INT(c, L_{n²}) ‖ LIST(branches: INT(a, L_{n²}) ‖ INT(e, 32) ‖ INT(z, L_n)))
 */
export function ballotBody(election: Election, b: Omit<Ballot, 'signature'>): Uint8Array {
  const { n2Len, nLen } = election.paillier;
  return canonical()
    .str(SPEC_VERSION)
    .fixed(b.election, HASH_LEN)
    .fixed(b.token.publicKey, ED25519_PUBLIC_KEY_LEN)
    .fixed(b.token.prefix, TOKEN_PREFIX_LEN)
    .bytes(b.token.signature)
    .list(b.answers, (w, a) => {
      w.int(a.c, n2Len);
      w.list(a.proof, (w, br) => w.int(br.a, n2Len).int(br.e, CHALLENGE_LEN).int(br.z, nLen));
    })
    .finish();
}

/** The 32 bytes the token key signs: H(ballotSignature, body) (spec §6.2). */
export function ballotSigningMessage(body: Uint8Array): Uint8Array {
  return hashTagged(TAGS.ballotSignature, body);
}

/** Tracker: H(tracker, body ‖ FIXED(signature)), the ballot's public identifier (spec §6.3). */
export function ballotTracker(body: Uint8Array, signature: Uint8Array): Uint8Array {
  const w = canonical().fixed(body).fixed(signature, ED25519_SIGNATURE_LEN).finish();
  return hashTagged(TAGS.tracker, w);
}

/** Proof context of question `index` for this ballot's token (spec §5.3). */
export function proofContext(election: Election, index: number, tokenPublicKey: Uint8Array): ProofContext {
  const q = election.questions[index];
  if (!q) throw new RangeError(`no question ${index}`);
  return { fingerprint: election.fingerprint, questionIndex: index, tokenPublicKey, allowedSetHash: q.allowedSetHash };
}

/** The spec check of the ballot's shape (spec §6.1): members, counts and hex lengths. */
export const BALLOT_SHAPE_CHECK = '6.1a';

/** A shape failure (spec §6.1, check 6.1a): MALFORMED with `details.check`. */
function shapeError(message: string): TallyError {
  return new TallyError('MALFORMED', message, { details: { check: BALLOT_SHAPE_CHECK } });
}

/**
 * `x` is an object with exactly the members `keys` (spec §6.1: unknown members are refused,
 * since a verifier must not pass on data the signature and tracker do not cover).
 * Counts the members before looking at them, so a huge object costs one pass.
 */
function exactObject(x: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw shapeError(`${field}: expected an object`);
  const o = x as Record<string, unknown>;
  for (const k of keys) if (!Object.hasOwn(o, k)) throw shapeError(`${field}: missing member ${JSON.stringify(k)}`);
  let n = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    if (!keys.includes(k)) throw shapeError(`${field}: unknown member ${JSON.stringify(k.slice(0, 64))}`);
    n++;
  }
  if (n !== keys.length) throw shapeError(`${field}: expected exactly ${keys.join(', ')}`);
  return o;
}

/** parseHex / hexToInt with the shape check id attached. */
function shaped<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TallyError && e.code === 'MALFORMED') throw shapeError(e.message);
    throw e;
  }
}

/**
 * Parse a ballot from its JSON wire form, checking its shape against the election (spec §6.1,
 * check 6.1a): exactly the members of §6.1 at every level, one answer per question,
 * |A_i| branches per proof, every hex string of its exact length. Every count and string
 * length is checked before any conversion.
 * @throws TallyError MALFORMED naming the field, with `details.check` = '6.1a'
 */
export function parseBallot(election: Election, json: unknown): Ballot {
  return shaped(() => parseBallotShape(election, json));
}

function parseBallotShape(election: Election, json: unknown): Ballot {
  const o = exactObject(json, 'ballot', ['election', 'token', 'answers', 'signature']) as Partial<Record<keyof BallotJson, unknown>>;
  const { nLen, n2Len } = election.paillier;
  const t = exactObject(o.token, 'ballot.token', ['publicKey', 'prefix', 'signature']);
  if (!Array.isArray(o.answers) || o.answers.length !== election.questions.length) {
    throw new TallyError('MALFORMED', `ballot.answers: expected ${election.questions.length} answers`);
  }
  o.answers.forEach((ax: unknown, i) => {
    const a = exactObject(ax, `ballot.answers[${i}]`, ['c', 'proof']);
    const size = election.questions[i]!.allowed.length;
    if (!Array.isArray(a.proof) || a.proof.length !== size) {
      throw new TallyError('MALFORMED', `ballot.answers[${i}].proof: expected ${size} branches`);
    }
    a.proof.forEach((bx: unknown, k) => exactObject(bx, `ballot.answers[${i}].proof[${k}]`, ['a', 'e', 'z']));
  });
  const election_ = parseHex(o.election, 'ballot.election', HASH_LEN);
  const token: TokenCredential = {
    publicKey: parseHex(t.publicKey, 'ballot.token.publicKey', ED25519_PUBLIC_KEY_LEN),
    prefix: parseHex(t.prefix, 'ballot.token.prefix', TOKEN_PREFIX_LEN),
    signature: parseHex(t.signature, 'ballot.token.signature', tokenSignatureLength(election)),
  };
  if (!Array.isArray(o.answers) || o.answers.length !== election.questions.length) {
    throw new TallyError('MALFORMED', `ballot.answers: expected ${election.questions.length} answers`);
  }
  const answers = (o.answers as { c: unknown; proof: unknown[] }[]).map((a, i): Answer => {
    const c = hexToInt(a.c, n2Len, `ballot.answers[${i}].c`);
    const proof = a.proof.map((bx: unknown, k) => {
      const br = bx as { a: unknown; e: unknown; z: unknown };
      return {
        a: hexToInt(br.a, n2Len, `ballot.answers[${i}].proof[${k}].a`),
        e: hexToInt(br.e, CHALLENGE_LEN, `ballot.answers[${i}].proof[${k}].e`),
        z: hexToInt(br.z, nLen, `ballot.answers[${i}].proof[${k}].z`),
      };
    });
    return { c, proof };
  });
  const signature = parseHex(o.signature, 'ballot.signature', ED25519_SIGNATURE_LEN);
  return { election: election_, token, answers, signature };
}

/** JSON wire form of a ballot. */
export function ballotToJson(election: Election, b: Ballot): BallotJson {
  const { nLen, n2Len } = election.paillier;
  return {
    election: toHex(b.election),
    token: { publicKey: toHex(b.token.publicKey), prefix: toHex(b.token.prefix), signature: toHex(b.token.signature) },
    answers: b.answers.map((a) => ({
      c: intToHex(a.c, n2Len),
      proof: a.proof.map((br) => ({ a: intToHex(br.a, n2Len), e: intToHex(br.e, CHALLENGE_LEN), z: intToHex(br.z, nLen) })),
    })),
    signature: toHex(b.signature),
  };
}

/** A token the voter holds: its Ed25519 secret key and the organization's credential. */
export interface VoterToken {
  readonly secretKey: Uint8Array;
  readonly credential: TokenCredential;
}

/** What the voter keeps after encrypting: the randomness opens each answer (cast-or-audit). */
export interface EncryptedBallot {
  readonly ballot: Ballot;
  /** randomness r of each question's ciphertext: SECRET, reveals the vote */
  readonly randomness: readonly bigint[];
  /** plaintexts m of each question */
  readonly plaintexts: readonly bigint[];
  readonly tracker: Uint8Array;
}

/**
 * The part of one question's encryption and proof that does not depend on the voter's choice
 * (spec §5.6): the encryption randomness r and r^n, and the proof's precomputation. SECRET.
 */
export interface AnswerPrecomputation {
  readonly r: bigint;
  /** r^n mod n² */
  readonly rN: bigint;
  readonly proof: MembershipPrecomputation;
}

/**
 * Work a voting client can do BEFORE the voter chooses (spec §5.6): every exponentiation mod n²
 * of every question, so that {@link createBallot} afterwards costs a few short exponentiations
 * mod n per question. SECRET (it holds the randomness); use it for one ballot only.
 * @param election - validated election
 * @param rng - randomness source (tests inject a seeded one)
 */
export function precomputeBallot(election: Election, rng?: (n: number) => Uint8Array): AnswerPrecomputation[] {
  const pk = election.paillier;
  return election.questions.map((q) => {
    const r = randomUnit(pk.n, rng);
    return { r, rN: modPow(r, pk.n, pk.n2), proof: precomputeMembership(pk, q.allowed.length, rng) };
  });
}

/** c = (1 + m·n)·r^n mod n² from a precomputed r^n (spec §3.4). */
function encryptWithPower(pk: PaillierPublicKey, m: bigint, rN: bigint): bigint {
  return (((1n + m * pk.n) % pk.n2) * rN) % pk.n2;
}

/**
 * Encrypt, prove and sign a ballot on the voter's side (spec §6.4).
 * @param election - validated election
 * @param selections - per question, the selected option indices
 * @param token - the voter's token; its public key must match its secret key
 * @param rng - randomness source (tests inject a seeded one for known-answer vectors)
 * @param onProgress - called after each question is encrypted and proven
 * @param pre - a fresh {@link precomputeBallot} of this election (computed here when absent);
 *   never reuse one for a second ballot
 * @throws TallyError BAD_SELECTION if a selection breaks its question's rules
 */
export function createBallot(
  election: Election,
  selections: readonly (readonly number[])[],
  token: VoterToken,
  rng?: (n: number) => Uint8Array,
  onProgress?: (done: number, total: number) => void,
  pre?: readonly AnswerPrecomputation[],
): EncryptedBallot {
  if (selections.length !== election.questions.length) {
    throw new TallyError('BAD_SELECTION', `expected selections for ${election.questions.length} questions, got ${selections.length}`);
  }
  if (!bytesEqual(ed25519PublicKey(token.secretKey), token.credential.publicKey)) {
    throw new RangeError('createBallot: token secret key does not match its public key');
  }
  if (pre !== undefined && pre.length !== election.questions.length) throw new RangeError('createBallot: precomputation of another election');
  const pk = election.paillier;
  // Selections are checked before any precomputation is spent.
  const ms = election.questions.map((q, i) => encodeSelection(selections[i]!, q.shape, election.digitBits));
  const p = pre ?? precomputeBallot(election, rng);
  const answers: Answer[] = [];
  const randomness: bigint[] = [];
  const plaintexts: bigint[] = [];
  election.questions.forEach((q, i) => {
    const m = ms[i]!;
    const index = q.allowed.indexOf(m);
    const { r, rN, proof: proofPre } = p[i]!;
    const c = encryptWithPower(pk, m, rN);
    const proof = proveMembership(pk, c, r, q.allowed, index, proofContext(election, i, token.credential.publicKey), rng, proofPre);
    answers.push({ c, proof });
    randomness.push(r);
    plaintexts.push(m);
    onProgress?.(i + 1, election.questions.length);
  });
  const unsigned = { election: election.fingerprint, token: token.credential, answers };
  const body = ballotBody(election, unsigned);
  const signature = ed25519Sign(ballotSigningMessage(body), token.secretKey);
  return { ballot: { ...unsigned, signature }, randomness, plaintexts, tracker: ballotTracker(body, signature) };
}

/** Result of ballot verification. */
export type BallotCheck =
  | { readonly ok: true; readonly tracker: Uint8Array }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      /** spec check number, e.g. '6.5c' or '5.4g' */
      readonly check: string;
      readonly question?: number;
      readonly reason: string;
    };

/** A check of one question's proof (spec §5.4): the per-proof verifier, or a part of it. */
export type ProofVerifier = (pk: PaillierPublicKey, c: bigint, proof: MembershipProof, allowed: readonly bigint[], ctx: ProofContext) => ProofCheck;

/**
 * Verify a parsed ballot against its election (spec §6.5, checks 6.5a–6.5e in this order).
 * Pure: no storage, no clock; the schedule and token reuse are the caller's checks (spec §10).
 * @param checkProof - the proof check (default: the full per-proof verifier; the batch
 *   verifier passes checks 5.4a–5.4f only and batches the rest, ballot-batch.ts)
 */
export function verifyBallot(election: Election, b: Ballot, checkProof: ProofVerifier = verifyMembership): BallotCheck {
  if (!bytesEqual(b.election, election.fingerprint)) {
    return { ok: false, code: 'WRONG_ELECTION', check: '6.5a', reason: 'ballot is for another election fingerprint' };
  }
  if (b.answers.length !== election.questions.length) {
    // Unreachable for a ballot from parseBallot (6.1a); kept for Ballot objects built in code.
    return { ok: false, code: 'MALFORMED', check: BALLOT_SHAPE_CHECK, reason: 'wrong number of answers' };
  }
  if (!isValidEd25519PublicKey(b.token.publicKey)) {
    return { ok: false, code: 'BAD_TOKEN', check: '6.5b', reason: 'token public key is not a valid Ed25519 key' };
  }
  if (!verifyBlindRsa(election.tokenIssuer, tokenInputMessage(election.fingerprint, b.token), b.token.signature)) {
    return { ok: false, code: 'BAD_TOKEN', check: '6.5c', reason: "token signature does not verify under the organization's key" };
  }
  const body = ballotBody(election, b);
  if (!ed25519Verify(b.signature, ballotSigningMessage(body), b.token.publicKey)) {
    return { ok: false, code: 'BAD_BALLOT_SIGNATURE', check: '6.5d', reason: 'ballot signature does not verify under the token key' };
  }
  for (let i = 0; i < election.questions.length; i++) {
    const q = election.questions[i]!;
    const a = b.answers[i]!;
    const r = checkProof(election.paillier, a.c, a.proof, q.allowed, proofContext(election, i, b.token.publicKey));
    if (!r.ok) {
      return {
        ok: false,
        code: 'INVALID_PROOF',
        check: r.check,
        question: i,
        reason: `question ${i} (${election.manifest.questions[i]!.id}): ${r.reason}${r.branch !== undefined ? ` (branch ${r.branch})` : ''}`,
      };
    }
  }
  return { ok: true, tracker: ballotTracker(body, b.signature) };
}
