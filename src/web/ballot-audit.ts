/**
 * Cast-or-audit (a Benaloh challenge) in the booth: after the ballot is encrypted, and before
 * it is sent, the voter may AUDIT it instead of casting it. The page then reveals what the
 * encryption hides, the plaintext and the randomness of each ciphertext, so that the voter, or
 * any independent tool given the downloaded audit file, can recompute Enc(m; r) and see that
 * the device encrypted exactly the choice shown. The audited ballot is thrown away (its
 * randomness is public now, so it no longer hides the vote), and the voter encrypts afresh.
 *
 * Why it catches a cheating device: when it encrypts, the device cannot know whether the voter
 * will cast or audit, so a device that encrypted something else would be caught with the
 * probability the voter audits. The same check as `tallyboard vote --audit`.
 *
 * Pure: no I/O. The randomness is SECRET until the voter chooses to audit; after that it is
 * public and the ballot must never be cast.
 */
import type { EncryptedBallot } from '../election/ballot.js';
import { decodeSelection } from '../election/ballot-encoding.js';
import type { Election } from '../election/manifest.js';
import { intToHex, toHex } from '../wire.js';

/** The opening of one question's ciphertext. */
export interface AuditedAnswer {
  readonly question: string;
  /** titles of the options the ciphertext holds; empty for a blank answer */
  readonly holds: readonly string[];
  /** Enc(m; r) recomputed equals the ciphertext */
  readonly matches: boolean;
  /** the options it holds are exactly the ones the voter chose */
  readonly asChosen: boolean;
}

/** The audit of a whole ballot. */
export interface BallotAudit {
  readonly tracker: string;
  readonly answers: readonly AuditedAnswer[];
  /** every ciphertext opens to the plaintext and randomness revealed, and holds the voter's choice */
  readonly ok: boolean;
  /** the file a voter can keep or give to another tool (format tallyboard-audit/1) */
  readonly record: AuditRecord;
}

/** The downloadable audit: everything needed to recompute the ciphertexts elsewhere. */
export interface AuditRecord {
  readonly format: 'tallyboard-audit/1';
  readonly electionId: string;
  readonly fingerprint: string;
  readonly tracker: string;
  readonly answers: readonly { readonly question: string; readonly c: string; readonly m: string; readonly r: string; readonly options: readonly string[] }[];
}

/**
 * Open every ciphertext of an encrypted ballot and check it.
 * @param election - the validated election the ballot was made for
 * @param enc - the encrypted ballot with its randomness; it must NOT be cast afterwards
 * @param selections - per question, the option indices the voter chose
 */
export function auditBallot(election: Election, enc: EncryptedBallot, selections: readonly (readonly number[])[]): BallotAudit {
  const pk = election.paillier;
  const answers: AuditedAnswer[] = [];
  const recordAnswers: AuditRecord['answers'][number][] = [];
  enc.ballot.answers.forEach((a, i) => {
    const mq = election.manifest.questions[i]!;
    const m = enc.plaintexts[i]!;
    const r = enc.randomness[i]!;
    const matches = pk.encrypt(m, r) === a.c;
    let held: number[] | undefined;
    try {
      held = decodeSelection(m, mq.options.length, election.digitBits);
    } catch {
      held = undefined;
    }
    const holds = held ? held.map((j) => mq.options[j]!.title) : ['(not a valid selection)'];
    const chosen = [...(selections[i] ?? [])].sort((x, y) => x - y);
    const asChosen = held !== undefined && held.length === chosen.length && held.every((j, k) => j === chosen[k]);
    answers.push({ question: mq.title, holds, matches, asChosen });
    recordAnswers.push({ question: mq.id, c: intToHex(a.c, pk.n2Len), m: m.toString(10), r: intToHex(r, pk.nLen), options: holds });
  });
  const tracker = toHex(enc.tracker);
  return {
    tracker,
    answers,
    ok: answers.every((a) => a.matches && a.asChosen),
    record: { format: 'tallyboard-audit/1', electionId: election.manifest.electionId, fingerprint: election.fingerprintHex, tracker, answers: recordAnswers },
  };
}
