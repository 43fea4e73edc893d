/**
 * Does the monitor keep up with casting? (issue 14.1). On one machine: real election servers on
 * loopback take N voters' issuances and ballots (cast over the ballot server's route, 8 at a
 * time, each ballot verified by the server as in production), then a fresh monitor reads the
 * board over HTTP and verifies it, in this thread (batches) and with a pool of worker threads.
 * Prints entries/s for casting and for each monitor mode.
 *
 * Usage: `npm run build && node dist/bench/monitor.js [voters=200] [workers=2]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BallotVerifierPool } from '../auditor/workers.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { ballotToJson, createBallot } from '../src/election/ballot.js';
import { Monitor } from '../src/monitor/monitor.js';
import { httpLiveBoard } from '../src/monitor/live-board.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { recordTestIssuance, testRef } from '../test/helpers/register.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, fixtureToken, paillierFixture, seededRng } from '../test/helpers/fixtures.js';

const voters = Number(process.argv[2] ?? 200);
const workers = Number(process.argv[3] ?? 2);
const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };
const election = fixtureElection({ electionId: 'bench-monitor', maxVoters: Math.min(voters + 10, 255), questions: [{ id: 'q', options: 4, min: 1, max: 1 }] });
const clock = { now: election.startMs + 1000 };

const servers = await buildElectionServers(
  {
    election,
    boardStore: new MemoryBoardStore(),
    boardSecretKey: boardKeyFixture().secretKey,
    register: createMemoryRegister(),
    issuerKey: blindRsaFixture(),
    issuanceSecret: new Uint8Array(32).fill(1),
    paillierKey: paillierFixture('a'),
  },
  { credentials, now: () => clock.now, autoClose: false, logger: false },
);
const url = await servers.ballot.listen({ host: '127.0.0.1', port: 0 });
const rng = seededRng('bench-monitor');
process.stderr.write(`creating ${voters} ballots…\n`);
const prepared = Array.from({ length: voters }, (_, i) => ({ ref: testRef(i + 1), ballot: ballotToJson(election, createBallot(election, [[i % 4]], fixtureToken(election, rng)).ballot) }));

process.stderr.write('casting…\n');
let t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < prepared.length) {
      const p = prepared[next++]!;
      clock.now += 1;
      await recordTestIssuance(servers.box, p.ref);
      const res = await servers.ballot.inject({ method: 'POST', url: '/api/ballots', payload: p.ballot as object });
      if (res.statusCode !== 201) throw new Error(`cast refused: ${res.body}`);
    }
  }),
);
const castSeconds = (performance.now() - t0) / 1000;
const size = servers.box.board.size;

async function monitorOnce(pool?: BallotVerifierPool): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-bench-monitor-'));
  try {
    const m = new Monitor({ board: httpLiveBoard(url), stateDir: dir, ...(pool ? { pool } : {}), segment: 100_000 });
    const t = performance.now();
    const r = await m.poll();
    if (r.halted || (m.state?.alarms.length ?? 0) > 0) throw new Error('unexpected alarm');
    return (performance.now() - t) / 1000;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stderr.write('monitor, this thread…\n');
const inline = await monitorOnce();
let pooled: number | undefined;
if (workers > 0) {
  const pool = new BallotVerifierPool({ workers });
  try {
    process.stderr.write(`monitor, ${workers} workers…\n`);
    pooled = await monitorOnce(pool);
  } finally {
    await pool.close();
  }
}
await servers.close();
t0 = 0;
const rate = (s: number) => Number((size / s).toFixed(1));
process.stdout.write(
  `${JSON.stringify({ voters, entries: size, castEntriesPerSecond: rate(castSeconds), monitorInlineEntriesPerSecond: rate(inline), ...(pooled !== undefined ? { monitorPoolEntriesPerSecond: rate(pooled), workers } : {}) })}\n`,
);
