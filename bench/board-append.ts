/**
 * Append throughput of the bulletin board on the LevelDB store with synced writes
 * (spec/09-board.md §9.6): every append is one fsync'ed batch plus one Ed25519 signature.
 *
 * Why a bench of its own: the board serializes appends, so its throughput caps the ballot
 * server's. The number depends mostly on the disk's fsync latency; run it on the machine
 * you deploy to. Three runs, median reported, in a fresh temporary directory each.
 *
 * Prints `bench <name> <value> <unit>` lines like bench/run.ts (run-to-run spread on stderr).
 *
 * Run: npm run build && node dist/bench/board-append.js [appends=2000] [payloadBytes=256]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Board } from '../bulletin/board.js';
import { LevelBoardStore } from '../bulletin/store/level.js';

const appends = Number(process.argv[2] ?? 2000);
const payloadBytes = Number(process.argv[3] ?? 256);
const seed = new Uint8Array(32).fill(7);

async function run(concurrent: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-bench-'));
  try {
    const board = await Board.open(new LevelBoardStore(dir), { electionId: 'bench', boardSecretKey: seed });
    await board.append('setup', {});
    const blob = 'ab'.repeat(payloadBytes / 2);
    const started = performance.now();
    if (concurrent) {
      await Promise.all(Array.from({ length: appends }, (_, i) => board.append('ballot', { i, blob })));
    } else {
      for (let i = 0; i < appends; i++) await board.append('ballot', { i, blob });
    }
    const seconds = (performance.now() - started) / 1000;
    await board.close();
    return appends / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

for (const concurrent of [false, true]) {
  const rates: number[] = [];
  for (let r = 0; r < 3; r++) rates.push(await run(concurrent));
  // Same line format as bench/run.ts: `bench <name> <value> <unit>`, the median of 3 runs.
  console.log(`bench board-append-${concurrent ? 'concurrent' : 'sequential'}-${payloadBytes}B ${median(rates).toFixed(0)} appends/s`);
  console.error(`  (runs: ${rates.map((x) => x.toFixed(0)).join(', ')}; ${appends} synced appends each)`);
}
