/**
 * The election's records on the bulletin board (spec/10-verification.md §10.1): the payload of
 * each entry type, its parser and its builder, in one place.
 *
 * The board itself treats payloads as opaque JSON values; this module gives them meaning. The
 * servers build payloads with the `*Payload` functions and the auditor and verification server
 * read them back with the `parse*` functions, so both sides agree on every field. Parsers are
 * strict: unknown fields are an error (a verifier must not accept data it does not check), and
 * every length is checked before conversion.
 */
import { TallyError } from '../errors.js';
import { HASH_LEN } from '../crypto/hash.js';
import { hexToInt, intToHex, parseHex, toHex } from '../wire.js';
import { MAX_ISSUANCE_BATCH } from './register.js';
import { ballotToJson, parseBallot, type Ballot } from './ballot.js';
import { parseManifest, type Election, type ManifestJson } from './manifest.js';
import { parseResults, resultsToJson, type TallyResult } from './tally.js';
import { parsePartialDecryptionPayload, type PartialDecryptionEntry } from './partial-decryption.js';

/** Entry types of the board (spec §9.1), in the order an election produces them. */
export const ENTRY_TYPES = ['setup', 'register', 'token-issued', 'ballot', 'close', 'encrypted-tally', 'partial-decryption', 'result'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/** Why an election was closed. */
export type CloseReason = 'schedule' | 'admin';

/**
 * A malformed payload: MALFORMED with the spec check id of its type's shape rule (§10.1) in
 * `details.check`: setup 4a, register 5g, token-issued 5a, ballot 6a, close 8a, encrypted-tally 9a,
 * partial-decryption 13.4p, result 8.4a.
 */
export function payloadError(check: string, message: string): TallyError {
  return new TallyError('MALFORMED', message, { details: { check } });
}

/**
 * `x` is an object with exactly `keys` (spec §10.1: unknown members are an error in every
 * type). Stops at the first unknown member, so an object of 250,000 members costs no more than
 * one pass and no allocation proportional to it (the auditor's memory bound, §10.5).
 */
function object(x: unknown, type: string, keys: readonly string[], check: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw payloadError(check, `${type} payload: expected an object`);
  const o = x as Record<string, unknown>;
  for (const k of keys) if (!Object.hasOwn(o, k)) throw payloadError(check, `${type} payload: missing member ${JSON.stringify(k)}`);
  let n = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    if (!keys.includes(k)) throw payloadError(check, `${type} payload: unknown member ${JSON.stringify(k.slice(0, 64))}`);
    n++;
  }
  if (n !== keys.length) throw payloadError(check, `${type} payload: expected exactly ${keys.join(', ')}`);
  return o;
}

function count(x: unknown, field: string, check: string, min = 0): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) throw payloadError(check, `${field}: expected an integer ≥ ${min}`);
  return x;
}

/** Run a wire parser, re-labelling its MALFORMED error with the payload's check id. */
function labelled<T>(check: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TallyError && e.code === 'MALFORMED' && (e.details as { check?: unknown } | undefined)?.check === undefined) {
      throw payloadError(check, e.message);
    }
    throw e;
  }
}

// --- setup -----------------------------------------------------------------------------------

export function setupPayload(manifest: ManifestJson): { manifest: ManifestJson } {
  return { manifest };
}

/**
 * The setup payload (check 4a) and its manifest (§2.1 checks, in parseManifest's order).
 * @throws TallyError MALFORMED (4a) or parseManifest's errors, each with `details.check`
 */
export function parseSetup(payload: unknown, options: { checkKeyProof?: boolean } = {}): Election {
  return parseManifest(object(payload, 'setup', ['manifest'], '4a').manifest, options);
}

// --- register --------------------------------------------------------------------------------

/** The register commitment (spec §7.5): N voters and the root over their sorted references. */
export interface RegisterRecord {
  /** N, the number of eligible voters, 1 ≤ N ≤ maxVoters */
  readonly voters: number;
  /** RFC 9162 root of the register tree, 32 bytes */
  readonly root: Uint8Array;
}

export function registerPayload(r: RegisterRecord): { voters: number; root: string } {
  return { voters: r.voters, root: toHex(r.root) };
}

/**
 * The register payload (check 5g): exactly `{voters, root}`, 1 ≤ voters ≤ maxVoters.
 * @throws TallyError MALFORMED with check 5g
 */
export function parseRegister(payload: unknown, maxVoters: number): RegisterRecord {
  const o = object(payload, 'register', ['voters', 'root'], '5g');
  const voters = count(o.voters, 'register.voters', '5g', 1);
  if (voters > maxVoters) throw payloadError('5g', `register.voters: ${voters} exceeds maxVoters (${maxVoters})`);
  return { voters, root: labelled('5g', () => parseHex(o.root, 'register.root', HASH_LEN)) };
}

// --- token-issued ----------------------------------------------------------------------------

/** One issued reference with its membership proof in the committed register (spec §7.5). */
export interface IssuedRef {
  /** the voter's register reference, 32 bytes */
  readonly ref: Uint8Array;
  /** its index among the register's sorted references */
  readonly index: number;
  /** its RFC 9162 inclusion path in the register tree, leaf's sibling first */
  readonly path: readonly Uint8Array[];
}

export interface TokenIssued {
  /** the references issued in this entry, in strictly ascending byte order (spec §7.4) */
  readonly refs: readonly IssuedRef[];
  /** running number of tokens issued, including this entry's */
  readonly count: number;
}

export function tokenIssuedPayload(t: TokenIssued): { refs: { ref: string; index: number; path: string[] }[]; count: number } {
  return { refs: t.refs.map((r) => ({ ref: toHex(r.ref), index: r.index, path: r.path.map(toHex) })), count: t.count };
}

/**
 * The token-issued payload (check 5a): exactly `{refs, count}`; `refs` 1 to MAX_ISSUANCE_BATCH
 * objects of exactly `{ref, index, path}`, in strictly ascending order of `ref`; `path` at most
 * 53 hashes; `count` ≥ 1. Sizes are checked before anything is converted.
 * @throws TallyError MALFORMED with check 5a
 */
export function parseTokenIssued(payload: unknown): TokenIssued {
  const o = object(payload, 'token-issued', ['refs', 'count'], '5a');
  if (!Array.isArray(o.refs) || o.refs.length < 1 || o.refs.length > MAX_ISSUANCE_BATCH) {
    throw payloadError('5a', `token-issued.refs: expected an array of 1 to ${MAX_ISSUANCE_BATCH} references`);
  }
  const refs: IssuedRef[] = [];
  let prev: string | undefined;
  for (const [i, item] of (o.refs as unknown[]).entries()) {
    const r = object(item, `token-issued.refs[${i}]`, ['ref', 'index', 'path'], '5a');
    const ref = labelled('5a', () => parseHex(r.ref, `token-issued.refs[${i}].ref`, HASH_LEN));
    const hex = r.ref as string;
    if (prev !== undefined && !(prev < hex)) throw payloadError('5a', `token-issued.refs[${i}]: references must be in strictly ascending order`);
    prev = hex;
    const index = count(r.index, `token-issued.refs[${i}].index`, '5a');
    if (!Array.isArray(r.path) || r.path.length > 53) throw payloadError('5a', `token-issued.refs[${i}].path: expected an array of at most 53 hashes`);
    const path = (r.path as unknown[]).map((h, j) => labelled('5a', () => parseHex(h, `token-issued.refs[${i}].path[${j}]`, HASH_LEN)));
    refs.push({ ref, index, path });
  }
  return { refs, count: count(o.count, 'token-issued.count', '5a', 1) };
}

// --- ballot ----------------------------------------------------------------------------------

export interface BallotRecord {
  readonly ballot: Ballot;
  /** the tracker as published; the verifier recomputes it and compares (step 6b) */
  readonly tracker: Uint8Array;
}

export function ballotPayload(election: Election, ballot: Ballot, tracker: Uint8Array): { ballot: unknown; tracker: string } {
  return { ballot: ballotToJson(election, ballot), tracker: toHex(tracker) };
}

/**
 * The ballot payload: members and tracker form (check 6a), then the ballot's shape (6.1a).
 * @throws TallyError MALFORMED with check 6a or 6.1a
 */
export function parseBallotRecord(election: Election, payload: unknown): BallotRecord {
  const o = object(payload, 'ballot', ['ballot', 'tracker'], '6a');
  const tracker = labelled('6a', () => parseHex(o.tracker, 'ballot.tracker', HASH_LEN));
  return { ballot: parseBallot(election, o.ballot), tracker };
}

// --- close -----------------------------------------------------------------------------------

export interface CloseRecord {
  readonly reason: CloseReason;
  /** number of ballot entries before the close */
  readonly ballots: number;
}

export function closePayload(c: CloseRecord): CloseRecord {
  return { reason: c.reason, ballots: c.ballots };
}

/** @throws TallyError MALFORMED with check 8a */
export function parseClose(payload: unknown): CloseRecord {
  const o = object(payload, 'close', ['reason', 'ballots'], '8a');
  if (o.reason !== 'schedule' && o.reason !== 'admin') throw payloadError('8a', 'close.reason: expected "schedule" or "admin"');
  return { reason: o.reason, ballots: count(o.ballots, 'close.ballots', '8a') };
}

// --- encrypted-tally -------------------------------------------------------------------------

export interface EncryptedTallyRecord {
  readonly ciphertexts: readonly bigint[];
  readonly ballotsCounted: number;
}

export function encryptedTallyPayload(election: Election, t: EncryptedTallyRecord): { ciphertexts: string[]; ballotsCounted: number } {
  return { ciphertexts: t.ciphertexts.map((c) => intToHex(c, election.paillier.n2Len)), ballotsCounted: t.ballotsCounted };
}

/** @throws TallyError MALFORMED with check 9a */
export function parseEncryptedTally(election: Election, payload: unknown): EncryptedTallyRecord {
  const o = object(payload, 'encrypted-tally', ['ciphertexts', 'ballotsCounted'], '9a');
  if (!Array.isArray(o.ciphertexts) || o.ciphertexts.length !== election.questions.length) {
    throw payloadError('9a', `encrypted-tally.ciphertexts: expected ${election.questions.length} ciphertexts`);
  }
  const ciphertexts = o.ciphertexts as unknown[];
  return {
    ciphertexts: ciphertexts.map((c: unknown, i) => labelled('9a', () => hexToInt(c, election.paillier.n2Len, `encrypted-tally.ciphertexts[${i}]`))),
    ballotsCounted: count(o.ballotsCounted, 'encrypted-tally.ballotsCounted', '9a'),
  };
}

// --- partial-decryption ----------------------------------------------------------------------

/**
 * Parse a `partial-decryption` payload (shape 13.4p, trustee index 13.4a); proofs are checked by
 * `verifyPartialDecryptionEntry` against the verifier's own encrypted tally.
 * @throws TallyError MALFORMED (13.4p) or BAD_PARTIAL_DECRYPTION (13.4a)
 */
export function parsePartialDecryption(election: Election, payload: unknown): PartialDecryptionEntry {
  return parsePartialDecryptionPayload(election.threshold, election.questions.length, payload);
}

// --- result ----------------------------------------------------------------------------------

export function resultPayload(election: Election, result: TallyResult): { trustees: number[]; results: unknown } {
  return { trustees: [...result.trustees], results: resultsToJson(election, result.results) };
}

/** @throws TallyError MALFORMED with check 8.4a */
export function parseResult(election: Election, payload: unknown): TallyResult {
  const o = object(payload, 'result', ['trustees', 'results'], '8.4a');
  const S = o.trustees;
  const k = election.threshold.k;
  if (!Array.isArray(S) || S.length !== k || !S.every((i) => Number.isSafeInteger(i) && (i as number) >= 1 && (i as number) <= election.threshold.l)) {
    throw payloadError('8.4a', `result.trustees: expected ${k} trustee indices in [1, ${election.threshold.l}]`);
  }
  return { trustees: S as number[], results: labelled('8.4a', () => parseResults(election, o.results)) };
}
