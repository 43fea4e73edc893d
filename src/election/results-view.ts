/**
 * The public presentation of an election's results: per question, each option with its count,
 * and the encrypted tally c with its plaintext T (spec §8.4; the board holds the partial
 * decryptions that prove T, §13.4). One function, so that the
 * ballot server, the verification server and the web pages show the same thing.
 */
import { intToHex } from '../wire.js';
import type { Election } from './manifest.js';
import type { QuestionResult } from './tally.js';

export interface ResultsView {
  readonly electionId: string;
  readonly fingerprint: string;
  readonly ballotsCounted: number;
  readonly questions: {
    readonly id: string;
    readonly title: string;
    readonly options: { readonly id: string; readonly title: string; readonly count: number }[];
    readonly proof: { readonly c: string; readonly T: string };
  }[];
}

export function resultsView(election: Election, results: readonly QuestionResult[], ballotsCounted: number): ResultsView {
  const { nLen, n2Len } = election.paillier;
  return {
    electionId: election.manifest.electionId,
    fingerprint: election.fingerprintHex,
    ballotsCounted,
    questions: election.manifest.questions.map((q, i) => {
      const r = results[i]!;
      return {
        id: q.id,
        title: q.title,
        options: q.options.map((o, j) => ({ id: o.id, title: o.title, count: Number(r.counts[j]) })),
        proof: { c: intToHex(r.c, n2Len), T: intToHex(r.T, nLen) },
      };
    }),
  };
}
