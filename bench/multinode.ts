/**
 * `npm run bench:multinode`: several ballot servers on ONE PostgreSQL board, under load, with a
 * crash (issue #15; spec/12-servers.md §12.6). Not part of the test suite: it prints figures, and
 * figures depend on the machine.
 *
 * What it does, all with real processes on loopback:
 *  1. a throwaway PostgreSQL cluster with durable settings (fsync and synchronous_commit on);
 *  2. an election data directory made by the CLI (`keygen --bits 2048`, `election create`);
 *  3. BENCH_VOTERS voters (default 300): tokens and ballots prepared in advance, so the run
 *     measures the servers, not the voters' encryption;
 *  4. phase "1 server": one `tallyboard serve --role ballot --store postgres://…` process, the
 *     voters cast BENCH_CONCURRENCY (default 24) at a time;
 *  5. phase "3 servers": a fresh database, three such processes behind a round-robin client (what
 *     a load balancer does); when a third of the voters are done, one server is SIGKILLed and
 *     restarted. A voter whose request fails retries on the next server, as a browser behind a
 *     load balancer would; a retry answered "this exact ballot was already cast" fetches its
 *     receipt by tracker instead.
 *  6. checks, for each phase: every voter who got a receipt has exactly their ballot on the board
 *     (lost 0, duplicated 0), the receipt's entry hash is the stored one, a full-depth open of the
 *     stored board verifies every entry, Merkle node and checkpoint, and the export served by
 *     another server than the one that took the ballot is byte-identical; then the election is
 *     closed on one server and the verification server, pointed at ANOTHER ballot server, tallies
 *     it (the result is read from the third); in the 3-server phase the standalone auditor
 *     (`tallyboard verify --board URL`) checks the board served by the restarted server.
 *
 * First, the serialized part alone: board appends per second on the same durable cluster, by one
 * writer and by two writers sharing the board (BENCH_APPENDS, default 1000).
 *
 * Prints `bench multinode <figure> <value> <unit>` lines and a side-by-side table; exits 1 if any
 * check fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board } from '../bulletin/board.js';
import { PgBoardStore } from '../bulletin/store/pg.js';
import { loadIssuerKey } from '../src/node/server-keys.js';
import { ballotToJson, createBallot } from '../src/election/ballot.js';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { completeToken, issueBlindSignature, requestToken } from '../src/election/token.js';
import { dataPaths } from '../src/node/data-dir.js';
import { parseHex, toHex } from '../src/wire.js';
import { RegisterTree } from '../src/election/register.js';
import { startCluster, type PgCluster } from '../test/helpers/pg-cluster.js';

const root = fileURLToPath(new URL('../../', import.meta.url)); // dist/bench → repository root
const CLI = join(root, 'dist', 'cli', 'tallyboard.js');
const VOTERS = Number(process.env.BENCH_VOTERS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 24);
const PASSPHRASE = 'bench-multinode-passphrase';

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TALLYBOARD_PASSPHRASE: PASSPHRASE } });
  if (r.status !== 0) throw new Error(`tallyboard ${args[0]} failed:\n${r.stdout}\n${r.stderr}`);
}

/** A running `serve` process and the URL it printed. */
interface Server {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly output: () => string;
}

/** Starts `tallyboard serve` and resolves with the URL it prints once listening (no deadline). */
function serve(args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TALLYBOARD_PASSPHRASE: PASSPHRASE },
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 1 << 20) out = out.slice(-(1 << 19));
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        proc.stdout!.off('data', onData);
        resolve({ proc, url: m[1]!, output: () => out });
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening:\n${out.slice(-4000)}`)));
  });
}

async function stop(s: Server): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const done = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await done;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

interface Voter {
  readonly ballot: unknown;
  readonly tracker: string;
  /** the issuance reference the organization server would record (random, 32 bytes hex) */
  readonly ref: string;
}

interface PhaseResult {
  servers: number;
  ballotsPerSecond: number;
  p50: number;
  p99: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  wrongHash: number;
  retries: number;
  chainValid: boolean;
  exportsIdentical: boolean;
  tallied: boolean;
  killed: boolean;
  /** `tallyboard verify` over the restarted server's board (the 3-server phase only) */
  audited: boolean | undefined;
}

async function phase(cluster: PgCluster, dir: string, election: Election, voters: Voter[], n: number, kill: boolean): Promise<PhaseResult> {
  const url = await cluster.createDatabase(`bench_${n}`);
  const storeArgs = ['--data', dir, '--role', 'ballot', '--store', url];
  const servers: (Server | undefined)[] = [];
  for (let i = 0; i < n; i++) servers.push(await serve(storeArgs)); // one by one: the first creates the setup entry
  // The organization server records each issuance on the board (spread over the servers, not timed).
  const serviceToken = readFileSync(dataPaths(dir).serviceToken, 'utf8').trim();
  // The committed register (spec §7.5) of exactly these voters, then one issuance each with its proof.
  const tree = new RegisterTree(voters.map((v) => parseHex(v.ref, 'ref', 32)));
  const committed = await fetch(`${servers[0]!.url}/internal/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}` },
    body: JSON.stringify({ voters: tree.size, root: toHex(tree.root) }),
  });
  if (!committed.ok) throw new Error(`register: ${committed.status} ${await committed.text()}`);
  let issued = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (issued < voters.length) {
        const i = issued++;
        const res = await fetch(`${servers[i % n]!.url}/internal/token-issued`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}` },
          body: JSON.stringify({ refs: [(({ index, path }) => ({ ref: voters[i]!.ref, index, path: path.map(toHex) }))(tree.proof(parseHex(voters[i]!.ref, 'ref', 32))!)] }),
        });
        if (!res.ok) throw new Error(`token-issued: ${res.status} ${await res.text()}`);
      }
    }),
  );
  const latencies: number[] = [];
  const receipts = new Map<string, { height: number; hash: string }>();
  let retries = 0;
  let next = 0;
  let rr = 0;
  let done = 0;
  let killed = false;
  let restarting: Promise<void> | undefined;
  const pick = (): Server => {
    for (;;) {
      const s = servers[rr++ % servers.length];
      if (s !== undefined) return s;
    }
  };
  const castOne = async (v: Voter): Promise<void> => {
    const t0 = performance.now();
    for (;;) {
      const s = pick();
      try {
        const res = await fetch(`${s.url}/api/ballots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(v.ballot) });
        const body = (await res.json()) as { entry?: { height: number }; entryHash?: string; error?: { code: string; details?: { check?: string } } };
        if (res.status === 201) {
          receipts.set(v.tracker, { height: body.entry!.height, hash: body.entryHash! });
          break;
        }
        if (res.status === 409 && body.error?.details?.check === '7a') {
          // An earlier attempt landed but its answer was lost with the killed server: get the receipt.
          const r = await fetch(`${s.url}/api/ballots/${v.tracker}`);
          const rb = (await r.json()) as { entry: { height: number }; entryHash: string };
          receipts.set(v.tracker, { height: rb.entry.height, hash: rb.entryHash });
          break;
        }
        throw new Error(`cast refused: ${res.status} ${JSON.stringify(body.error)}`);
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // fetch failed: the server is gone; try the next
        retries++;
      }
    }
    latencies.push(performance.now() - t0);
    done++;
    if (kill && !killed && done >= Math.floor(voters.length / 3)) {
      killed = true;
      const victim = servers[1]!;
      servers[1] = undefined;
      victim.proc.kill('SIGKILL');
      restarting = (async () => {
        await new Promise((r) => victim.proc.once('exit', r));
        servers[1] = await serve(storeArgs);
      })();
    }
  };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < voters.length) await castOne(voters[next++]!);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await restarting;

  // --- checks: the board as stored, verified from scratch ---
  const replica = await Board.open(new PgBoardStore({ connectionString: url, board: election.manifest.electionId }), {
    electionId: election.manifest.electionId,
    boardPublicKey: election.boardKey,
    verify: 'full',
  }).catch((e: unknown) => {
    process.stderr.write(`full verification failed: ${String(e)}\n`);
    return undefined;
  });
  const onBoard = new Map<string, { height: number; hash: string }[]>();
  if (replica) {
    for await (const { entry, hash } of replica.entries()) {
      if (entry.type !== 'ballot') continue;
      const tracker = (entry.payload as { tracker: string }).tracker;
      onBoard.set(tracker, [...(onBoard.get(tracker) ?? []), { height: entry.height, hash: toHex(hash) }]);
    }
    await replica.close();
  }
  let lost = 0;
  let wrongHash = 0;
  for (const [tracker, r] of receipts) {
    const found = onBoard.get(tracker);
    if (found === undefined) lost++;
    else if (found[0]!.hash !== r.hash || found[0]!.height !== r.height) wrongHash++;
  }
  const duplicated = [...onBoard.values()].filter((xs) => xs.length > 1).length + Math.max(0, [...onBoard.keys()].filter((k) => !receipts.has(k)).length);

  // Every server serves the same board (each catches up before a read).
  const exports = await Promise.all(servers.map(async (s) => (await fetch(`${s!.url}/api/board/export`)).text()));
  const exportsIdentical = exports.every((x) => x === exports[0]);

  // Close on the first server; the verification server, pointed at the LAST one, tallies.
  const adminToken = readFileSync(dataPaths(dir).adminToken, 'utf8').trim();
  await fetch(`${servers[0]!.url}/admin/close`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
  const verifier = await serve(['--data', dir, '--role', 'verifier', '--ballot-url', servers[servers.length - 1]!.url]);
  const tally = await fetch(`${verifier.url}/admin/tally`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
  const results = await fetch(`${servers[Math.min(1, servers.length - 1)]!.url}/api/results`);
  const tallied = tally.ok && results.status === 200;
  if (!tallied) process.stderr.write(`tally: ${tally.status} ${await tally.text()} / results ${results.status}\n`);
  await stop(verifier);
  // The standalone auditor, unchanged, over the board served by the restarted server.
  let audited: boolean | undefined;
  if (kill) {
    const a = spawnSync(process.execPath, [CLI, 'verify', '--board', servers[1]!.url], { encoding: 'utf8' });
    audited = a.status === 0;
    if (!audited) process.stderr.write(`auditor:\n${a.stdout.slice(-3000)}\n${a.stderr.slice(-2000)}\n`);
  }
  for (const s of servers) await stop(s!);

  return {
    servers: n,
    ballotsPerSecond: receipts.size / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    acknowledged: receipts.size,
    lost,
    duplicated,
    wrongHash,
    retries,
    chainValid: replica !== undefined,
    exportsIdentical,
    tallied,
    killed,
    audited,
  };
}

/**
 * The serialized part alone: Board appends of 256-byte payloads on the durable cluster, by one
 * board object and by two (two pools, as two processes), concurrently. @returns appends per second
 */
async function appendRate(cluster: PgCluster, writers: number, appends: number): Promise<number> {
  const url = await cluster.createDatabase(`appends_${writers}`);
  const key = new Uint8Array(32).fill(7);
  const boards: Board[] = [];
  for (let i = 0; i < writers; i++) boards.push(await Board.open(new PgBoardStore({ connectionString: url, board: 'rate' }), { electionId: 'rate', boardSecretKey: key }));
  await boards[0]!.append('setup', { x: 'setup' });
  const payload = { x: 'p'.repeat(256) };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: appends }, (_, i) => boards[i % writers]!.append('ballot', payload)));
  const rate = appends / ((performance.now() - t0) / 1000);
  for (const b of boards) await b.close();
  return rate;
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-multinode-'));
  const cluster = await startCluster({ durable: true, maxConnections: 200 });
  try {
    process.stdout.write(`bench multinode: PostgreSQL at ${cluster.dir} (fsync on, synchronous_commit on), ${VOTERS} voters, ${CONCURRENCY} in flight\n`);
    cli(['keygen', '--out', dir, '--bits', '2048']);
    cli([
      'election', 'create', '--data', dir, '--id', 'bench-multinode', '--title', 'Multi-node bench',
      '--question', 'q:Question', '--option', 'q:a:A', '--option', 'q:b:B', '--option', 'q:c:C', '--option', 'q:d:D',
      '--start', 'now-1m', '--end', 'now+1d', '--max-voters', String(VOTERS),
    ]);
    const paths = dataPaths(dir);
    const election = parseManifest(JSON.parse(readFileSync(paths.manifest, 'utf8')));
    const issuer = loadIssuerKey(paths);
    const t0 = performance.now();
    const voters: Voter[] = Array.from({ length: VOTERS }, (_, i) => {
      const pending = requestToken(election);
      const token = completeToken(election, pending, issueBlindSignature(issuer, pending.blindedMsg));
      const b = createBallot(election, [[i % 4]], token);
      return { ballot: ballotToJson(election, b.ballot), tracker: toHex(b.tracker), ref: toHex(randomBytes(32)) };
    });
    process.stdout.write(`bench multinode: ${VOTERS} ballots prepared in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    const APPENDS = Number(process.env.BENCH_APPENDS ?? 1000);
    for (const w of [1, 2]) {
      process.stdout.write(`bench multinode board_appends_per_s writers=${w} ${(await appendRate(cluster, w, APPENDS)).toFixed(0)} (${APPENDS} appends, 256-byte payloads)\n`);
    }
    const one = await phase(cluster, dir, election, voters, 1, false);
    const three = await phase(cluster, dir, election, voters, 3, true);
    const rows: [string, (r: PhaseResult) => string][] = [
      ['ballot servers', (r) => String(r.servers)],
      ['ballots/s', (r) => r.ballotsPerSecond.toFixed(1)],
      ['p50 latency ms', (r) => r.p50.toFixed(0)],
      ['p99 latency ms', (r) => r.p99.toFixed(0)],
      ['acknowledged', (r) => String(r.acknowledged)],
      ['lost', (r) => String(r.lost)],
      ['duplicated', (r) => String(r.duplicated)],
      ['receipt ≠ stored entry', (r) => String(r.wrongHash)],
      ['SIGKILL + restart', (r) => (r.killed ? 'yes' : 'no')],
      ['client retries', (r) => String(r.retries)],
      ['chain valid (full open)', (r) => (r.chainValid ? 'yes' : 'NO')],
      ['exports identical', (r) => (r.exportsIdentical ? 'yes' : 'NO')],
      ['tallied via another server', (r) => (r.tallied ? 'yes' : 'NO')],
      ['auditor (verify --board URL)', (r) => (r.audited === undefined ? '-' : r.audited ? 'pass' : 'FAIL')],
    ];
    process.stdout.write('\n');
    for (const [name, f] of rows) process.stdout.write(`${name.padEnd(28)}${f(one).padStart(12)}${f(three).padStart(12)}\n`);
    process.stdout.write('\n');
    for (const r of [one, three]) {
      const tag = `servers=${r.servers}`;
      process.stdout.write(`bench multinode ${tag} ballots_per_s ${r.ballotsPerSecond.toFixed(2)}\n`);
      process.stdout.write(`bench multinode ${tag} p99_ms ${r.p99.toFixed(0)}\n`);
      process.stdout.write(`bench multinode ${tag} lost ${r.lost} duplicated ${r.duplicated} chain_valid ${r.chainValid}\n`);
    }
    const ok = [one, three].every((r) => r.lost === 0 && r.duplicated === 0 && r.wrongHash === 0 && r.chainValid && r.exportsIdentical && r.tallied && r.audited !== false && r.acknowledged === VOTERS);
    process.stdout.write(ok ? 'bench multinode: all checks passed\n' : 'bench multinode: CHECKS FAILED\n');
    writeFileSync(join(dir, 'done'), '');
    return ok ? 0 : 1;
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
