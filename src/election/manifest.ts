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
 * The fingerprint hashes the canonical bytes of the manifest, which include the election key
 * (the threshold key of the ceremony and its well-formedness proofs, spec §13),
 * the token issuer's RSA key and the board's Ed25519 key: a proof or signature that binds the
 * fingerprint binds the whole election.
 */
import { TallyError } from '../errors.js';
import { canonical, CanonicalWriter } from '../canonical.js';
import { SPEC_VERSION, TAGS, hashTagged, transcript } from '../crypto/hash.js';
import { PaillierPublicKey } from '../crypto/paillier.js';
import { parseHex, toHex } from '../wire.js';
import type { ThresholdPublicKey } from '../crypto/threshold-paillier.js';
import { MOD_ROUNDS, PRM_ROUNDS } from '../crypto/modulus-proofs.js';
import { checkElectionKey, decodeElectionKey, electionKeyToJson, encodeElectionKey, type ElectionKey, type ElectionKeyJson } from './election-key.js';
import { isValidEd25519PublicKey } from '../crypto/ed25519.js';
import { MAX_WITNESSES, aWitnessName, type Witness } from '../../bulletin/cosignature.js';
import {
  type BlindRsaPublicKey,
  blindRsaPublicKeyWire,
  blindRsaPublicKeyToJson,
  validateBlindRsaPublicKey,
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
    /** the ceremony's public output (spec §2.1, §13.7); 1-of-1 for a single key holder */
    readonly election: ElectionKeyJson;
    readonly tokenIssuer: { readonly n: string; readonly e: string };
    readonly board: string;
  };
  /**
   * The board's witnesses and their quorum (spec §2.1, §9.9, §11.6). Optional: absent means
   * no witnesses (check 8e then holds vacuously).
   */
  readonly witnesses?: ManifestWitnesses;
}

/** `witnesses` of the manifest: who cosigns the board's checkpoints, and how many must. */
export interface ManifestWitnesses {
  /** q, with ⌊n/2⌋ < q ≤ n for n members: two forks cannot both reach it (spec §11.6) */
  readonly quorum: number;
  /** 1 to 16 witnesses, names and keys unique */
  readonly members: readonly { readonly name: string; readonly key: string }[];
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
  /** the encryption key: n of the election key (spec §3) */
  readonly paillier: PaillierPublicKey;
  /** the election key with its proofs (spec §13.2, §13.5, §13.6) */
  readonly electionKey: ElectionKey;
  /** the threshold key: who may decrypt, and how partial decryptions are checked (spec §13.2) */
  readonly threshold: ThresholdPublicKey;
  readonly tokenIssuer: BlindRsaPublicKey;
  readonly boardKey: Uint8Array;
  /** the manifest's witnesses (empty when it names none) */
  readonly witnesses: readonly Witness[];
  /** cosignatures required on the final and the close checkpoint (0 when no witnesses) */
  readonly witnessQuorum: number;
  /** b: bits per count; B = 2^b > maxVoters (spec §4.1) */
  readonly digitBits: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly questions: readonly QuestionContext[];
  /** 32-byte election fingerprint (spec §2.3) */
  readonly fingerprint: Uint8Array;
  readonly fingerprintHex: string;
}

/**
 * The manifest checks of spec §2.1 and §10.2 step 4, in the order they are applied. A manifest
 * is refused with the FIRST of these that fails (every TallyError thrown by parseManifest
 * carries it as `details.check`), so two verifiers name the same check.
 */
export const MANIFEST_CHECKS = [
  '2.1a', '2.1b', '3.2a', '3.2b', '3.2c', '3.2d',
  '13.2a', '13.2b', '13.2c', '13.2d', '13.2e',
  '13.5a', '13.5b', '13.5c', '13.5d', '13.5e',
  '13.6a', '13.6b', '13.6c', '13.6d', '13.6e', '13.6f', '13.6g',
  '7.1.3', '7.3a', '4.2a', '4.2b',
] as const;
export type ManifestCheck = (typeof MANIFEST_CHECKS)[number];

function bad(message: string, check: ManifestCheck = '2.1b'): TallyError {
  return new TallyError('BAD_MANIFEST', message, { details: { check } });
}

/** Re-throw a TallyError from a helper with the manifest check id it belongs to. */
function tagged<T>(check: ManifestCheck, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TallyError) {
      const own = (e.details as { check?: unknown } | undefined)?.check;
      throw new TallyError(e.code === 'MALFORMED' ? 'BAD_MANIFEST' : e.code, e.message, {
        details: { ...(e.details ?? {}), check: typeof own === 'string' && (own.startsWith('3.2') || own.startsWith('13.')) ? own : check },
        cause: e,
      });
    }
    throw e;
  }
}

function aObject(x: unknown, field: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw bad(`${field}: expected an object`, '2.1a');
  return x as Record<string, unknown>;
}

/** Number of Unicode code points of a well-formed string (spec §2.1 "characters"). */
export function codePointLength(x: string): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    const c = x.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < x.length) {
      const d = x.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** A string of 1 to `max` characters (Unicode code points), well-formed (spec §2.1, 2.1b). */
function aString(x: unknown, field: string, max: number, re?: RegExp): string {
  if (typeof x !== 'string') throw bad(`${field}: expected a string`, '2.1a');
  if (!x.isWellFormed()) throw bad(`${field}: not well-formed Unicode`);
  // Code points ≤ UTF-16 units ≤ 2 × code points: a string longer than 2·max units is too long
  // without counting.
  const len = x.length > 2 * max ? Infinity : codePointLength(x);
  if (len === 0 || len > max) throw bad(`${field}: length must be 1 to ${max} characters (code points), got ${x.length > 2 * max ? `more than ${max}` : len}`);
  if (re && !re.test(x)) throw bad(`${field}: ${JSON.stringify(x.slice(0, 80))} does not match ${re.source}`);
  return x;
}

function aInt(x: unknown, field: string, min: number, max: number): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > max) {
    throw bad(`${field}: expected an integer in [${min}, ${max}], got ${JSON.stringify(x)}`);
  }
  return x;
}

/**
 * Check 2.1a, the structure of a manifest, before any value: every object has exactly the
 * members of spec §2.1 (unknown members are refused), every member has its JSON type, and every
 * array its count (questions 1–32, options 1–64, 1–64 verification keys, 128 Π^mod rounds,
 * 1 to `trustees` auxiliary entries of 128 Π^prm rounds each). Nothing is converted.
 */
function checkStructure(json: unknown): void {
  type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';
  const kindOf = (x: unknown): string => (Array.isArray(x) ? 'array' : x === null ? 'null' : typeof x);
  const obj = (x: unknown, field: string, members: Record<string, Kind>): Record<string, unknown> => {
    const o = aObject(x, field);
    for (const k of Object.keys(members)) if (!Object.hasOwn(o, k)) throw bad(`${field}: missing member ${JSON.stringify(k)}`, '2.1a');
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      const want = members[k];
      if (want === undefined) throw bad(`${field}: unknown member ${JSON.stringify(k.slice(0, 64))}`, '2.1a');
      if (kindOf(o[k]) !== want) throw bad(`${field}.${k}: expected ${want === 'array' || want === 'object' ? 'an' : 'a'} ${want}, got ${kindOf(o[k])}`, '2.1a');
    }
    return o;
  };
  const arr = (x: unknown, field: string, min: number, max: number): unknown[] => {
    const a = x as unknown[];
    if (a.length < min || a.length > max) throw bad(`${field}: expected ${min === max ? min : `${min} to ${max}`} items, got ${a.length}`, '2.1a');
    return a;
  };
  const top: Record<string, Kind> = {
    version: 'string', electionId: 'string', title: 'string', questions: 'array', schedule: 'object',
    maxVoters: 'number', revoting: 'boolean', keys: 'object',
  };
  // `witnesses` is the one optional member (spec §2.1): checked like the others when present.
  const hasWitnesses = typeof json === 'object' && json !== null && !Array.isArray(json) && Object.hasOwn(json, 'witnesses');
  const m = obj(json, 'manifest', hasWitnesses ? { ...top, witnesses: 'object' } : top);
  arr(m.questions, 'questions', 1, LIMITS.maxQuestions).forEach((qx, i) => {
    const q = obj(qx, `questions[${i}]`, { id: 'string', title: 'string', options: 'array', min: 'number', max: 'number' });
    arr(q.options, `questions[${i}].options`, 1, LIMITS.maxOptions).forEach((ox, j) => obj(ox, `questions[${i}].options[${j}]`, { id: 'string', title: 'string' }));
  });
  obj(m.schedule, 'schedule', { start: 'string', end: 'string' });
  const keys = obj(m.keys, 'keys', { election: 'object', tokenIssuer: 'object', board: 'string' });
  const strings = (x: unknown, field: string, count: number) =>
    arr(x, field, count, count).forEach((y, i) => {
      if (typeof y !== 'string') throw bad(`${field}[${i}]: expected a string`, '2.1a');
    });
  const ek = obj(keys.election, 'keys.election', {
    n: 'string', threshold: 'number', trustees: 'number', verificationKeys: 'array', v0: 'string', rho: 'string', modulusProof: 'object', auxiliary: 'array',
  });
  const vks = arr(ek.verificationKeys, 'keys.election.verificationKeys', 1, 64);
  strings(vks, 'keys.election.verificationKeys', vks.length);
  const mp = obj(ek.modulusProof, 'keys.election.modulusProof', { w: 'string', rounds: 'array' });
  arr(mp.rounds, 'keys.election.modulusProof.rounds', MOD_ROUNDS, MOD_ROUNDS).forEach((r, i) =>
    obj(r, `keys.election.modulusProof.rounds[${i}]`, { x: 'string', a: 'number', b: 'number', z: 'string' }));
  arr(ek.auxiliary, 'keys.election.auxiliary', 1, 64).forEach((a, i) => {
    const f = `keys.election.auxiliary[${i}]`;
    const ao = obj(a, f, { ringPedersen: 'object', factorProof: 'object' });
    const rp = obj(ao.ringPedersen, `${f}.ringPedersen`, { N: 'string', s: 'string', t: 'string', A: 'array', z: 'array' });
    strings(rp.A, `${f}.ringPedersen.A`, PRM_ROUNDS);
    strings(rp.z, `${f}.ringPedersen.z`, PRM_ROUNDS);
    obj(ao.factorProof, `${f}.factorProof`, Object.fromEntries(['P', 'Q', 'A', 'B', 'T', 'sigma', 'e', 'z1', 'z2', 'w1', 'w2', 'v'].map((k) => [k, 'string' as const])));
  });
  obj(keys.tokenIssuer, 'keys.tokenIssuer', { n: 'string', e: 'string' });
  if (Object.hasOwn(m, 'witnesses')) {
    const w = obj(m.witnesses, 'witnesses', { quorum: 'number', members: 'array' });
    arr(w.members, 'witnesses.members', 1, MAX_WITNESSES).forEach((x, i) => obj(x, `witnesses.members[${i}]`, { name: 'string', key: 'string' }));
  }
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
  encodeElectionKey(w, e.electionKey);
  encodeBlindRsaPublicKey(w, e.tokenIssuer);
  w.fixed(e.boardKey, 32);
  // Witnesses (spec §2.2): a suffix present iff the manifest names them, so a manifest without
  // witnesses keeps its bytes; the label keeps the suffix unambiguous beside other optional ones.
  if (e.witnesses.length > 0) {
    w.str('witnesses');
    w.list(e.witnesses, (w, x) => w.str(x.name).fixed(x.publicKey, 32));
    w.u32(e.witnessQuorum);
  }
  return w.finish();
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
 * Validate a manifest and derive its election context (spec §2, §3.2, §3.3, §4.2, §7.1.3,
 * §7.3), applying the checks in the order of {@link MANIFEST_CHECKS}: structure (2.1a), then
 * every value and wire form (2.1b), then the key rules, then the capacity rules.
 * @param json - untrusted JSON value
 * @param options.checkKeyProof - verify Π^mod, Π^prm and Π^fac (default true; seconds at 2048
 *   bits, remembered per process for the same bytes, see election-key.ts); false only where the
 *   same manifest was checked before
 * @throws TallyError BAD_MANIFEST, BAD_PUBLIC_KEY, BAD_MODULUS_PROOF, ENCODING_CAPACITY or ALLOWED_SET_TOO_LARGE,
 *   with `details.check` the failed check of {@link MANIFEST_CHECKS}
 */
export function parseManifest(json: unknown, options: { checkKeyProof?: boolean } = {}): Election {
  checkStructure(json);
  const o = json as Record<string, unknown>;
  // 2.1b: every value, including the wire forms of the keys (§1.3, §7.1.4), before any key rule.
  if (o.version !== SPEC_VERSION) throw bad(`version: expected ${JSON.stringify(SPEC_VERSION)}, got ${JSON.stringify(String(o.version).slice(0, 40))}`);
  const electionId = aString(o.electionId, 'electionId', LIMITS.idMaxLength, ID_RE);
  const title = aString(o.title, 'title', LIMITS.titleMaxLength);
  const questions = (o.questions as Record<string, unknown>[]).map((q, i): ManifestQuestion => {
    const options = (q.options as Record<string, unknown>[]).map((op, j): ManifestOption => ({
      id: aString(op.id, `questions[${i}].options[${j}].id`, LIMITS.idMaxLength, ID_RE),
      title: aString(op.title, `questions[${i}].options[${j}].title`, LIMITS.titleMaxLength),
    }));
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
  const sched = o.schedule as Record<string, unknown>;
  const startMs = parseTimestamp(sched.start, 'schedule.start');
  const endMs = parseTimestamp(sched.end, 'schedule.end');
  if (endMs <= startMs) throw bad('schedule: end must be after start');
  const maxVoters = aInt(o.maxVoters, 'maxVoters', 1, LIMITS.maxVotersLimit);
  const revoting = o.revoting as boolean;
  const keys = o.keys as Record<string, Record<string, unknown>>;
  const decodedKey = tagged('2.1b', () => decodeElectionKey(keys.election));
  const rsaWire = tagged('2.1b', () => blindRsaPublicKeyWire(keys.tokenIssuer));
  const boardKey = tagged('2.1b', () => parseHex(keys.board, 'keys.board', 32));
  const witnessJson = o.witnesses as { quorum: unknown; members: { name: unknown; key: unknown }[] } | undefined;
  const witnesses: Witness[] = (witnessJson?.members ?? []).map((x, i) => ({
    name: tagged('2.1b', () => aWitnessName(x.name, `witnesses.members[${i}].name`)),
    publicKey: tagged('2.1b', () => parseHex(x.key, `witnesses.members[${i}].key`, 32)),
  }));
  uniqueIds(witnesses.map((x) => ({ id: x.name })), 'witnesses.members (names)');
  uniqueIds(witnesses.map((x) => ({ id: toHex(x.publicKey) })), 'witnesses.members (keys)');
  const witnessQuorum = witnessJson ? aInt(witnessJson.quorum, 'witnesses.quorum', Math.floor(witnesses.length / 2) + 1, witnesses.length) : 0;

  // Key rules, in order: 3.2a–3.2d on n, then the election key's 13.2a–13.2e, Π^mod (13.5a–e),
  // Π^prm and Π^fac per auxiliary entry (13.6a–g), then 7.1.3, 7.3a. Π^mod's 13.5d subsumes the
  // key proof of tallyboard/1 (check 3.3), which is gone (spec §3.3).
  const paillier = tagged('3.2a', () => PaillierPublicKey.fromN(decodedKey.values.n));
  const electionKey = tagged('13.2a', () => checkElectionKey(decodedKey, options.checkKeyProof === false ? { checkProofs: false } : {}));
  const tokenIssuer = tagged('7.1.3', () => validateBlindRsaPublicKey(rsaWire));
  if (!isValidEd25519PublicKey(boardKey)) {
    throw new TallyError('BAD_PUBLIC_KEY', 'keys.board: not a valid Ed25519 public key (check 7.3a: canonical, of order L)', { details: { check: '7.3a' } });
  }
  witnesses.forEach((x, i) => {
    if (!isValidEd25519PublicKey(x.publicKey)) {
      throw new TallyError('BAD_PUBLIC_KEY', `witnesses.members[${i}].key: not a valid Ed25519 public key (check 7.3a: canonical, of order L)`, { details: { check: '7.3a' } });
    }
  });

  const b = digitBits(maxVoters);
  const shapes = questions.map((q) => ({ options: q.options.length, min: q.min, max: q.max }));
  // 4.2a for every question, then 4.2b for every question (spec §4.2).
  shapes.forEach((s, i) => tagged('4.2a', () => checkQuestionCapacity({ ...s, min: 0, max: 0 }, b, paillier.n, `question ${JSON.stringify(questions[i]!.id)}`)));
  shapes.forEach((s, i) => tagged('4.2b', () => checkQuestionCapacity(s, b, paillier.n, `question ${JSON.stringify(questions[i]!.id)}`)));

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
      election: electionKeyToJson(electionKey),
      tokenIssuer: blindRsaPublicKeyToJson(tokenIssuer),
      board: toHex(boardKey),
    },
    ...(witnessJson ? { witnesses: { quorum: witnessQuorum, members: witnesses.map((x) => ({ name: x.name, key: toHex(x.publicKey) })) } } : {}),
  };
  const base = { manifest, paillier, electionKey, threshold: electionKey.threshold, tokenIssuer, boardKey, witnesses, witnessQuorum, digitBits: b, startMs, endMs };
  const fingerprint = hashTagged(TAGS.fingerprint, encodeManifest(base));
  const questionCtx = shapes.map((shape, index): QuestionContext => {
    const allowed = allowedSet(shape, b);
    return { index, shape, allowed, allowedSetHash: allowedSetHash(paillier, allowed) };
  });
  return { ...base, questions: questionCtx, fingerprint, fingerprintHex: toHex(fingerprint) };
}
