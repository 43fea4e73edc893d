/**
 * The small HTTP client the auditor's commands share (`verify --board URL`, `receipt check
 * --board URL`, `board export --server URL`): a ballot server's base URL, a GET with catalog
 * error mapping, and the board export as a byte stream with an idle timeout. Public routes only,
 * no credentials. Network failures are BOARD_UNAVAILABLE and answers outside the protocol
 * BOARD_BAD_RESPONSE, never verdicts on the board.
 */
import { ERRORS, TallyError, isTallyError, type ErrorCode } from '../src/errors.js';
import { printable } from '../auditor/report.js';
import { UsageError } from './_common.js';

/** Timeout of a request until its headers, and between two chunks of the export (ms). */
export const HTTP_TIMEOUT_MS = 30_000;
/** Largest error body read. */
const MAX_ERROR_BYTES = 64 * 1024;

/**
 * @param s - a `--board` or `--server` argument
 * @returns true when it names a server (http:// or https://) rather than a file
 */
export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/**
 * The base URL of a ballot server.
 * @param s - `http(s)://host[:port][/prefix]`, no credentials, query or fragment
 * @returns the URL without a trailing slash, to which API paths are appended
 * @throws TallyError OUT_OF_RANGE otherwise
 */
export function serverBase(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new TallyError('OUT_OF_RANGE', `not a URL: ${JSON.stringify(s.slice(0, 200))}`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
    throw new TallyError('OUT_OF_RANGE', 'expected an http(s) URL without credentials, query or fragment');
  }
  return u.href.replace(/\/+$/, '');
}

/**
 * GET a public route of a ballot server.
 * @param url - the full URL
 * @param what - what is fetched, for messages
 * @param signal - aborts the request (default: a timeout of HTTP_TIMEOUT_MS)
 * @returns the response, status 2xx, body unread
 * @throws TallyError BOARD_UNAVAILABLE (unreachable, timeout, 5xx), the catalog code of a 4xx
 *   error body, or BOARD_BAD_RESPONSE for a non-protocol answer
 */
export async function httpGet(url: string, what: string, signal: AbortSignal = AbortSignal.timeout(HTTP_TIMEOUT_MS)): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/json, application/x-ndjson' } });
  } catch (e) {
    throw unavailable(what, url, e);
  }
  if (res.ok) return res;
  let body: unknown;
  try {
    const text = await readText(res, MAX_ERROR_BYTES);
    body = text === undefined ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const err = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const known = typeof err?.code === 'string' && Object.hasOwn(ERRORS, err.code) && typeof err.message === 'string';
  const msg = known ? `${String(err.code)}: ${printable(String(err.message)).slice(0, 300)}` : `HTTP ${res.status}`;
  const code: ErrorCode = res.status >= 500 ? 'BOARD_UNAVAILABLE' : known ? (err.code as ErrorCode) : 'BOARD_BAD_RESPONSE';
  throw new TallyError(code, `${what}: the server at ${new URL(url).origin} answered ${msg}`, { details: { upstreamStatus: res.status } });
}

/**
 * A response body as UTF-8 text, read up to a cap (a hostile server cannot make us buffer more).
 * @param res - a response whose body is unread
 * @param max - the cap in bytes, ≥ 0
 * @returns the text, or undefined when the body is longer than `max`
 */
export async function readText(res: Response, max: number): Promise<string | undefined> {
  if (res.body === null) return '';
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
  return Buffer.concat(parts).toString('utf8');
}

/**
 * The board export of a ballot server (`GET {base}/api/board/export`) as a byte stream,
 * read as the consumer pulls it (no buffering beyond one chunk). Aborts if the server is silent
 * for HTTP_TIMEOUT_MS, before the headers or between two chunks; releases the connection when
 * the consumer stops early.
 *
 * @param base - a ballot server's base URL (see serverBase)
 * @returns an async iterable of chunks
 * @throws TallyError as httpGet, on the first pull
 */
export async function* boardDownload(base: string): AsyncGenerator<Uint8Array, void, undefined> {
  const url = `${serverBase(base)}/api/board/export`;
  const what = 'board export';
  const ctl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(new DOMException(`no data for ${HTTP_TIMEOUT_MS} ms`, 'TimeoutError')), HTTP_TIMEOUT_MS);
  };
  arm();
  try {
    const res = await httpGet(url, what, ctl.signal);
    if (res.body === null) throw new TallyError('BOARD_BAD_RESPONSE', `${what}: empty answer from ${url}`);
    const reader = res.body.getReader();
    try {
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          throw unavailable(what, url, e);
        }
        if (r.done) return;
        arm();
        yield r.value;
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
}

function unavailable(what: string, url: string, e: unknown): TallyError {
  if (isTallyError(e)) return e;
  const name = (e as { name?: unknown } | null)?.name;
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  const why = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${HTTP_TIMEOUT_MS} ms` : typeof cause === 'string' ? cause : e instanceof Error ? e.message : String(e);
  return new TallyError('BOARD_UNAVAILABLE', `${what}: cannot reach ${new URL(url).origin} (${why})`, { cause: e });
}

/**
 * A server URL given on the command line, checked for a person (issue #9.12): a URL without
 * `http://` is the usual slip, and gets a message that says what to write.
 * @param flag - the option's name, e.g. "--server"
 * @param s - what was typed
 * @returns the base URL without a trailing slash
 * @throws UsageError with the corrected form when the scheme is missing or the URL is malformed
 */
export function serverUrlOption(flag: string, s: string): string {
  const t = s.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    throw new UsageError(`${flag} ${JSON.stringify(t)}: a server is given by its full URL, with http:// or https://, e.g. ${flag} http://${t.replace(/^\/+/, '') || '127.0.0.1:8080'}`);
  }
  try {
    return serverBase(t);
  } catch (e) {
    throw new UsageError(`${flag} ${JSON.stringify(t)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
