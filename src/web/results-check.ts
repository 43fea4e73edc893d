/**
 * The results page's own check of the published results, in the browser (spec/08-tally.md
 * §8.2–8.4): are the counts shown the opening of the encrypted tally that the signed board
 * recorded?
 *
 * 1. The encrypted tally: the board's `encrypted-tally` entry, included under the board's
 *    latest checkpoint, which is signed by the election's board key (§9.5.3).
 * 2. The trustees' `partial-decryption` entries that follow it, each included under the same
 *    checkpoint and each proof verified against the board's encrypted tally (§13.4, 13.4a–f);
 *    the k smallest valid trustee indices are combined, as the verification server does.
 * 3. Per question: the published ciphertext c is the board's; the published T is the
 *    combination (8.4f); the counts shown are the digits of T (§8.3); the number of counted
 *    ballots is the board's.
 *
 * What it does NOT check: that the encrypted tally is the product of exactly the ballots the
 * revote rule counts, and that every one of those ballots is valid. That needs every ballot
 * (spec §10.2, steps 1–8), which is the auditor's job: `npx tallyboard verify --board
 * board.jsonl`. The page says so next to the verdict.
 *
 * Pure apart from the reads through `BoardApi`; network failures throw, verification failures
 * are typed results.
 */
import { TallyError } from '../errors.js';
import type { Election } from '../election/manifest.js';
import { parseEncryptedTally } from '../election/records.js';
import { parseResults, type QuestionResult } from '../election/tally.js';
import { decodeCounts } from '../election/ballot-encoding.js';
import { combineEntries, verifyPartialDecryptionEntry, type PartialDecryptionEntry } from '../election/partial-decryption.js';
import { entryFromJson } from '../../bulletin/entry.js';
import { cosignedCheckpointFromJson } from '../../bulletin/cosignature.js';
import { inclusionProofFromJson } from '../../bulletin/proofs.js';
import { verifyEntryInclusion } from '../../bulletin/client.js';
import type { ResultsView } from '../election/results-view.js';
import type { BoardApi, ListedEntry } from './board-api.js';

/** Verdict on one question. */
export type QuestionVerdict = { readonly ok: true } | { readonly ok: false; readonly check: string; readonly reason: string };

/** Verdict on the published results. */
export interface ResultsVerdict {
  /** every check passed */
  readonly ok: boolean;
  /** the encrypted tally was found on the board and is included under the signed checkpoint */
  readonly board: { readonly ok: true; readonly height: number; readonly treeSize: number } | { readonly ok: false; readonly reason: string };
  /** per question, in manifest order (empty if the results could not be parsed) */
  readonly questions: readonly QuestionVerdict[];
  /** why the results could not be checked at all */
  readonly reason?: string;
}

/** How far back from the end of the board the tally entries are looked for, beyond one entry per trustee. */
const TAIL = 8;

/**
 * Parse the results view served at /api/results into the tally's own types.
 * @throws TallyError MALFORMED if it does not match the election
 */
export function parseResultsView(election: Election, json: unknown): { view: ResultsView; results: QuestionResult[] } {
  const v = json as Partial<ResultsView> | null;
  if (typeof v !== 'object' || v === null || !Array.isArray(v.questions)) throw new TallyError('MALFORMED', 'results: not a results document');
  if (v.fingerprint !== election.fingerprintHex) throw new TallyError('MALFORMED', 'results: they are for another election');
  if (typeof v.ballotsCounted !== 'number' || !Number.isSafeInteger(v.ballotsCounted) || v.ballotsCounted < 0) throw new TallyError('MALFORMED', 'results: ballotsCounted');
  const m = election.manifest.questions;
  if (v.questions.length !== m.length) throw new TallyError('MALFORMED', `results: expected ${m.length} questions`);
  v.questions.forEach((q, i) => {
    const mq = m[i]!;
    if (q?.id !== mq.id || !Array.isArray(q.options) || q.options.length !== mq.options.length) throw new TallyError('MALFORMED', `results: question ${i + 1} is not ${mq.id}`);
    q.options.forEach((o, j) => {
      if (o?.id !== mq.options[j]!.id) throw new TallyError('MALFORMED', `results: option ${j + 1} of ${mq.id} is not ${mq.options[j]!.id}`);
    });
  });
  const results = parseResults(
    election,
    v.questions.map((q) => ({ c: q.proof?.c, T: q.proof?.T, counts: q.options.map((o) => o.count) })),
  );
  return { view: v as ResultsView, results };
}

/**
 * Check one question's published result against the board's encrypted tally and the plaintext
 * combined from the trustees' verified partial decryptions (§8.3–8.4, §13.4).
 */
export function checkQuestion(election: Election, i: number, boardC: bigint, combinedT: bigint, published: QuestionResult): QuestionVerdict {
  if (published.c !== boardC) return { ok: false, check: '8.4b', reason: 'the published ciphertext is not the one the board recorded' };
  if (published.T !== combinedT) return { ok: false, check: '8.4f', reason: "the published tally is not the combination of the trustees' partial decryptions on the board" };
  let counts: bigint[];
  try {
    counts = decodeCounts(published.T, election.questions[i]!.shape.options, election.digitBits);
  } catch {
    return { ok: false, check: '8.3a', reason: 'the decrypted tally does not decode into counts' };
  }
  if (counts.length !== published.counts.length || counts.some((c, j) => c !== published.counts[j])) {
    return { ok: false, check: '8.4c', reason: `the counts shown (${published.counts.join(', ')}) are not the decrypted ones (${counts.join(', ')})` };
  }
  return { ok: true };
}

/**
 * Check published results against the signed board.
 * @param api - the ballot server's public routes
 * @param election - the validated election
 * @param resultsJson - what /api/results served (untrusted)
 * @throws TallyError BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE when the server cannot answer
 */
export async function checkResults(api: BoardApi, election: Election, resultsJson: unknown): Promise<ResultsVerdict> {
  let parsed: ReturnType<typeof parseResultsView>;
  try {
    parsed = parseResultsView(election, resultsJson);
  } catch (e) {
    return { ok: false, board: { ok: false, reason: 'not checked' }, questions: [], reason: e instanceof Error ? e.message : String(e) };
  }
  const fail = (reason: string): ResultsVerdict => ({
    ok: false,
    board: { ok: false, reason },
    questions: parsed.results.map(() => ({ ok: false, check: 'board', reason: 'the board does not hold this encrypted tally' })),
  });

  const checkpoint = cosignedCheckpointFromJson(await api.checkpoint()).checkpoint;
  const size = checkpoint.treeSize;
  const tail = TAIL + election.threshold.l;
  const page = await api.entries(Math.max(0, size - tail), tail);
  const found: ListedEntry | undefined = [...page.entries].reverse().find((e) => e.type === 'encrypted-tally' && e.height < size);
  if (!found) return fail(`no encrypted-tally entry among the last ${tail} entries of the board`);
  const entry = entryFromJson({ height: found.height, parent: found.parent, type: found.type, timestamp: found.timestamp, payload: found.payload });
  const inclusion = verifyEntryInclusion(election.boardKey, checkpoint, entry, inclusionProofFromJson(await api.inclusion(entry.height, size)));
  if (!inclusion.ok) return fail(`the encrypted tally is not included under the board's signed checkpoint: ${inclusion.message}`);
  const tally = parseEncryptedTally(election, entry.payload);
  if (tally.ballotsCounted !== parsed.view.ballotsCounted) {
    return fail(`the board counted ${tally.ballotsCounted} ballots, the results say ${parsed.view.ballotsCounted}`);
  }
  // The trustees' partial decryptions after it: each included under the same checkpoint, each
  // proof checked against the board's encrypted tally; invalid ones are not combined.
  const verified = new Map<number, PartialDecryptionEntry>();
  for (const pe of page.entries) {
    if (pe.type !== 'partial-decryption' || pe.height <= entry.height || pe.height >= size) continue;
    const pEntry = entryFromJson({ height: pe.height, parent: pe.parent, type: pe.type, timestamp: pe.timestamp, payload: pe.payload });
    const inc = verifyEntryInclusion(election.boardKey, checkpoint, pEntry, inclusionProofFromJson(await api.inclusion(pEntry.height, size)));
    if (!inc.ok) return fail(`the partial decryption at height ${pEntry.height} is not included under the board's signed checkpoint: ${inc.message}`);
    const v = verifyPartialDecryptionEntry(election.threshold, election.fingerprint, tally.ciphertexts, pEntry.payload);
    if (v.ok && !verified.has(v.entry.trustee)) verified.set(v.entry.trustee, v.entry);
  }
  let plaintexts: readonly bigint[];
  try {
    plaintexts = combineEntries(election.threshold, [...verified.values()], election.questions.length).plaintexts;
  } catch (e) {
    return fail(`the trustees' partial decryptions on the board do not combine: ${e instanceof Error ? e.message : String(e)}`);
  }
  const questions = parsed.results.map((r, i) => checkQuestion(election, i, tally.ciphertexts[i]!, plaintexts[i]!, r));
  return { ok: questions.every((q) => q.ok), board: { ok: true, height: entry.height, treeSize: size }, questions };
}
