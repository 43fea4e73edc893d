/**
 * The organization server (issue #4): voters log in against the register and receive their
 * one blindly-signed eligibility token per election.
 *
 * Built by `buildOrgApp(opts)`, which returns the fastify instance without listening; a
 * separate entry point calls `listen`, and tests use `app.inject()`. The pieces live in their
 * own files: the register (register-store.ts and its implementations), passwords
 * (password.ts), sessions (sessions.ts), the issuance protocol and its crash story
 * (issuance.ts), the route schemas (schemas.ts) and the shared error mapping
 * (src/http/error-handler.ts). This file only wires them to HTTP.
 *
 * Login hardening (spec §11, §12.1):
 *   - an unknown login and a wrong password give the same status, body and (about) the same
 *     time: an unknown login is verified against a dummy scrypt hash with the same parameters;
 *   - FAILED logins are limited per (login, client address) and per client address, with
 *     @fastify/rate-limit's manual limiters: each attempt first peeks at both counters
 *     (`increment: false`) and only a failure consumes. There is NO limit per login alone: a
 *     limit anybody can exhaust for somebody else's login is a lockout anybody can impose
 *     (issue 10.6). So a correct password from an address that is not throttled is never
 *     refused, whatever wrong passwords were tried for that login elsewhere. Both 429 answers
 *     are the same body whichever limit applied;
 *   - attempts IN FLIGHT count against the budget (issue 16.5): an attempt is refused when its
 *     address (or its (login, address) pair) already has as many attempts running as it has
 *     failures left, so 40 simultaneous guesses from one address do not all run;
 *   - hashing is bounded: at most `loginConcurrency` scrypt computations run at once (each
 *     holds 32 MiB at the default cost), at most `loginQueue` more wait, and beyond that the
 *     attempt is refused at once with 503 SERVER_BUSY and Retry-After. Memory is therefore
 *     bounded whatever the number of simultaneous logins. Hashing runs on the thread pool
 *     (native scrypt), so the event loop keeps serving other voters meanwhile;
 *   - behind a reverse proxy, `trustProxy` (an explicit list of proxy addresses) makes the
 *     client address the one the proxy reports, so voters behind one proxy are not one address.
 *   The limiter uses the wall clock (not `opts.now`) and process memory: limits reset on
 *   restart.
 *
 * Logging: pino redacts the Authorization header, cookies, passwords, password hashes and
 * session tokens wherever they appear in a logged object. Bodies are not logged at all.
 */
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { TallyError } from '../errors.js';
import type { BlindRsaSecretKey } from '../crypto/blind-rsa.js';
import type { Election } from '../election/manifest.js';
import { parseHex, toHex } from '../wire.js';
import { registerErrorHandling } from '../http/error-handler.js';
import { applyServerTimeouts, hardenedOptions, type ServerTimeouts, type TlsFiles, type TrustProxy } from '../http/common.js';
import { BoundedQueue } from '../http/bounded-queue.js';
import { defaultHashParallelism } from './csv-import.js';
import { TokenIssuer, type IssuanceBatchOptions } from './issuance.js';
import type { IssuedRef, RegisterRecord } from '../election/records.js';
import { DEFAULT_SCRYPT_PARAMS, dummyPasswordHash, verifyPassword, type ScryptParams } from './password.js';
import type { RegisterStore } from './register-store.js';
import { HEALTH_SCHEMA, LOGIN_SCHEMA, ME_SCHEMA, OPENAPI_SCHEMA, REGISTER_PROOF_SCHEMA, tokenSchema } from './schemas.js';
import { SessionStore, type SessionInfo, type SessionOptions } from './sessions.js';
import { publicVoter } from './voter.js';

/** One failed-login limit: at most `max` failures per `timeWindowMs`. */
export interface FailureLimit {
  readonly max: number;
  readonly timeWindowMs: number;
}

/** Options of buildOrgApp. */
export interface OrgAppOptions {
  /** the voter register */
  readonly store: RegisterStore;
  /** the election whose tokens this server issues */
  readonly election: Election;
  /** SECRET: the blind-RSA key matching election.tokenIssuer */
  readonly issuerKey: BlindRsaSecretKey;
  /** SECRET: 32 bytes (tallyboard/1's issuance-reference key; unused by tallyboard/2, see issuance.ts) */
  readonly issuanceSecret: Uint8Array;
  /**
   * Publishes a batch of issuance references (each with its register proof) on the bulletin
   * board as one entry. Awaited before anything is signed; if it throws, nothing is signed and
   * the voters may retry. Must be idempotent per reference (see issuance.ts).
   */
  readonly recordIssuance: (items: readonly IssuedRef[]) => Promise<void>;
  /** Publishes the register commitment (spec §7.5) before the first issuance; idempotent. */
  readonly commitRegister: (r: RegisterRecord) => Promise<void>;
  /**
   * Commit the register when the server becomes ready (if it has voters), so that N is on the
   * board before voting opens (spec §7.5); otherwise at the first issuance. A failure here is
   * logged and retried at the first issuance. `serve` sets it.
   */
  readonly commitOnReady?: boolean;
  /** fastify/pino logger options (redaction is added), or false (default) */
  readonly logger?: OrgLoggerOptions;
  /** clock, ms since the epoch (sessions and issuance; tests) */
  readonly now?: () => number;
  /** scrypt parameters of the dummy hash for unknown logins: use those of the register (default: production) */
  readonly scrypt?: ScryptParams;
  /** session lifetime and bounds */
  readonly sessions?: Omit<SessionOptions, 'now'>;
  /**
   * failed-login limits (defaults: 5 per minute per (login, address), 20 per minute per
   * address); `perLogin` counts per login AND address (issue 10.6)
   */
  readonly rateLimit?: { readonly perLogin?: FailureLimit; readonly perIp?: FailureLimit };
  /** password hashes computed at once, 1–256 (default: libuv's pool size, at most the CPUs) */
  readonly loginConcurrency?: number;
  /** login attempts waiting for a hashing slot before 503 SERVER_BUSY, 0–10^5 (default 256) */
  readonly loginQueue?: number;
  /** issuance lease and board timeout (see issuance.ts) */
  readonly issuance?: { readonly leaseMs?: number; readonly recordTimeoutMs?: number; readonly batch?: IssuanceBatchOptions };
  /** reverse proxies whose X-Forwarded-For is believed: addresses or CIDR ranges (default: none) */
  readonly trustProxy?: TrustProxy;
  /** network timeouts (default SERVER_TIMEOUTS) */
  readonly timeouts?: ServerTimeouts;
  /** serve TLS */
  readonly https?: TlsFiles;
}

/** Request body limit: the largest legitimate body is a 4096-bit blinded message (1 KiB hex). */
export const ORG_BODY_LIMIT = 16 * 1024;

/** Default failed-login limits. */
export const LOGIN_LIMITS = {
  perLogin: { max: 5, timeWindowMs: 60_000 },
  perIp: { max: 20, timeWindowMs: 60_000 },
} as const;

/** What pino must never print. */
export const ORG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'password',
  'passwordHash',
  'session',
  'issuanceSecret',
  '*.password',
  '*.passwordHash',
  '*.session',
  '*.issuanceSecret',
];

const BEARER_RE = /^Bearer ([0-9a-f]{64})$/;

/** Logger setting of fastify: false, true or pino options. */
export type OrgLoggerOptions = Exclude<FastifyServerOptions['logger'], undefined>;

/** The caller's logger options with ORG_REDACT_PATHS added to any redaction they configured. */
function loggerOptions(logger: OrgLoggerOptions | undefined): OrgLoggerOptions {
  if (logger === undefined || logger === false) return false;
  const base = logger === true ? {} : logger;
  const theirs = base.redact === undefined ? [] : Array.isArray(base.redact) ? base.redact : base.redact.paths;
  return { ...base, redact: { paths: [...new Set([...theirs, ...ORG_REDACT_PATHS])], censor: '[redacted]' } };
}

function aLimit(x: FailureLimit | undefined, fallback: FailureLimit, field: string): FailureLimit {
  const v = x ?? fallback;
  if (!Number.isSafeInteger(v.max) || v.max < 1 || v.max > 1_000_000 || !Number.isSafeInteger(v.timeWindowMs) || v.timeWindowMs < 1000 || v.timeWindowMs > 86_400_000) {
    throw new TallyError('OUT_OF_RANGE', `${field}: expected 1 ≤ max ≤ 10^6 and 1 s ≤ timeWindowMs ≤ 1 day`);
  }
  return v;
}

/**
 * Build the organization server.
 * @param opts - see OrgAppOptions
 * @returns the fastify instance, not listening; `await app.ready()` (or `inject`) loads it
 * @throws TallyError BAD_PRIVATE_KEY if issuerKey does not match the election; OUT_OF_RANGE for
 *   a bad issuanceSecret or option
 */
export function buildOrgApp(opts: OrgAppOptions): FastifyInstance {
  const now = opts.now ?? Date.now;
  const issuer = new TokenIssuer({
    store: opts.store,
    election: opts.election,
    issuerKey: opts.issuerKey,
    issuanceSecret: opts.issuanceSecret,
    recordIssuance: opts.recordIssuance,
    commitRegister: opts.commitRegister,
    now,
    ...(opts.issuance?.batch !== undefined ? { batch: opts.issuance.batch } : {}),
    ...(opts.issuance?.leaseMs !== undefined ? { leaseMs: opts.issuance.leaseMs } : {}),
    ...(opts.issuance?.recordTimeoutMs !== undefined ? { recordTimeoutMs: opts.issuance.recordTimeoutMs } : {}),
  });
  const sessions = new SessionStore({ ...opts.sessions, now });
  const perLogin = aLimit(opts.rateLimit?.perLogin, LOGIN_LIMITS.perLogin, 'rateLimit.perLogin');
  const perIp = aLimit(opts.rateLimit?.perIp, LOGIN_LIMITS.perIp, 'rateLimit.perIp');
  const scryptParams = opts.scrypt ?? DEFAULT_SCRYPT_PARAMS;
  const store = opts.store;
  const hashing = new BoundedQueue({ concurrency: opts.loginConcurrency ?? defaultHashParallelism(), maxWaiting: opts.loginQueue ?? 256, what: 'password checks' });
  /** login attempts in flight, per limiter key (see refuseIfLimited) */
  const inFlight = new Map<string, number>();

  const serverOptions: FastifyServerOptions = {
    logger: loggerOptions(opts.logger),
    ...(opts.https ? { https: { cert: opts.https.cert, key: opts.https.key } } : {}),
    bodyLimit: ORG_BODY_LIMIT,
    ...hardenedOptions(opts.trustProxy),
    // Reject, never silently fix: no coercion of types, no stripping of unknown members.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  };
  const app: FastifyInstance = Fastify(serverOptions);
  applyServerTimeouts(app, opts.timeouts);
  registerErrorHandling(app);
  // The hashing queue, for monitoring and tests (its counters; nothing secret).
  app.decorate('loginHashing', hashing);

  // The dummy hash for unknown logins, made once, before the first request.
  let dummyHash: Promise<string> | undefined;
  const dummy = (): Promise<string> => (dummyHash ??= dummyPasswordHash(scryptParams));
  app.addHook('onReady', async () => {
    await dummy();
  });
  app.addHook('onClose', async () => issuer.dispose());
  if (opts.commitOnReady === true) {
    app.addHook('onReady', async () => {
      try {
        if ((await opts.store.countVoters()) > 0) await issuer.committedTree();
      } catch (e) {
        app.log.warn({ err: e }, 'the voter register could not be committed on the board yet; retried at the first issuance');
      }
    });
  }

  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Tallyboard organization server', version: '1', description: 'Voter login and blind token issuance (spec/07-tokens.md §7.4)' },
      components: { securitySchemes: { session: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
  app.register(rateLimit, { global: false });

  app.register(async (api) => {
    const ipKey = (req: FastifyRequest): string => `ip:${req.ip}`;
    // JSON-encoded pair: no login or address can forge another pair's key.
    const pairKey = (req: FastifyRequest): string => `pair:${JSON.stringify([(req.body as { login: string }).login, req.ip])}`;
    const ipLimiter = api.createRateLimit({ max: perIp.max, timeWindow: perIp.timeWindowMs, keyGenerator: ipKey });
    const pairLimiter = api.createRateLimit({ max: perLogin.max, timeWindow: perLogin.timeWindowMs, keyGenerator: pairKey });
    const limiters = [
      [ipLimiter, ipKey],
      [pairLimiter, pairKey],
    ] as const;

    /**
     * Take an in-flight slot on both counters, or refuse with 429 if either budget (failures
     * left, minus attempts already in flight before this one) is used up. Peeks only; the
     * slots must be given back with the returned function.
     */
    const admitAttempt = async (req: FastifyRequest): Promise<() => void> => {
      const keys = limiters.map(([, key]) => key(req));
      // Count this attempt before any await, so that simultaneous attempts see each other.
      const ahead = keys.map((k) => inFlight.get(k) ?? 0);
      for (const k of keys) inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        for (const k of keys) {
          const n = (inFlight.get(k) ?? 1) - 1;
          if (n <= 0) inFlight.delete(k);
          else inFlight.set(k, n);
        }
      };
      try {
        for (let i = 0; i < limiters.length; i++) {
          const st = await limiters[i]![0](req, { increment: false });
          if (st.isAllowed) continue; // on the limiter's allow list (none is configured)
          if (st.remaining - ahead[i]! <= 0) {
            // One body for both limits: which one applied, and whether the login exists, is not said.
            const retryAfterMs = Math.max(1000, st.ttl);
            throw new TallyError('RATE_LIMITED', `too many failed login attempts; retry in ${Math.ceil(retryAfterMs / 1000)} s`, { details: { retryAfterMs } });
          }
        }
      } catch (e) {
        release();
        throw e;
      }
      return release;
    };

    // Authenticated routes check the session in `onRequest`, before the body is even parsed:
    // an unauthenticated client learns nothing from the body schema and costs no parsing.
    const authenticated = new WeakMap<FastifyRequest, SessionInfo>();
    const requireSession = async (req: FastifyRequest): Promise<void> => {
      const header = req.headers.authorization;
      const m = typeof header === 'string' && header.length <= 200 ? BEARER_RE.exec(header) : null;
      const info = m ? sessions.lookup(m[1]!) : undefined;
      if (info === undefined) throw new TallyError('UNAUTHORIZED', 'missing, invalid or expired session; log in again');
      authenticated.set(req, info);
    };
    /** The session that `requireSession` attached. */
    const sessionOf = (req: FastifyRequest): SessionInfo => {
      const info = authenticated.get(req);
      if (info === undefined) throw new TallyError('INTERNAL', 'route without requireSession');
      return info;
    };

    api.get('/api/org/health', { schema: HEALTH_SCHEMA }, async () => ({ status: 'ok' as const }));

    // The voter's check "am I in the committed register" (spec §10.3): the membership proof of
    // a register reference, for anyone who holds the reference. Asking reveals to the
    // organization which reference is checked (it knows every reference's login anyway).
    api.get<{ Params: { ref: string } }>('/api/org/register/proof/:ref', { schema: REGISTER_PROOF_SCHEMA }, async (req) => {
      const ref = parseHex(req.params.ref, 'ref', 32);
      const tree = await issuer.committedTree();
      const proof = tree.proof(ref);
      if (proof === undefined) throw new TallyError('NOT_FOUND', 'this reference is not in the committed register');
      return { ref: req.params.ref, voters: tree.size, root: toHex(tree.root), index: proof.index, path: proof.path.map(toHex) };
    });

    api.get('/api/org/openapi.json', { schema: OPENAPI_SCHEMA }, async () => app.swagger());

    api.post<{ Body: { login: string; password: string } }>('/api/org/login', { schema: LOGIN_SCHEMA }, async (req) => {
      const { login, password } = req.body;
      const release = await admitAttempt(req);
      try {
        const voter = await store.getVoter(login);
        // Same work whether or not the login exists; bounded in number (memory), off the event loop.
        const ok = await hashing.run(async () => {
          try {
            return voter !== undefined ? await verifyPassword(password, voter.passwordHash) : (await verifyPassword(password, await dummy()), false);
          } catch (cause) {
            // Only a corrupt stored hash gets here (the attempt itself never throws): a server fault.
            throw new TallyError('INTERNAL', 'password verification failed', { cause });
          }
        });
        if (!ok) {
          await ipLimiter(req);
          await pairLimiter(req);
          throw new TallyError('UNAUTHORIZED', 'invalid login or password');
        }
        return sessions.create(login);
      } finally {
        release();
      }
    });

    api.get('/api/org/me', { schema: ME_SCHEMA, onRequest: requireSession }, async (req) => {
      const { login } = sessionOf(req);
      const voter = await store.getVoter(login);
      if (voter === undefined) throw new TallyError('UNAUTHORIZED', 'this session belongs to a voter no longer registered');
      const issuance = await issuer.status(login);
      return { ...publicVoter(voter), electionId: issuer.electionId, tokenIssued: issuance === 'issued', issuance };
    });

    api.post<{ Body: { blindedMsg: string } }>('/api/org/token', { schema: tokenSchema(issuer.modulusLength), onRequest: requireSession }, async (req) => {
      const { login } = sessionOf(req);
      const blindedMsg = parseHex(req.body.blindedMsg, 'blindedMsg', issuer.modulusLength);
      // Ordering and crash behaviour: see the header of issuance.ts.
      const blindSig = await issuer.issue(login, blindedMsg);
      req.log.info('token issued');
      return { blindSig: toHex(blindSig) };
    });
  });

  return app;
}
