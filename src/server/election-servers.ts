/**
 * The three servers of one election, built together (issue #4).
 *
 * `buildElectionServers` builds the organization, ballot and verification apps and links them:
 *   - in one process (`links: 'local'`), the organization records issuances directly in the
 *     ballot box, and the verification server reads the board in-process and is woken by the
 *     close instead of waiting for its next poll;
 *   - across processes, each role is built alone (`buildOrgServer`, `buildBallotServer`,
 *     `buildVerifierServer`) and linked over HTTP with the service credential.
 * Nothing here listens; `listenAll` does, on loopback unless told otherwise.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Board } from '../../bulletin/board.js';
import type { BoardStore } from '../../bulletin/store/interface.js';
import { exportLines } from '../../bulletin/export.js';
import { boardRecords } from '../../auditor/source.js';
import { TallyError } from '../errors.js';
import { toHex } from '../wire.js';
import type { BlindRsaSecretKey } from '../crypto/blind-rsa.js';
import type { PaillierSecretKey } from '../crypto/paillier.js';
import type { Election } from '../election/manifest.js';
import { BallotBox } from '../ballot/ballot-box.js';
import { buildBallotApp } from '../ballot/app.js';
import { buildOrgApp, type OrgAppOptions } from '../org/app.js';
import type { RegisterStore } from '../org/register-store.js';
import type { ScryptParams } from '../org/password.js';
import { buildVerifierApp } from '../verifier/app.js';
import { httpBoardAccess, type BoardAccess } from '../verifier/board-access.js';
import { TallyService } from '../verifier/tally-service.js';
import type { LoggerSetting, TlsFiles } from './common.js';
import type { WebPagesOptions } from '../web/web-routes.js';

/** Credentials shared by the servers of one election. */
export interface Credentials {
  /** SECRET: bearer credential of the /admin routes */
  readonly adminToken: string;
  /** SECRET: bearer credential of the /internal routes */
  readonly serviceToken: string;
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
  /** password hashing parameters (tests lower N) */
  readonly scrypt?: ScryptParams;
}

export interface VerifierServerParts {
  readonly election: Election;
  /** SECRET */
  readonly paillierKey: PaillierSecretKey;
  readonly pollMs?: number;
}

export interface CommonOptions {
  readonly credentials: Credentials;
  readonly logger?: LoggerSetting;
  readonly https?: TlsFiles;
  /** clock, for tests driving the schedule (the automatic close always uses the real clock) */
  readonly now?: () => number;
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
    submitTally: async (encryptedTally, result) => {
      await box.submitTally(encryptedTally, result);
    },
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
  const box = await BallotBox.open({ board, election: parts.election, ...(common.now ? { now: common.now } : {}) });
  let app: FastifyInstance;
  try {
    app = buildBallotApp({
      box,
      adminToken: common.credentials.adminToken,
      serviceToken: common.credentials.serviceToken,
      ...(common.logger !== undefined ? { logger: common.logger } : {}),
      ...(common.https ? { https: common.https } : {}),
      ...(common.onClosed ? { onClosed: common.onClosed } : {}),
      ...(common.autoClose !== undefined ? { autoClose: common.autoClose } : {}),
      ...(common.web ? { web: common.web } : {}),
    });
  } catch (e) {
    await board.close(); // e.g. the web pages were not built: nothing may keep the store open
    throw e;
  }
  app.addHook('onClose', async () => {
    await board.close();
  });
  return { app, box, board };
}

/**
 * Build the organization server. `recordIssuance` publishes a token issuance on the board:
 * the ballot box in-process, or the ballot server's /internal/token-issued over HTTP.
 */
export function buildOrgServer(parts: OrgServerParts, common: CommonOptions, recordIssuance: OrgAppOptions['recordIssuance']): FastifyInstance {
  const app = buildOrgApp({
    store: parts.register,
    election: parts.election,
    issuerKey: parts.issuerKey,
    issuanceSecret: parts.issuanceSecret,
    recordIssuance,
    ...(common.logger !== undefined ? { logger: common.logger as never } : {}),
    ...(common.now ? { now: common.now } : {}),
    ...(parts.scrypt ? { scrypt: parts.scrypt } : {}),
    ...(common.https ? { https: common.https } : {}),
  });
  app.addHook('onClose', async () => {
    await parts.register.close();
  });
  return app;
}

/** Record issuances on a remote ballot server (separate processes). */
export function httpRecordIssuance(ballotUrl: string, serviceToken: string): OrgAppOptions['recordIssuance'] {
  return async (ref) => {
    const res = await fetch(new URL('/internal/token-issued', ballotUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}` },
      body: JSON.stringify({ ref: toHex(ref) }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      throw new TallyError('ISSUANCE_NOT_RECORDED', `the ballot server refused the issuance record: ${body.error?.code ?? res.status}`);
    }
  };
}

/** Build the verification server over a board access (local or HTTP). */
export function buildVerifierServer(parts: VerifierServerParts, common: CommonOptions, board: BoardAccess) {
  const service = new TallyService({
    secretKey: parts.paillierKey,
    election: parts.election,
    board,
    ...(parts.pollMs !== undefined ? { pollMs: parts.pollMs } : {}),
    ...(common.now ? { now: common.now } : {}),
  });
  const app = buildVerifierApp({
    service,
    adminToken: common.credentials.adminToken,
    ...(common.logger !== undefined ? { logger: common.logger } : {}),
    ...(common.https ? { https: common.https } : {}),
  });
  app.addHook('onReady', async () => service.start());
  return { app, service };
}

/** Remote board access for a verification server in its own process. */
export function remoteBoard(ballotUrl: string, serviceToken: string): BoardAccess {
  return httpBoardAccess({ baseUrl: ballotUrl, serviceToken });
}

/**
 * Serve `target`'s routes under `prefixes` from `host` as well, in-process (app.inject): one
 * origin for the whole election in `--role all`, which browsers need (the voting booth talks to
 * the organization and the ballot server). The client's address is passed through so that the
 * organization's per-address login limit still sees each client. Only small JSON routes are
 * forwarded; streaming routes stay on their own server.
 */
export function forwardRoutes(host: FastifyInstance, target: FastifyInstance, routes: readonly { method: 'GET' | 'POST'; url: string }[]): void {
  for (const r of routes) {
    host.route({
      method: r.method,
      url: r.url,
      schema: { hide: true } as object,
      handler: async (req, reply) => {
        const headers: Record<string, string> = {};
        for (const h of ['authorization', 'content-type', 'accept']) {
          const v = req.headers[h];
          if (typeof v === 'string') headers[h] = v;
        }
        // Forward a body only when the client sent one (with its content type): a bodiless POST
        // such as `curl -X POST /admin/tally` must reach the target bodiless, not as "{}" of no type.
        const hasBody = req.body !== undefined && req.body !== null;
        if (!hasBody) delete headers['content-type'];
        const res = await target.inject({
          method: r.method,
          url: req.url,
          headers,
          remoteAddress: req.ip,
          ...(hasBody ? { payload: JSON.stringify(req.body) } : {}),
        });
        reply.code(res.statusCode);
        for (const h of ['content-type', 'retry-after']) {
          const v = res.headers[h];
          if (typeof v === 'string') reply.header(h, v);
        }
        return reply.send(res.rawPayload);
      },
    });
  }
}

/** Routes of the organization and verification servers answered on the ballot server's origin. */
export const PEER_ROUTES = {
  org: [
    { method: 'POST', url: '/api/org/login' },
    { method: 'GET', url: '/api/org/me' },
    { method: 'POST', url: '/api/org/token' },
    { method: 'GET', url: '/api/org/health' },
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
  const org = buildOrgServer(parts, common, async (ref) => {
    await ballot.box.recordIssuance(ref);
  });
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
