/**
 * The three servers of one election, built together (issue #4).
 *
 * `buildElectionServers` builds the organization, ballot and verification apps and links them:
 *   - in one process (`links: 'local'`), the organization records issuances directly in the
 *     ballot box, and the verification server reads the board in-process and is woken by the
 *     close instead of waiting for its next poll;
 *   - across processes, each role is built alone (`buildOrgServer`, `buildBallotServer`,
 *     `buildVerifierServer`) and linked over HTTP, each with its own role credential.
 * Nothing here listens; `listenAll` does, on loopback unless told otherwise.
 *
 * The layering this file sits on top of: each server role is one folder (src/org, src/ballot,
 * src/verifier) built on the shared HTTP plumbing of src/http (fastify options, errors,
 * timeouts, queues); this file is the one composition root above them, the only place that
 * knows all three roles and how they are linked.
 */
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Board } from '../../bulletin/board.js';
import type { BoardStore } from '../../bulletin/store/interface.js';
import type { KeyShare } from '../crypto/threshold-paillier.js';
import { exportLines } from '../../bulletin/export.js';
import { boardRecords } from '../../auditor/source.js';
import { TallyError } from '../errors.js';
import { toHex } from '../wire.js';
import type { BlindRsaSecretKey } from '../crypto/blind-rsa.js';
import type { PaillierSecretKey } from '../crypto/paillier.js';
import type { Election } from '../election/manifest.js';
import { BallotBox } from '../ballot/ballot-box.js';
import { BallotVerifyWorkers } from '../ballot/verify-workers.js';
import { buildBallotApp } from '../ballot/app.js';
import { ballotBodyLimit } from '../ballot/schemas.js';
import { buildOrgApp, type OrgAppOptions } from '../org/app.js';
import type { IssuanceBatchOptions } from '../org/issuance.js';
import type { RegisterStore } from '../org/register-store.js';
import type { ScryptParams } from '../org/password.js';
import { buildVerifierApp } from '../verifier/app.js';
import { httpBoardAccess, type BoardAccess } from '../verifier/board-access.js';
import { TallyService, type VerifierLogger } from '../verifier/tally-service.js';
import type { TallyJournal } from '../verifier/tally-journal.js';
import type { LoggerSetting, ServerTimeouts, TlsFiles, TrustProxy } from '../http/common.js';
import type { WebPagesOptions } from '../web/web-routes.js';

/**
 * Credentials of the servers of one election: one per role (issue 10.9). The ballot server
 * admits the organization's credential on /internal/token-issued only and the verification
 * server's on /internal/encrypted-tally and /internal/result only; the administrator's opens /admin/*.
 */
export interface Credentials {
  /** SECRET: bearer credential of the /admin routes */
  readonly adminToken: string;
  /** SECRET: the organization server's credential (POST /internal/token-issued) */
  readonly orgToken?: string;
  /** SECRET: the verification server's credential (POST /internal/encrypted-tally, /internal/result) */
  readonly verifierToken?: string;
  /**
   * SECRET: one credential for both service roles, as before tallyboard/2 (used for a role whose
   * own credential is not given)
   */
  readonly serviceToken?: string;
}

/**
 * The two service roles' credentials, each falling back to the shared one.
 * @throws TallyError MALFORMED if a role has none
 */
export function serviceCredentials(c: Credentials): { org: string; verifier: string } {
  const org = c.orgToken ?? c.serviceToken;
  const verifier = c.verifierToken ?? c.serviceToken;
  if (org === undefined || verifier === undefined) throw new TallyError('MALFORMED', 'credentials: the organization and verification server credentials (or one shared service credential) are required');
  return { org, verifier };
}

export interface BallotServerParts {
  readonly election: Election;
  readonly boardStore: BoardStore;
  /** SECRET: the board's Ed25519 seed */
  readonly boardSecretKey: Uint8Array;
}

export interface OrgServerParts {
  readonly election: Election;
  readonly register: RegisterStore;
  /** SECRET */
  readonly issuerKey: BlindRsaSecretKey;
  /** SECRET */
  readonly issuanceSecret: Uint8Array;
  /** the issuance batch, a privacy parameter (spec §7.4; default: no batching) */
  readonly issuanceBatch?: IssuanceBatchOptions;
  /** commit the register when the organization server is ready (spec §7.5; `serve` sets it) */
  readonly commitOnReady?: boolean;
  /** password hashing parameters (tests lower N) */
  readonly scrypt?: ScryptParams;
}

export interface VerifierServerParts {
  readonly election: Election;
  /** SECRET, transitional: the whole key of a 1-of-1 election (keygen); see TallyServiceOptions */
  readonly paillierKey?: PaillierSecretKey;
  /** SECRET: this server's share when it is also a trustee; with neither key it only coordinates */
  readonly share?: KeyShare;
  readonly pollMs?: number;
  /**
   * The key holder's journal of checkpoints seen and of its one decryption (issue 10.1; spec
   * §8.5). `serve` keeps it on disk (DIR/verifier/); without one, a memory journal, which
   * forgets across restarts: only for tests and the one-process demo.
   */
  readonly journal?: TallyJournal;
}

export interface CommonOptions {
  readonly credentials: Credentials;
  readonly logger?: LoggerSetting;
  readonly https?: TlsFiles;
  /** clock, for tests driving the schedule (the automatic close always uses the real clock) */
  readonly now?: () => number;
  /**
   * Worker threads for CPU work (issue 16.4): ballot verification on the ballot server, the
   * board audit of the tally on the verification server. Default: the CPUs this process may
   * use; 0 runs it on the event loop (small tests).
   */
  readonly workers?: number;
  /** reverse proxies whose X-Forwarded-For is believed, on every server (issue 16.6) */
  readonly trustProxy?: TrustProxy;
  /** network timeouts of every server (issue 16.9; default SERVER_TIMEOUTS) */
  readonly timeouts?: ServerTimeouts;
}

/** The board as the verification server sees it, in the ballot server's own process. */
export function localBoardAccess(box: BallotBox): BoardAccess {
  return {
    status: async () => {
      await box.sync(); // a shared board (spec/12-servers.md §12.6): what every ballot server appended
      return { size: box.board.size, phase: box.phase };
    },
    records: () =>
      boardRecords(
        Readable.from(
          (async function* () {
            for await (const line of exportLines(box.board)) yield `${line}\n`;
          })(),
        ),
      ),
    submitEncryptedTally: async (payload) => {
      await box.submitEncryptedTally(payload);
    },
    submitPartialDecryption: async (payload) => {
      await box.submitPartialDecryption(payload);
    },
    submitResult: async (payload) => {
      await box.submitResult(payload);
    },
    checkpoint: () => box.board.latestCheckpoint(),
    consistency: (size1, size2) => box.board.consistencyProof(size1, size2),
    cosignatures: (treeSize) => box.board.cosignaturesAt(treeSize),
  };
}

/** Build the ballot server over its board store (appends the setup entry to an empty board). */
export async function buildBallotServer(
  parts: BallotServerParts,
  common: CommonOptions & { onClosed?: (height: number) => void; autoClose?: boolean; /** serve the web pages (issue #6) */ web?: WebPagesOptions },
) {
  const board = await Board.open(parts.boardStore, {
    electionId: parts.election.manifest.electionId,
    boardSecretKey: parts.boardSecretKey,
    ...(common.now ? { now: common.now } : {}),
  });
  const workers = common.workers === 0 ? undefined : new BallotVerifyWorkers({ ...(common.workers !== undefined ? { workers: common.workers } : {}), maxBallotBytes: ballotBodyLimit(parts.election) });
  const box = await BallotBox.open({
    board,
    election: parts.election,
    ...(common.now ? { now: common.now } : {}),
    ...(workers ? { verifyBallot: workers.verify, verifyPartialDecryption: workers.verifyPartial } : {}),
  });
  let app: FastifyInstance;
  try {
    app = buildBallotApp({
      box,
      adminToken: common.credentials.adminToken,
      ...(() => {
        const c = serviceCredentials(common.credentials);
        return { orgToken: c.org, verifierToken: c.verifier };
      })(),
      ...(common.logger !== undefined ? { logger: common.logger } : {}),
      ...(common.https ? { https: common.https } : {}),
      ...(common.onClosed ? { onClosed: common.onClosed } : {}),
      ...(common.autoClose !== undefined ? { autoClose: common.autoClose } : {}),
      ...(common.web ? { web: common.web } : {}),
      ...(common.trustProxy ? { trustProxy: common.trustProxy } : {}),
      ...(common.timeouts ? { timeouts: common.timeouts } : {}),
    });
  } catch (e) {
    await workers?.close();
    await board.close(); // e.g. the web pages were not built: nothing may keep the store open
    throw e;
  }
  // Threads start loading when the server is ready, not when the first voter is waiting.
  app.addHook('onReady', async () => workers?.start());
  app.addHook('onClose', async () => {
    await workers?.close();
    await board.close();
  });
  return { app, box, board, workers };
}

/**
 * Build the organization server. `recordIssuance` publishes a token issuance on the board:
 * the ballot box in-process, or the ballot server's /internal/token-issued over HTTP.
 */
export function buildOrgServer(parts: OrgServerParts, common: CommonOptions, board: IssuanceBoard): FastifyInstance {
  const app = buildOrgApp({
    store: parts.register,
    election: parts.election,
    issuerKey: parts.issuerKey,
    issuanceSecret: parts.issuanceSecret,
    recordIssuance: board.recordIssuance,
    commitRegister: board.commitRegister,
    ...(parts.issuanceBatch !== undefined ? { issuance: { batch: parts.issuanceBatch } } : {}),
    ...(parts.commitOnReady === true ? { commitOnReady: true } : {}),
    ...(common.logger !== undefined ? { logger: common.logger as never } : {}),
    ...(common.now ? { now: common.now } : {}),
    ...(parts.scrypt ? { scrypt: parts.scrypt } : {}),
    ...(common.https ? { https: common.https } : {}),
    ...(common.trustProxy ? { trustProxy: common.trustProxy } : {}),
    ...(common.timeouts ? { timeouts: common.timeouts } : {}),
  });
  app.addHook('onClose', async () => {
    await parts.register.close();
  });
  return app;
}

/** Where the organization publishes the register commitment and its issuances (spec §7.4–7.5). */
export interface IssuanceBoard {
  readonly recordIssuance: OrgAppOptions['recordIssuance'];
  readonly commitRegister: OrgAppOptions['commitRegister'];
}

/** The ballot box in the same process. */
export function localIssuanceBoard(box: BallotBox): IssuanceBoard {
  return {
    recordIssuance: async (items) => void (await box.recordIssuance(items)),
    commitRegister: async (r) => void (await box.commitRegister(r)),
  };
}

/** Record issuances on a remote ballot server (separate processes). */
export function httpRecordIssuance(ballotUrl: string, orgToken: string): IssuanceBoard {
  const post = async (path: string, body: unknown, what: string): Promise<void> => {
    const res = await fetch(new URL(path, ballotUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${orgToken}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) {
      const b = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      // The board's verdicts on the register are passed on as they are; anything else is "not recorded".
      if (b.error?.code === 'REGISTER_MISMATCH' || b.error?.code === 'NOT_IN_REGISTER' || b.error?.code === 'ELECTION_CLOSED') {
        throw new TallyError(b.error.code, `the ballot server refused the ${what}: ${b.error.message ?? ''}`.trim());
      }
      throw new TallyError('ISSUANCE_NOT_RECORDED', `the ballot server refused the ${what}: ${b.error?.code ?? res.status}`);
    }
  };
  return {
    recordIssuance: (items) =>
      post('/internal/token-issued', { refs: items.map((it) => ({ ref: toHex(it.ref), index: it.index, path: it.path.map(toHex) })) }, 'issuance record'),
    commitRegister: (r) => post('/internal/register', { voters: r.voters, root: toHex(r.root) }, 'register commitment'),
  };
}

/** Build the verification server over a board access (local or HTTP). */
export function buildVerifierServer(parts: VerifierServerParts, common: CommonOptions, board: BoardAccess) {
  // The service logs through the app's logger (built just below): the tally's outcome —
  // published, or REFUSING TO DECRYPT — must reach the server's log (issue 16.11).
  let app: FastifyInstance | undefined;
  const logger: VerifierLogger = {
    info: (o, m) => app?.log.info(o, m),
    warn: (o, m) => app?.log.warn(o, m),
    error: (o, m) => app?.log.error(o, m),
  };
  const service = new TallyService({
    ...(parts.paillierKey !== undefined ? { secretKey: parts.paillierKey } : {}),
    ...(parts.share !== undefined ? { share: parts.share } : {}),
    election: parts.election,
    board,
    logger,
    ...(parts.journal !== undefined ? { journal: parts.journal } : {}),
    ...(parts.pollMs !== undefined ? { pollMs: parts.pollMs } : {}),
    ...(common.now ? { now: common.now } : {}),
    workers: common.workers ?? availableParallelism(),
  });
  app = buildVerifierApp({
    service,
    adminToken: common.credentials.adminToken,
    ...(common.logger !== undefined ? { logger: common.logger } : {}),
    ...(common.https ? { https: common.https } : {}),
    ...(common.trustProxy ? { trustProxy: common.trustProxy } : {}),
    ...(common.timeouts ? { timeouts: common.timeouts } : {}),
  });
  app.addHook('onReady', async () => service.start());
  return { app, service };
}

/** Remote board access for a verification server in its own process. */
export function remoteBoard(ballotUrl: string, verifierToken: string): BoardAccess {
  return httpBoardAccess({ baseUrl: ballotUrl, serviceToken: verifierToken });
}

/**
 * Serve `target`'s routes under `prefixes` from `host` as well, in-process (app.inject): one
 * origin for the whole election in `--role all`, which browsers need (the voting booth talks to
 * the organization and the ballot server). The client's address is passed through so that the
 * organization's per-address login limit still sees each client. Only small JSON routes are
 * forwarded; streaming routes stay on their own server.
 *
 * The body is forwarded as the RAW BYTES the client sent (issue 16.3): the forwarding layer
 * never parses or re-serializes it, so nothing here recurses over a client's nesting (a
 * 12 KB array nested 6,000 deep once overflowed `JSON.stringify`'s stack: 500 instead of the
 * target's 400). The target parses and validates it exactly as it would directly, within its
 * own body limit.
 */
export function forwardRoutes(host: FastifyInstance, target: FastifyInstance, routes: readonly { method: 'GET' | 'POST'; url: string }[]): void {
  const bodyLimit = target.initialConfig.bodyLimit ?? 1024 * 1024;
  host.register(async (scope) => {
    // In this scope only: any body is kept as bytes, unparsed.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    for (const r of routes) {
      scope.route({
        method: r.method,
        url: r.url,
        schema: { hide: true } as object,
        bodyLimit,
        handler: async (req, reply) => {
          const headers: Record<string, string> = {};
          for (const h of ['authorization', 'content-type', 'accept']) {
            const v = req.headers[h];
            if (typeof v === 'string') headers[h] = v;
          }
          // Forward a body only when the client sent one (with its content type): a bodiless POST
          // such as `curl -X POST /admin/tally` must reach the target bodiless, not as "{}" of no type.
          const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
          const hasBody = raw !== undefined && (raw.length > 0 || headers['content-type'] !== undefined);
          if (!hasBody) delete headers['content-type'];
          const res = await target.inject({
            method: r.method,
            url: req.url,
            headers,
            remoteAddress: req.ip,
            ...(hasBody ? { payload: raw } : {}),
          });
          reply.code(res.statusCode);
          for (const h of ['content-type', 'retry-after', 'www-authenticate']) {
            const v = res.headers[h];
            if (typeof v === 'string') reply.header(h, v);
          }
          return reply.send(res.rawPayload);
        },
      });
    }
  });
}

/** Routes of the organization and verification servers answered on the ballot server's origin. */
export const PEER_ROUTES = {
  org: [
    { method: 'POST', url: '/api/org/login' },
    { method: 'GET', url: '/api/org/me' },
    { method: 'POST', url: '/api/org/token' },
    { method: 'GET', url: '/api/org/health' },
    { method: 'GET', url: '/api/org/register/proof/:ref' },
    { method: 'GET', url: '/api/org/openapi.json' },
  ],
  verifier: [
    { method: 'GET', url: '/api/verifier/results' },
    { method: 'GET', url: '/api/verifier/health' },
    { method: 'GET', url: '/api/verifier/openapi.json' },
    { method: 'POST', url: '/admin/tally' },
  ],
} as const;

/**
 * All three servers in one process, linked directly. With `singleOrigin`, the ballot server
 * also answers the organization's and verifier's routes (see forwardRoutes), so one listener
 * serves the whole election. With `web`, the ballot server also serves the web pages (issue #6);
 * `web` implies `singleOrigin`, because the booth logs in on the page's own origin.
 * @throws TallyError NOT_FOUND if `web` is given and the pages were not built
 */
export async function buildElectionServers(
  parts: BallotServerParts & OrgServerParts & VerifierServerParts,
  common: CommonOptions & { autoClose?: boolean; singleOrigin?: boolean; web?: WebPagesOptions },
) {
  let wake: () => void = () => undefined;
  const ballot = await buildBallotServer(parts, { ...common, onClosed: () => wake() });
  const org = buildOrgServer(parts, common, localIssuanceBoard(ballot.box));
  const verifier = buildVerifierServer(parts, common, localBoardAccess(ballot.box));
  wake = () => {
    verifier.service.tallyOnce().catch(() => undefined);
  };
  const oneOrigin = common.singleOrigin === true || common.web !== undefined;
  if (oneOrigin) {
    forwardRoutes(ballot.app, org, PEER_ROUTES.org);
    forwardRoutes(ballot.app, verifier.app, PEER_ROUTES.verifier);
    // onClose hooks run last-registered first: after in-flight requests finish, this closes the
    // two servers the ballot server forwards to, and only then the board (registered earlier).
    ballot.app.addHook('onClose', async () => {
      await verifier.app.close();
      await org.close();
    });
  }
  return {
    org,
    ballot: ballot.app,
    verifier: verifier.app,
    box: ballot.box,
    service: verifier.service,
    /**
     * Close all three. With one origin the ballot server forwards to the other two, so it stops
     * listening first (in-flight requests finish), then the verifier (it stops polling) and the
     * organization close, and the board closes last (the ballot app's own onClose hook).
     */
    async close(): Promise<void> {
      if (oneOrigin) {
        await ballot.app.close(); // its hooks close the verifier and the organization, then the board
        return;
      }
      await verifier.app.close();
      await org.close();
      await ballot.app.close();
    },
  };
}

/** Listen on host:port (127.0.0.1 by default); port 0 picks a free port. @returns the base URL */
export async function listen(app: FastifyInstance, port: number, host = '127.0.0.1'): Promise<string> {
  return app.listen({ host, port });
}
