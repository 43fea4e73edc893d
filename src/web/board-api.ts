/**
 * The public, read-only routes of the ballot server as the web pages use them
 * (spec/12-servers.md §12.2): the election and its status, board entries, checkpoints, proofs
 * and the published results.
 *
 * Why a separate client from VoterClient: the pages read the board, they do not vote, and the
 * checks built on these reads (receipt-check.ts, results-check.ts) take a `BoardApi` so that
 * tests run them against an in-process server and the pages against their own origin. Every
 * answer is returned as untrusted JSON (`unknown` or a loose shape): the callers parse it with
 * the project's validating parsers before believing any of it. Browser-safe: `fetch` only.
 */
import { ERRORS, TallyError, type ErrorCode } from '../errors.js';
import type { ElectionStatus } from '../client/voter-client.js';

/** Largest page of entries the server returns (spec §12.2). */
export const ENTRIES_PAGE_MAX = 100;

/** An entry as listed by GET /api/board/entries: the entry's JSON form and its hash. */
export interface ListedEntry {
  readonly height: number;
  readonly parent: string;
  readonly type: string;
  readonly timestamp: number;
  readonly payload: unknown;
  readonly hash: string;
}

/** Options of a BoardApi. */
export interface BoardApiOptions {
  /** base URL of the ballot server; '' for the page's own origin */
  readonly base?: string;
  readonly fetch?: typeof fetch;
  /** per-request timeout in ms (default 30 s) */
  readonly timeoutMs?: number;
}

export class BoardApi {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(opts: BoardApiOptions = {}) {
    this.base = (opts.base ?? '').replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /**
   * GET a JSON document.
   * @param path - absolute path on the server, with its query
   * @throws TallyError BOARD_UNAVAILABLE if the server cannot be reached; the server's own
   *   error code (e.g. NOT_FOUND) for an error answer; BOARD_BAD_RESPONSE for a non-JSON answer
   */
  async get(path: string): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}${path}`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (cause) {
      throw new TallyError('BOARD_UNAVAILABLE', `cannot reach the ballot server: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    const body = (await res.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown } } | undefined;
    if (!res.ok) {
      const code = body?.error?.code;
      const known = typeof code === 'string' && Object.hasOwn(ERRORS, code);
      throw new TallyError(known ? (code as ErrorCode) : 'BOARD_BAD_RESPONSE', typeof body?.error?.message === 'string' ? body.error.message : `HTTP ${res.status} from ${path}`);
    }
    if (body === undefined) throw new TallyError('BOARD_BAD_RESPONSE', `${path}: the answer is not JSON`);
    return body;
  }

  /** GET /api/election: the manifest (unparsed), the fingerprint it is claimed to have, the status. */
  async election(): Promise<{ manifest: unknown; fingerprint: unknown; status: ElectionStatus }> {
    const r = (await this.get('/api/election')) as { manifest?: unknown; fingerprint?: unknown; status?: ElectionStatus };
    if (typeof r.status !== 'object' || r.status === null) throw new TallyError('BOARD_BAD_RESPONSE', '/api/election: no status');
    return { manifest: r.manifest, fingerprint: r.fingerprint, status: r.status };
  }

  /**
   * GET /api/board/entries.
   * @param from - first height, ≥ 0
   * @param limit - 1 ≤ limit ≤ 100
   */
  async entries(from: number, limit: number): Promise<{ size: number; from: number; entries: ListedEntry[] }> {
    const r = (await this.get(`/api/board/entries?from=${from}&limit=${Math.min(limit, ENTRIES_PAGE_MAX)}`)) as { size?: unknown; from?: unknown; entries?: unknown };
    if (typeof r.size !== 'number' || !Array.isArray(r.entries)) throw new TallyError('BOARD_BAD_RESPONSE', '/api/board/entries: not a page of entries');
    return { size: r.size, from: typeof r.from === 'number' ? r.from : from, entries: r.entries as ListedEntry[] };
  }

  /** GET /api/board/checkpoint: the latest signed checkpoint (unparsed). */
  checkpoint(): Promise<unknown> {
    return this.get('/api/board/checkpoint');
  }

  /** GET /api/board/proof/consistency (unparsed). 1 ≤ size1 ≤ size2. */
  consistency(size1: number, size2: number): Promise<unknown> {
    return this.get(`/api/board/proof/consistency?size1=${size1}&size2=${size2}`);
  }

  /** GET /api/board/proof/inclusion (unparsed). 0 ≤ height < size. */
  inclusion(height: number, size: number): Promise<unknown> {
    return this.get(`/api/board/proof/inclusion?height=${height}&size=${size}`);
  }

  /** GET /api/results (unparsed); TallyError NOT_FOUND before the tally is published. */
  results(): Promise<unknown> {
    return this.get('/api/results');
  }
}
