/**
 * The live monitor and `verify --since` (issue 14.1, spec §10.7), against real ballot, org and
 * verification servers on loopback (buildElectionServers, fastify, HTTP):
 *
 * 1. A live election with revotes followed by `tallyboard monitor` (a child process), killed
 *    with SIGKILL mid-election and restarted: it reads each entry once (the runs' counts add up
 *    to the board's size) and ends with the report of a full audit of the final board.
 * 2. A token issuance out of count appended by the operator: the monitor alarms with the
 *    auditor's own check id (5b) and height, keeps following, and its final report is the full
 *    audit's.
 * 3. A re-signed fork from the same board key that drops one ballot, and one that reorders a
 *    voter's two ballots (the revote now loses): the monitor alarms M2 (consistency) before
 *    reading any entry of the fork, exits 2 and runs the hook with the alarm.
 * 4. `verify --since`: a state saved from an early export, resumed over the final export, gives
 *    the full audit's report; a fork's export and a shorter file are refused with M2.
 *
 * Forks are made by replaying the same operations at the same clock times on a second board
 * with the same key, minus (or swapping) one ballot: the prefix before it is byte-identical.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { audit, type AuditReport } from '../auditor/audit.js';
import { lineRecords } from '../auditor/source.js';
import { exportLines } from '../bulletin/export.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import type { Checkpoint } from '../bulletin/checkpoint.js';
import { ballotToJson, createBallot, type VoterToken } from '../src/election/ballot.js';
import { Monitor } from '../src/monitor/monitor.js';
import { httpLiveBoard } from '../src/monitor/live-board.js';
import { loadState, loggedCheckpoints, type Alarm } from '../src/monitor/state.js';
import { encryptedTallyPayload, resultPayload } from '../src/election/records.js';
import { decryptTally } from '../src/election/tally.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, fixtureToken, paillierFixture, seededRng } from './helpers/fixtures.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');
const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };

const election = fixtureElection({ electionId: 'monitor-2026', revoting: true, maxVoters: 40, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] });
const T_START = election.startMs + 60_000;

type Op = { readonly kind: 'issue'; readonly ref: Uint8Array } | { readonly kind: 'cast'; readonly ballot: unknown; readonly voter: number } | { readonly kind: 'close' };

/** Voter v: an issuance then a ballot; `revotes` voters cast again later. */
function plan(voters: number, seed: string): { ops: Op[]; tokens: VoterToken[] } {
  const rng = seededRng(seed);
  const tokens: VoterToken[] = [];
  const ops: Op[] = [];
  for (let v = 0; v < voters; v++) {
    const token = fixtureToken(election, rng);
    tokens.push(token);
    ops.push({ kind: 'issue', ref: rng(32) });
    ops.push({ kind: 'cast', voter: v, ballot: ballotToJson(election, createBallot(election, [[v % 3]], token).ballot) });
  }
  return { ops, tokens };
}

function revote(tokens: VoterToken[], voter: number, choice: number): Op {
  return { kind: 'cast', voter, ballot: ballotToJson(election, createBallot(election, [[choice]], tokens[voter]!).ballot) };
}

interface Running {
  readonly url: string;
  readonly servers: Awaited<ReturnType<typeof buildElectionServers>>;
  readonly clock: { now: number };
  /** ops applied so far */
  applied: number;
}

async function start(t: Test): Promise<Running> {
  const clock = { now: T_START };
  const servers = await buildElectionServers(
    {
      election,
      boardStore: new MemoryBoardStore(),
      boardSecretKey: boardKeyFixture().secretKey,
      register: createMemoryRegister(),
      issuerKey: blindRsaFixture(),
      issuanceSecret: new Uint8Array(32).fill(3),
      paillierKey: paillierFixture('a'),
      pollMs: 50,
    },
    { credentials, now: () => clock.now, autoClose: false },
  );
  const url = await servers.ballot.listen({ host: '127.0.0.1', port: 0 });
  await Promise.all([servers.org.ready(), servers.verifier.ready()]);
  t.teardown(() => servers.close());
  return { url, servers, clock, applied: 0 };
}

/** Apply ops, one clock second apart (the same times on every replay). */
async function apply(r: Running, ops: readonly Op[]): Promise<void> {
  for (const op of ops) {
    r.applied++;
    r.clock.now = T_START + r.applied * 1000;
    if (op.kind === 'issue') await r.servers.box.recordIssuance(op.ref);
    else if (op.kind === 'cast') {
      const res = await r.servers.ballot.inject({ method: 'POST', url: '/api/ballots', payload: op.ballot as object });
      if (res.statusCode !== 201) throw new Error(`cast refused: ${res.body}`);
    } else {
      const res = await r.servers.ballot.inject({ method: 'POST', url: '/admin/close', headers: { authorization: `Bearer ${credentials.adminToken}` } });
      if (res.statusCode !== 200) throw new Error(`close refused: ${res.body}`);
    }
  }
}

/** Close and wait for the verification server's tally (the board's phase becomes tallied). */
async function closeAndTally(r: Running): Promise<void> {
  await apply(r, [{ kind: 'close' }]);
  await r.servers.service.tallyOnce().catch(() => undefined);
  while (r.servers.box.phase !== 'tallied') await new Promise((res) => setTimeout(res, 20));
}

/**
 * Close and publish the tally directly (a colluding key holder): the verification server
 * re-audits the board and rightly refuses to tally one that fails a step check.
 */
async function closeAndForceTally(r: Running): Promise<void> {
  await apply(r, [{ kind: 'close' }]);
  const { ciphertexts, ballotsCounted } = r.servers.box.runningTally;
  const results = decryptTally(paillierFixture('a'), election, [...ciphertexts]);
  await r.servers.box.submitTally(encryptedTallyPayload(election, { ciphertexts: [...ciphertexts], ballotsCounted }), resultPayload(election, results));
  while (r.servers.box.phase !== 'tallied') await new Promise((res) => setTimeout(res, 20));
}

async function boardLines(r: Running): Promise<string[]> {
  const lines: string[] = [];
  for await (const l of exportLines(r.servers.box.board)) lines.push(l);
  return lines;
}

async function fullAudit(lines: string[]): Promise<AuditReport> {
  const open = lineRecords(lines);
  return audit(open(), { reopen: open });
}

/** A report without the file's line numbers: what the monitor and the full audit must share. */
function comparable(r: AuditReport | Record<string, unknown>): unknown {
  const x = r as AuditReport;
  return {
    ok: x.ok,
    firstFailure: x.firstFailure,
    entries: x.entries,
    fingerprint: x.fingerprint,
    results: x.results,
    steps: x.steps.map((s) => ({ step: s.step, status: s.status, counts: s.counts, failureCount: s.failureCount, failures: s.failures.map(({ line: _l, ...f }) => f) })),
  };
}

function tempDir(t: Test, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A CLI child with its output collected; `waitFor` resolves when stderr/stdout match. */
function runCli(args: string[]): { child: ChildProcessWithoutNullStreams; out: { stdout: string; stderr: string }; exited: Promise<number | null>; waitFor: (re: RegExp) => Promise<void> } {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, NO_COLOR: '1' } });
  const out = { stdout: '', stderr: '' };
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.re.test(out.stderr) || w.re.test(out.stdout)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', (d) => ((out.stdout += d), check()));
  child.stderr.on('data', (d) => ((out.stderr += d), check()));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  child.stdin.end();
  return {
    child,
    out,
    exited,
    waitFor: (re) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ re, resolve });
        exited.then(() => reject(new Error(`the command exited before ${re}: ${out.stderr}${out.stdout}`)), () => undefined);
        check();
      }),
  };
}

/** Entries the monitor says it read in one run (its last progress line). */
function entriesRead(stderr: string): number {
  const all = [...stderr.matchAll(/(\d+) entries read in this run/g)];
  return all.length ? Number(all[all.length - 1]![1]) : 0;
}

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
