/**
 * The one place where errors become HTTP responses, shared by every Tallyboard server.
 *
 * Why one handler: the catalog in src/errors.ts fixes each code's HTTP status once; routes
 * only throw. The handler then guarantees the properties a client and an auditor rely on:
 *
 *   - a TallyError becomes its catalog status and `{ error: { code, message, details? } }`;
 *   - a request fastify refuses before any route code runs (schema validation, a malformed or
 *     oversized body, an unsupported content type) is the client's fault and says so:
 *     400 MALFORMED with fastify's validation message, or 413 TOO_LARGE;
 *   - anything else is 500 INTERNAL with a generic message. The error itself (stack, cause)
 *     goes to the server log only; a client never sees a stack trace.
 *
 * `details.retryAfterMs`, when present, also becomes a `Retry-After` header (seconds).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, TallyError, isTallyError, type ErrorCode } from '../errors.js';

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
}

/** `$id` of the shared error-response schema (added by `registerErrorHandling`). */
export const ERROR_SCHEMA_ID = 'TallyErrorResponse';

/** JSON schema of ErrorBody; routes refer to it as `{ $ref: 'TallyErrorResponse#' }`. */
export const ERROR_RESPONSE_SCHEMA = {
  $id: ERROR_SCHEMA_ID,
  type: 'object',
  description: 'An error: a stable catalog code (spec/12-servers.md), a message, optional public details.',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', enum: Object.keys(ERRORS) },
        message: { type: 'string', maxLength: 2000 },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

/** `{ $ref }` to the shared error schema, for the 4xx/5xx entries of route response schemas. */
export const errorResponseRef = { $ref: `${ERROR_SCHEMA_ID}#` } as const;

/** Response entries every route carries for its errors. */
export const ERROR_RESPONSES = { '4xx': errorResponseRef, '5xx': errorResponseRef } as const;

/** Longest message passed through from fastify's own validation errors. */
const MAX_MESSAGE = 1000;

/** The mapping, separated from fastify for unit tests: error in, status and body out. */
export interface MappedError {
  readonly status: number;
  readonly body: ErrorBody;
  /** true for server faults, which are logged with the full error */
  readonly serverFault: boolean;
}

function fastifyClientError(err: unknown): { status: number; message: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as Partial<FastifyError> & { validation?: unknown };
  if (Array.isArray(e.validation)) return { status: 400, message: String(e.message) };
  const status = e.statusCode;
  const fromFastify = (typeof e.code === 'string' && e.code.startsWith('FST_')) || err instanceof SyntaxError;
  if (fromFastify && typeof status === 'number' && status >= 400 && status < 500) {
    return { status, message: String(e.message) };
  }
  return undefined;
}

/**
 * Map any thrown value to a response.
 * @param err - what a route, hook or fastify threw
 * @returns status, body and whether it is a server fault
 */
export function mapError(err: unknown): MappedError {
  if (isTallyError(err)) {
    const body: ErrorBody = {
      error: err.details === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, details: err.details },
    };
    return { status: err.status, body, serverFault: err.status >= 500 };
  }
  const client = fastifyClientError(err);
  if (client !== undefined) {
    const code: ErrorCode = client.status === 413 ? 'TOO_LARGE' : 'MALFORMED';
    const message = client.message.length > MAX_MESSAGE ? `${client.message.slice(0, MAX_MESSAGE)}…` : client.message;
    return { status: ERRORS[code].status, body: { error: { code, message } }, serverFault: false };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } }, serverFault: true };
}

/** Error codes of a connection the client closed or reset (not a server fault). */
const DISCONNECT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'FST_ERR_CTP_BODY_TOO_LARGE_ABORTED']);

/**
 * True if `err` is the client going away (it closed or reset the connection mid-request):
 * logged at info, never as a server error with a stack (issue 16.10).
 */
export function isClientDisconnect(err: unknown, request?: FastifyRequest): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && DISCONNECT_CODES.has(code)) return true;
  const msg = err instanceof Error ? err.message : '';
  if (/^(request )?aborted$/i.test(msg) || msg === 'Premature close') return true;
  return request !== undefined && request.raw.destroyed && !request.raw.complete;
}

/** Send the mapped error (used by the error and not-found handlers). */
function send(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  if (isClientDisconnect(err, request)) {
    request.log.info({ code: (err as { code?: unknown }).code }, 'the client closed the connection before the request completed');
    return reply.code(400).type('application/json; charset=utf-8').send({ error: { code: 'MALFORMED', message: 'the client closed the connection' } });
  }
  const mapped = mapError(err);
  if (mapped.serverFault) request.log.error({ err }, 'request failed');
  else request.log.info({ code: mapped.body.error.code }, mapped.body.error.message);
  const retry = mapped.body.error.details?.retryAfterMs;
  if (typeof retry === 'number' && Number.isFinite(retry) && retry >= 0) reply.header('retry-after', String(Math.ceil(retry / 1000)));
  if (mapped.status === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer');
  return reply.code(mapped.status).type('application/json; charset=utf-8').send(mapped.body);
}

/**
 * Install the shared error schema, the error handler and a not-found handler on `app`.
 * Call once, on the root instance, before routes are registered.
 * @param app - a fastify instance
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.addSchema(ERROR_RESPONSE_SCHEMA);
  // A response that cannot be written because the client left is not a server error either.
  app.addHook('onRequestAbort', async (request) => {
    request.log.info('the client closed the connection before the response');
  });
  app.setErrorHandler((err: unknown, request, reply) => send(request, reply, err));
  app.setNotFoundHandler((request, reply) => send(request, reply, new TallyError('NOT_FOUND', `no route ${request.method} ${request.url.slice(0, 200)}`)));
}

/**
 * Answers for what fastify refuses before routing (a URL parameter too long: 414; a URL that
 * does not decode: 400), in the catalog's form (issue 16.12). Pass as `frameworkErrors`.
 */
export function frameworkErrors(error: unknown, _request: FastifyRequest, reply: FastifyReply): void {
  const code = (error as { code?: unknown }).code;
  const e =
    code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new TallyError('URI_TOO_LONG', 'a parameter of the request URI is too long')
      : new TallyError('MALFORMED', code === 'FST_ERR_BAD_URL' ? 'the request URI does not decode' : 'the request was refused before routing');
  void reply.code(e.status).type('application/json; charset=utf-8').send({ error: { code: e.code, message: e.message } });
}

/**
 * Answers for what Node's HTTP parser refuses (headers too large: 431; a request not received
 * in time: 408; anything unparsable: 400), in the catalog's form, written on the raw socket
 * (issue 16.12). Pass as `clientErrorHandler`.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new TallyError('HEADERS_TOO_LARGE', 'the request headers are too large')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new TallyError('REQUEST_TIMEOUT', 'the request was not received in time')
        : new TallyError('MALFORMED', 'the request is not valid HTTP');
  this.log.info({ code: e.code }, e.message);
  if (socket.writable) {
    const body = JSON.stringify({ error: { code: e.code, message: e.message } });
    const reason = e.status === 431 ? 'Request Header Fields Too Large' : e.status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.write(`HTTP/1.1 ${e.status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
