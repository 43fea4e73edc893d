/**
 * The one error catalog of Tallyboard.
 *
 * Every failure that can reach a user (a voter, an auditor, an HTTP client) is a `TallyError`
 * with a stable `code` from this catalog. The code says what went wrong in terms of the spec,
 * the HTTP status is fixed here once, and the message names the field and what was received,
 * never a secret. Servers map errors to responses in one handler by reading this table; the
 * CLI prints `code: message`. Wrapped errors keep their `cause`.
 *
 * Codes are part of the public interface (spec/12-servers.md lists them): add, never rename.
 */

/** Catalog entry: HTTP status and a one-line description. */
export interface ErrorSpec {
  readonly status: number;
  readonly description: string;
}

export const ERRORS = {
  // --- decoding and validation of inputs (spec/01-encoding.md) ---
  MALFORMED: { status: 400, description: 'input is not well-formed' },
  OUT_OF_RANGE: { status: 400, description: 'a value lies outside its allowed range' },
  TOO_LARGE: { status: 413, description: 'input exceeds a size limit' },

  // --- keys and parameters (spec/03-paillier.md, spec/07-tokens.md) ---
  BAD_PUBLIC_KEY: { status: 400, description: 'a public key fails the published-key rules' },
  BAD_PRIVATE_KEY: { status: 400, description: 'a private key is inconsistent with its public key' },
  BAD_KEY_FILE: { status: 400, description: 'a key file cannot be decrypted: wrong passphrase or corrupted file' },

  // --- elections (spec/02-manifest.md, spec/04-ballot-encoding.md) ---
  BAD_MANIFEST: { status: 400, description: 'the election manifest is invalid' },
  ENCODING_CAPACITY: { status: 400, description: 'the ballot encoding does not fit in the plaintext space' },
  ALLOWED_SET_TOO_LARGE: { status: 400, description: 'a question allows too many selections to prove' },
  BAD_SELECTION: { status: 400, description: 'a selection breaks the question rules' },

  // --- ballots (spec/05-membership-proof.md, spec/06-ballot.md) ---
  BAD_TOKEN: { status: 403, description: 'the eligibility token signature is invalid' },
  BAD_BALLOT_SIGNATURE: { status: 403, description: 'the ballot signature is invalid' },
  INVALID_PROOF: { status: 422, description: 'a ballot validity proof does not verify' },
  WRONG_ELECTION: { status: 422, description: 'the ballot is for another election' },
  TOKEN_USED: { status: 409, description: 'this token has already cast a ballot' },
  ELECTION_NOT_OPEN: { status: 425, description: 'the election has not opened yet' },
  ELECTION_CLOSED: { status: 410, description: 'the election is closed' },

  // --- tally (spec/08-tally.md) ---
  BAD_DECRYPTION_PROOF: { status: 422, description: 'the decryption proof does not verify' },
  TALLY_OVERFLOW: { status: 422, description: 'the decrypted tally does not decode into counts' },

  // --- trustees: threshold decryption and modulus proofs (spec/13-trustees.md) ---
  BAD_PARTIAL_DECRYPTION: { status: 422, description: 'a partial decryption or its proof does not verify' },
  TOO_FEW_PARTIAL_DECRYPTIONS: { status: 409, description: 'fewer valid partial decryptions than the threshold' },
  BAD_ENCRYPTED_TALLY: { status: 422, description: 'the encrypted tally is not the product of the counted ballots' },
  BAD_RESULT: { status: 422, description: 'a result is not the combination of the partial decryptions it names' },
  TALLY_NOT_READY: { status: 409, description: 'there is no encrypted tally on the board yet' },
  RESULT_PUBLISHED: { status: 410, description: 'the result is already published' },
  BAD_MODULUS_PROOF: { status: 422, description: 'a proof that the Paillier modulus is well formed does not verify' },

  // --- bulletin board (spec/09-board.md) ---
  BOARD_CORRUPT: { status: 500, description: 'the stored bulletin board is torn or corrupt' },
  BOARD_INVALID: { status: 422, description: 'a published bulletin board fails verification' },
  BOARD_UNAVAILABLE: { status: 503, description: 'the ballot server (bulletin board) cannot be reached or timed out; retry later' },
  BOARD_BAD_RESPONSE: { status: 502, description: 'the ballot server answered with something that is not its protocol' },

  // --- witnesses (spec/09-board.md §9.9) ---
  BAD_COSIGNATURE: { status: 422, description: 'a witness cosignature is not by a witness of the manifest or does not verify' },
  WITNESS_REFUSED: { status: 409, description: 'the witness refuses to cosign: the checkpoint contradicts one it cosigned, or is not verified' },

  // --- organization server: register and token issuance (spec/07-tokens.md §7.4) ---
  TOKEN_ALREADY_ISSUED: { status: 409, description: 'this voter has already been given a token for this election' },
  ISSUANCE_PENDING: { status: 409, description: 'another issuance for this voter is in progress or was interrupted; retry later' },
  ISSUANCE_NOT_RECORDED: { status: 503, description: 'the issuance could not be recorded on the bulletin board; nothing was signed' },
  NOT_IN_REGISTER: { status: 422, description: 'an issuance reference is not a member of the committed voter register' },
  REGISTER_MISMATCH: { status: 409, description: 'the voter register differs from the one committed on the board (late registration is not supported)' },
  CSV_INVALID: { status: 400, description: 'the voter CSV file has errors; nothing was imported' },
  RATE_LIMITED: { status: 429, description: 'too many attempts; retry later' },

  // --- generic ---
  NOT_FOUND: { status: 404, description: 'no such resource' },
  UNAUTHORIZED: { status: 401, description: 'authentication required or failed' },
  CONFLICT: { status: 409, description: 'the request conflicts with the current state' },
  INTERNAL: { status: 500, description: 'internal error' },
  REQUEST_TIMEOUT: { status: 408, description: 'the request was not received in time (a network timeout)' },
  URI_TOO_LONG: { status: 414, description: 'the request URI or one of its parameters is too long' },
  HEADERS_TOO_LARGE: { status: 431, description: 'the request headers are too large' },
  SERVER_BUSY: { status: 503, description: 'the server is at capacity; retry after the time in Retry-After' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * A domain error with a stable catalog code.
 * `details` carries public, non-secret context (expected and computed values, a question index);
 * it is safe to show to the client.
 */
export class TallyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  /**
   * @param code - catalog code
   * @param message - human-readable message naming the field and what was received
   * @param options - optional public `details` and a wrapped `cause`
   */
  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TallyError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options.details;
  }
}

/** True when `err` is a TallyError, optionally with the given code. */
export function isTallyError(err: unknown, code?: ErrorCode): err is TallyError {
  return err instanceof TallyError && (code === undefined || err.code === code);
}
