/**
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
export function serverOptions(logger: LoggerSetting | undefined, bodyLimit: number, https?: TlsFiles): FastifyServerOptions {
  const base = { redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } };
  const log = logger === undefined || logger === false ? false : logger === true ? { ...base, level: 'info' } : { ...base, level: logger.level ?? 'info', ...(logger.stream ? { stream: logger.stream } : {}) };
  return {
    logger: log,
    bodyLimit,
    ...(https ? { https: { cert: https.cert, key: https.key } } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  };
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
