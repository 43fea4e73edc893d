/**
 * `tallyboard serve`: run the election's servers from a data directory (spec/12-servers.md).
 *
 * `--role all` runs the organization, ballot and verification servers in one process, linked
 * in-process, on ONE listener (buildElectionServers with `singleOrigin`): the ballot server also
 * answers /api/org/*, /api/verifier/* and /admin/tally, so a browser's voting booth and an
 * administrator see one origin. A separate role runs one server whose peers are reached over
 * HTTP, each with its own credential (credentials/org.token, credentials/verifier.token): `org` and `verifier` need `--ballot-url`. Each role loads only its own secrets, as on separate machines:
 * the ballot server the board key, the organization the issuer key and issuance secret, the
 * verification server the Paillier key file (hence the passphrase, asked only for that role).
 * Every loaded key is checked against the manifest before anything listens.
 *
 * Storage: by default the board and the register are LevelDB directories inside --data. With
 * `--store postgres://…` (or $TALLYBOARD_DATABASE_URL) both live in PostgreSQL, which lets several
 * `--role ballot` processes serve ONE board behind a load balancer (spec/12-servers.md §12.6).
 * The connection string may hold a password: it is only ever printed redacted.
 *
 * Shutdown: on SIGINT or SIGTERM the apps are closed — listeners stop, in-flight requests
 * finish, the verification server's poller stops, the stores close — and the process exits 0;
 * a second signal exits at once with 1. Logs are fastify's pino JSON lines on stdout at info;
 * this command's own lines (`roles: …`, `listening on URL (roles)`, `stopped`) are plain text on
 * stdout too, so a supervisor reads one stream.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LevelBoardStore } from '../bulletin/store/level.js';
import { isTallyError, TallyError } from '../src/errors.js';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { openLevelRegister } from '../src/org/register-level.js';
import { decryptKeyFile } from '../src/verifier/keyfile.js';
import type { PaillierSecretKey } from '../src/crypto/paillier.js';
import type { KeyShare } from '../src/crypto/threshold-paillier.js';
import { readShareFile } from '../src/trustee/share-file.js';
import { keyMismatch } from '../src/trustee/share-decryptor.js';
import type { TlsFiles } from '../src/http/common.js';
import {
  buildBallotServer,
  buildElectionServers,
  buildOrgServer,
  buildVerifierServer,
  httpRecordIssuance,
  remoteBoard,
  type CommonOptions,
} from '../src/server/election-servers.js';
import { dataPaths, ENV, readJsonFile, type DataPaths } from '../src/node/data-dir.js';
import { checkKeysMatchManifest, loadBoardSecretKey, loadCredential, loadIssuanceSecret, loadIssuerKey } from '../src/node/server-keys.js';
import { action, readSecret } from './_common.js';
import { FileTallyJournal } from '../src/verifier/tally-journal-file.js';
import { PgBoardStore } from '../bulletin/store/pg.js';
import type { BoardStore } from '../bulletin/store/interface.js';
import { openPgRegister } from '../src/org/register-pg.js';
import type { RegisterStore } from '../src/org/register-store.js';
import { DATABASE_URL_ENV, isPostgresUrl, redactConnectionString } from '../src/node/pg-connect.js';

type Role = 'all' | 'org' | 'ballot' | 'verifier';

interface ServeOptions {
  data: string;
  /** the verification server's key share file when it is also a trustee (spec §13) */
  share?: string;
  role: Role;
  host: string;
  port: number;
  ballotUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  passphraseFile?: string;
  trustProxy?: string[];
  /** SECRET (may hold a password): postgres:// URL of the shared store */
  store?: string;
  /** references per token-issued entry (a privacy parameter, spec §7.4) */
  issuanceBatch: number;
  /** longest wait for a batch to fill, seconds (a privacy parameter, spec §7.4) */
  issuanceWindow: number;
}

/**
 * Defaults of the issuance batch (spec §7.4, issue 10.4): up to 8 voters share a token-issued
 * entry, and a voter waits at most 30 s for others to join theirs. Both are PRIVACY
 * parameters: the batch size is the crowd a voter's ballot hides in on the board; the window
 * is the longest a voter is held for it. They bound no work.
 */
export const ISSUANCE_BATCH_DEFAULTS = { size: 8, windowSeconds: 30 } as const;

function batchOf(opts: ServeOptions): { size: number; windowMs: number } {
  return { size: opts.issuanceBatch, windowMs: Math.round(opts.issuanceWindow * 1000) };
}

function parseBatch(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 256) throw new InvalidArgumentError('Expected an integer in [1, 256]');
  return n;
}

function parseWindow(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n > 600) throw new InvalidArgumentError('Expected a number of seconds in [0, 600]');
  return n;
}

/** What runs: the one app that listens, the roles it answers for, and how to stop them all. */
interface Running {
  readonly app: FastifyInstance;
  readonly roles: readonly Exclude<Role, 'all'>[];
  /** resolves once every app is ready (in `all`, the org and verifier apps behind the ballot app) */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The board's LevelDB store, opened here so that a directory held by another process gets a
 * message that says so (Board.open reuses the open store).
 * @throws TallyError INTERNAL if it cannot be opened
 */
async function openBoardStore(paths: DataPaths, db?: Database): Promise<BoardStore> {
  if (db !== undefined) {
    const pgStore = new PgBoardStore({ connectionString: db.url, board: db.board });
    try {
      await pgStore.open();
    } catch (cause) {
      throw new TallyError('INTERNAL', `board: cannot open the board in ${db.shown}`, { cause });
    }
    return pgStore;
  }
  const store = new LevelBoardStore(paths.board);
  try {
    await store.open();
  } catch (cause) {
    if (isTallyError(cause)) throw cause;
    throw new TallyError('INTERNAL', `board: cannot open ${paths.board} (is another process using it?)`, { cause });
  }
  return store;
}

/** The shared database, if --store or $TALLYBOARD_DATABASE_URL names one. */
interface Database {
  /** SECRET: the connection string */
  readonly url: string;
  /** the connection string with its password replaced, for messages */
  readonly shown: string;
  /** the board's name in the database: the election id */
  readonly board: string;
}

function databaseOf(opts: ServeOptions, election: Election): Database | undefined {
  const url = opts.store ?? process.env[DATABASE_URL_ENV];
  if (url === undefined || url === '') return undefined;
  if (!isPostgresUrl(url)) throw new TallyError('MALFORMED', `--store / $${DATABASE_URL_ENV}: expected a postgres:// or postgresql:// URL`);
  return { url, shown: redactConnectionString(url), board: election.manifest.electionId };
}

/** The voter register: LevelDB in the data directory, or the shared database. */
async function openRegister(paths: DataPaths, db: Database | undefined): Promise<RegisterStore> {
  if (db === undefined) return openLevelRegister(paths.register);
  try {
    return await openPgRegister(db.url);
  } catch (cause) {
    throw new TallyError('INTERNAL', `register: cannot open the register in ${db.shown}`, { cause });
  }
}

/**
 * What the verification server decrypts with (spec §13): a trustee's share file (`--share`,
 * the verification server is then also that trustee), else the Paillier key file `keygen`
 * wrote (a 1-of-1 election), else nothing: it only coordinates (posts the encrypted tally and
 * combines the trustees' partial decryptions, which anyone can redo).
 */
async function loadDecryptionKey(paths: DataPaths, opts: ServeOptions, election: Election): Promise<{ paillierKey?: PaillierSecretKey; share?: KeyShare }> {
  if (opts.share !== undefined) {
    if (!existsSync(opts.share)) throw new TallyError('NOT_FOUND', `share file not found: ${opts.share}`);
    const passphrase = await readSecret({ file: opts.passphraseFile, env: ENV.passphrase, prompt: 'Passphrase of the share file' });
    const { publicKey, share } = await readShareFile(opts.share, passphrase);
    const wrong = keyMismatch(publicKey, election);
    if (wrong !== undefined) throw new TallyError('BAD_PRIVATE_KEY', `--share: ${wrong}`);
    process.stderr.write(`verification server: trustee ${share.index} of ${election.threshold.l} (threshold ${election.threshold.k})\n`);
    return { share };
  }
  if (existsSync(paths.paillierKey)) {
    const paillierKey = await loadPaillierKey(paths, opts.passphraseFile);
    checkKeysMatchManifest(election, { paillierKey });
    return { paillierKey };
  }
  process.stderr.write(`verification server: no key share (no --share, no ${paths.paillierKey}): it coordinates only; ${election.threshold.k} of the ${election.threshold.l} trustees decrypt (tallyboard trustee serve)\n`);
  return {};
}

/** The Paillier secret key, decrypted with the passphrase (file, environment, or prompt). */
async function loadPaillierKey(paths: DataPaths, passphraseFile: string | undefined): Promise<PaillierSecretKey> {
  const file = readJsonFile(paths.paillierKey, 'Paillier key file', 1 << 20);
  const passphrase = await readSecret({ file: passphraseFile, env: ENV.passphrase, prompt: 'Passphrase of the Paillier key file' });
  return decryptKeyFile(file, passphrase);
}

function ballotUrlOf(opts: ServeOptions): string {
  if (opts.ballotUrl === undefined) throw new TallyError('MALFORMED', `--role ${opts.role} needs --ballot-url (the ballot server's base URL)`);
  let url: URL;
  try {
    url = new URL(opts.ballotUrl);
  } catch {
    throw new TallyError('MALFORMED', `--ballot-url: ${JSON.stringify(opts.ballotUrl)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TallyError('MALFORMED', '--ballot-url: expected an http or https URL');
  return url.origin;
}

function single(role: Exclude<Role, 'all'>, app: FastifyInstance): Running {
  return { app, roles: [role], ready: async () => undefined, close: () => app.close() };
}

/** Build (not start) the apps of the role. Stores opened here are closed by the apps' onClose. */
async function build(opts: ServeOptions, paths: DataPaths, election: Election, common: Omit<CommonOptions, 'credentials'>): Promise<Running> {
  const db = databaseOf(opts, election);
  switch (opts.role) {
    case 'all': {
      const decryption = await loadDecryptionKey(paths, opts, election);
      const issuerKey = loadIssuerKey(paths);
      const boardSecretKey = loadBoardSecretKey(paths);
      checkKeysMatchManifest(election, { issuerKey, boardSecretKey });
      const credentials = { adminToken: loadCredential(paths, 'admin'), orgToken: loadCredential(paths, 'org'), verifierToken: loadCredential(paths, 'verifier') };
      const issuanceSecret = loadIssuanceSecret(paths);
      const register = await openRegister(paths, db);
      try {
        const s = await buildElectionServers(
          { election, boardStore: await openBoardStore(paths, db), boardSecretKey, register, issuerKey, issuanceSecret, issuanceBatch: batchOf(opts), commitOnReady: true, ...decryption, journal: new FileTallyJournal(paths.verifierJournal) },
          { ...common, credentials, singleOrigin: true, web: {} },
        );
        // Shutdown order on one origin (listener, in-flight requests, verifier, organization,
        // board last) is arranged by buildElectionServers: closing the ballot app is enough.
        return {
          app: s.ballot,
          roles: ['ballot', 'org', 'verifier'],
          // The forwarded apps never listen; ready() runs their onReady hooks (the tally poller).
          ready: async () => {
            await Promise.all([s.org.ready(), s.verifier.ready()]);
          },
          close: () => s.close(),
        };
      } catch (e) {
        await register.close().catch(() => undefined);
        throw e;
      }
    }
    case 'ballot': {
      const boardSecretKey = loadBoardSecretKey(paths);
      checkKeysMatchManifest(election, { boardSecretKey });
      const credentials = { adminToken: loadCredential(paths, 'admin'), orgToken: loadCredential(paths, 'org'), verifierToken: loadCredential(paths, 'verifier') };
      const { app } = await buildBallotServer({ election, boardStore: await openBoardStore(paths, db), boardSecretKey }, { ...common, credentials });
      return single('ballot', app);
    }
    case 'org': {
      const ballotUrl = ballotUrlOf(opts);
      const issuerKey = loadIssuerKey(paths);
      checkKeysMatchManifest(election, { issuerKey });
      // Its own credential only: it may record issuances, not submit a tally (issue 10.9).
      const orgToken = loadCredential(paths, 'org');
      const issuanceSecret = loadIssuanceSecret(paths);
      const register = await openRegister(paths, db);
      // The organization server has no admin route: its machine need not hold the admin credential.
      const app = buildOrgServer({ election, register, issuerKey, issuanceSecret, issuanceBatch: batchOf(opts), commitOnReady: true }, { ...common, credentials: { adminToken: '', orgToken } }, httpRecordIssuance(ballotUrl, orgToken));
      return single('org', app);
    }
    case 'verifier': {
      const ballotUrl = ballotUrlOf(opts);
      const decryption = await loadDecryptionKey(paths, opts, election);
      const credentials = { adminToken: loadCredential(paths, 'admin'), verifierToken: loadCredential(paths, 'verifier') };
      const { app } = buildVerifierServer({ election, ...decryption, journal: new FileTallyJournal(paths.verifierJournal) }, { ...common, credentials }, remoteBoard(ballotUrl, credentials.verifierToken));
      return single('verifier', app);
    }
  }
}

function tlsFiles(opts: ServeOptions): TlsFiles | undefined {
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new TallyError('MALFORMED', '--tls-cert and --tls-key go together');
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) return undefined;
  for (const f of [opts.tlsCert, opts.tlsKey]) if (!existsSync(f)) throw new TallyError('NOT_FOUND', `TLS file not found: ${f}`);
  return { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) };
}

/**
 * Close, without waiting out keep-alive timeouts: a connection whose request was in flight when
 * the close began stays open, idle, after its response (fastify only closes the connections
 * idle at that instant), which would hold the shutdown for the keep-alive timeout (72 s). So
 * idle connections are closed every 100 ms until the close completes; busy ones are never cut.
 */
async function closeGracefully(running: Running): Promise<void> {
  const sweep = setInterval(() => running.app.server.closeIdleConnections?.(), 100);
  try {
    await running.close();
  } finally {
    clearInterval(sweep);
  }
}

/** Close on SIGINT/SIGTERM, then exit 0; a second signal exits at once. */
function exitOnSignals(running: Running): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(1);
    }
    closing = true;
    process.stdout.write(`${signal}: shutting down (in-flight requests finish)\n`);
    closeGracefully(running).then(
      () => {
        process.stdout.write('stopped\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`error during shutdown: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function serve(opts: ServeOptions): Promise<void> {
  if (opts.ballotUrl !== undefined && (opts.role === 'all' || opts.role === 'ballot')) {
    throw new TallyError('MALFORMED', `--ballot-url is for --role org or verifier, not ${opts.role}`);
  }
  const paths = dataPaths(opts.data);
  const election = parseManifest(readJsonFile(paths.manifest, 'election manifest'));
  const https = tlsFiles(opts);
  const running = await build(opts, paths, election, { logger: true, ...(https ? { https } : {}), ...(opts.trustProxy ? { trustProxy: opts.trustProxy } : {}) });

  let url: string;
  try {
    url = await running.app.listen({ host: opts.host, port: opts.port });
    await running.ready();
  } catch (e) {
    await running.close().catch(() => undefined);
    throw e;
  }
  exitOnSignals(running);
  const m = election.manifest;
  const db = databaseOf(opts, election);
  process.stdout.write(
    `roles: ${running.roles.join(', ')}${running.roles.length > 1 ? ' (one process, one origin)' : ''}\n` +
      (db !== undefined && running.roles.some((r) => r === 'ballot' || r === 'org') ? `store: ${db.shown}\n` : '') +
      `election ${m.electionId}, fingerprint ${election.fingerprintHex}\n` +
      `listening on ${url} (${running.roles.join(', ')})\n`,
  );
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('Expected a port number in [0, 65535] (0: a free port)');
  return n;
}

/** `--trust-proxy`: a comma-separated list of IP addresses or CIDR ranges (issue 16.6). */
function parseProxies(v: string): string[] {
  const list = v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const ok = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)(\/\d{1,3})?$/;
  if (list.length === 0 || list.some((x) => !ok.test(x))) throw new InvalidArgumentError('Expected comma-separated IP addresses or CIDR ranges, e.g. 127.0.0.1,10.0.0.0/8');
  return list;
}

/** Register `tallyboard serve`. */
export function register(program: Command): void {
  program
    .command('serve')
    .description("run the election's servers from a data directory")
    .requiredOption('--data <dir>', 'election data directory (manifest, keys, stores)')
    .addOption(new Option('--role <role>', 'which server(s) to run').choices(['all', 'org', 'ballot', 'verifier']).default('all'))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'port (0: a free port, printed)').argParser(parsePort).default(8080))
    .option('--ballot-url <url>', 'base URL of the ballot server (required by --role org and verifier)')
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of the certificate')
    .option('--trust-proxy <addresses>', 'reverse proxies (comma-separated addresses or CIDR ranges) whose X-Forwarded-For gives the client address', parseProxies)
    .option('--store <url>', `postgres://… : keep the board and the register in PostgreSQL (else $${DATABASE_URL_ENV}, else LevelDB in --data)`)
    .option('--issuance-batch <n>', `voters per token-issued entry, 1–256: a PRIVACY parameter (board order hides which of them cast which ballot; spec §7.4)`, parseBatch, ISSUANCE_BATCH_DEFAULTS.size)
    .option('--issuance-window <seconds>', 'longest a voter waits for others to share their issuance entry, 0–600 s: a PRIVACY parameter, not a timeout', parseWindow, ISSUANCE_BATCH_DEFAULTS.windowSeconds)
    .option('--share <file>', 'the verification server is also a trustee: its share file from the ceremony (spec §13); without it and without a Paillier key file it only coordinates')
    .option('--passphrase-file <file>', `passphrase of the Paillier key file or of --share (else $${ENV.passphrase}, else asked)`)
    .action(action(async (opts: ServeOptions) => serve(opts)));
}
