/**
 * The live monitor (issue 14.1, spec §10.7) against real ballot, org and verification servers
 * on loopback (test/helpers/monitor-election.ts):
 *
 * 1. A live election with revotes followed by `tallyboard monitor` (a child process), killed
 *    with SIGKILL mid-election and restarted: it reads each entry once (the runs' counts add up
 *    to the board's size) and ends with the report of a full audit of the final board.
 * 2. A token issuance out of count appended by the operator: the monitor alarms with the
 *    auditor's own check id (5b) and height, keeps following, and its final report is the full
 *    audit's; the witness hook (onVerifiedCheckpoint) sees each verified checkpoint once.
 */
import t from 'tap';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Checkpoint } from '../bulletin/checkpoint.js';
import { Monitor } from '../src/monitor/monitor.js';
import { httpLiveBoard } from '../src/monitor/live-board.js';
import { loadState, loggedCheckpoints, type Alarm } from '../src/monitor/state.js';
import { apply, boardLines, closeAndForceTally, closeAndTally, comparable, entriesRead, fullAudit, plan, revote, runCli, start, tempDir } from './helpers/monitor-election.js';

t.test('monitor CLI: a live election with revotes, SIGKILLed mid-election and restarted, reads each entry once and ends with the full audit’s report', async (t) => {
  const r = await start(t);
  const state = tempDir(t, 'tallyboard-monitor-');
  const { ops, tokens } = plan(8, 'live');
  const report = join(state, '..', `${state.split('/').pop()}-report.json`);
  t.teardown(() => rmSync(report, { force: true }));

  const first = runCli(['monitor', '--board', r.url, '--state', state, '--interval', '0.05', '--workers', '1']);
  await apply(r, ops.slice(0, 8));
  const size1 = r.servers.box.board.size;
  await first.waitFor(new RegExp(`checkpoint of ${size1} entries verified`));
  first.child.kill('SIGKILL');
  await first.exited;
  const read1 = entriesRead(first.out.stderr);
  t.equal(loadState(state).checkpoint?.treeSize, size1, 'the state saved before the kill names the last checkpoint verified');

  // More voting while no monitor runs, including two revotes, then the close and the tally.
  await apply(r, [...ops.slice(8), revote(tokens, 1, 2), revote(tokens, 5, 0)]);
  const second = runCli(['monitor', '--board', r.url, '--state', state, '--interval', '0.05', '--workers', '1', '--json', report]);
  await closeAndTally(r);
  const code = await second.exited;
  t.equal(code, 0, `the restarted monitor ends verified (${second.out.stderr.slice(-400)})`);
  t.notMatch(second.out.stdout, /ALARM/, 'no alarm');
  const finalSize = r.servers.box.board.size;
  t.equal(read1 + entriesRead(second.out.stderr), finalSize, `each entry read once: ${read1} + ${entriesRead(second.out.stderr)} = ${finalSize}`);

  const full = await fullAudit(await boardLines(r));
  t.ok(full.ok, 'the full audit passes');
  const mine = JSON.parse(readFileSync(report, 'utf8')) as { ok: boolean; steps: { step: number; status: string }[] };
  t.equal(mine.ok, true, 'the monitor’s JSON report: VERIFIED');
  t.same(
    mine.steps.map((s) => [s.step, s.status]),
    full.steps.map((s) => [s.step, s.status]),
    'the same steps and statuses as the full audit',
  );
  t.match(second.out.stdout, /VERIFIED/, 'the report is printed');
  const cps = loggedCheckpoints(state);
  t.equal(cps[cps.length - 1]!.treeSize, finalSize, 'every checkpoint seen is logged, the last is the final board’s');
});

t.test('monitor: a token issuance out of count alarms 5b at its height; the monitor keeps following and ends with the full audit’s report', async (t) => {
  const r = await start(t);
  const state = tempDir(t, 'tallyboard-monitor-');
  const { ops } = plan(4, 'tamper');
  const alarms: Alarm[] = [];
  const verified: Checkpoint[] = [];
  const board = httpLiveBoard(r.url);
  const monitor = () =>
    new Monitor({
      board,
      stateDir: state,
      onAlarm: async (a) => void alarms.push(a),
      onVerifiedCheckpoint: async (cp, st) => {
        t.equal(st.checkpoint, cp, 'the hook sees the state about to be saved');
        verified.push(cp);
      },
    });
  await apply(r, ops.slice(0, 4));
  t.notOk((await monitor().poll()).halted, 'an honest prefix');
  t.same(alarms, [], 'no alarm on the honest prefix');
  await apply(r, ops.slice(4));
  t.notOk((await monitor().poll()).halted, 'still honest');

  // The operator appends an issuance whose count skips one (5b).
  const bad = await r.servers.box.board.append('token-issued', { ref: 'ab'.repeat(32), count: 9 });
  const p = await monitor().poll();
  t.notOk(p.halted, 'a failed step check does not halt the monitor');
  t.equal(alarms.length, 1, 'one alarm');
  t.match(alarms[0], { check: '5b', step: 5, height: bad.entry.height }, 'named by the auditor’s own check id, at the entry’s height');

  await closeAndForceTally(r);
  const end = await monitor().poll();
  t.ok(end.report, 'the final report once tallied');
  const full = await fullAudit(await boardLines(r));
  t.equal(full.firstFailure?.check, '5b', 'the full audit fails 5b too');
  t.same(comparable(end.report!), comparable(full), 'the monitor’s report is the full audit’s, step by step');
  t.equal(board.fetched, r.servers.box.board.size, 'every entry fetched once across three monitor instances');
  t.same(
    verified.map((c) => c.treeSize),
    [...new Set(verified.map((c) => c.treeSize))].sort((a, b) => a - b),
    'the witness hook saw each verified checkpoint once, in increasing size',
  );
});

