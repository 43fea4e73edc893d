/**
 * Builds complete election boards in memory for auditor tests: real tokens, real ballots, a
 * real tally and decryption proof, chained and signed with the fixture board key.
 *
 * `plan` is the sequence of board events; a test forges a board the way a malicious operator
 * would (it holds the board key, so it re-chains and re-signs) by editing the plan, or tampers
 * with a finished board's records the way a file editor would.
 */
import type { BoardRecord } from '../../auditor/audit.js';
import { encodeEntry, zeroHash, type Entry, type EntryType } from '../../bulletin/entry.js';
import { signCheckpoint } from '../../bulletin/checkpoint.js';
import { MerkleFrontier } from '../../bulletin/merkle/index.js';
import type { JsonValue } from '../../bulletin/value-encoding.js';
import { createBallot, type EncryptedBallot, type VoterToken } from '../../src/election/ballot.js';
import type { Election } from '../../src/election/manifest.js';
import { TestRegister, testRef } from './register.js';
import { ballotPayload, closePayload, encryptedTallyPayload, resultPayload, setupPayload } from '../../src/election/records.js';
import { CountedSet } from '../../src/election/counted-set.js';
import { decryptTally, TallyAccumulator, type QuestionResult } from '../../src/election/tally.js';
import { boardKeyFixture, fixtureElection, fixtureToken, manifestJson, seededRng, shareFixture, type ElectionSpec } from './fixtures.js';
import type { PartialDecryptionPayload } from '../../src/election/partial-decryption.js';

export const T0 = Date.parse('2026-03-01T10:00:00.000Z');

export interface PlannedEntry {
  type: EntryType;
  payload: JsonValue;
  timestamp: number;
}

export interface ElectionScenario {
  election: Election;
  tokens: VoterToken[];
  ballots: EncryptedBallot[];
  plan: PlannedEntry[];
}

/**
 * A small election: `voters` voters each get a token and vote; `revotes` of them vote again.
 * @param selections - per voter, per question, the selected options
 */
export function scenario(spec: ElectionSpec, selections: number[][][], revotes: { voter: number; selection: number[][] }[] = []): ElectionScenario {
  const election = fixtureElection(spec);
  const plan: PlannedEntry[] = [];
  let ts = T0;
  const at = () => (ts += 1000);
  plan.push({ type: 'setup', payload: setupPayload(manifestJson(spec)) as unknown as JsonValue, timestamp: at() });
  // The committed register (spec §7.5): the voters' references, then one issuance each.
  const register = new TestRegister(Math.min(Math.max(selections.length, 1), election.manifest.maxVoters, 255));
  plan.push({ type: 'register', payload: register.payload(), timestamp: at() });
  const tokens = selections.map((_, i) => {
    plan.push({ type: 'token-issued', payload: register.issued([testRef(i + 1)], i + 1), timestamp: at() });
    return fixtureToken(election);
  });
  const ballots: EncryptedBallot[] = [];
  const cast = (voter: number, sel: number[][]) => {
    const b = createBallot(election, sel, tokens[voter]!);
    ballots.push(b);
    plan.push({ type: 'ballot', payload: ballotPayload(election, b.ballot, b.tracker) as unknown as JsonValue, timestamp: at() });
  };
  selections.forEach((sel, v) => cast(v, sel));
  revotes.forEach((r) => cast(r.voter, r.selection));
  appendTally(election, plan, election.endMs);
  return { election, tokens, ballots, plan };
}

/**
 * Append close, encrypted tally, the fixture trustee's partial decryption and the result,
 * computed honestly from the plan's ballots (1-of-1 fixture key); `tamper` rewrites the result,
 * `tamperPartial` the partial-decryption payload (after the result was combined from the honest one).
 */
export function appendTally(
  election: Election,
  plan: PlannedEntry[],
  closeAt: number,
  tamper?: (r: QuestionResult[]) => QuestionResult[],
  tamperPartial?: (p: PartialDecryptionPayload) => PartialDecryptionPayload,
): void {
  const counted = new CountedSet(election.manifest.revoting);
  const ballots = plan.map((p, height) => ({ p, height })).filter(({ p }) => p.type === 'ballot');
  for (const { p, height } of ballots) {
    const j = (p.payload as { ballot: { token: { publicKey: string } }; tracker: string });
    counted.add(height, Buffer.from(j.ballot.token.publicKey, 'hex'), Buffer.from(j.tracker, 'hex'));
  }
  const acc = new TallyAccumulator(election);
  for (const { p, height } of ballots) {
    const j = p.payload as { ballot: { token: { publicKey: string }; answers: { c: string }[] } };
    if (counted.counts(height, Buffer.from(j.ballot.token.publicKey, 'hex'))) acc.add(j.ballot.answers.map((a) => BigInt('0x' + a.c)));
  }
  plan.push({ type: 'close', payload: closePayload({ reason: 'schedule', ballots: ballots.length }) as unknown as JsonValue, timestamp: closeAt });
  const c = acc.result();
  plan.push({ type: 'encrypted-tally', payload: encryptedTallyPayload(election, { ciphertexts: c, ballotsCounted: counted.counted }), timestamp: closeAt + 1 });
  const { partial, result } = decryptTally(election, shareFixture('a'), c, seededRng('election-board partial'));
  plan.push({ type: 'partial-decryption', payload: (tamperPartial ? tamperPartial(partial) : partial) as unknown as JsonValue, timestamp: closeAt + 2 });
  const results = tamper ? tamper([...result.results]) : result.results;
  plan.push({ type: 'result', payload: resultPayload(election, { trustees: result.trustees, results }) as unknown as JsonValue, timestamp: closeAt + 3 });
}

/** Chain and sign a plan into board records, as an honest (or colluding) operator would. */
export function buildBoard(election: Election, plan: readonly PlannedEntry[]): BoardRecord[] {
  const key = boardKeyFixture();
  const electionId = election.manifest.electionId;
  const records: BoardRecord[] = [{ kind: 'header', header: { electionId, boardPublicKey: key.publicKey }, line: 1 }];
  const frontier = new MerkleFrontier();
  let parent = zeroHash();
  plan.forEach((p, height) => {
    const entry: Entry = { height, parent, type: p.type, timestamp: p.timestamp, payload: p.payload };
    const enc = encodeEntry(entry);
    frontier.append(enc.leafHash);
    records.push({ kind: 'entry', entry, hash: enc.hash, line: height + 2 });
    parent = enc.hash;
  });
  const last = plan[plan.length - 1]!;
  const checkpoint = signCheckpoint(key.secretKey, {
    electionId,
    treeSize: plan.length,
    rootHash: frontier.root(),
    chainHead: parent,
    timestamp: last.timestamp,
  });
  records.push({ kind: 'checkpoint', checkpoint, line: plan.length + 2 });
  return records;
}

/** An async iterable over records (what a file reader yields). */
export async function* stream(records: readonly BoardRecord[]): AsyncIterable<BoardRecord> {
  for (const r of records) yield r;
}
