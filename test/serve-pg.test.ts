/**
 * `tallyboard serve --store postgres://…` as an operator runs it: the COMPILED CLI (built by
 * `npm test` before tap) in child processes, two ballot servers on one PostgreSQL board, one
 * given the connection string by flag and one by $TALLYBOARD_DATABASE_URL. Guards that the
 * connection string's password never appears in what the servers print, also when the database
 * cannot be opened, and that two servers started on one empty board write one setup entry.
 * Without PostgreSQL the file is skipped saying why; under CI it fails.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataPaths } from '../src/node/data-dir.js';
import { manifestJson } from './helpers/fixtures.js';
import { pgForTests, PG_TEST_ROLE } from './helpers/pg-cluster.js';

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
}
const CLI = join(repoRoot(), 'dist', 'cli', 'tallyboard.js');
const PASSWORD = 'pw-Zq8-never-printed';

const pg = await pgForTests();
if ('skip' in pg) {
  t.test('serve --store postgres://', { skip: pg.skip }, async () => undefined);
} else {
  const cluster = pg.cluster;
  t.teardown(() => cluster.stop());
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-serve-pg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const paths = dataPaths(dir);
  mkdirSync(dirname(paths.paillierPublic), { recursive: true });
  writeFileSync(paths.paillierPublic, JSON.stringify(manifestJson().keys.election));
  const created = spawnSync(
    process.execPath,
    [CLI, 'election', 'create', '--data', dir, '--rsa-bits', '2048', '--id', 'serve-pg', '--title', 'T', '--question', 'q:Q', '--option', 'q:a:A', '--option', 'q:b:B', '--start', 'now-1m', '--end', 'now+1d', '--max-voters', '10'],
    { encoding: 'utf8' },
  );
  if (created.status !== 0) throw new Error(`election create failed: ${created.stderr}`);

  /** The connection string of `db` with a password in it (trust auth on the private socket ignores it). */
  const withPassword = (url: string): string => url.replace(`${PG_TEST_ROLE}@`, `${PG_TEST_ROLE}:${PASSWORD}@`);

  interface Proc {
    child: ChildProcess;
    out: () => string;
    exited: Promise<number | null>;
  }
  function start(args: string[], env: Record<string, string> = {}, role = 'ballot'): Proc {
    const child = spawn(process.execPath, [CLI, 'serve', '--data', dir, '--role', role, '--port', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return { child, out: () => out, exited };
  }
  /** The URL once it listens, or undefined if it exits first. */
  async function listening(p: Proc): Promise<string | undefined> {
    return new Promise((resolve) => {
      const check = (): void => {
        const m = /listening on (http:\/\/\S+)/.exec(p.out());
        if (m) resolve(m[1]);
      };
      p.child.stdout!.on('data', check);
      void p.exited.then(() => resolve(undefined));
    });
  }

  t.test('regression: two ballot servers on one database; the password is never printed', async (t) => {
    const url = withPassword(await cluster.createDatabase('serve'));
    const a = start(['--store', url]);
    const b = start([], { TALLYBOARD_DATABASE_URL: url });
    t.teardown(() => {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    });
    const [ua, ub] = await Promise.all([listening(a), listening(b)]);
    t.ok(ua && ub, 'both servers listen', { a: a.out().slice(-2000), b: b.out().slice(-2000) });
    const entries = await Promise.all([ua, ub].map(async (u) => (await (await fetch(`${u}/api/board/entries`)).json()) as { size: number; entries: { type: string }[] }));
    t.same(entries.map((e) => e.size), [1, 1], 'both serve a board of one entry');
    t.same(entries[0]!.entries.map((e) => e.type), ['setup'], 'one setup entry although both started on an empty board');
    for (const p of [a, b]) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    t.match(a.out(), /store: postgresql:\/\/tallyboard:\*\*\*@/, 'the store is printed with its password redacted');
    t.notMatch(a.out() + b.out(), PASSWORD, 'the password appears nowhere in the output');
  });

  t.test('the register in PostgreSQL: voters import --store, then serve --role org --store logs a voter in', async (t) => {
    const url = withPassword(await cluster.createDatabase('register'));
    const csv = join(dir, 'voters.csv');
    writeFileSync(csv, 'first_name,last_name,email,login\nAda,Lovelace,ada@example.org,ada\n');
    const out = join(dir, 'passwords-pg.csv');
    const imp = spawnSync(process.execPath, [CLI, 'voters', 'import', '--data', dir, csv, '--passwords-out', out, '--scrypt-n', '1024', '--store', url], { encoding: 'utf8' });
    t.equal(imp.status, 0, 'voters import succeeds', { stderr: imp.stderr });
    t.match(imp.stdout, /imported 1 voter into postgresql:\/\/tallyboard:\*\*\*@/, 'names the database, redacted');
    t.notMatch(imp.stdout + imp.stderr, PASSWORD, 'without the password');
    const password = readFileSync(out, 'utf8').trim().split('\n')[1]!.split(',')[1]!;
    // The org server needs a ballot server to record issuances; login does not reach it.
    const org = start(['--store', url, '--ballot-url', 'http://127.0.0.1:9'], {}, 'org');
    t.teardown(() => org.child.kill('SIGKILL'));
    const u = await listening(org);
    t.ok(u, 'the organization server listens on the PostgreSQL register', { out: org.out().slice(-2000) });
    const res = await fetch(`${u}/api/org/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'ada', password }) });
    t.equal(res.status, 200, 'the imported voter logs in');
    org.child.kill('SIGTERM');
    await org.exited;
    t.notMatch(org.out(), PASSWORD, 'the password appears nowhere in the output');
  });

  t.test('regression: a database that cannot be opened is reported without the password', async (t) => {
    const url = withPassword(cluster.url('no_such_database'));
    const p = start(['--store', url]);
    t.equal(await listening(p), undefined, 'the server does not start');
    t.not(await p.exited, 0, 'exits non-zero');
    t.match(p.out(), /cannot open the board in postgresql:\/\/tallyboard:\*\*\*@/, 'says which database, redacted');
    t.notMatch(p.out(), PASSWORD, 'the password appears nowhere in the output');
  });
}
