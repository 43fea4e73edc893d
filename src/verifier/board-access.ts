/**
 * How the verification server sees the bulletin board (issue #4): a small interface, its HTTP
 * implementation against the ballot server, the parser that turns an export byte stream into
 * the records the auditor reads, and a guard that makes the auditor's second pass over a LIVE
 * board safe.
 *
 * Why an interface: the tally logic (tally-service.ts) must not care whether the board comes
 * over HTTP or from memory (tests: test/helpers/verifier-board.ts); both give the same three
 * operations, and the tally service re-verifies everything it reads anyway.
 *
 * Why the export is parsed as a stream: a board may hold millions of ballots of kilobytes each.
 * The response body is read chunk by chunk through the auditor's record reader
 * (auditor/source.ts: each line bounded at 8 MiB BEFORE it is decoded), so memory is one line
 * plus the auditor's O(questions) state, never the whole board.
 *
 * A live server could answer a second read differently from the first; the auditor re-verifies
 * the chain of its second read against the first (audit.ts, step 9), so that is caught there.
 *
 * Errors: an unreachable or silent ballot server is BOARD_UNAVAILABLE (503); an answer outside
 * the protocol is BOARD_BAD_RESPONSE (502); an error body of the catalog's shape is turned back
 * into a TallyError with its code (409 CONFLICT: already tallied). The service token is sent in
 * the Authorization header only and appears in no message.
 */
import type { BoardRecord } from '../../auditor/audit.js';
import { boardRecords } from '../../auditor/source.js';
import { MAX_LINE_BYTES } from '../../bulletin/board-file.js';
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import { cosignedCheckpointFromJson, type Cosignature } from '../../bulletin/cosignature.js';
import { consistencyProofFromJson, type ConsistencyProof } from '../../bulletin/proofs.js';
import { ERRORS, TallyError, isTallyError, type ErrorCode } from '../errors.js';

/** Phase of the election as the ballot server reports it. */
export type BoardPhase = 'scheduled' | 'open' | 'closed' | 'tallied';

/** The phases, for validation and schemas. */
export const BOARD_PHASES: readonly BoardPhase[] = ['scheduled', 'open', 'closed', 'tallied'];

/** What the verification server needs to know before reading the board. */
export interface BoardStatus {
  /** number of entries on the board */
  readonly size: number;
  readonly phase: BoardPhase;
}

/** The verification server's view of the bulletin board. */
export interface BoardAccess {
  /** The election's phase and the board's size. */
  status(): Promise<BoardStatus>;
  /** the board from the start, as export records (header, entries, final checkpoint) */
  records(): AsyncIterable<BoardRecord>;
  /** append the encrypted tally (POST /internal/encrypted-tally); the same one again is accepted as existing */
  submitEncryptedTally(payload: unknown): Promise<void>;
  /** append this server's partial decryption as a trustee (POST /api/partial-decryptions); an identical retry is accepted */
  submitPartialDecryption(payload: unknown): Promise<void>;
  /** append the result (POST /internal/result); the board refuses a second, different one with TallyError CONFLICT */
  submitResult(payload: unknown): Promise<void>;
  /**
   * The board's latest signed checkpoint, as served (NOT verified here: the caller checks the
   * signature against the manifest's board key and its consistency with what it saw before).
   */
  checkpoint(): Promise<Checkpoint>;
  /**
   * An RFC 9162 consistency proof between two tree sizes, as served (NOT verified here).
   * @param size1 - 1 ≤ size1 ≤ size2
   * @param size2 - at most the board's size
   */
  consistency(size1: number, size2: number): Promise<ConsistencyProof>;
  /**
   * The witness cosignatures served with the checkpoint of size `treeSize` (spec §9.9), as
   * served (NOT verified here: the caller verifies them against the manifest's witnesses).
   * Optional: a board access without it has none to give (then an election with witnesses is
   * never tallied through it, which is safe).
   */
  cosignatures?(treeSize: number): Promise<Cosignature[]>;
  /**
   * The checkpoint of size `treeSize` with the witness cosignatures served with it, as served
   * (NOT verified here). Optional, as `cosignatures`.
   */
  cosignedCheckpoint?(treeSize: number): Promise<{ checkpoint: Checkpoint; cosignatures: Cosignature[] }>;
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/** Options of {@link httpBoardAccess}. */
export interface HttpBoardAccessOptions {
  /** the ballot server, e.g. `http://127.0.0.1:8080` (http or https, no credentials, query or fragment) */
  readonly baseUrl: string;
  /**
   * SECRET: the bearer credential of the ballot server's internal routes, 16–512 printable ASCII
   * characters. Needed only by the /internal submissions; a reader of the public board (a trustee,
   * src/trustee/) leaves it out, and those then refuse.
   */
  readonly serviceToken?: string;
  /** fetch implementation (default: Node's global fetch) */
  readonly fetch?: typeof fetch;
  /**
   * Timeout in ms, 100 ≤ timeoutMs ≤ 10 min (default 10 s): of each status and tally request as
   * a whole, and of the export until its headers and then of each wait for the next chunk. It
   * measures the network only: time the reader's consumer spends between two reads (checking
   * ballots) never counts (an export may take longer than this in total, but the ballot
   * server never stalls for longer).
   */
  readonly timeoutMs?: number;
}

/** Default request timeout. */
export const BOARD_TIMEOUT_MS = 10_000;
/** Largest /api/election body: the manifest fits in one board line (8 MiB). */
const MAX_STATUS_BYTES = MAX_LINE_BYTES + 64 * 1024;
/** Largest error body read. */
const MAX_ERROR_BYTES = 64 * 1024;
/** Longest upstream message passed on. */
const MAX_UPSTREAM_MESSAGE = 300;
const TOKEN_RE = /^[\x21-\x7e]{16,512}$/;

/** Reads a response body up to `max` bytes; undefined when it is longer. The monitor's board reader uses it too. */
export async function readCapped(res: Response, max: number): Promise<Uint8Array | undefined> {
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > max) return undefined;
      parts.push(value);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  const out = new Uint8Array(length);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function parseJsonBytes(bytes: Uint8Array | undefined): unknown {
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

/** An upstream message, shortened and without control characters, for our own messages. */
function clean(s: string): string {
  const t = s.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return t.length > MAX_UPSTREAM_MESSAGE ? `${t.slice(0, MAX_UPSTREAM_MESSAGE)}…` : t;
}

/**
 * Build the HTTP board access to the ballot server.
 *
 * Routes used: `GET /api/election` (status), `GET /api/board/export` (JSONL, streamed),
 * `GET /api/board/checkpoint`, `GET /api/board/proof/consistency`, `POST /internal/encrypted-tally`, `POST /api/partial-decryptions`, `POST /internal/result`
 * (Bearer service token; 201).
 *
 * @param opts - see HttpBoardAccessOptions
 * @returns the board access; nothing is fetched until a method is called
 * @throws TallyError OUT_OF_RANGE for a bad baseUrl, serviceToken or timeoutMs
 */
export function httpBoardAccess(opts: HttpBoardAccessOptions): BoardAccess {
  let base: URL;
  try {
    base = new URL(opts.baseUrl);
  } catch {
    throw new TallyError('OUT_OF_RANGE', 'baseUrl: expected an absolute http(s) URL');
  }
  if ((base.protocol !== 'http:' && base.protocol !== 'https:') || base.username !== '' || base.password !== '' || base.search !== '' || base.hash !== '') {
    throw new TallyError('OUT_OF_RANGE', 'baseUrl: expected an http(s) URL without credentials, query or fragment');
  }
  if (opts.serviceToken !== undefined && (typeof opts.serviceToken !== 'string' || !TOKEN_RE.test(opts.serviceToken))) {
    throw new TallyError('OUT_OF_RANGE', 'serviceToken: expected 16 to 512 printable ASCII characters');
  }
  const timeoutMs = opts.timeoutMs ?? BOARD_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) {
    throw new TallyError('OUT_OF_RANGE', `timeoutMs: expected an integer in [100, 600000], got ${String(timeoutMs)}`);
  }
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const authorization = opts.serviceToken === undefined ? undefined : `Bearer ${opts.serviceToken}`;
  const prefix = base.href.replace(/\/+$/, '');
  const url = (path: string): string => `${prefix}${path}`;
  const where = base.origin;

  /** A network failure, an abort or a timeout, as BOARD_UNAVAILABLE. */
  const unavailable = (what: string, e: unknown, timedOut = false): TallyError => {
    if (isTallyError(e)) return e;
    const name = typeof e === 'object' && e !== null ? (e as { name?: unknown }).name : undefined;
    if (timedOut || name === 'TimeoutError') {
      return new TallyError('BOARD_UNAVAILABLE', `${what}: the ballot server at ${where} did not answer within ${timeoutMs} ms`, { cause: e });
    }
    const cause = typeof e === 'object' && e !== null ? (e as { cause?: { code?: unknown } }).cause?.code : undefined;
    const why = typeof cause === 'string' ? ` (${cause})` : '';
    return new TallyError('BOARD_UNAVAILABLE', `${what}: cannot reach the ballot server at ${where}${why}`, { cause: e });
  };

  /**
   * A non-2xx answer as a TallyError: a catalog error body keeps its code (4xx), except that
   * a refused service credential and any 5xx are the board being unavailable to us — they are
   * our configuration's or the ballot server's fault, not the caller's.
   */
  const fromResponse = async (what: string, res: Response): Promise<TallyError> => {
    let body: unknown;
    try {
      body = parseJsonBytes(await readCapped(res, MAX_ERROR_BYTES));
    } catch (e) {
      return unavailable(what, e);
    }
    const err = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
    const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
    const message = typeof err === 'object' && err !== null ? (err as { message?: unknown }).message : undefined;
    const known = typeof code === 'string' && Object.hasOwn(ERRORS, code) && typeof message === 'string';
    const details = { upstreamStatus: res.status, ...(known ? { upstreamCode: code } : {}) };
    if (!known) {
      const c: ErrorCode = res.status >= 500 ? 'BOARD_UNAVAILABLE' : 'BOARD_BAD_RESPONSE';
      return new TallyError(c, `${what}: the ballot server answered HTTP ${res.status} without a Tallyboard error body`, { details });
    }
    if (res.status >= 500) {
      return new TallyError('BOARD_UNAVAILABLE', `${what}: the ballot server failed (${res.status} ${code}): ${clean(message)}`, { details });
    }
    if (code === 'UNAUTHORIZED') {
      return new TallyError('BOARD_UNAVAILABLE', `${what}: the ballot server refused the service token (check the configuration): ${clean(message)}`, { details });
    }
    return new TallyError(code as ErrorCode, `${what}: the ballot server refused: ${clean(message)}`, { details });
  };

  /** GET a small JSON document (status, checkpoint, proof) with the request timeout. */
  const getJson = async (what: string, path: string): Promise<unknown> => {
    try {
      const res = await fetchFn(url(path), { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw await fromResponse(what, res);
      const body = parseJsonBytes(await readCapped(res, MAX_STATUS_BYTES));
      if (body === undefined) throw new TallyError('BOARD_BAD_RESPONSE', `${what}: the answer from ${where}${path.split('?')[0]} is not JSON`);
      return body;
    } catch (e) {
      throw unavailable(what, e);
    }
  };

  /** POST a JSON body; the service credential only on /internal routes. */
  const post = async (what: string, path: string, body: unknown, internal: boolean): Promise<void> => {
    if (internal && authorization === undefined) throw new TallyError('INTERNAL', `${what}: this board access has no service token (a public reader)`);
    try {
      const res = await fetchFn(url(path), {
        method: 'POST',
        headers: { ...(internal && authorization !== undefined ? { authorization } : {}), 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw await fromResponse(what, res);
      await res.body?.cancel().catch(() => undefined);
    } catch (e) {
      throw unavailable(what, e);
    }
  };

  async function cosignedAt(treeSize: number): Promise<{ checkpoint: Checkpoint; cosignatures: Cosignature[] }> {
    const body = await getJson('board checkpoint', `/api/board/checkpoint?size=${treeSize}`);
    let r;
    try {
      r = cosignedCheckpointFromJson(body);
    } catch (e) {
      throw new TallyError('BOARD_BAD_RESPONSE', `board checkpoint: not a checkpoint (${isTallyError(e) ? e.message : 'malformed'})`);
    }
    if (r.checkpoint.treeSize !== treeSize) throw new TallyError('BOARD_BAD_RESPONSE', `board checkpoint: asked for size ${treeSize}, got ${r.checkpoint.treeSize}`);
    return r;
  }

  return {
    async status(): Promise<BoardStatus> {
      const what = 'board status';
      let res: Response;
      let body: unknown;
      try {
        res = await fetchFn(url('/api/election'), { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) throw await fromResponse(what, res);
        body = parseJsonBytes(await readCapped(res, MAX_STATUS_BYTES));
      } catch (e) {
        throw unavailable(what, e);
      }
      const st = typeof body === 'object' && body !== null ? (body as { status?: unknown }).status : undefined;
      const phase = typeof st === 'object' && st !== null ? (st as { phase?: unknown }).phase : undefined;
      const size = typeof st === 'object' && st !== null ? (st as { boardSize?: unknown }).boardSize : undefined;
      if (typeof phase !== 'string' || !(BOARD_PHASES as readonly string[]).includes(phase) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw new TallyError('BOARD_BAD_RESPONSE', `${what}: expected JSON { status: { phase, boardSize, … } } from ${where}/api/election`);
      }
      return { phase: phase as BoardPhase, size };
    },

    async *records(): AsyncGenerator<BoardRecord, void, undefined> {
      const what = 'board export';
      const ctl = new AbortController();
      let timedOut = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          ctl.abort();
        }, timeoutMs);
      };
      arm();
      try {
        let res: Response;
        try {
          res = await fetchFn(url('/api/board/export'), { headers: { accept: 'application/x-ndjson' }, signal: ctl.signal });
          if (!res.ok) throw await fromResponse(what, res);
        } catch (e) {
          throw unavailable(what, e, timedOut);
        } finally {
          clearTimeout(timer);
        }
        const type = res.headers.get('content-type') ?? '';
        if (!/^application\/x-ndjson\s*(;|$)/i.test(type) || res.body === null) {
          await res.body?.cancel().catch(() => undefined);
          throw new TallyError('BOARD_BAD_RESPONSE', `${what}: expected application/x-ndjson, got ${JSON.stringify(clean(type))}`);
        }
        const reader = res.body.getReader();
        const chunks = async function* (): AsyncGenerator<Uint8Array, void, undefined> {
          try {
            for (;;) {
              let r: ReadableStreamReadResult<Uint8Array>;
              // The timer runs only while WE wait for the network: not while the consumer (the
              // audit, checking a chunk's ballots) works between two reads (issue 9.2).
              arm();
              try {
                r = await reader.read();
              } catch (e) {
                throw unavailable(what, e, timedOut);
              } finally {
                clearTimeout(timer);
              }
              if (r.done) return;
              yield r.value;
            }
          } finally {
            // Early exit (the auditor stops at the close on its second pass): release the connection.
            reader.cancel().catch(() => undefined);
          }
        };
        yield* boardRecords(chunks());
      } finally {
        clearTimeout(timer);
        ctl.abort();
      }
    },

    async checkpoint(): Promise<Checkpoint> {
      const body = await getJson('board checkpoint', '/api/board/checkpoint');
      try {
        return cosignedCheckpointFromJson(body).checkpoint;
      } catch (e) {
        throw new TallyError('BOARD_BAD_RESPONSE', `board checkpoint: not a checkpoint (${isTallyError(e) ? e.message : 'malformed'})`);
      }
    },

    async cosignatures(treeSize: number): Promise<Cosignature[]> {
      return (await cosignedAt(treeSize)).cosignatures;
    },

    cosignedCheckpoint: (treeSize: number) => cosignedAt(treeSize),

    async consistency(size1: number, size2: number): Promise<ConsistencyProof> {
      const body = await getJson('consistency proof', `/api/board/proof/consistency?size1=${size1}&size2=${size2}`);
      let proof: ConsistencyProof;
      try {
        proof = consistencyProofFromJson(body);
      } catch (e) {
        throw new TallyError('BOARD_BAD_RESPONSE', `consistency proof: malformed (${isTallyError(e) ? e.message : 'malformed'})`);
      }
      if (proof.size1 !== size1 || proof.size2 !== size2) {
        throw new TallyError('BOARD_BAD_RESPONSE', `consistency proof: asked for ${size1} → ${size2}, got ${proof.size1} → ${proof.size2}`);
      }
      return proof;
    },

    submitEncryptedTally: (payload: unknown) => post('encrypted tally submission', '/internal/encrypted-tally', payload, true),
    submitPartialDecryption: (payload: unknown) => post('partial decryption submission', '/api/partial-decryptions', payload, false),
    submitResult: (payload: unknown) => post('result submission', '/internal/result', payload, true),
  };
}
