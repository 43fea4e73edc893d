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
import { ballotToJson, parseBallot, type Ballot } from './ballot.js';
import { parseManifest, type Election, type ManifestJson } from './manifest.js';
import { parseResults, resultsToJson, type QuestionResult } from './tally.js';

/** Entry types of the board (spec §9.1), in the order an election produces them. */
export const ENTRY_TYPES = ['setup', 'token-issued', 'ballot', 'close', 'encrypted-tally', 'result'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/** Why an election was closed. */
export type CloseReason = 'schedule' | 'admin';

function object(x: unknown, type: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new TallyError('MALFORMED', `${type} payload: expected an object`);
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new TallyError('MALFORMED', `${type} payload: unknown field ${JSON.stringify(k)}`);
  }
  for (const k of keys) if (!(k in o)) throw new TallyError('MALFORMED', `${type} payload: missing field ${JSON.stringify(k)}`);
  return o;
}

function count(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new TallyError('MALFORMED', `${field}: expected a non-negative integer`);
  return x;
}

// --- setup -----------------------------------------------------------------------------------

export function setupPayload(manifest: ManifestJson): { manifest: ManifestJson } {
  return { manifest };
}

/** @throws TallyError from parseManifest (BAD_MANIFEST, BAD_PUBLIC_KEY, …) or MALFORMED */
export function parseSetup(payload: unknown): Election {
  return parseManifest(object(payload, 'setup', ['manifest']).manifest);
}

// --- token-issued ----------------------------------------------------------------------------

export interface TokenIssued {
  /** pseudonymous issuance reference, 32 bytes (spec §7.4) */
  readonly ref: Uint8Array;
  /** running number of tokens issued, 1, 2, 3, … */
  readonly count: number;
}

export function tokenIssuedPayload(t: TokenIssued): { ref: string; count: number } {
  return { ref: toHex(t.ref), count: t.count };
}

export function parseTokenIssued(payload: unknown): TokenIssued {
  const o = object(payload, 'token-issued', ['ref', 'count']);
  return { ref: parseHex(o.ref, 'token-issued.ref', HASH_LEN), count: count(o.count, 'token-issued.count') };
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

export function parseBallotRecord(election: Election, payload: unknown): BallotRecord {
  const o = object(payload, 'ballot', ['ballot', 'tracker']);
  return { ballot: parseBallot(election, o.ballot), tracker: parseHex(o.tracker, 'ballot.tracker', HASH_LEN) };
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

export function parseClose(payload: unknown): CloseRecord {
  const o = object(payload, 'close', ['reason', 'ballots']);
  if (o.reason !== 'schedule' && o.reason !== 'admin') throw new TallyError('MALFORMED', 'close.reason: expected "schedule" or "admin"');
  return { reason: o.reason, ballots: count(o.ballots, 'close.ballots') };
}

// --- encrypted-tally -------------------------------------------------------------------------

export interface EncryptedTallyRecord {
  readonly ciphertexts: readonly bigint[];
  readonly ballotsCounted: number;
}

export function encryptedTallyPayload(election: Election, t: EncryptedTallyRecord): { ciphertexts: string[]; ballotsCounted: number } {
  return { ciphertexts: t.ciphertexts.map((c) => intToHex(c, election.paillier.n2Len)), ballotsCounted: t.ballotsCounted };
}

export function parseEncryptedTally(election: Election, payload: unknown): EncryptedTallyRecord {
  const o = object(payload, 'encrypted-tally', ['ciphertexts', 'ballotsCounted']);
  if (!Array.isArray(o.ciphertexts) || o.ciphertexts.length !== election.questions.length) {
    throw new TallyError('MALFORMED', `encrypted-tally.ciphertexts: expected ${election.questions.length} ciphertexts`);
  }
  return {
    ciphertexts: o.ciphertexts.map((c: unknown, i) => hexToInt(c, election.paillier.n2Len, `encrypted-tally.ciphertexts[${i}]`)),
    ballotsCounted: count(o.ballotsCounted, 'encrypted-tally.ballotsCounted'),
  };
}

// --- result ----------------------------------------------------------------------------------

export function resultPayload(election: Election, results: readonly QuestionResult[]): { results: unknown } {
  return { results: resultsToJson(election, results) };
}

export function parseResult(election: Election, payload: unknown): QuestionResult[] {
  return parseResults(election, object(payload, 'result', ['results']).results);
}
