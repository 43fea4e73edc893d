/**
 * JSON schemas of the organization server's routes (request bodies, headers and responses).
 *
 * Schema-first: fastify validates every request against these before route code runs, and
 * serializes every response through them, so a field not listed here (a password hash, say)
 * can never reach a client even if a handler returned it by mistake. Every string is bounded
 * and every object closed (`additionalProperties: false`). The same schemas feed the OpenAPI
 * document at GET /api/org/openapi.json.
 *
 * The token route's schema depends on the election (the blinded message is exactly 2·k hex
 * digits for a k-byte modulus), so it is built by a function.
 */
import { VOTER_LIMITS } from './voter.js';
import { PASSWORD_LIMITS } from './password.js';
import { ERROR_RESPONSES } from '../http/error-handler.js';

const loginProp = {
  type: 'string',
  minLength: 1,
  maxLength: VOTER_LIMITS.loginMaxLength,
  pattern: '^[A-Za-z0-9._@-]+$',
  description: 'the voter login (case-sensitive)',
} as const;

/** Authorization header of the authenticated routes; checked by the route (401 if absent). */
export const AUTH_HEADERS_SCHEMA = {
  type: 'object',
  properties: {
    authorization: { type: 'string', maxLength: 200, description: 'Bearer <session>' },
  },
} as const;

/** POST /api/org/login */
export const LOGIN_SCHEMA = {
  summary: 'Log in with login and password; returns a session bearer token',
  tags: ['org'],
  body: {
    type: 'object',
    required: ['login', 'password'],
    additionalProperties: false,
    properties: {
      login: loginProp,
      // 4× the code-point limit in UTF-16 units; the exact limit is applied after NFC.
      password: { type: 'string', minLength: 1, maxLength: 4 * PASSWORD_LIMITS.maxLength },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['session', 'expiresAt'],
      additionalProperties: false,
      properties: {
        session: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'bearer token, 256 bits' },
        expiresAt: { type: 'integer', minimum: 0, description: 'ms since the Unix epoch' },
      },
    },
    ...ERROR_RESPONSES,
  },
} as const;

/**
 * POST /api/org/token
 * @param k - modulus length of the token issuer key in bytes (256–512)
 */
export function tokenSchema(k: number) {
  const hex = { type: 'string', minLength: 2 * k, maxLength: 2 * k, pattern: '^[0-9a-f]*$' } as const;
  return {
    summary: "Blind-sign the voter's token (once per voter and election)",
    tags: ['org'],
    security: [{ session: [] }],
    headers: AUTH_HEADERS_SCHEMA,
    body: {
      type: 'object',
      required: ['blindedMsg'],
      additionalProperties: false,
      properties: { blindedMsg: { ...hex, description: `RFC 9474 blinded message, ${k} bytes as lowercase hex` } },
    },
    response: {
      200: {
        type: 'object',
        required: ['blindSig'],
        additionalProperties: false,
        properties: { blindSig: { ...hex, description: `RFC 9474 blind signature, ${k} bytes as lowercase hex` } },
      },
      ...ERROR_RESPONSES,
    },
  } as const;
}

/** GET /api/org/me */
export const ME_SCHEMA = {
  summary: "The logged-in voter's details and token status",
  tags: ['org'],
  security: [{ session: [] }],
  headers: AUTH_HEADERS_SCHEMA,
  response: {
    200: {
      type: 'object',
      required: ['login', 'firstName', 'lastName', 'email', 'electionId', 'tokenIssued', 'issuance'],
      additionalProperties: false,
      properties: {
        login: loginProp,
        firstName: { type: 'string', maxLength: 2 * VOTER_LIMITS.nameMaxLength },
        lastName: { type: 'string', maxLength: 2 * VOTER_LIMITS.nameMaxLength },
        email: { type: 'string', maxLength: VOTER_LIMITS.emailMaxLength },
        electionId: { type: 'string', maxLength: 64 },
        tokenIssued: { type: 'boolean' },
        issuance: { type: 'string', enum: ['none', 'pending', 'issued'] },
      },
    },
    ...ERROR_RESPONSES,
  },
} as const;

/** GET /api/org/health */
export const HEALTH_SCHEMA = {
  summary: 'Liveness check',
  tags: ['org'],
  response: {
    200: {
      type: 'object',
      required: ['status'],
      additionalProperties: false,
      properties: { status: { type: 'string', enum: ['ok'] } },
    },
    ...ERROR_RESPONSES,
  },
} as const;

/** GET /api/org/openapi.json (hidden from the document it serves). */
export const OPENAPI_SCHEMA = {
  hide: true,
  response: {
    200: { type: 'object', additionalProperties: true },
    ...ERROR_RESPONSES,
  },
} as const;

const HASH_HEX = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

/** GET /api/org/register/proof/:ref — a reference's membership proof in the committed register (spec §7.5). */
export const REGISTER_PROOF_SCHEMA = {
  summary: 'The membership proof of a register reference in the committed register',
  params: { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: HASH_HEX } },
  response: {
    200: {
      type: 'object',
      required: ['ref', 'voters', 'root', 'index', 'path'],
      additionalProperties: false,
      properties: {
        ref: HASH_HEX,
        voters: { type: 'integer', minimum: 1 },
        root: HASH_HEX,
        index: { type: 'integer', minimum: 0 },
        path: { type: 'array', maxItems: 53, items: HASH_HEX },
      },
    },
    ...ERROR_RESPONSES,
  },
} as const;
