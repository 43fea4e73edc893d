/**
 * The ballot server (issue #4): receives encrypted ballots, publishes them on the bulletin
 * board with a receipt, serves the board and its proofs, and closes the election on time.
 *
 * Built by `buildBallotApp(opts)`, which returns the fastify instance without listening (a
 * separate entry calls `listen`; tests use `app.inject()`). The rules live in BallotBox
 * (ballot-box.ts); this file wires them to HTTP: public routes under /api, service routes
 * (token issuance records from the organization server, the tally from the verification
 * server) under /internal, each with its caller's own credential (the organization's for issuance
 * records, the verification server's for the tally), and the manual close under /admin with
 * an admin credential. Every route has request and response schemas.
 *
 * The automatic close: a timer fires at the manifest's end time and appends the close entry;
 * a server started after the end time closes at once (`onReady`). Ballots still being
 * verified when the close lands are refused by the ballot box's lock.
 *
 * With the `web` option (issue #6) it also serves the voting booth, the public board page and
 * the results page (src/web/web-routes.ts) on the same origin as the API.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { TallyError } from '../errors.js';
import { parseHex, toHex } from '../wire.js';
import { cosignedCheckpointToJson } from '../../bulletin/cosignature.js';
import rateLimit from '@fastify/rate-limit';
import { entryToJson } from '../../bulletin/entry.js';
import { consistencyProofToJson, inclusionProofToJson } from '../../bulletin/proofs.js';
import { exportLines } from '../../bulletin/export.js';
import { registerErrorHandling } from '../http/error-handler.js';
import { applyServerTimeouts, bearerGuard, registerOpenApi, serverOptions, type LoggerSetting, type ServerTimeouts, type TlsFiles, type TrustProxy } from '../http/common.js';
import { intToHex } from '../wire.js';
import { resultsView } from '../election/results-view.js';
import type { BallotBox } from './ballot-box.js';
import { receiptToJson } from './receipt.js';
import { ballotBodyLimit, partialDecryptionBodyLimit, queryInt, routeSchemas } from './schemas.js';
import { defaultWebDir, loadWebFiles, registerWebRoutes, type WebPagesOptions } from '../web/web-routes.js';

export interface BallotAppOptions {
  readonly box: BallotBox;
  /** SECRET: credential of /admin routes (bearer), ≥ 16 characters */
  readonly adminToken: string;
  /** SECRET: the organization server's credential, of POST /internal/token-issued only, ≥ 16 characters */
  readonly orgToken?: string;
  /** SECRET: the verification server's credential, of POST /internal/encrypted-tally and /internal/result only, ≥ 16 characters */
  readonly verifierToken?: string;
  /**
   * SECRET: one credential for both /internal routes, as before tallyboard/2 (used for a role
   * whose own credential is not given)
   */
  readonly serviceToken?: string;
  readonly logger?: LoggerSetting;
  /** automatic close at the end time (default true; tests may drive the clock instead) */
  readonly autoClose?: boolean;
  /** called after the close entry is appended (e.g. to wake the verification server) */
  readonly onClosed?: (height: number) => void;
  /** serve TLS */
  readonly https?: TlsFiles;
  /** serve the web pages (booth `/`, `/board`, `/results`, `/assets/*`); default: API only */
  readonly web?: WebPagesOptions;
  /** reverse proxies whose X-Forwarded-For is believed (default: none) */
  readonly trustProxy?: TrustProxy;
  /** network timeouts (default SERVER_TIMEOUTS) */
  readonly timeouts?: ServerTimeouts;
  /** per-address limit of POST /api/board/cosignatures (default 600 per minute) */
  readonly cosignatureRate?: { readonly max: number; readonly timeWindowMs: number };
  /** POST /api/partial-decryptions per client address: at most `max` requests per window (default 30 per minute) */
  readonly partialDecryptionRateLimit?: { readonly max: number; readonly windowMs: number };
}

/** Largest cosignature request body: one cosignature is about 400 bytes of JSON. */
const COSIGNATURE_BODY_LIMIT = 4096;

/** Longest single setTimeout delay (about 24.8 days); longer waits re-arm. */
const MAX_TIMER = 2 ** 31 - 1;

export function buildBallotApp(opts: BallotAppOptions): FastifyInstance {
  const box = opts.box;
  const election = box.election;
  const schemas = routeSchemas(election);
  const app = Fastify(serverOptions(opts.logger, ballotBodyLimit(election), opts.https, opts.trustProxy));
  applyServerTimeouts(app, opts.timeouts);
  registerErrorHandling(app);
  registerOpenApi(app, 'Tallyboard ballot server', 'Encrypted ballots, the public bulletin board and its proofs (spec/09-board.md, spec/12-servers.md)');
  const admin = bearerGuard(opts.adminToken, 'admin');
  // One credential per role (issue 10.9): each service route admits only its own caller.
  const orgCredential = opts.orgToken ?? opts.serviceToken;
  const verifierCredential = opts.verifierToken ?? opts.serviceToken;
  if (orgCredential === undefined || verifierCredential === undefined) throw new RangeError('orgToken and verifierToken (or serviceToken) are required');
  const orgService = bearerGuard(orgCredential, 'organization server');
  const verifierService = bearerGuard(verifierCredential, 'verification server');
  // Read now, so that pages that were not built fail the build of the app, not a voter's visit.
  const webFiles = opts.web ? loadWebFiles(opts.web.dir ?? defaultWebDir()) : undefined;

  const closeNow = async (reason: 'schedule' | 'admin'): Promise<number> => {
    const h = await box.close(reason);
    opts.onClosed?.(h);
    return h;
  };

  // --- automatic close -------------------------------------------------------------------------
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (box.phase === 'closed' || box.phase === 'tallied') return;
    const wait = election.endMs - Date.now();
    if (wait <= 0) {
      closeNow('schedule').catch((err) => app.log.error({ err }, 'automatic close failed'));
      return;
    }
    timer = setTimeout(arm, Math.min(wait, MAX_TIMER));
    timer.unref?.();
  };
  if (opts.autoClose !== false) {
    app.addHook('onReady', async () => {
      arm();
    });
  }
  app.addHook('onClose', async () => {
    if (timer) clearTimeout(timer);
  });
  // Several ballot servers on one shared board (spec/12-servers.md §12.6): a read answers from
  // the board as stored, including what the other servers appended.
  if (box.board.shared) {
    app.addHook('preHandler', async (req) => {
      if (req.method === 'GET') await box.sync();
    });
  }

  const cosignRate = { max: opts.cosignatureRate?.max ?? 600, timeWindow: opts.cosignatureRate?.timeWindowMs ?? 60_000 };
  app.register(rateLimit, {
    global: false,
    errorResponseBuilder: () => new TallyError('RATE_LIMITED', 'too many requests from this address; retry later'),
  });

  // Routes live in a plugin so that @fastify/swagger, registered above, sees every one of them.
  app.register(async (api) => {
  // --- public ----------------------------------------------------------------------------------
  api.get('/api/health', { schema: schemas.health }, async () => ({ status: 'ok', phase: box.phase }));
  api.get('/api/openapi.json', { schema: schemas.openapi }, async () => app.swagger());

  api.get('/api/election', { schema: schemas.election }, async () => ({
    manifest: election.manifest,
    fingerprint: election.fingerprintHex,
    status: box.status,
  }));

  api.post('/api/ballots', { schema: schemas.cast }, async (req, reply) => {
    const r = await box.cast(req.body);
    reply.code(201);
    return receiptToJson(election, r);
  });

  api.get<{ Params: { tracker: string } }>('/api/ballots/:tracker', { schema: schemas.receipt }, async (req) =>
    receiptToJson(election, await box.receipt(parseHex(req.params.tracker, 'tracker', 32))),
  );

  api.get<{ Querystring: { from?: string; limit?: string } }>('/api/board/entries', { schema: schemas.entries }, async (req) => {
    const size = box.board.size;
    const from = queryInt(req.query.from) ?? 0;
    const limit = queryInt(req.query.limit) ?? 50;
    const entries = [];
    if (from < size) {
      for await (const { entry, hash } of box.board.entries(from, Math.min(size, from + limit))) entries.push({ ...entryToJson(entry), hash: toHex(hash) });
    }
    return { size, from, entries };
  });

  api.get<{ Querystring: { size?: string } }>('/api/board/checkpoint', { schema: schemas.checkpoint }, async (req) => {
    const size = queryInt(req.query.size);
    const cp = size === undefined ? await box.board.latestCheckpoint() : await box.board.checkpointAt(size);
    return cosignedCheckpointToJson(cp, await box.board.cosignaturesAt(cp.treeSize));
  });

  // A witness posts its cosignature (spec §9.9.5). Public, like casting; bounded: a small body
  // limit, cheap checks before the one signature verification (a name not in the manifest costs
  // a lookup), and a per-address rate limit. Only valid cosignatures are stored.
  api.post('/api/board/cosignatures', { schema: schemas.cosign, bodyLimit: COSIGNATURE_BODY_LIMIT, config: { rateLimit: cosignRate } }, async (req, reply) => {
    const r = await box.addCosignature(req.body);
    reply.code(201);
    return r;
  });

  api.get<{ Querystring: { height: string; size?: string } }>('/api/board/proof/inclusion', { schema: schemas.inclusion }, async (req) =>
    inclusionProofToJson(await box.board.inclusionProof(queryInt(req.query.height)!, queryInt(req.query.size) ?? box.board.size)),
  );

  api.get<{ Querystring: { size1: string; size2?: string } }>('/api/board/proof/consistency', { schema: schemas.consistency }, async (req) =>
    consistencyProofToJson(await box.board.consistencyProof(queryInt(req.query.size1)!, queryInt(req.query.size2) ?? box.board.size)),
  );

  api.get('/api/board/export', async (_req, reply) => {
    reply.type('application/x-ndjson; charset=utf-8');
    reply.header('content-disposition', `attachment; filename="board.jsonl"`);
    const lines = exportLines(box.board);
    return reply.send(
      Readable.from(
        (async function* () {
          for await (const line of lines) yield `${line}\n`;
        })(),
      ),
    );
  });

  api.get('/api/board/register', { schema: schemas.register }, async () => {
    const r = box.register;
    if (!r) throw new TallyError('NOT_FOUND', 'no voter register is committed on the board yet');
    return { height: r.height, voters: r.voters, root: toHex(r.root) };
  });

  // The voter's check (spec §10.3): was a token issued to this register reference? Answers
  // from the board as stored; a client that does not trust the server reads the entry itself.
  api.get<{ Params: { ref: string } }>('/api/board/issuance/:ref', { schema: schemas.issuance }, async (req) => {
    const ref = parseHex(req.params.ref, 'ref', 32);
    const at = box.issuanceOf(ref);
    return at ? { ref: toHex(ref), issued: true, height: at.height, count: at.count } : { ref: toHex(ref), issued: false };
  });

  api.get('/api/board/running-tally', { schema: schemas.runningTally }, async () => {
    const t = box.runningTally;
    return { ciphertexts: t.ciphertexts.map((c) => intToHex(c, election.paillier.n2Len)), ballotsCounted: t.ballotsCounted };
  });

  api.get('/api/results', { schema: schemas.results }, async () => {
    const r = box.publishedResults;
    if (!r) throw new TallyError('NOT_FOUND', box.phase === 'closed' ? 'the election is closed; the tally is being computed' : 'no results before the election closes');
    return resultsView(election, r.results, r.ballotsCounted);
  });

  // A trustee's partial decryption (spec §13.4, §12): public, because only the holder of share i
  // can make proofs that verify against v_i; every proof is checked before anything is appended.
  // Verifying costs a few exponentiations mod n² per question, so the route is rate limited per
  // client and its body is bounded by the fixed lengths of §13.7.
  api.post('/api/partial-decryptions', {
    schema: schemas.partialDecryption,
    bodyLimit: partialDecryptionBodyLimit(election),
    config: { rateLimit: { max: opts.partialDecryptionRateLimit?.max ?? 30, timeWindow: opts.partialDecryptionRateLimit?.windowMs ?? 60_000 } },
  }, async (req, reply) => {
    const r = await box.submitPartialDecryption(req.body);
    reply.code(r.existing ? 200 : 201);
    return r;
  });

  // --- service routes (the organization and verification servers) ------------------------------
  api.post<{ Body: { refs: { ref: string; index: number; path: string[] }[] } }>('/internal/token-issued', { schema: schemas.tokenIssued, onRequest: orgService }, async (req) =>
    box.recordIssuance(
      req.body.refs.map((r, i) => ({ ref: parseHex(r.ref, `refs[${i}].ref`, 32), index: r.index, path: r.path.map((h, j) => parseHex(h, `refs[${i}].path[${j}]`, 32)) })),
    ),
  );

  api.post<{ Body: { voters: number; root: string } }>('/internal/register', { schema: schemas.commitRegister, onRequest: orgService }, async (req) =>
    box.commitRegister({ voters: req.body.voters, root: parseHex(req.body.root, 'root', 32) }),
  );

  api.post('/internal/encrypted-tally', { schema: schemas.encryptedTally, onRequest: verifierService }, async (req, reply) => {
    const r = await box.submitEncryptedTally(req.body);
    reply.code(r.existing ? 200 : 201);
    return r;
  });

  api.post('/internal/result', { schema: schemas.result, onRequest: verifierService }, async (req, reply) => {
    const r = await box.submitResult(req.body);
    reply.code(r.existing ? 200 : 201);
    return r;
  });

  // --- admin -----------------------------------------------------------------------------------
  api.post('/admin/close', { schema: schemas.close, onRequest: admin }, async () => {
    const height = await closeNow('admin');
    return { height, phase: box.phase };
  });

  // --- web pages (issue #6) --------------------------------------------------------------------
  if (webFiles) registerWebRoutes(api, webFiles);
  });

  return app;
}
