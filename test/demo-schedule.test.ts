/**
 * The demo's schedule follows the work (issue #9.1). The old demo fixed its end time before any
 * work, at now + 5 s + 0.45 s per voter, so on a slow or busy machine voters ran out of time
 * (`ELECTION_CLOSED` at 20/50). Here one simulated voter is made deliberately slow — slower
 * than the whole old allowance — and the demo must still succeed, close the election itself
 * (reason "admin") once every voter has voted, and have the verification server tally.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_END_AFTER_MS, runDemo } from '../src/demo/run-demo.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');

t.test('regression: demo schedule follows the work (a slow voter does not run out of time)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-demo-slow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const voters = 3;
  // The old allowance for the whole election, from before the keys were even generated.
  const oldAllowanceMs = 5000 + voters * 450;
  const lines: string[] = [];
  const r = await runDemo({
    voters,
    bits: 2048,
    dir,
    workers: 0,
    log: (l) => lines.push(l),
    beforeVoter: async (i) => {
      if (i === 1) await new Promise((resolve) => setTimeout(resolve, oldAllowanceMs + 1000));
    },
  });
  t.ok(r.ok, `the demo succeeds with a slow voter\n${lines.join('\n')}`);
  t.same(
    r.counts.map((c) => c.count),
    r.counts.map((c) => c.expected),
    'every simulated vote is counted',
  );
  const entries = readFileSync(r.boardFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type?: string; payload?: { reason?: string; manifest?: { schedule: { start: string; end: string } } } });
  const close = entries.find((e) => e.type === 'close');
  t.equal(close?.payload?.reason, 'admin', 'the demo closes the election itself once everyone has voted');
  const setup = entries.find((e) => e.type === 'setup');
  const sched = setup?.payload?.manifest?.schedule;
  t.ok(sched, 'the setup entry carries the manifest');
  if (sched) t.equal(Date.parse(sched.end) - Date.parse(sched.start), DEMO_END_AFTER_MS, 'the end time is out of reach, not an estimate of the work');
  t.ok(lines.some((l) => /a week away so that it never cuts a voter off/.test(l)), 'the screen says why the end time is far away');
});

t.test('regression: a failed demo names its data directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-demo-fail-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'not-a-directory');
  writeFileSync(file, 'x');
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, 'demo', '--voters', '1', '--data', join(file, 'data')], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(r.code, 1, 'a failed demo exits 1');
  t.match(r.stderr, /^error [A-Z_]+: /m, 'in the one error format');
  t.match(r.stderr, `its data directory (kept, for inspection): ${join(file, 'data')}`, 'and names its data directory');
});
