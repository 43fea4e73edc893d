/**
 * Shared HTTP plumbing (src/http: below the server roles, above nothing but the core).
 * What every Tallyboard server shares: fastify options (strict validation, log redaction),
 * the OpenAPI document, and constant-time bearer-token guards for service and admin routes.
 *
 * One place so that the three servers cannot drift apart on security-relevant defaults:
 * AJV never coerces or strips (bad input is refused, never "fixed"), Authorization headers are
 * never logged, and credentials are compared in constant time.
 */
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { sha256 } from '@noble/hashes/sha2.js';
import { TallyError } from '../errors.js';
import { bytesEqual } from '../crypto/hash.js';
import { clientErrorHandler, frameworkErrors } from './error-handler.js';

/** Paths pino redacts wherever they appear in a logged object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'session',
  '*.session',
] as const;

/** Logger setting of a server: false (silent), true (info), or pino options. */
export type LoggerSetting = boolean | { level?: string; stream?: NodeJS.WritableStream };

/** TLS material: PEM certificate (chain) and private key. */
export interface TlsFiles {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/**
 * fastify options shared by the servers.
 * @param logger - false, true or { level, stream }
 * @param bodyLimit - largest request body in bytes
 * @param https - serve TLS with this certificate and key (default: plain HTTP, for loopback)
 */
export function serverOptions(logger: LoggerSetting | undefined, bodyLimit: number, https?: TlsFiles, trustProxy?: TrustProxy): FastifyServerOptions {
  const base = { redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } };
  const log = logger === undefined || logger === false ? false : logger === true ? { ...base, level: 'info' } : { ...base, level: logger.level ?? 'info', ...(logger.stream ? { stream: logger.stream } : {}) };
  return {
    logger: log,
    bodyLimit,
    ...(https ? { https: { cert: https.cert, key: https.key } } : {}),
    ...hardenedOptions(trustProxy),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  };
}

/**
 * Proxies whose `X-Forwarded-For` is believed: an explicit list of addresses or CIDR ranges
 * (issue 16.6). Never `true`: a server that trusts every peer lets any client pick its address.
 */
export type TrustProxy = readonly string[];

/**
 * fastify options every server shares beyond logging and limits: refusals before routing and
 * by the HTTP parser in the catalog's error form, and the trusted proxies.
 * @param trustProxy - trusted proxy addresses (default: none; the peer is the client)
 */
export function hardenedOptions(trustProxy?: TrustProxy): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler' | 'trustProxy'> {
  return {
    frameworkErrors,
    clientErrorHandler,
    trustProxy: trustProxy && trustProxy.length > 0 ? [...trustProxy] : false,
  };
}

/** Network timeouts of a server (issue 16.9). Each measures the client's network only. */
export interface ServerTimeouts {
  /** receiving the request line and headers, ms (default 30 s) */
  readonly headersMs?: number;
  /** receiving the whole request, body included, ms (default 60 s) */
  readonly requestMs?: number;
  /** an idle keep-alive connection, ms (default 72 s, above common proxies' 60 s) */
  readonly idleMs?: number;
}

/** Defaults of {@link ServerTimeouts}. */
export const SERVER_TIMEOUTS = { headersMs: 30_000, requestMs: 60_000, idleMs: 72_000 } as const;

/**
 * Set the HTTP server's header, request and idle timeouts. None of them runs while the server
 * works on a request (a tally or a ballot check may take as long as it takes): they bound only
 * how long a client may take to SEND its request, and how long an idle connection is kept.
 * A client that sends one fragment of a declared body and stops gets 408 and is disconnected.
 * @param app - a fastify instance (its server is configured in place; call before listen)
 * @param t - the timeouts (defaults: SERVER_TIMEOUTS)
 */
export function applyServerTimeouts(app: FastifyInstance, t: ServerTimeouts = {}): void {
  const requestMs = t.requestMs ?? SERVER_TIMEOUTS.requestMs;
  const headersMs = Math.min(t.headersMs ?? SERVER_TIMEOUTS.headersMs, requestMs);
  for (const [name, v] of [['requestMs', requestMs], ['headersMs', headersMs], ['idleMs', t.idleMs ?? SERVER_TIMEOUTS.idleMs]] as const) {
    if (!Number.isSafeInteger(v) || v < 50 || v > 3_600_000) throw new RangeError(`timeouts.${name}: expected an integer in [50, 3600000] ms, got ${String(v)}`);
  }
  const server = app.server as import('node:http').Server;
  server.requestTimeout = requestMs;
  server.headersTimeout = headersMs;
  server.keepAliveTimeout = t.idleMs ?? SERVER_TIMEOUTS.idleMs;
  // Node checks the two request timeouts on this interval (default 30 s): a fraction of them.
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.max(25, Math.min(1000, Math.floor(headersMs / 4)));
}

/** Register @fastify/swagger so that `app.swagger()` returns the OpenAPI 3 document. */
export function registerOpenApi(app: FastifyInstance, title: string, description: string): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title, version: '1', description },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
}

const BEARER_RE = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * An `onRequest` hook that admits only requests bearing `secret`. The comparison hashes both
 * sides and compares the digests in constant time, so neither length nor content leaks.
 * @param secret - the expected credential, at least 16 characters
 * @param what - 'admin' or 'service', for the error message
 */
export function bearerGuard(secret: string, what: string): (req: FastifyRequest) => Promise<void> {
  if (secret.length < 16) throw new RangeError(`${what} credential: at least 16 characters`);
  const expected = sha256(new TextEncoder().encode(secret));
  return async (req) => {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? BEARER_RE.exec(h) : null;
    const given = sha256(new TextEncoder().encode(m ? m[1]! : ''));
    if (!m || !bytesEqual(given, expected)) throw new TallyError('UNAUTHORIZED', `${what} credential required`);
  };
}

/** JSON schema of a lowercase hex string of exactly `bytes` bytes. */
export function hexSchema(bytes: number, description?: string) {
  return { type: 'string', minLength: 2 * bytes, maxLength: 2 * bytes, pattern: '^[0-9a-f]*$', ...(description ? { description } : {}) } as const;
}
