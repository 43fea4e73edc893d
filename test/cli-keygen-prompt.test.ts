/**
 * `tallyboard keygen` on a real terminal (issue #9.14): a passphrase that is too short, or a
 * repetition that differs, is asked again instead of ending the command, and nothing typed at
 * the prompts is echoed. The terminal is a pseudo-terminal from util-linux `script`.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');
const SCRIPT = '/usr/bin/script';

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
}
