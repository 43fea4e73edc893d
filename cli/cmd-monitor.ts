/**
 * `tallyboard monitor --board URL --state DIR [--hook CMD] [--once] [--interval S] [--workers N]
 * [--fingerprint HEX] [--json REPORT]`: follows a live board during the election (spec §10.7).
 *
 * Each poll: the latest checkpoint, checked to extend the last one verified (M1, M2), then the
 * new entries, each read once and verified by the auditor's own logic (auditor/audit.ts, batch
 * verification), then the state saved atomically in DIR. Restarted (after a crash, kill -9 or a
 * reboot) it resumes from DIR without reading the board again. When the board is complete
 * (phase tallied) it prints the same report as `verify` and exits.
 *
 * Alarms: any failed check prints one line on stdout,
 *   `ALARM <check> [step <n>] [at height <h>]: <reason>`,
 * and runs the --hook command (`/bin/sh -c CMD`) with TALLYBOARD_ALARM_CHECK, _STEP, _HEIGHT,
 * _REASON, TALLYBOARD_BOARD and TALLYBOARD_STATE in its environment and the alarm as one JSON
 * line on its stdin; the monitor waits for the hook to exit. M1, M2 and the chain checks halt
 * the monitor at once; a failed step check is raised and the monitor keeps following.
 *
 * Exit codes: 0 the board is complete and verified (or, with --once, caught up with no alarm);
 * 2 an alarm was raised (now or in an earlier run with the same state); 1 any other failure
 * (usage, unreachable server with --once, unreadable state).
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { formatReport, reportToJson } from '../auditor/report.js';
import { BallotVerifierPool, MAX_WORKERS, defaultWorkerCount } from '../auditor/workers.js';
import { Monitor } from '../src/monitor/monitor.js';
import { httpLiveBoard } from '../src/monitor/live-board.js';
import { alarmLine, runHook } from '../src/monitor/alarm.js';
import { action, describeFailure } from './_common.js';
import { serverBase } from './_http.js';
import { join } from 'node:path';
import { witnessHook } from '../src/witness/monitor-hook.js';
import { loadWitnessKeyFile } from '../src/witness/key-file.js';

interface MonitorCliOptions {
  board: string;
  state: string;
  hook?: string;
  once?: boolean;
  interval: number;
  workers?: number;
  fingerprint?: string;
  json?: string;
  witnessKey?: string;
  witnessState?: string;
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new InvalidArgumentError('seconds between polls: a number in (0, 3600]');
  return n;
}

function parseWorkers(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > MAX_WORKERS) throw new InvalidArgumentError(`a whole number from 0 to ${MAX_WORKERS}`);
  return n;
}

function parseFingerprint(v: string): string {
  const x = v.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(x)) throw new InvalidArgumentError('expected the election fingerprint: 64 hexadecimal digits');
  return x;
}

async function monitor(opts: MonitorCliOptions): Promise<number> {
  const base = serverBase(opts.board);
  const board = httpLiveBoard(base);
  const workers = opts.workers ?? defaultWorkerCount();
  const pool = workers > 0 ? new BallotVerifierPool({ workers }) : undefined;
  const env = { TALLYBOARD_BOARD: base, TALLYBOARD_STATE: opts.state };
  let alarms = 0;
  const m = new Monitor({
    board,
    stateDir: opts.state,
    ...(opts.fingerprint !== undefined ? { fingerprint: opts.fingerprint } : {}),
    ...(pool ? { pool } : {}),
    onAlarm: async (a) => {
      alarms++;
      process.stdout.write(`${alarmLine(a)}\n`);
      if (opts.hook !== undefined) await runHook(opts.hook, a, env);
    },
    ...(opts.witnessKey !== undefined
      ? {
          onVerifiedCheckpoint: witnessHook({
            key: loadWitnessKeyFile(opts.witnessKey),
            stateDir: opts.witnessState ?? join(opts.state, 'witness'),
            board,
            baseUrl: base,
            onCosigned: (c, posted) => process.stderr.write(`monitor: witness ${c.name} cosigned the checkpoint of size ${c.treeSize}${posted ? '' : ' (not posted: unreachable; kept)'}\n`),
            onRefused: (why) => process.stdout.write(`ALARM witness: ${why}\n`),
          }),
        }
      : {}),
    onProgress: (p) => {
      const rate = p.seconds > 0 ? ` (${(p.newEntries / p.seconds).toFixed(1)} entries/s)` : '';
      process.stderr.write(`monitor: checkpoint of ${p.size} entries verified, ${p.newEntries} new${rate}; phase ${p.phase}; ${board.fetched} entries read in this run\n`);
    },
  });
  try {
    for (;;) {
      let r;
      try {
        r = await m.poll();
      } catch (e) {
        if (opts.once) throw e;
        const f = describeFailure(e);
        process.stderr.write(`monitor: ${f.code}: ${f.message} (trying again in ${opts.interval} s)\n`);
        await sleep(opts.interval * 1000);
        continue;
      }
      const earlier = (m.state?.alarms.length ?? 0) - alarms;
      if (r.halted) {
        if (alarms === 0) process.stdout.write(`${alarmLine(r.halted)}\n`);
        process.stderr.write(`monitor: HALTED by ${r.halted.check}: the board is not an extension of what was verified; keep ${opts.state} as evidence (checkpoints.jsonl)\n`);
        return 2;
      }
      if (r.report) {
        process.stdout.write(formatReport(r.report, { board: base, ...(opts.fingerprint !== undefined ? { expectedFingerprint: opts.fingerprint } : {}) }));
        if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(reportToJson(r.report, { board: base }), null, 2)}\n`);
        return r.report.ok && (m.state?.alarms.length ?? 0) === 0 ? 0 : 2;
      }
      if (opts.once) {
        if (earlier > 0) process.stderr.write(`monitor: ${earlier} alarm(s) raised in earlier runs (see ${opts.state}/state.json)\n`);
        return (m.state?.alarms.length ?? 0) > 0 ? 2 : 0;
      }
      await sleep(opts.interval * 1000);
    }
  } finally {
    await pool?.close();
  }
}

/**
 * Registers `monitor`.
 * @param program - the `tallyboard` program
 */
export function register(program: Command): void {
  program
    .command('monitor')
    .description('follow a live board: verify each new entry once, check every checkpoint extends the last, keep state on disk, alarm on any failed check; exit 0 only if the final board verifies')
    .requiredOption('--board <url>', 'the base URL of the ballot server')
    .requiredOption('--state <dir>', 'the state directory (created; reused across restarts)')
    .option('--hook <cmd>', 'a shell command run for every alarm (alarm in TALLYBOARD_ALARM_* and as JSON on stdin)')
    .option('--once', 'catch up with the board once and exit (0: no alarm, 2: alarm)')
    .option('--interval <seconds>', 'seconds between polls', parseSeconds, 2)
    .option('--workers <n>', `worker threads verifying ballots; 0 verifies in this thread (default: one per CPU, here ${defaultWorkerCount()})`, parseWorkers)
    .option('--fingerprint <hex>', 'the election you expect (64 hex digits); another election is refused', parseFingerprint)
    .option('--json <report>', 'at the end, also write the report as JSON to this file')
    .option('--witness-key <file>', 'also act as a witness (spec §9.9): cosign each verified checkpoint with this key (tallyboard witness keygen) and post it')
    .option('--witness-state <dir>', "the witness's own state directory (default: STATE/witness): a safety record, never delete it")
    .action(action(async (opts: MonitorCliOptions) => monitor(opts)));
}
