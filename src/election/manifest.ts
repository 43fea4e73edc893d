/**
 * The election manifest and its fingerprint (spec/02-manifest.md).
 *
 * The manifest is the public definition of an election: questions, schedule, capacity, revote
 * rule and every public key. `parseManifest` validates a JSON manifest completely (sizes first,
 * then each key against its published-key rules, then the encoding capacity of every question)
 * and returns an `Election`: the manifest plus everything derived from it that verifiers need
 * (parsed keys, digit size B, allowed sets and their hashes, the fingerprint). Everything that
 * checks a ballot works from an `Election`, so nothing downstream re-parses or re-validates.
 *
 * The fingerprint hashes the canonical bytes of the manifest, which include the Paillier key,
 * the token issuer's RSA key and the board's Ed25519 key: a proof or signature that binds the
 * fingerprint binds the whole election.
 */
import { TallyError } from '../errors.js';
import { canonical, CanonicalWriter } from '../canonical.js';
import { SPEC_VERSION, TAGS, hashTagged, transcript } from '../crypto/hash.js';
import { PaillierPublicKey, KEY_PROOF_ROUNDS, verifyKeyProof } from '../crypto/paillier.js';
import { hexToInt, intToHex, parseHex, toHex } from '../wire.js';
import { isValidEd25519PublicKey } from '../crypto/ed25519.js';
import {
  type BlindRsaPublicKey,
  blindRsaPublicKeyFromJson,
  blindRsaPublicKeyToJson,
  encodeBlindRsaPublicKey,
} from '../crypto/blind-rsa.js';
import { allowedSet, checkQuestionCapacity, digitBits, type QuestionShape } from './ballot-encoding.js';

/** Limits of spec §2.1, checked before anything is allocated from the input. */
export const LIMITS = {
  idMaxLength: 64,
  titleMaxLength: 500,
  maxQuestions: 32,
  maxOptions: 64,
  maxVotersLimit: 0xffffffff,
} as const;

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface ManifestOption {
  readonly id: string;
  readonly title: string;
}

export interface ManifestQuestion {
  readonly id: string;
  readonly title: string;
  readonly options: readonly ManifestOption[];
  /** fewest options a ballot selects, 0 ≤ min ≤ max */
  readonly min: number;
  /** most options a ballot selects, 1 ≤ max ≤ options.length */
  readonly max: number;
}

/** The manifest's JSON form (spec §2.1). Times are ISO 8601 UTC with milliseconds. */
export interface ManifestJson {
  readonly version: string;
  readonly electionId: string;
  readonly title: string;
  readonly questions: readonly ManifestQuestion[];
  readonly schedule: { readonly start: string; readonly end: string };
  readonly maxVoters: number;
  readonly revoting: boolean;
  readonly keys: {
    readonly paillier: { readonly n: string; readonly keyProof: readonly string[] };
    readonly tokenIssuer: { readonly n: string; readonly e: string };
    readonly board: string;
  };
}

/** Derived data of one question. */
export interface QuestionContext {
  readonly index: number;
  readonly shape: QuestionShape;
  /** A: allowed plaintexts, ascending (spec §4.3) */
  readonly allowed: readonly bigint[];
  /** H(allowedSet, …) (spec §4.3) */
  readonly allowedSetHash: Uint8Array;
}

/** A validated election: the manifest and everything derived from it. */
export interface Election {
  readonly manifest: ManifestJson;
  readonly paillier: PaillierPublicKey;
  readonly tokenIssuer: BlindRsaPublicKey;
  readonly boardKey: Uint8Array;
  readonly keyProof: readonly bigint[];
  /** b: bits per count; B = 2^b > maxVoters (spec §4.1) */
  readonly digitBits: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly questions: readonly QuestionContext[];
  /** 32-byte election fingerprint (spec §2.3) */
  readonly fingerprint: Uint8Array;
  readonly fingerprintHex: string;
}

function bad(message: string, details?: Record<string, unknown>): TallyError {
  return new TallyError('BAD_MANIFEST', message, details ? { details } : {});
}

function aObject(x: unknown, field: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw bad(`${field}: expected an object`);
  return x as Record<string, unknown>;
}

function aString(x: unknown, field: string, max: number, re?: RegExp): string {
  if (typeof x !== 'string') throw bad(`${field}: expected a string`);
  if (x.length === 0 || x.length > max) throw bad(`${field}: length must be in [1, ${max}], got ${x.length}`);
  if (!x.isWellFormed()) throw bad(`${field}: not well-formed Unicode`);
  if (re && !re.test(x)) throw bad(`${field}: ${JSON.stringify(x.slice(0, 80))} does not match ${re.source}`);
  return x;
}

function aInt(x: unknown, field: string, min: number, max: number): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > max) {
    throw bad(`${field}: expected an integer in [${min}, ${max}], got ${JSON.stringify(x)}`);
  }
  return x;
}

function aArray(x: unknown, field: string, min: number, max: number): unknown[] {
  if (!Array.isArray(x)) throw bad(`${field}: expected an array`);
  if (x.length < min || x.length > max) throw bad(`${field}: expected ${min} to ${max} items, got ${x.length}`);
  return x;
}

/**
 * Parse an ISO 8601 UTC timestamp in the one accepted form `YYYY-MM-DDTHH:mm:ss.sssZ`.
 * @returns milliseconds since the Unix epoch
 */
export function parseTimestamp(x: unknown, field: string): number {
  if (typeof x !== 'string' || !ISO_RE.test(x)) throw bad(`${field}: expected YYYY-MM-DDTHH:mm:ss.sssZ`);
  const ms = Date.parse(x);
  if (!Number.isFinite(ms) || ms < 0 || new Date(ms).toISOString() !== x) throw bad(`${field}: not a valid UTC time`);
  return ms;
}

function uniqueIds(items: readonly { id: string }[], field: string): void {
  const seen = new Set<string>();
  for (const { id } of items) {
    if (seen.has(id)) throw bad(`${field}: duplicate id ${JSON.stringify(id)}`);
    seen.add(id);
  }
}

/**
 * Canonical manifest bytes (spec §2.2). The caller passes validated values.
 */
export function encodeManifest(e: Omit<Election, 'fingerprint' | 'fingerprintHex' | 'questions'>): Uint8Array {
  const m = e.manifest;
  const w: CanonicalWriter = canonical()
    .str(m.version)
    .str(m.electionId)
    .str(m.title)
    .list(m.questions, (w, q) => {
      w.str(q.id).str(q.title);
      w.list(q.options, (w, o) => w.str(o.id).str(o.title));
      w.u32(q.min).u32(q.max);
    })
    .u64(e.startMs)
    .u64(e.endMs)
    .u32(m.maxVoters)
    .bool(m.revoting);
  e.paillier.encode(w);
  w.list(e.keyProof, (w, x) => w.int(x, e.paillier.nLen));
  encodeBlindRsaPublicKey(w, e.tokenIssuer);
  return w.fixed(e.boardKey, 32).finish();
}

/**
 * H(allowedSet, BYTES(n) ‖ LIST(INT(m, L_n))) (spec §4.3): binds the exact set a proof is over.
 */
export function allowedSetHash(pk: PaillierPublicKey, allowed: readonly bigint[]): Uint8Array {
  const w = transcript(TAGS.allowedSet);
  pk.encode(w);
  w.list(allowed, (w, m) => w.int(m, pk.nLen));
  return w.digest();
}

/**
 * Validate a manifest and derive its election context (spec §2, §3.2, §3.3, §4.2).
 * @param json - untrusted JSON value
 * @param options.checkKeyProof - verify the Paillier key proof (default true; ~130 ms at 2048 bits)
 * @throws TallyError BAD_MANIFEST, MALFORMED, BAD_PUBLIC_KEY, ENCODING_CAPACITY or ALLOWED_SET_TOO_LARGE
 */
export function parseManifest(json: unknown, options: { checkKeyProof?: boolean } = {}): Election {
  const o = aObject(json, 'manifest');
  if (o.version !== SPEC_VERSION) throw bad(`version: expected ${JSON.stringify(SPEC_VERSION)}, got ${JSON.stringify(o.version)}`);
  const electionId = aString(o.electionId, 'electionId', LIMITS.idMaxLength, ID_RE);
  const title = aString(o.title, 'title', LIMITS.titleMaxLength);
  const questions = aArray(o.questions, 'questions', 1, LIMITS.maxQuestions).map((qx, i): ManifestQuestion => {
    const q = aObject(qx, `questions[${i}]`);
    const options = aArray(q.options, `questions[${i}].options`, 1, LIMITS.maxOptions).map((ox, j): ManifestOption => {
      const op = aObject(ox, `questions[${i}].options[${j}]`);
      return {
        id: aString(op.id, `questions[${i}].options[${j}].id`, LIMITS.idMaxLength, ID_RE),
        title: aString(op.title, `questions[${i}].options[${j}].title`, LIMITS.titleMaxLength),
      };
    });
    uniqueIds(options, `questions[${i}].options`);
    const max = aInt(q.max, `questions[${i}].max`, 1, options.length);
    const min = aInt(q.min, `questions[${i}].min`, 0, max);
    return {
      id: aString(q.id, `questions[${i}].id`, LIMITS.idMaxLength, ID_RE),
      title: aString(q.title, `questions[${i}].title`, LIMITS.titleMaxLength),
      options,
      min,
      max,
    };
  });
  uniqueIds(questions, 'questions');
  const sched = aObject(o.schedule, 'schedule');
  const startMs = parseTimestamp(sched.start, 'schedule.start');
  const endMs = parseTimestamp(sched.end, 'schedule.end');
  if (endMs <= startMs) throw bad('schedule: end must be after start');
  const maxVoters = aInt(o.maxVoters, 'maxVoters', 1, LIMITS.maxVotersLimit);
  if (typeof o.revoting !== 'boolean') throw bad('revoting: expected true or false');
  const revoting = o.revoting;

  const keys = aObject(o.keys, 'keys');
  const pj = aObject(keys.paillier, 'keys.paillier');
  const paillier = PaillierPublicKey.fromJSON({ n: pj.n });
  const keyProof = aArray(pj.keyProof, 'keys.paillier.keyProof', KEY_PROOF_ROUNDS, KEY_PROOF_ROUNDS).map((x, i) =>
    hexToInt(x, paillier.nLen, `keys.paillier.keyProof[${i}]`),
  );
  if (options.checkKeyProof !== false && !verifyKeyProof(paillier, keyProof)) {
    throw new TallyError('BAD_PUBLIC_KEY', 'keys.paillier.keyProof: the key proof does not verify (check 3.3)');
  }
  const tokenIssuer = blindRsaPublicKeyFromJson(keys.tokenIssuer);
  const boardKey = parseHex(keys.board, 'keys.board', 32);
  if (!isValidEd25519PublicKey(boardKey)) throw new TallyError('BAD_PUBLIC_KEY', 'keys.board: not a valid Ed25519 public key');

  const b = digitBits(maxVoters);
  const shapes = questions.map((q) => ({ options: q.options.length, min: q.min, max: q.max }));
  shapes.forEach((s, i) => checkQuestionCapacity(s, b, paillier.n, `question ${JSON.stringify(questions[i]!.id)}`));

  // Re-emit the manifest from the validated values: unknown fields are dropped, so the JSON an
  // Election carries is exactly what the fingerprint covers.
  const manifest: ManifestJson = {
    version: SPEC_VERSION,
    electionId,
    title,
    questions,
    schedule: { start: sched.start as string, end: sched.end as string },
    maxVoters,
    revoting,
    keys: {
      paillier: { ...paillier.toJSON(), keyProof: keyProof.map((x) => intToHex(x, paillier.nLen)) },
      tokenIssuer: blindRsaPublicKeyToJson(tokenIssuer),
      board: toHex(boardKey),
    },
  };
  const base = { manifest, paillier, tokenIssuer, boardKey, keyProof, digitBits: b, startMs, endMs };
  const fingerprint = hashTagged(TAGS.fingerprint, encodeManifest(base));
  const questionCtx = shapes.map((shape, index): QuestionContext => {
    const allowed = allowedSet(shape, b);
    return { index, shape, allowed, allowedSetHash: allowedSetHash(paillier, allowed) };
  });
  return { ...base, questions: questionCtx, fingerprint, fingerprintHex: toHex(fingerprint) };
}
