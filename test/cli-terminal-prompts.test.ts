/**
 * Prompts on a real terminal: `tallyboard keygen` (issue #9.14): a passphrase that is too short,
 * or a repetition that differs, is asked again instead of ending the command, and nothing typed
 * at the prompts is echoed; `tallyboard vote` (issue #9.12): a wrong password is asked again.
 * The terminal is a pseudo-terminal from util-linux `script`.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, paillierFixture } from './helpers/fixtures.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');
const SCRIPT = '/usr/bin/script';

/** A command on a pseudo-terminal: wait for text on its screen, type lines, wait for the end. */
function onTerminal(command: string, env: NodeJS.ProcessEnv) {
  const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], { env });
  let screen = '';
  const waiters: { re: RegExp; from: number; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => {
    screen += d.toString('utf8');
    for (const w of waiters.splice(0)) {
      if (w.re.test(screen.slice(w.from))) w.resolve();
      else waiters.push(w);
    }
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  /** Wait until `re` appears on the screen after position `from`: the process's own pace, no clock. */
  const seen = (re: RegExp, from = 0) =>
    Promise.race([
      new Promise<void>((resolve) => {
        if (re.test(screen.slice(from))) resolve();
        else waiters.push({ re, from, resolve });
      }),
      closed.then(() => undefined),
    ]);
  const type = async (text: string, next: RegExp) => {
    const from = screen.length;
    child.stdin.write(`${text}\r`);
    await seen(next, from);
  };
  return { seen, type, closed, screen: () => screen };
}

if (!existsSync(SCRIPT)) {
  t.plan(0, `${SCRIPT} (util-linux) is missing: no pseudo-terminal to test on`);
} else {
  t.test('regression: keygen asks again after a short passphrase or a mismatch, and echoes nothing (#9.14)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tallyboard-keygen-pty-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const env = { ...process.env, TALLYBOARD_PASSPHRASE: '' };
    const child = spawn(SCRIPT, ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} keygen --out ${JSON.stringify(join(dir, 'data'))} --bits 2048`, '/dev/null'], { env });
    let screen = '';
    const waiters: { re: RegExp; from: number; resolve: () => void }[] = [];
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString('utf8');
      for (const w of waiters.splice(0)) {
        if (w.re.test(screen.slice(w.from))) w.resolve();
        else waiters.push(w);
      }
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    /** Wait until `re` appears on the screen after position `from`; the process's own pace, no clock. */
    const seen = (re: RegExp, from: number) =>
      new Promise<void>((resolve) => {
        if (re.test(screen.slice(from))) resolve();
        else waiters.push({ re, from, resolve });
      });
    const type = async (text: string, next: RegExp) => {
      const from = screen.length;
      child.stdin.write(`${text}\r`);
      await Promise.race([seen(next, from), closed.then(() => undefined)]);
    };
    await seen(/Passphrase for the key file/, 0);
    await type('short', /use at least 12\. Try again\.[\s\S]*Passphrase for the key file/);
    t.match(screen, /That is 5 characters; use at least 12\. Try again\./, 'a short passphrase is asked again');
    await type('correct horse battery', /Repeat the passphrase/);
    await type('correct horse battery staple', /differ\. Try again\.[\s\S]*Passphrase for the key file/);
    t.match(screen, /The two entries differ\. Try again\./, 'a mismatch is asked again');
    await type('correct horse battery', /Repeat the passphrase/);
    await type('correct horse battery', /generating a 2048-bit Paillier key/);
    const code = await closed;
    t.equal(code, 0, `keygen completes after the retries\n${screen}`);
    t.notMatch(screen, /short|horse|battery/, 'nothing typed is echoed');
    t.ok(existsSync(join(dir, 'data', 'keys', 'paillier.key.json')), 'the key file is written');
  });

  t.test('regression: vote asks again after a wrong password typed on the terminal (#9.12)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tallyboard-vote-pty-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const election = fixtureElection({ electionId: 'pty-vote', start: '2026-01-01T00:00:00.000Z', end: '2099-01-01T00:00:00.000Z' });
    const register = createMemoryRegister();
    const { generated } = await importVotersCsv(register, 'first_name,last_name,email,login\nAda,L,ada@example.org,ada\n', { scrypt: { N: 1 << 10, r: 8, p: 1 } });
    const s = await buildElectionServers(
      { election, boardStore: new MemoryBoardStore(), boardSecretKey: boardKeyFixture().secretKey, register, issuerKey: blindRsaFixture(), issuanceSecret: new Uint8Array(32).fill(3), paillierKey: paillierFixture('a') },
      { credentials: { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' }, singleOrigin: true, autoClose: false },
    );
    t.teardown(() => s.close());
    const url = await s.ballot.listen({ host: '127.0.0.1', port: 0 });
    const term = onTerminal(`cd ${JSON.stringify(dir)} && ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} vote --server ${url} --login ada --choice 1 --yes`, { ...process.env, TALLYBOARD_PASSWORD: '' });
    await term.seen(/password \(not shown as you type\): /);
    await term.type('not-the-password', /try again\.[\s\S]*password \(not shown as you type\): /);
    t.match(term.screen(), /the login or the password is not correct; try again\./, 'a wrong password is asked again');
    await term.type(generated[0]!.password, /Your tracker/);
    t.equal(await term.closed, 0, `the vote completes after the retry\n${term.screen()}`);
    t.notMatch(term.screen(), /not-the-password/, 'the password is not echoed');
  });
}
