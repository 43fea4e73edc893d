/**
 * Child process of test/board-crash.test.ts: appends to a LevelDB board in a loop, keeping a
 * few appends in flight, and prints each ACKNOWLEDGED height on stdout, one per line. The
 * parent SIGKILLs it at an arbitrary moment and then checks that every height printed here
 * survived. (stdout writes to a pipe are synchronous on Linux, so a printed height has left
 * this process before the next append starts.)
 *
 * Usage: node <loader flags> board-crash-child.(ts|js) <directory> [inFlight=4]
 */
import { Board } from '../../bulletin/board.js';
import { LevelBoardStore } from '../../bulletin/store/level.js';
import { boardOptions } from './board.js';

const dir = process.argv[2];
const inFlight = Number(process.argv[3] ?? 4);
if (dir === undefined) throw new Error('usage: board-crash-child <directory> [inFlight]');

const board = await Board.open(new LevelBoardStore(dir), boardOptions({ now: Date.now }));
if (board.size === 0) {
  const r = await board.append('setup', { crash: true });
  process.stdout.write(`${r.entry.height}\n`);
}
process.stdout.write('ready\n');

const payload = { ciphertext: 'c0ffee'.repeat(500), note: 'crash test' };
async function worker(): Promise<void> {
  for (let i = 0; i < 1_000_000; i++) {
    const r = await board.append('ballot', { ...payload, i });
    process.stdout.write(`${r.entry.height}\n`);
  }
}
await Promise.all(Array.from({ length: inFlight }, worker));
