/**
 * A throwaway PostgreSQL cluster for the tests and the multi-node bench: `initdb` in a fresh
 * temporary directory, `postgres` listening only on a unix socket in that directory (under a
 * port number picked free on loopback, which names the socket), stopped and removed at the end.
 *
 * Why a real server and not a mock: the point of the PostgreSQL stores is what the database
 * guarantees (row locks, transactions, constraints, durability); a fake would test our beliefs
 * about PostgreSQL instead of PostgreSQL.
 *
 * Why it finds the binaries itself: Debian installs them under /usr/lib/postgresql/<major>/bin,
 * which is not on PATH. PostgreSQL refuses to run as root, and CI runs as root, so when this
 * process is root the cluster runs as an unprivileged OS user: $TALLYBOARD_PG_OS_USER, else
 * `postgres` (created by Debian's package). Node's spawn switches uid/gid itself, so signals go
 * straight to the postmaster (no su/runuser in between).
 *
 * Readiness is the postmaster's own "ready to accept connections" log line — no sleeps, no
 * deadlines: on a slow machine it just takes longer. If the postmaster exits first, start fails
 * with its log.
 *
 * Availability rule for the tests ({@link pgForTests}): without PostgreSQL the tests are
 * skipped with the reason; under CI (CI=true, or TALLYBOARD_REQUIRE_PG=1 as .ci/run sets) the
 * same situation is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The database role every throwaway cluster is created with (trust auth on the socket only). */
export const PG_TEST_ROLE = 'tallyboard';

/** Where the binaries are and as whom the server runs, or why it cannot run here. */
export type PgAvailability =
  | { readonly ok: true; readonly bin: string; readonly runAs: { uid: number; gid: number; name: string } | undefined }
  | { readonly ok: false; readonly reason: string };

/** A running throwaway cluster. */
export interface PgCluster {
  /** directory holding the data directory, the socket and the log */
  readonly dir: string;
  readonly port: number;
  /** Connection string of database `db` (no password: trust on a private socket). */
  url(db: string): string;
  /** Creates a fresh database with a unique name and returns its connection string. */
  createDatabase(prefix?: string): Promise<string>;
  /** Fast shutdown, then removes the directory. Idempotent. */
  stop(): Promise<void>;
}

function binDir(): string | undefined {
  const fromEnv = process.env.TALLYBOARD_PG_BIN;
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
    for (const m of majors) if (existsSync(join(root, m, 'bin', 'initdb'))) return join(root, m, 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const p = which.stdout.trim();
  return p ? p.replace(/\/initdb$/, '') : undefined;
}

function osUser(name: string): { uid: number; gid: number; name: string } | undefined {
  const u = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()), name };
}

/** Whether a throwaway cluster can be started on this machine, and how. */
export function pgAvailability(): PgAvailability {
  const bin = binDir();
  if (bin === undefined) return { ok: false, reason: 'PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on PATH)' };
  if (process.getuid?.() !== 0) return { ok: true, bin, runAs: undefined };
  const name = process.env.TALLYBOARD_PG_OS_USER ?? 'postgres';
  const runAs = osUser(name);
  if (runAs === undefined || runAs.uid === 0) {
    return { ok: false, reason: `running as root and no unprivileged OS user "${name}" to run PostgreSQL as (set TALLYBOARD_PG_OS_USER)` };
  }
  return { ok: true, bin, runAs };
}

/** A port number nobody listens on right now (it names the socket file). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function run(cmd: string, args: string[], runAs: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}), env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}:\n${out.slice(-4000)}`))));
  });
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /**
   * Durable settings (fsync, synchronous_commit on: PostgreSQL's defaults), for the bench.
   * Tests default to fsync off: a throwaway cluster dies with the test and durability of the
   * server itself is not what they test.
   */
  readonly durable?: boolean;
  /** max_connections (default 100) */
  readonly maxConnections?: number;
}

/**
 * Creates and starts a throwaway cluster.
 * @throws Error if PostgreSQL is unavailable (see {@link pgAvailability}) or does not start
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<PgCluster> {
  const a = pgAvailability();
  if (!a.ok) throw new Error(a.reason);
  // The unprivileged user must be able to reach the directory: /tmp, not a TMPDIR under /root.
  const dir = mkdtempSync(join(a.runAs && existsSync('/tmp') ? '/tmp' : tmpdir(), 'tallyboard-pg-'));
  if (a.runAs) chownSync(dir, a.runAs.uid, a.runAs.gid);
  const data = join(dir, 'data');
  try {
    await run(join(a.bin, 'initdb'), ['-D', data, '-U', PG_TEST_ROLE, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], a.runAs);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const port = await freePort();
  const settings = [
    '-D', data,
    '-k', dir,
    '-p', String(port),
    '-c', "listen_addresses=",
    '-c', `max_connections=${opts.maxConnections ?? 100}`,
    ...(opts.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
  ];
  const child: ChildProcess = spawn(join(a.bin, 'postgres'), settings, {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(a.runAs ? { uid: a.runAs.uid, gid: a.runAs.gid } : {}),
    env: { ...process.env, LC_ALL: 'C' },
  });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (log.length > 65536) log = log.slice(-32768);
      if (log.includes('ready to accept connections')) {
        child.stderr!.off('data', onData);
        // Keep draining the pipe so a chatty server never blocks on a full stderr.
        child.stderr!.resume();
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.on('error', reject);
    void exited.then((code) => reject(new Error(`postgres exited (${code}) before it was ready:\n${log.slice(-4000)}`)));
  }).catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const killOnExit = (): void => {
    child.kill('SIGQUIT');
  };
  process.once('exit', killOnExit);

  const url = (db: string): string => `postgresql://${PG_TEST_ROLE}@localhost:${port}/${encodeURIComponent(db)}?host=${encodeURIComponent(dir)}`;
  let n = 0;
  let stopped: Promise<void> | undefined;
  return {
    dir,
    port,
    url,
    async createDatabase(prefix = 'db') {
      const name = `${prefix.replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${++n}`;
      const c = new pg.Client({ connectionString: url('postgres') });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    stop() {
      stopped ??= (async () => {
        process.off('exit', killOnExit);
        if (child.exitCode === null) {
          child.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** What {@link pgForTests} decided. */
export type PgForTests = { readonly cluster: PgCluster } | { readonly skip: string };

/**
 * The cluster for one test file, or the reason to skip. Under CI (CI=true) PostgreSQL must be
 * there: a missing one is thrown, so the test file fails instead of passing by skipping.
 * The caller stops the cluster (t.teardown).
 */
export async function pgForTests(): Promise<PgForTests> {
  const a = pgAvailability();
  if (!a.ok) {
    if (process.env.CI === 'true' || process.env.TALLYBOARD_REQUIRE_PG === '1') throw new Error(`PostgreSQL is required here (CI) but cannot run: ${a.reason}`);
    return { skip: `skipped: ${a.reason}` };
  }
  return { cluster: await startCluster() };
}
