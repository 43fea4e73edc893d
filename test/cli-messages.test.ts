/**
 * Messages a person can act on (issue #9.11, #9.12, #9.5): one error path for every command
 * (`error CODE: message`, exit 1, usage errors included), a taken port named with a `--port`
 * hint before any key is generated, a URL without `http://`, a forgotten `--org`, voting
 * before the opening time, and the web demo's voter count.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { buildBallotServer, buildElectionServers } from '../src/server/election-servers.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, paillierFixture } from './helpers/fixtures.js';
import { webDemoVoters, DEMO_VOTERS, WEB_DEMO_VOTERS } from '../cli/cmd-demo.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');
const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };

function run(args: string[], cwd: string, input = ''): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', TALLYBOARD_PASSWORD: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
    child.stdin.end(input);
  });
}

t.test('regression: one error path — every failure prints error CODE: message and exits 1 (#9.11)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-messages-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missingOption = await run(['vote'], dir);
  t.equal(missingOption.code, 1, 'a missing required option exits 1');
  t.match(missingOption.stderr, /^error USAGE: required option '--server <url>' not specified/m, 'as error USAGE: …');
  const unknown = await run(['verify', '--board', 'x', '--bogus'], dir);
  t.equal(unknown.code, 1, 'an unknown option exits 1');
  t.match(unknown.stderr, /^error USAGE: unknown option '--bogus'/m);
  const badValue = await run(['demo', '--voters', 'many'], dir);
  t.equal(badValue.code, 1);
  t.match(badValue.stderr, /^error USAGE: --voters: a whole number/m, 'a bad value of an option is a usage error too');
  const noFile = await run(['keygen', '--out', join(dir, 'k'), '--passphrase-file', join(dir, 'missing.txt')], dir);
  t.equal(noFile.code, 1, 'a missing passphrase file exits 1');
  t.match(noFile.stderr, new RegExp(`^error FILE_NOT_FOUND: no such file or directory: ${join(dir, 'missing.txt').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`, 'm'));
  t.notMatch(noFile.stderr, /^error: /m, 'never the bare "error:" form');
  const help = await run(['--version'], dir);
  t.equal(help.code, 0, '--version still exits 0');
});

t.test('regression: a taken port is reported at once with a --port hint (#9.11)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-messages-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  const r = await run(['demo', '--web', '--port', String(port)], dir);
  t.equal(r.code, 1, 'exit 1');
  t.match(r.stderr, new RegExp(`^error ADDRESS_IN_USE: port ${port} on 127\\.0\\.0\\.1 is already in use`, 'm'));
  t.match(r.stderr, /choose another port with --port P \(--port 0 picks a free one\)/, 'with the --port hint');
  t.notMatch(r.stdout, /keys:/, 'before any key is generated');
});

t.test('regression: demo --web --voters 50 creates 50 voters, and the default is 5 (#9.5)', async (t) => {
  t.equal(webDemoVoters('50'), 50, 'an explicit 50 is 50');
  t.equal(webDemoVoters('7'), 7);
  t.equal(webDemoVoters(undefined), WEB_DEMO_VOTERS, 'no --voters: the web default');
  t.not(WEB_DEMO_VOTERS, DEMO_VOTERS, 'the two modes keep their own defaults');
});

t.test('regression: voter-facing errors say what to do (#9.12)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-messages-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const noScheme = await run(['vote', '--server', '127.0.0.1:8080'], dir);
  t.equal(noScheme.code, 1);
  t.match(noScheme.stderr, /^error USAGE: --server "127\.0\.0\.1:8080": a server is given by its full URL, with http:\/\/ or https:\/\/, e\.g\. --server http:\/\/127\.0\.0\.1:8080/m, 'a URL without http:// gets the corrected form');

  // A ballot server alone: logins go to the organization server (--org).
  const open = fixtureElection({ electionId: 'cli-messages', start: '2026-01-01T00:00:00.000Z', end: '2099-01-01T00:00:00.000Z' });
  const ballotOnly = await buildBallotServer({ election: open, boardStore: new MemoryBoardStore(), boardSecretKey: boardKeyFixture().secretKey }, { credentials, autoClose: false });
  t.teardown(() => ballotOnly.app.close());
  const url = await ballotOnly.app.listen({ host: '127.0.0.1', port: 0 });
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'some password\n');
  const noOrg = await run(['vote', '--server', url, '--login', 'ada', '--password-file', pw, '--choice', '1', '--yes'], dir);
  t.equal(noOrg.code, 1);
  t.match(noOrg.stderr, /does not answer logins: it is a ballot server alone\. Give the organization server too, with --org URL/, 'a forgotten --org is explained');
  t.notMatch(noOrg.stderr, /no route/i);

  // A second device: the token was issued elsewhere; said at login, before any choice, with the file to use.
  const openElection = fixtureElection({ electionId: 'cli-second', start: '2026-01-01T00:00:00.000Z', end: '2099-01-01T00:00:00.000Z' });
  const reg2 = createMemoryRegister();
  const { generated } = await importVotersCsv(reg2, 'first_name,last_name,email,login\nBo,M,bo@example.org,bo\n', { scrypt: { N: 1 << 10, r: 8, p: 1 } });
  const s2 = await buildElectionServers(
    { election: openElection, boardStore: new MemoryBoardStore(), boardSecretKey: boardKeyFixture().secretKey, register: reg2, issuerKey: blindRsaFixture(), issuanceSecret: new Uint8Array(32).fill(2), paillierKey: paillierFixture('a') },
    { credentials, singleOrigin: true, autoClose: false },
  );
  t.teardown(() => s2.close());
  const url2 = await s2.ballot.listen({ host: '127.0.0.1', port: 0 });
  const boPw = join(dir, 'bo.pw');
  writeFileSync(boPw, `${generated[0]!.password}\n`);
  const first = mkdtempSync(join(dir, 'device1-'));
  const second = mkdtempSync(join(dir, 'device2-'));
  const cast = await run(['vote', '--server', url2, '--login', 'bo', '--password-file', boPw, '--choice', '1', '--yes'], first);
  t.equal(cast.code, 0, `the first device votes ${cast.stderr}`);
  const again = await run(['vote', '--server', url2, '--login', 'bo', '--password-file', boPw], second, '2\ny\n');
  t.equal(again.code, 1);
  t.match(again.stderr, /^error TOKEN_ALREADY_ISSUED: the voting token of bo was already issued .* If you have its token file \(token-cli-second-bo\.json in the folder where the client ran/m, 'regression: a second device is told where the token file is (#9.12)');
  t.notMatch(again.stdout, /1\) Option 0/, 'before the voter is asked to choose');

  // Too early: the opening time is given, in local time with its zone.
  const early = fixtureElection({ electionId: 'cli-early', start: '2098-01-01T00:00:00.000Z', end: '2099-01-01T00:00:00.000Z' });
  const register = createMemoryRegister();
  await importVotersCsv(register, 'first_name,last_name,email,login\nAda,L,ada@example.org,ada\n', { scrypt: { N: 1 << 10, r: 8, p: 1 } });
  const s = await buildElectionServers(
    { election: early, boardStore: new MemoryBoardStore(), boardSecretKey: boardKeyFixture().secretKey, register, issuerKey: blindRsaFixture(), issuanceSecret: new Uint8Array(32).fill(1), paillierKey: paillierFixture('a') },
    { credentials, singleOrigin: true, autoClose: false },
  );
  t.teardown(() => s.close());
  const earlyUrl = await s.ballot.listen({ host: '127.0.0.1', port: 0 });
  const tooEarly = await run(['vote', '--server', earlyUrl, '--login', 'ada', '--choice', '1', '--yes'], dir);
  t.equal(tooEarly.code, 1);
  t.match(tooEarly.stderr, /^error ELECTION_NOT_OPEN: voting has not opened yet: it opens \w{3} 1 Jan 2098, \d\d:\d\d:\d\d \S+ \(in .+\); come back then/m, 'voting too early names the opening time');
});
