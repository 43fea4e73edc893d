/**
 * What the voting booth tells a voter when something fails: the server's catalog code
 * (src/errors.ts, spec/12-servers.md §12.5) turned into a sentence that says what happened
 * and what to do. Codes a voter cannot act on keep the server's message and their code, so a
 * helper can look them up.
 *
 * Why one table: the same code can arrive at different steps (UNAUTHORIZED is a wrong password
 * at login but an expired session when casting); the step is passed in, and every message the
 * booth shows comes from here, so they stay consistent and testable.
 */
import { TallyError } from '../errors.js';

/** Where in the booth the failure happened. */
export type BoothStep = 'election' | 'login' | 'token' | 'cast';

/**
 * The message for a failure.
 * @param err - what was thrown (a TallyError from the client, or anything else)
 * @param step - the booth step that failed
 * @param revoting - whether the election lets a voter replace their ballot
 */
export function voterMessage(err: unknown, step: BoothStep, revoting = false): string {
  if (!(err instanceof TallyError)) return `Something went wrong in this page: ${err instanceof Error ? err.message : String(err)}. Reload the page and try again.`;
  switch (err.code) {
    case 'UNAUTHORIZED':
      return step === 'login'
        ? 'The login or the password is not correct. Check them and try again.'
        : 'Your session has expired (sessions last 15 minutes). Log in again: your choices are kept.';
    case 'RATE_LIMITED':
      return 'Too many failed attempts. Wait a minute, then try again.';
    case 'TOKEN_ALREADY_ISSUED':
      return alreadyVotedMessage(revoting);
    case 'ISSUANCE_PENDING':
      return 'A voting token for this account is being issued right now, or its issuance was interrupted. Wait a minute, then try again.';
    case 'ISSUANCE_NOT_RECORDED':
      return 'The election servers could not record your voting token, so none was issued and you have not voted yet. Try again in a minute.';
    case 'ELECTION_CLOSED':
      return 'Voting is closed: no more ballots are accepted. The results page shows the outcome as soon as it is published.';
    case 'ELECTION_NOT_OPEN':
      return 'Voting has not opened yet. Come back at the opening time shown above.';
    case 'TOKEN_USED':
      return 'This voting token has already cast a ballot, and this election does not let a voter change their vote.';
    case 'BOARD_UNAVAILABLE':
      return step === 'cast'
        ? 'The ballot server could not be reached, so your ballot may not have been received. Check your connection and press “Try again”: the same ballot is sent again, it cannot count twice.'
        : 'The election server could not be reached. Check your connection and try again.';
    case 'BAD_MANIFEST':
    case 'BAD_PUBLIC_KEY':
    case 'ENCODING_CAPACITY':
    case 'ALLOWED_SET_TOO_LARGE':
      return `The election published by this server is not valid, so this page will not encrypt a ballot for it (${err.code}: ${err.message}). Tell the organizers.`;
    case 'BAD_TOKEN':
      return "The organization's signature on your voting token does not verify, so the token would be refused. Tell the organizers.";
    default:
      return `${err.message} (${err.code})`;
  }
}

/**
 * The message for an account that has already been given its one voting token.
 * @param revoting - whether the election lets a voter replace their ballot
 * @param tokenFile - the token file's name for this voter, as the terminal client names it
 */
export function alreadyVotedMessage(revoting: boolean, tokenFile = 'token-ELECTION-LOGIN.json'): string {
  // Issued does not mean cast (issue #9.4): a voter may have obtained the token elsewhere (the
  // terminal client, another device) and stopped before casting. Say both cases.
  const base = 'This account’s voting token has already been issued (each voter receives one), so a second one cannot be given.';
  return revoting
    ? `${base} If you voted, your ballot stands, and to change it you need the token file saved then. If you got the token but did not cast a ballot (for example you stopped the terminal client), its token file lets you vote now. Load it below (the terminal client saves it as ${tokenFile} in the folder it ran from).`
    : `${base} If you voted, your ballot stands; check it on the public board with your receipt. If you got the token but did not cast a ballot (for example you stopped the terminal client), load its token file below (the terminal client saves it as ${tokenFile} in the folder it ran from) to vote now.`;
}
