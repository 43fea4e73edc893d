/**
 * The admin commands (issue #5), run as an administrator runs them: the COMPILED CLI
 * (`node dist/cli/tallyboard.js`, built by `npm test` before tap) in child processes, in
 * temporary data directories, non-interactively (passphrase and credential files).
 *
 * keygen (2048 bits; refuses to overwrite), election create (flags, a JSON file, and the errors
 * that name the question; nothing written when refused), voters import (passwords file 0600;
 * a bad file lists every error by line and imports nothing), serve --role all (health and
 * manifest over HTTP, SIGTERM exits 0), and the three roles as three processes linked by
 * --ballot-url: a voter gets a token and votes over HTTP, `tallyboard close` and
 * `tallyboard tally` finish the election.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { completeToken, requestToken } from '../src/election/token.js';
import { ballotToJson, createBallot } from '../src/election/ballot.js';
import { decryptKeyFile } from '../src/verifier/keyfile.js';
import { openLevelRegister } from '../src/org/register-level.js';
import { parseHex, toHex } from '../src/wire.js';

/** The repository root: the nearest ancestor with package.json (from test/ or dist/test/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

const CLI = join(repoRoot(), 'dist', 'cli', 'tallyboard.js');
const PASSPHRASE = 'correct horse battery staple';
/** No credential or passphrase leaks in from the environment of whoever runs the tests. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TALLYBOARD_')));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion. */
function run(args: string[], cwd?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Server {
  child: ChildProcess;
  urls: Record<string, string>;
  stdout(): string;
  /** SIGTERM, then the exit code (null if it had to be killed after `ms`). */
  stop(ms?: number): Promise<number | null>;
}

/** Start `serve` and wait until every expected role is listed on a `listening on URL (roles)` line. */
function serve(t: Test, args: string[], roles: string[]): Promise<Server> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const stop = async (ms = 5000): Promise<number | null> => {
    child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
    const code = await Promise.race([exited, timer]);
    if (code === 'timeout') {
      child.kill('SIGKILL');
      return null;
    }
    return code;
  };
  return new Promise((resolve, reject) => {
    const urls: Record<string, string> = {};
    const timeout = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 20_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (const m of out.matchAll(/^listening on (\S+) \(([\w, ]+)\)$/gm)) for (const role of m[2]!.split(', ')) urls[role] = m[1]!;
      if (roles.every((r) => urls[r] !== undefined)) {
        clearTimeout(timeout);
        resolve({ child, urls, stdout: () => out, stop });
      }
    });
    void exited.then((code) => {
      clearTimeout(timeout);
      reject(new Error(`serve exited with ${code} before listening: ${err}`));
    });
  });
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function postJson(url: string, body: unknown, session?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { authorization: `Bearer ${session}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const mode = (path: string) => statSync(path).mode & 0o777;

const root = mkdtempSync(join(tmpdir(), 'tallyboard-cli-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const passFile = join(root, 'passphrase');
writeFileSync(passFile, `${PASSPHRASE}\n`);
/** The directory of the main election: keys, manifest, register. */
const dir = join(root, 'main');

/** A fresh data directory holding a copy of the main directory's Paillier key. */
function withPaillierKey(name: string): string {
  const d = join(root, name);
  mkdirSync(join(d, 'keys'), { recursive: true, mode: 0o700 });
  for (const f of ['paillier.key.json', 'paillier.public.json']) cpSync(join(dir, 'keys', f), join(d, 'keys', f));
  return d;
}

/** `election create` with the usual flags (2048-bit issuer key for speed) plus `extra`. */
function createElection(data: string, extra: string[]): Promise<Result> {
  return run(['election', 'create', '--data', data, '--rsa-bits', '2048', ...extra]);
}

const twoCandidates = ['--question', 'mayor:Mayor: city of X', '--option', 'mayor:alice:Alice Martin', '--option', 'mayor:bob:Bob Durand'];

t.test('keygen', async (t) => {
  const r = await run(['keygen', '--out', dir, '--bits', '2048', '--passphrase-file', passFile]);
  t.equal(r.code, 0, 'keygen succeeds', { stderr: r.stderr });
  t.match(r.stderr, /safe prime 1 found[\s\S]*safe prime 2 found[\s\S]*proving the modulus well formed[\s\S]*encrypting key file/, 'progress on stderr');
  const pub = JSON.parse(readFileSync(join(dir, 'keys', 'paillier.public.json'), 'utf8')) as { n: string; threshold: number; trustees: number };
  t.same(Object.keys(pub), ['n', 'threshold', 'trustees', 'verificationKeys', 'v0', 'rho', 'modulusProof', 'auxiliary'], "exactly the manifest's keys.election object");
  t.same([pub.threshold, pub.trustees], [1, 1], 'a 1-of-1 ceremony');
  t.equal(pub.n.length, 512, '2048 bits');
  const digest = toHex(sha256(parseHex(pub.n, 'n'))).slice(0, 16);
  t.match(r.stdout, `2048 bits, SHA-256(n) ${digest}`, 'prints the key summary');
  t.equal(mode(join(dir, 'keys', 'paillier.key.json')), 0o600, 'the key file is 0600');
  const sk = await decryptKeyFile(JSON.parse(readFileSync(join(dir, 'keys', 'paillier.key.json'), 'utf8')), PASSPHRASE);
  t.equal(toHex(parseHex(pub.n, 'n')), sk.publicKey.toJSON().n, 'the key file opens with the passphrase and holds the published key');

  const before = readFileSync(join(dir, 'keys', 'paillier.key.json'), 'utf8');
  const again = await run(['keygen', '--out', dir, '--bits', '2048', '--passphrase-file', passFile]);
  t.equal(again.code, 1, 'a second keygen fails');
  t.match(again.stderr, /error CONFLICT: .*paillier\.key\.json already exists/);
  t.equal(readFileSync(join(dir, 'keys', 'paillier.key.json'), 'utf8'), before, 'the key is not overwritten');

  const shortPass = join(root, 'short');
  writeFileSync(shortPass, 'too short\n');
  const short = await run(['keygen', '--out', join(root, 'short-dir'), '--bits', '2048', '--passphrase-file', shortPass]);
  t.equal(short.code, 1);
  t.match(short.stderr, /error OUT_OF_RANGE: passphrase: use at least 12 characters/);
  t.notOk(existsSync(join(root, 'short-dir', 'keys')), 'nothing generated with a short passphrase');
  const bits = await run(['keygen', '--out', join(root, 'odd'), '--bits', '2047']);
  t.equal(bits.code, 1, 'an odd size is refused by the option parser (a usage error: exit 1, like every failure)');
  t.match(bits.stderr, /^error USAGE: /m, 'printed as error USAGE: …');
  t.match(bits.stderr, /option '--bits <n>' argument '2047' is invalid\. Expected an even number of bits/);
});

t.test('election create', async (t) => {
  const r = await createElection(dir, ['--id', 'city-2026', '--title', 'City council', ...twoCandidates, '--start', 'now-1m', '--end', 'now+1h', '--max-voters', '100']);
  t.equal(r.code, 0, 'election create from flags succeeds', { stderr: r.stderr });
  const manifest = JSON.parse(readFileSync(join(dir, 'election.json'), 'utf8'));
  const election = parseManifest(manifest);
  t.match(r.stdout, `fingerprint: ${election.fingerprintHex}`, 'prints the fingerprint');
  t.match(manifest.schedule.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'relative times are normalized');
  t.ok(Date.parse(manifest.schedule.end) - Date.parse(manifest.schedule.start) === 61 * 60_000, 'now-1m → now+1h is 61 minutes');
  t.same(manifest.questions[0], { id: 'mayor', title: 'Mayor: city of X', options: [{ id: 'alice', title: 'Alice Martin' }, { id: 'bob', title: 'Bob Durand' }], min: 1, max: 1 });
  t.same(manifest.keys.election, JSON.parse(readFileSync(join(dir, 'keys', 'paillier.public.json'), 'utf8')), 'the election key of keygen');
  t.equal(manifest.revoting, false);
  for (const f of ['keys/issuer.key.json', 'keys/issuance.secret', 'keys/board.key', 'credentials/admin.token', 'credentials/org.token', 'credentials/verifier.token']) {
    t.equal(mode(join(dir, f)), 0o600, `${f} created with mode 0600`);
  }

  const exists = await createElection(dir, ['--id', 'x', '--title', 'x', ...twoCandidates, '--start', 'now', '--end', 'now+1h', '--max-voters', '9']);
  t.equal(exists.code, 1);
  t.match(exists.stderr, /error CONFLICT: .*election\.json already exists/, 'an existing manifest is not replaced without --force');

  // From a JSON definition without keys; flags override its fields; the same directory's keys.
  const def = {
    electionId: 'referendum',
    title: 'Referendum',
    questions: [{ id: 'q1', title: 'Yes or no?', options: [{ id: 'yes', title: 'Yes' }, { id: 'no', title: 'No' }], min: 0, max: 1 }],
    schedule: { start: '2030-01-01T08:00:00+01:00', end: '2030-01-01T20:00Z' },
    maxVoters: 50,
    revoting: false,
  };
  writeFileSync(join(root, 'def.json'), JSON.stringify(def));
  const fromJson = await createElection(dir, ['--from', join(root, 'def.json'), '--out', join(root, 'referendum.json'), '--revoting']);
  t.equal(fromJson.code, 0, 'election create --from succeeds', { stderr: fromJson.stderr });
  const ref = parseManifest(JSON.parse(readFileSync(join(root, 'referendum.json'), 'utf8')));
  t.same(ref.manifest.schedule, { start: '2030-01-01T07:00:00.000Z', end: '2030-01-01T20:00:00.000Z' }, 'ISO times with a zone, normalized to UTC with milliseconds');
  t.equal(ref.manifest.revoting, true, 'a flag overrides the file');
  t.same(ref.manifest.keys, election.manifest.keys, 'the directory\'s existing keys are reused');
  t.notMatch(fromJson.stdout, /created/, 'no new secret');

  // Errors that name the question; nothing written in a fresh directory.
  const fresh = withPaillierKey('fresh');
  const many = Array.from({ length: 64 }, (_, i) => ['--option', `big:o${i}:Option ${i}`]).flat();
  const tooMany = await createElection(fresh, ['--id', 'big', '--title', 'Big', '--question', 'big:Big', ...many, '--start', 'now', '--end', 'now+1h', '--max-voters', '4294967295']);
  t.equal(tooMany.code, 1);
  t.match(tooMany.stderr, /^error ENCODING_CAPACITY: question "big": 64 options × 32 bits per count do not fit under a 2048-bit modulus/m);
  const twenty = Array.from({ length: 20 }, (_, i) => ['--option', `wide:o${i}:Option ${i}`]).flat();
  const tooWide = await createElection(fresh, ['--id', 'wide', '--title', 'Wide', '--question', 'wide:Wide', ...twenty, '--min', 'wide:0', '--max', 'wide:20', '--start', 'now', '--end', 'now+1h', '--max-voters', '10']);
  t.equal(tooWide.code, 1);
  t.match(tooWide.stderr, /^error ALLOWED_SET_TOO_LARGE: question "wide": choosing 0 to 20 of 20 options allows 1048576 ballots, more than 1024/m);
  t.notOk(existsSync(join(fresh, 'keys', 'issuer.key.json')) || existsSync(join(fresh, 'credentials')) || existsSync(join(fresh, 'election.json')), 'a refused manifest writes nothing');

  // regression (#9.15): a schedule entirely in the past and a costly allowed set are warned of, with figures.
  const ten = Array.from({ length: 10 }, (_, i) => ['--option', `board:o${i}:Option ${i}`]).flat();
  const costly = await createElection(withPaillierKey('costly'), ['--id', 'costly', '--title', 'Costly', '--question', 'board:Board', ...ten, '--min', 'board:0', '--max', 'board:4', '--start', '2020-01-01T08:00Z', '--end', '2020-01-02T08:00Z', '--max-voters', '1000']);
  t.equal(costly.code, 0, 'warnings do not refuse the manifest', { stderr: costly.stderr });
  t.match(costly.stdout, /^warning: the whole schedule is in the past \(it ended .+\): a ballot server started with this manifest closes at once, and no one can vote$/m, 'regression: a past schedule is warned of (#9.15)');
  t.match(costly.stdout, /^warning: question board allows 386 different ballots \(choose 0 to 4 of 10\); every voter's device computes 387 exponentiations to prove a ballot \(about [\d.]+ (ms|s|min) on this machine/m, 'regression: a large allowed set is warned of with its cost per voter (#9.15)');
  t.match(costly.stdout, /^warning: an audit of 1000 ballots would cost about 424,600 exponentiations/m, 'and its cost per audit');
  const cheap = await createElection(withPaillierKey('cheap'), ['--id', 'cheap', '--title', 'Cheap', ...twoCandidates, '--start', 'now', '--end', 'now+1h', '--max-voters', '9']);
  t.notMatch(cheap.stdout, /warning/, 'a small election gets no warning');
  t.match(cheap.stdout, /question mayor: 2 options \(alice, bob\), choose 1 to 1: 2 allowed ballots, each voter's device proves with 3 exponentiations/, 'the cost is shown for every question');

  const unknownQ = await createElection(fresh, ['--id', 'x', '--title', 'x', '--question', 'q:Q', '--option', 'r:a:A', '--start', 'now', '--end', 'now+1h', '--max-voters', '9']);
  t.match(unknownQ.stderr, /error BAD_MANIFEST: --option "r:a:A": no question "r"/);
  const noZone = await createElection(fresh, ['--id', 'x', '--title', 'x', ...twoCandidates, '--start', '2030-01-01T08:00', '--end', 'now+1h', '--max-voters', '9']);
  t.match(noZone.stderr, /error BAD_MANIFEST: schedule\.start: "2030-01-01T08:00" is not a time/);
  const otherKeys = await createElection(fresh, ['--from', join(dir, 'election.json')]);
  t.equal(otherKeys.code, 1);
  t.match(otherKeys.stderr, /error CONFLICT: .*its "keys" are not the keys in/, 'a definition carrying other keys is refused');
});

t.test('voters import', async (t) => {
  const bad = join(root, 'bad.csv');
  writeFileSync(bad, 'first_name,last_name,email,login\nAda,Lovelace,ada@example.org,ada\nBob,,bob@example.org,bob\nCyd,Nash,not-an-email,cyd\nAda,Again,ada2@example.org,ada\n');
  const r = await run(['voters', 'import', '--data', dir, bad, '--scrypt-n', '1024']);
  t.equal(r.code, 1);
  t.match(r.stderr, /error CSV_INVALID: .*3 error\(s\); nothing was imported/);
  t.match(r.stderr, /line 3: last_name: empty field/);
  t.match(r.stderr, /line 4: email/);
  t.match(r.stderr, /line 5: login "ada" already appears on line 2/);
  const reg = await openLevelRegister(join(dir, 'register'));
  t.equal((await reg.existingLogins(['ada', 'cyd'])).size, 0, 'nothing imported');
  await reg.close();
  t.notOk(existsSync(join(dir, 'passwords.csv')), 'no passwords file');

  const good = join(root, 'good.csv');
  writeFileSync(good, 'first_name,last_name,email,login\nAda,"Lovelace, Countess",ada@example.org,ada\nBob,Durand,bob@example.org,bob\n');
  const ok = await run(['voters', 'import', '--data', dir, good, '--scrypt-n', '1024']);
  t.equal(ok.code, 0, 'a good file imports', { stderr: ok.stderr });
  t.match(ok.stdout, /imported 2 voter/);
  const pw = join(dir, 'passwords.csv');
  t.equal(mode(pw), 0o600, 'the passwords file is 0600');
  const lines = readFileSync(pw, 'utf8').trimEnd().split('\r\n');
  t.equal(lines[0], 'login,password,first_name,last_name,email,ref_salt');
  t.match(lines[1], /^ada,[0-9a-z-]{20,},Ada,"Lovelace, Countess",ada@example\.org,[0-9a-f]{64}$/, 'quoted where needed; the reference salt last (spec §7.5)');
  t.equal(lines.length, 3);

  writeFileSync(join(root, 'more.csv'), 'first_name,last_name,email,login\nCyd,Nash,cyd@example.org,cyd\n');
  const refused = await run(['voters', 'import', '--data', dir, join(root, 'more.csv'), '--scrypt-n', '1024']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /error CONFLICT: .*passwords\.csv already exists/, 'an existing passwords file is kept');
  const reg2 = await openLevelRegister(join(dir, 'register'));
  t.equal((await reg2.existingLogins(['cyd'])).size, 0, 'and nothing was imported');
  await reg2.close();
});

t.test('serve --role all: one origin; close, tally, SIGTERM', async (t) => {
  const s = await serve(t, ['--data', dir, '--passphrase-file', passFile], ['ballot', 'org', 'verifier']);
  t.match(s.stdout(), /roles: ballot, org, verifier \(one process, one origin\)/);
  const url = s.urls.ballot!;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'on loopback by default');
  t.ok(s.urls.org === url && s.urls.verifier === url, 'one listener for the three roles');
  t.same((await getJson(`${url}/api/health`)).body, { status: 'ok', phase: 'open' });
  const el = await getJson(`${url}/api/election`);
  t.equal(el.status, 200);
  t.equal(el.body.manifest.electionId, 'city-2026');
  t.equal(el.body.fingerprint, parseManifest(el.body.manifest, { checkKeyProof: false }).fingerprintHex);
  t.equal((await getJson(`${url}/api/org/health`)).status, 200, 'organization routes on the same origin');
  t.equal((await getJson(`${url}/api/verifier/health`)).status, 200, 'verification routes on the same origin');

  const adminFile = join(dir, 'credentials', 'admin.token');
  t.equal((await run(['close', '--server', url, '--admin-token-file', adminFile])).code, 0, 'closed');
  const tallied = await run(['tally', '--server', url, '--data', dir]);
  t.equal(tallied.code, 0, '/admin/tally answered on the one origin (credential from --data)', { stderr: tallied.stderr });
  // The close wakes the in-process verifier: the admin's request joins or follows its tally.
  t.match(tallied.stdout, /^(tallied: 0 ballot|already tallied)/m);
  t.match(tallied.stdout, /^ {2}Mayor: city of X\n {4}Alice Martin +0\n {4}Bob Durand +0$/m, 'regression: the results by title, not by id (#9.13)');

  // Requests in flight at the signal (a login verifies a scrypt hash) are answered, and their
  // kept-alive connections do not hold the shutdown for fastify's 72 s keep-alive timeout.
  const inFlight = [1, 2, 3].map(() => postJson(`${url}/api/org/login`, { login: 'nobody', password: 'not-a-password' }).then((r) => r.status, (e: Error) => e.message));
  // Signal only once the listener has logged all three as incoming (a request arriving after the
  // close began would rightly get 503). Lines with a remotePort are the socket's, not the
  // in-process forwarding's.
  const incoming = () => s.stdout().split('\n').filter((l) => l.includes('"msg":"incoming request"') && l.includes('"url":"/api/org/login"') && l.includes('"remotePort"')).length;
  for (let i = 0; i < 500 && incoming() < 3; i++) await new Promise((r) => setTimeout(r, 10));
  const started = Date.now();
  const code = s.stop(5000);
  t.same(await Promise.all(inFlight), [401, 401, 401], 'requests in flight are answered');
  t.equal(await code, 0, 'SIGTERM: exit code 0');
  t.ok(Date.now() - started < 5000, 'within a few seconds');
  t.match(s.stdout(), /SIGTERM: shutting down[\s\S]*stopped/);
});

t.test('three roles in three processes; close and tally from the command line', async (t) => {
  const d = withPaillierKey('roles');
  const created = await createElection(d, ['--id', 'roles', '--title', 'Three processes', ...twoCandidates, '--start', 'now-1m', '--end', 'now+1h', '--max-voters', '10']);
  t.equal(created.code, 0, 'the election is created', { stderr: created.stderr });
  writeFileSync(join(root, 'voters.csv'), 'first_name,last_name,email,login\nAda,Lovelace,ada@example.org,ada\n');
  t.equal((await run(['voters', 'import', '--data', d, join(root, 'voters.csv'), '--scrypt-n', '1024'])).code, 0);
  const [, row] = readFileSync(join(d, 'passwords.csv'), 'utf8').trimEnd().split('\r\n');
  const [login, password] = row!.split(',') as [string, string];

  const missing = await run(['serve', '--data', d, '--role', 'org', '--port', '0']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /--role org needs --ballot-url/);

  const ballot = await serve(t, ['--data', d, '--role', 'ballot'], ['ballot']);
  const link = ['--ballot-url', ballot.urls.ballot!];
  const [org, verifier] = await Promise.all([
    serve(t, ['--data', d, '--role', 'org', ...link, '--issuance-batch', '1'], ['org']),
    serve(t, ['--data', d, '--role', 'verifier', ...link, '--passphrase-file', passFile], ['verifier']),
  ]);

  // A voter logs in, gets a token blindly, and votes.
  const election: Election = parseManifest((await getJson(`${ballot.urls.ballot}/api/election`)).body.manifest);
  const session = (await postJson(`${org.urls.org}/api/org/login`, { login, password })).body.session as string;
  const pending = requestToken(election);
  const issued = await postJson(`${org.urls.org}/api/org/token`, { blindedMsg: toHex(pending.blindedMsg) }, session);
  t.equal(issued.status, 200, 'the organization server (its issuance recorded on the remote board) signs');
  const token = completeToken(election, pending, parseHex(issued.body.blindSig, 'blindSig'));
  const cast = await postJson(`${ballot.urls.ballot}/api/ballots`, ballotToJson(election, createBallot(election, [[0]], token).ballot));
  t.equal(cast.status, 201, 'the ballot is cast');

  const adminFile = join(d, 'credentials', 'admin.token');
  const early = await run(['tally', '--server', verifier.urls.verifier!, '--admin-token-file', adminFile]);
  t.equal(early.code, 1, 'tally before the close fails');
  t.match(early.stdout, /not closed: the election is open/);
  const none = await run(['close', '--server', ballot.urls.ballot!]);
  t.equal(none.code, 1);
  t.match(none.stderr, /error NOT_FOUND: admin credential: give --admin-token-file/, 'no credential, no request');
  const wrong = join(root, 'wrong.token');
  writeFileSync(wrong, 'not-the-admin-credential\n');
  const denied = await run(['close', '--server', ballot.urls.ballot!, '--admin-token-file', wrong]);
  t.equal(denied.code, 1);
  t.match(denied.stderr, /error UNAUTHORIZED/);

  const closed = await run(['close', '--server', ballot.urls.ballot!, '--admin-token-file', adminFile]);
  t.equal(closed.code, 0, 'tallyboard close succeeds', { stderr: closed.stderr });
  t.match(closed.stdout, /closed: close entry at height \d+, phase closed/);
  const tallied = await run(['tally', '--server', verifier.urls.verifier!, '--admin-token-file', adminFile]);
  t.equal(tallied.code, 0, 'tallyboard tally succeeds', { stderr: tallied.stderr });
  // The verification server's own poller may have tallied between the close and this command
  // (on a busy machine it often does): then the command says so and prints the same results.
  t.match(tallied.stdout, /^(tallied: 1 ballot counted|already tallied)/m, 'regression: "1 ballot", not "1 ballot(s)" (#9.13)');
  t.notMatch(tallied.stdout, /ballot\(s\)/);
  t.match(tallied.stdout, /^ {4}Alice Martin +1\n {4}Bob Durand +0$/m);
  const again = await run(['tally', '--server', verifier.urls.verifier!, '--admin-token-file', adminFile]);
  t.equal(again.code, 0);
  t.match(again.stdout, /^already tallied/m);
  t.equal((await getJson(`${ballot.urls.ballot}/api/results`)).status, 200, 'the results are on the ballot server');

  const codes = await Promise.all([org.stop(), verifier.stop()]);
  t.same([...codes, await ballot.stop()], [0, 0, 0], 'all three exit 0 on SIGTERM');
});
