/**
 * Forks and `verify --since` (issue 14.1, spec §10.7), against real servers on loopback
 * (test/helpers/monitor-election.ts):
 *
 * 1. A re-signed fork from the same board key that drops one ballot, and one that reorders a
 *    voter's two ballots (the revote now loses — the fork a one-shot audit accepts): the monitor
 *    alarms M1 (rollback) or M2 (same size, other root) while the fork is not longer, then M2
 *    (consistency) once it is, before reading any entry of the fork; it exits 2, runs the hook,
 *    keeps the fork's checkpoint as evidence and stays halted.
 * 2. `verify --since`: a state saved from an early export, resumed over the final export, gives
 *    the full audit's report; a fork's export and a shorter file are refused with M2.
 *
 * Forks are made by replaying the same operations at the same clock times on a second board
 * with the same key, minus (or swapping) one ballot: the prefix before it is byte-identical.
 */
import t from 'tap';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Monitor } from '../src/monitor/monitor.js';
import { httpLiveBoard } from '../src/monitor/live-board.js';
import { loadState, loggedCheckpoints, type Alarm } from '../src/monitor/state.js';
import { apply, boardLines, closeAndTally, fullAudit, plan, revote, runCli, start, tempDir } from './helpers/monitor-election.js';

for (const fork of ['drops a ballot', 'reorders a voter’s revotes'] as const) {
  t.test(`monitor: a re-signed fork that ${fork} alarms M2 (consistency), exits 2 and runs the hook`, async (t) => {
    const { ops, tokens } = plan(5, `fork-${fork}`);
    // Voter 2 votes, then revotes: on the honest board the revote (option 0) counts.
    const rv = revote(tokens, 2, 0);
    const honestOps = [...ops, rv];
    const castAt = ops.findIndex((o) => o.kind === 'cast' && o.voter === 2);
    const forkOps =
      fork === 'drops a ballot'
        ? honestOps.filter((_, i) => i !== ops.findIndex((o) => o.kind === 'cast' && o.voter === 3))
        : // the revote placed before the first ballot: the first ballot now counts
          [...ops.slice(0, castAt), rv, ...ops.slice(castAt)];
    const honest = await start(t);
    await apply(honest, honestOps);
    const state = tempDir(t, 'tallyboard-monitor-');
    const m = new Monitor({ board: httpLiveBoard(honest.url), stateDir: state });
    t.notOk((await m.poll()).halted, 'the honest board verifies');
    const sizeBefore = loadState(state).checkpoint!.treeSize;

    // The same key, the same manifest, the same clock: a board that differs at one ballot,
    // then grows past the honest size so that it looks like an extension.
    const forked = await start(t);
    await apply(forked, forkOps);
    // Before it grows: one entry shorter (a rollback, M1), or as long with another root (M2).
    const copy = tempDir(t, 'tallyboard-monitor-copy-');
    cpSync(state, copy, { recursive: true });
    const early = await new Monitor({ board: httpLiveBoard(forked.url), stateDir: copy }).poll();
    if (fork === 'drops a ballot') t.match(early.halted, { check: 'M1', height: sizeBefore - 1, reason: /older than the one verified before/ }, 'a smaller board: M1');
    else t.match(early.halted, { check: 'M2', height: sizeBefore, reason: /two signed checkpoints of \d+ entries with different roots/ }, 'the same size, another root: M2');
    await apply(forked, plan(2, `more-${fork}`).ops);
    t.ok(forked.servers.box.board.size > sizeBefore, 'the fork is longer than what the monitor verified');
    const hookOut = join(state, 'hook.json');
    const run = runCli(['monitor', '--board', forked.url, '--state', state, '--once', '--workers', '0', '--hook', `cat > '${hookOut}'; echo "$TALLYBOARD_ALARM_CHECK" >> '${hookOut}.env'`]);
    const code = await run.exited;
    t.equal(code, 2, 'exit code 2: an alarm');
    t.match(run.out.stdout, new RegExp(`^ALARM M2 at height ${forked.servers.box.board.size}: .*does not extend`, 'm'), 'an alarm line naming M2 and the fork’s size');
    const hooked = JSON.parse(readFileSync(hookOut, 'utf8')) as Alarm;
    t.match(hooked, { check: 'M2', height: forked.servers.box.board.size }, 'the hook got the alarm on stdin');
    t.equal(readFileSync(`${hookOut}.env`, 'utf8').trim(), 'M2', 'and in its environment');
    t.match(run.out.stderr, /0 entries read|HALTED/, 'halted');
    t.notMatch(run.out.stderr, /checkpoint of \d+ entries verified/, 'no entry of the fork was judged');
    const st = loadState(state);
    t.equal(st.halted?.check, 'M2', 'the state is halted on M2');
    const logged = loggedCheckpoints(state);
    t.match(logged[logged.length - 1], { treeSize: forked.servers.box.board.size, refused: 'M2' }, 'the fork’s signed checkpoint is kept as evidence, marked refused');
    t.notOk(logged[logged.length - 2]!.refused, 'after the honest one it contradicts');
    t.equal(st.checkpoint?.treeSize, sizeBefore, 'and still names the honest checkpoint');
    // A restart against the honest board reports the halt and goes no further.
    const again = await new Monitor({ board: httpLiveBoard(honest.url), stateDir: state }).poll();
    t.equal(again.halted?.check, 'M2', 'a restarted monitor stays halted');
  });
}

t.test('verify --since: a saved state resumed over a longer file equals the full audit; a fork or a shorter file is refused with M2', async (t) => {
  const r = await start(t);
  const dir = tempDir(t, 'tallyboard-since-');
  const { ops, tokens } = plan(6, 'since');
  await apply(r, ops.slice(0, 6));
  const early = join(dir, 'early.jsonl');
  writeFileSync(early, `${(await boardLines(r)).join('\n')}\n`);
  await apply(r, [...ops.slice(6), revote(tokens, 0, 1)]);
  await closeAndTally(r);
  const finalLines = await boardLines(r);
  const final = join(dir, 'final.jsonl');
  writeFileSync(final, `${finalLines.join('\n')}\n`);
  const state = join(dir, 'state');

  const save = runCli(['verify', '--board', early, '--save', state, '--workers', '0']);
  t.equal(await save.exited, 1, 'the early file alone fails (never closed), as a full audit does');
  t.equal(loadState(state).checkpoint?.treeSize, early.length > 0 ? Number(JSON.parse(readFileSync(early, 'utf8').trimEnd().split('\n').pop()!).treeSize) : 0, 'the state names the early file’s checkpoint');

  const json = join(dir, 'since.json');
  const since = runCli(['verify', '--board', final, '--since', state, '--workers', '0', '--json', json]);
  t.equal(await since.exited, 0, `verified from the saved state (${since.out.stderr.slice(-300)})`);
  const newEntries = Number(/verified (\d+) new entr/.exec(since.out.stderr)?.[1]);
  t.equal(newEntries, finalLines.length - 2 - loadState(state).checkpoint!.treeSize, 'only the new entries were verified');
  const full = await fullAudit(finalLines);
  const mine = JSON.parse(readFileSync(json, 'utf8')) as { ok: boolean; steps: { step: number; status: string; counts: unknown }[] };
  t.same(
    mine.steps.map((s) => [s.step, s.status, s.counts]),
    full.steps.map((s) => [s.step, s.status, s.counts]),
    'the same report as the full audit',
  );

  // A fork: the same operations with one ballot dropped.
  const f = await start(t);
  await apply(f, [...ops.filter((o) => !(o.kind === 'cast' && o.voter === 2)), revote(tokens, 0, 1)]);
  await closeAndTally(f);
  const forkFile = join(dir, 'fork.jsonl');
  writeFileSync(forkFile, `${(await boardLines(f)).join('\n')}\n`);
  const refused = runCli(['verify', '--board', forkFile, '--since', state, '--workers', '0']);
  t.equal(await refused.exited, 2, 'a fork is refused (exit 2)');
  t.match(refused.out.stdout, /^ALARM M2/m, 'with M2');

  const lines = readFileSync(early, 'utf8').trimEnd().split('\n');
  const shorter = join(dir, 'shorter.jsonl');
  writeFileSync(shorter, `${[...lines.slice(0, 3), lines[lines.length - 1]].join('\n')}\n`);
  const short = runCli(['verify', '--board', shorter, '--since', state, '--workers', '0']);
  t.equal(await short.exited, 2, 'a shorter file is refused');
  t.match(short.out.stdout, /^ALARM M2/m, 'with M2');
});
