/**
 * How a trustee sees the bulletin board (spec/13-trustees.md, trustee commands): the PUBLIC
 * board only — the export, the signed checkpoint, consistency proofs, the election's status —
 * and one write, `POST /api/partial-decryptions`, which needs no credential because the proof in
 * the payload authenticates it (the ballot server verifies it before appending).
 *
 * Why no service token: a trustee is not part of the server operator's infrastructure and must
 * not hold its credentials; everything it reads it re-verifies, and everything it writes carries
 * its own proof. The read side is the verification server's HTTP board access
 * (src/verifier/board-access.ts) without a token, so both read the board by one code path with
 * the same network-only timeouts.
 *
 * Errors: unreachable or silent → BOARD_UNAVAILABLE; an answer outside the protocol →
 * BOARD_BAD_RESPONSE; a catalog error body keeps its code (409 TALLY_NOT_READY: no encrypted
 * tally yet; 409 CONFLICT: this trustee already posted another partial decryption; 410
 * RESULT_PUBLISHED; 422 BAD_PARTIAL_DECRYPTION). 201 is a new entry, 200 an identical retry.
 */
import { ERRORS, TallyError, isTallyError, type ErrorCode } from '../errors.js';
import { BOARD_TIMEOUT_MS, httpBoardAccess, type BoardAccess } from '../verifier/board-access.js';

/** What the ballot server answered to a posted partial decryption. */
export interface PostedPartial {
  /** height of the `partial-decryption` entry */
  readonly height: number;
  /** its entry hash, lowercase hex */
  readonly hash: string;
  /** true when the board already held exactly this payload (an identical retry) */
  readonly existing: boolean;
}

/** The trustee's view of the board: the public reads, and the post of its partial decryption. */
export interface TrusteeBoard extends Pick<BoardAccess, 'status' | 'records' | 'checkpoint' | 'consistency'>, Pick<BoardAccess, 'cosignedCheckpoint'> {
  /**
   * Post a `partial-decryption` entry payload.
   * @throws TallyError with the ballot server's code for a refusal (CONFLICT, RESULT_PUBLISHED,
   *   BAD_PARTIAL_DECRYPTION, …); BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE for the network
   */
  postPartial(payload: unknown): Promise<PostedPartial>;
}

/** Options of {@link httpTrusteeBoard}. */
export interface HttpTrusteeBoardOptions {
  /** the ballot server, e.g. `https://vote.example.org` */
  readonly baseUrl: string;
  /** fetch implementation (default: Node's global fetch) */
  readonly fetch?: typeof fetch;
  /** network timeout in ms, 100 ≤ timeoutMs ≤ 10 min (default 10 s); it measures the network only */
  readonly timeoutMs?: number;
}

const MAX_BODY = 64 * 1024;

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text.length > MAX_BODY) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The trustee's board over HTTP.
 * @throws TallyError OUT_OF_RANGE for a bad baseUrl or timeoutMs
 */
export function httpTrusteeBoard(opts: HttpTrusteeBoardOptions): TrusteeBoard {
  const timeoutMs = opts.timeoutMs ?? BOARD_TIMEOUT_MS;
  const read = httpBoardAccess({ baseUrl: opts.baseUrl, timeoutMs, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const prefix = new URL(opts.baseUrl).href.replace(/\/+$/, '');
  const where = new URL(opts.baseUrl).origin;
  const what = 'partial decryption';
  return {
    status: () => read.status(),
    records: () => read.records(),
    checkpoint: () => read.checkpoint(),
    consistency: (a, b) => read.consistency(a, b),
    cosignedCheckpoint: (size) => read.cosignedCheckpoint!(size),
    async postPartial(payload: unknown): Promise<PostedPartial> {
      let res: Response;
      let body: unknown;
      try {
        res = await fetchFn(`${prefix}/api/partial-decryptions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(timeoutMs),
        });
        body = await readJson(res);
      } catch (e) {
        if (isTallyError(e)) throw e;
        const name = typeof e === 'object' && e !== null ? (e as { name?: unknown }).name : undefined;
        throw new TallyError(
          'BOARD_UNAVAILABLE',
          name === 'TimeoutError' ? `${what}: the ballot server at ${where} did not answer within ${timeoutMs} ms` : `${what}: cannot reach the ballot server at ${where}`,
          { cause: e },
        );
      }
      const o = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
      if (res.status === 200 || res.status === 201) {
        if (typeof o.height !== 'number' || !Number.isSafeInteger(o.height) || typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash)) {
          throw new TallyError('BOARD_BAD_RESPONSE', `${what}: expected { height, hash } from ${where}, got HTTP ${res.status}`);
        }
        return { height: o.height, hash: o.hash, existing: o.existing === true };
      }
      const err = typeof o.error === 'object' && o.error !== null ? (o.error as { code?: unknown; message?: unknown }) : {};
      const known = typeof err.code === 'string' && Object.hasOwn(ERRORS, err.code) && typeof err.message === 'string';
      const details = { upstreamStatus: res.status, ...(known ? { upstreamCode: err.code } : {}) };
      if (!known) throw new TallyError(res.status >= 500 ? 'BOARD_UNAVAILABLE' : 'BOARD_BAD_RESPONSE', `${what}: the ballot server answered HTTP ${res.status} without a Tallyboard error body`, { details });
      const message = (err.message as string).replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 300);
      if (res.status >= 500) throw new TallyError('BOARD_UNAVAILABLE', `${what}: the ballot server failed (${res.status} ${String(err.code)}): ${message}`, { details });
      throw new TallyError(err.code as ErrorCode, `${what}: the ballot server refused: ${message}`, { details });
    },
  };
}
