/**
 * The HTTP client of the admin commands (`tallyboard close`, `tallyboard tally`): the admin
 * credential, one request, and the server's error body turned back into a catalog error.
 *
 * Why node:http rather than fetch: Node's fetch gives up waiting for response headers after
 * 300 s, and POST /admin/tally answers only once the verification server has re-verified every
 * ballot and decrypted — minutes for a large election. The request here waits as long as the
 * caller says. TLS uses Node's trust store (NODE_EXTRA_CA_CERTS for a private CA).
 */
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ERRORS, TallyError, type ErrorCode } from '../src/errors.js';
import { dataPaths, ENV } from '../src/node/data-dir.js';

/** Largest response body read (results of 32 questions × 64 options with proofs fit easily). */
const MAX_RESPONSE_BYTES = 8 << 20;

/**
 * The admin credential: from `file` if given, else the environment variable, else the data
 * directory's DIR/credentials/admin.token when `dataDir` is given.
 * @throws TallyError NOT_FOUND if none is available
 */
export function adminToken(file: string | undefined, dataDir?: string): string {
  let t: string | undefined;
  if (file !== undefined) t = readFileSync(file, 'utf8').trim();
  else if (process.env[ENV.adminToken]) t = process.env[ENV.adminToken]!.trim();
  else if (dataDir !== undefined && existsSync(dataPaths(dataDir).adminToken)) t = readFileSync(dataPaths(dataDir).adminToken, 'utf8').trim();
  if (!t) throw new TallyError('NOT_FOUND', `admin credential: give --admin-token-file F or --data DIR (DIR/credentials/admin.token), or set ${ENV.adminToken}`);
  return t;
}

/** `path` under the server's base URL (a path prefix of the base, as behind a proxy, is kept). */
export function endpoint(server: string, path: string): URL {
  let base: URL;
  try {
    base = new URL(server.endsWith('/') ? server : `${server}/`);
  } catch {
    throw new TallyError('MALFORMED', `--server: ${JSON.stringify(server)} is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TallyError('MALFORMED', '--server: expected an http or https URL');
  return new URL(path.replace(/^\//, ''), base);
}

/**
 * One request; the JSON body of a 2xx answer.
 * @param opts.token - bearer credential, if any
 * @param opts.timeoutMs - give up after this long without progress
 * @throws TallyError with the server's code for an error answer (its message kept); Error if
 *   the server cannot be reached or does not answer JSON
 */
export async function requestJson(method: 'GET' | 'POST', url: URL, opts: { token?: string; timeoutMs: number }): Promise<unknown> {
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    // A POST carries an empty JSON object: the admin routes take no body, and the one-origin
    // forwarding of `serve --role all` refuses a bodiless POST (415) as of this writing.
    if (method === 'POST') headers['content-type'] = 'application/json';
    const req = send(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`no answer within ${Math.round(opts.timeoutMs / 1000)} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(`cannot reach ${url.origin}: ${e.code ?? e.message}`)));
    req.end(method === 'POST' ? '{}' : undefined);
  });
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error(`${url.href} answered HTTP ${status} with something that is not JSON`);
  }
  if (status >= 200 && status < 300) return json;
  const err = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const code = typeof err?.code === 'string' && err.code in ERRORS ? (err.code as ErrorCode) : 'INTERNAL';
  const message = typeof err?.message === 'string' ? err.message : `HTTP ${status}`;
  throw new TallyError(code, `${url.origin}: ${message}`, typeof err?.details === 'object' && err.details !== null ? { details: err.details as Record<string, unknown> } : {});
}
