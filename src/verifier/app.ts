/**
 * The verification server's HTTP surface (issue #4): health, the published results with their
 * decryption proofs, an admin route to run the tally now, and the OpenAPI document.
 *
 * Built by `buildVerifierApp(opts)`, which returns the fastify instance without listening; the
 * tally itself (and its poller) is the TallyService, created and started by the entry point.
 * This file only wires the service to HTTP, with the conventions every Tallyboard server
 * shares (src/http/common.ts, src/http/error-handler.ts): strict schemas on every request
 * AND response (a response schema lists every field, so nothing else — let alone key material —
 * can be serialized), the shared error body, constant-time bearer comparison for the admin
 * route, and pino redaction of the Authorization header.
 *
 * The secret key is held by the service in a #private field; no route reads it, and the only
 * values derived from it that leave this server are the published openings (T, R) of the
 * tally, which spec §8.2 makes public.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Election } from '../election/manifest.js';
import { TallyError } from '../errors.js';
import { resultsViewSchema } from '../http/results-schema.js';
import { applyServerTimeouts, bearerGuard, registerOpenApi, serverOptions, type LoggerSetting, type ServerTimeouts, type TlsFiles, type TrustProxy } from '../http/common.js';
import { ERROR_RESPONSES, registerErrorHandling } from '../http/error-handler.js';
import { BOARD_PHASES } from './board-access.js';
import type { TallyService } from './tally-service.js';

/** Options of buildVerifierApp. */
export interface VerifierAppOptions {
  /** the tally service (the entry point starts it) */
  readonly service: TallyService;
  /** SECRET: the bearer credential of POST /admin/tally, at least 16 characters */
  readonly adminToken: string;
  /** false (default), true, or { level, stream } */
  readonly logger?: LoggerSetting;
  /** serve TLS */
  readonly https?: TlsFiles;
  /** reverse proxies whose X-Forwarded-For is believed (default: none) */
  readonly trustProxy?: TrustProxy;
  /** network timeouts (default SERVER_TIMEOUTS) */
  readonly timeouts?: ServerTimeouts;
}

/** No route takes a body larger than this (the admin route takes none). */
export const VERIFIER_BODY_LIMIT = 1024;

const TALLY_STATES = ['pending', 'tallying', 'tallied', 'refused', 'failed'] as const;
const count = { type: 'integer', minimum: 0 } as const;
const text = (max: number) => ({ type: 'string', maxLength: max }) as const;

/** GET /api/verifier/health */
export const HEALTH_SCHEMA = {
  summary: 'Liveness, the election phase last seen on the board and the tally state',
  tags: ['verifier'],
  response: {
    200: {
      type: 'object',
      required: ['status', 'tally'],
      additionalProperties: false,
      properties: {
        status: { type: 'string', enum: ['ok'] },
        phase: { type: 'string', enum: [...BOARD_PHASES], description: 'absent until the board was read once' },
        tally: { type: 'string', enum: [...TALLY_STATES] },
      },
    },
    ...ERROR_RESPONSES,
  },
} as const;

/**
 * GET /api/verifier/results: lengths follow the election's key (spec §8.4).
 * @param election - the election served
 */
export function resultsSchema(election: Election) {
  return {
    summary: 'The published results: counts per option and the decryption proof (c, T, R) of each question',
    tags: ['verifier'],
    response: {
      200: resultsViewSchema(election),
      ...ERROR_RESPONSES,
    },
  } as const;
}

/** POST /admin/tally */
export const ADMIN_TALLY_SCHEMA = {
  summary: 'Run the tally now (it also runs by itself after the end time); returns the outcome',
  tags: ['admin'],
  security: [{ bearer: [] }],
  headers: {
    type: 'object',
    properties: { authorization: { type: 'string', maxLength: 600, description: 'Bearer <admin token>' } },
  },
  response: {
    200: {
      type: 'object',
      required: ['outcome'],
      additionalProperties: false,
      properties: {
        outcome: { type: 'string', enum: ['tallied', 'already-tallied', 'not-closed', 'awaiting-witnesses', 'awaiting-trustees', 'refused'] },
        treeSize: { ...count, description: "outcome 'awaiting-witnesses': the close checkpoint's size" },
        cosigned: { type: 'array', maxItems: 16, items: text(128), description: "outcome 'awaiting-witnesses': witnesses whose cosignature it carries" },
        witnesses: { type: 'array', maxItems: 16, items: text(128), description: "outcome 'awaiting-witnesses': witnesses whose cosignature is missing" },
        quorum: { ...count, description: "outcome 'awaiting-witnesses': cosignatures required" },
        ballotsCounted: { ...count, description: "outcome 'tallied'" },
        have: { ...count, description: "outcome 'awaiting-trustees': valid partial decryptions on the board" },
        need: { ...count, description: "outcome 'awaiting-trustees': the threshold k" },
        phase: { type: 'string', enum: ['scheduled', 'open'], description: "outcome 'not-closed'" },
        failures: {
          type: 'array',
          maxItems: 100,
          description: "outcome 'refused': why the board was refused (nothing was decrypted)",
          items: {
            type: 'object',
            required: ['check', 'reason'],
            additionalProperties: false,
            properties: { step: count, title: text(200), check: text(64), height: count, reason: text(4000) },
          },
        },
      },
    },
    ...ERROR_RESPONSES,
  },
} as const;

/** GET /api/verifier/openapi.json (hidden from the document it serves). */
export const OPENAPI_SCHEMA = {
  hide: true,
  response: { 200: { type: 'object', additionalProperties: true }, ...ERROR_RESPONSES },
} as const;

/**
 * Build the verification server.
 * @param opts - see VerifierAppOptions
 * @returns the fastify instance, not listening; closing it stops the service's poller
 * @throws RangeError if adminToken is shorter than 16 characters
 */
export function buildVerifierApp(opts: VerifierAppOptions): FastifyInstance {
  const { service } = opts;
  const requireAdmin = bearerGuard(opts.adminToken, 'admin');
  const app: FastifyInstance = Fastify(serverOptions(opts.logger, VERIFIER_BODY_LIMIT, opts.https, opts.trustProxy));
  applyServerTimeouts(app, opts.timeouts);
  registerErrorHandling(app);
  registerOpenApi(app, 'Tallyboard verification server', 'Holds the Paillier key; re-verifies the board and publishes the tally with its proof (spec/08-tally.md)');
  app.addHook('onClose', async () => {
    await service.stop();
  });

  app.register(async (api) => {
    api.get('/api/verifier/health', { schema: HEALTH_SCHEMA }, async () => {
      const phase = service.phase;
      return { status: 'ok' as const, ...(phase !== undefined ? { phase } : {}), tally: service.state };
    });

    api.get('/api/verifier/results', { schema: resultsSchema(service.election) }, async () => {
      const results = service.results;
      if (results === undefined) throw new TallyError('NOT_FOUND', 'no results yet: the election has not been tallied');
      return results;
    });

    // The guard runs in onRequest, before any body is read.
    api.post('/admin/tally', { schema: ADMIN_TALLY_SCHEMA, onRequest: requireAdmin }, async (req) => {
      const outcome = await service.tallyOnce();
      req.log.info({ outcome: outcome.outcome }, 'tally requested by an administrator');
      return outcome;
    });

    api.get('/api/verifier/openapi.json', { schema: OPENAPI_SCHEMA }, async () => app.swagger());
  });

  return app;
}
