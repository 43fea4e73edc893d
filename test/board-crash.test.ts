/**
 * Crash safety of the LevelDB board (spec/09-board.md §9.6): a child process appends in a
 * loop and reports each acknowledged height; the parent SIGKILLs it mid-loop, reopens the
 * store with full verification, and checks that every acknowledged entry is there and that
 * the chain, the tree and the checkpoint verify. Two rounds on the same directory, so that
 * recovery after a crash is itself followed by appends and a second crash.
 *
 * How the child runs TypeScript: it is started with this process's own Node flags
 * (process.execArgv, which under tap carry the ts-node loader and the env it needs), minus
 * tap's coverage and mock hooks; when this test runs compiled from dist/, the flags are
 * empty and the compiled child (.js) is started instead. Both work under `npm test`.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Board } from '../bulletin/board.js';
import { exportLines } from '../bulletin/export.js';
import { importBoard } from '../bulletin/import.js';
import { LevelBoardStore } from '../bulletin/store/level.js';
import { boardOptions, tempDir } from './helpers/board.js';

const childScript = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './helpers/board-crash-child.ts' : './helpers/board-crash-child.js', import.meta.url));
const childFlags = process.execArgv.filter((a) => !/processinfo|@tapjs[\\/]mock/.test(a));
const IN_FLIGHT = 4;

/** Runs the child until it has acknowledged `atLeast` more appends, then SIGKILLs it. */
async function runAndKill(dir: string, atLeast: number): Promise<{ acked: number[]; signal: string | null }> {
  const child = spawn(process.execPath, [...childFlags, childScript, dir, String(IN_FLIGHT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked: number[] = [];
  let stderr = '';
  let buf = '';
  let ready = false;
  let killed = false;
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      if (l === 'ready') ready = true;
      else acked.push(Number(l));
    }
    // Kill at a moment the child does not choose: while appends are in flight.
    if (ready && !killed && acked.length >= atLeast) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  const signal = await new Promise<string | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => (sig === null && !killed ? reject(new Error(`child exited with ${code}: ${stderr}`)) : resolve(sig)));
  });
  return { acked, signal };
}

t.test('SIGKILL mid-append loses no acknowledged entry and leaves a verifiable board', async (t) => {
  const dir = tempDir(t);
  let expectedMin = 0;
  for (const round of [1, 2]) {
    const started = performance.now();
    const { acked, signal } = await runAndKill(dir, 150);
    t.equal(signal, 'SIGKILL', `round ${round}: the child was killed`);
    const maxAck = Math.max(...acked);
    t.ok(acked.length >= 150, `round ${round}: ${acked.length} appends acknowledged before the kill (up to height ${maxAck}), ${(performance.now() - started).toFixed(0)} ms`);

    const board = await Board.open(new LevelBoardStore(dir), boardOptions({ verify: 'full' }));
    t.ok(board.size > maxAck, `round ${round}: size ${board.size} includes every acknowledged height`);
    t.ok(board.size <= maxAck + 1 + IN_FLIGHT, `round ${round}: at most ${IN_FLIGHT} unacknowledged appends were committed (${board.size - maxAck - 1})`);
    t.ok(board.size >= expectedMin, `round ${round}: nothing from earlier rounds was lost`);
    const missing = acked.filter((h) => h >= board.size);
    t.same(missing, [], `round ${round}: no acknowledged height is missing`);
    const text = [];
    for await (const l of exportLines(board)) text.push(`${l}\n`);
    const v = await importBoard((async function* () { for (const l of text) yield l; })());
    t.equal(v.size, board.size, `round ${round}: the exported board verifies (chain, tree, signed checkpoint)`);
    expectedMin = board.size;
    await board.close();
  }
});
