/**
 * `tallyboard verify` as an auditor runs it (issue #5): the COMPILED command line
 * (dist/cli/tallyboard.js, which `npm test` builds before tap runs) in a child process, over
 * board export files written to a temporary directory.
 *
 * The boards are those of test/auditor.test.ts, written as board.jsonl files with the
 * bulletin's own line functions: an honest board with a revote (so the second, revote pass
 * runs), file tampering (lines edited, removed or swapped as a text editor would) and operator
 * forgeries (re-chained and re-signed with the board key, caught only by the election steps).
 * Each must exit 1 and name the right step on stdout and in the JSON report; the honest board
 * must exit 0, with every worker setting. Over HTTP, the export is downloaded exactly once even
 * though the revote pass reads it twice, and the temporary copy is removed.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BoardRecord, StepNumber } from '../auditor/audit.js';
import type { ReportJson } from '../auditor/report.js';
import { checkpointLine, entryLine, headerLine } from '../bulletin/board-file.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { ballotPayload } from '../src/election/records.js';
import { ballotBody, ballotSigningMessage, ballotTracker, createBallot, type Ballot } from '../src/election/ballot.js';
import { ed25519Sign } from '../src/crypto/ed25519.js';
import { appendTally, buildBoard, scenario, type PlannedEntry } from './helpers/election-board.js';
import { flipHexDigit } from './helpers/mutate.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/test/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the compiled CLI; NODE_OPTIONS is dropped so the child runs plain compiled JavaScript. */
function tallyboard(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _drop, ...base } = process.env;
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...base, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// The election of test/auditor.test.ts: four voters, voter 1 revotes (the revote must win).
const spec = {
  electionId: 'cli-verify',
  revoting: true,
  maxVoters: 20,
  questions: [
    { id: 'mayor', options: 3, min: 1, max: 1 },
    { id: 'referendum', options: 2, min: 0, max: 1 },
  ],
};
const s = scenario(spec, [[[0], [0]], [[2], []], [[1], [1]], [[0], [1]]], [{ voter: 1, selection: [[0], [0]] }]);
const ballotHeights = s.plan.map((p, h) => (p.type === 'ballot' ? h : -1)).filter((h) => h >= 0);

/** The board file's lines (without line feeds). */
function lines(records: readonly BoardRecord[]): string[] {
  return records.map((r) => {
    switch (r.kind) {
      case 'header':
        return headerLine(r.header);
      case 'entry':
        return entryLine(r.entry, r.hash!);
      case 'checkpoint':
        return checkpointLine(r.checkpoint);
      default:
        throw new Error('no invalid records here');
    }
  });
}

const honest = lines(buildBoard(s.election, s.plan));
/** Index in `honest` of the line of entry `h` (line 1 is the header). */
const lineOf = (h: number) => h + 1;

/** A board forged by the operator: an edited plan, re-chained and re-signed. */
function replan(f: (plan: PlannedEntry[]) => void): string[] {
  const plan = structuredClone(s.plan);
  f(plan);
  return lines(buildBoard(s.election, plan));
}

function resign(b: Ballot, secretKey: Uint8Array): { ballot: Ballot; tracker: Uint8Array } {
  const body = ballotBody(s.election, b);
  const signature = ed25519Sign(ballotSigningMessage(body), secretKey);
  return { ballot: { ...b, signature }, tracker: ballotTracker(body, signature) };
}

/** Edit one line's JSON text in place: replace the first occurrence of `from` by `to`. */
function editLine(src: readonly string[], i: number, from: string, to: string): string[] {
  const out = [...src];
  if (!out[i]!.includes(from)) throw new Error(`line ${i + 1} does not contain ${from.slice(0, 20)}`);
  out[i] = out[i]!.replace(from, to);
  return out;
}

const firstBallot = lineOf(ballotHeights[0]!);
const firstC = (JSON.parse(honest[firstBallot]!) as { payload: { ballot: { answers: { c: string }[] } } }).payload.ballot.answers[0]!.c;
const firstParent = (JSON.parse(honest[firstBallot]!) as { parent: string }).parent;
const lastLine = honest[honest.length - 1]!;
const signature = (JSON.parse(lastLine) as { signature: string }).signature;

/** [description, board lines, failing step, check] */
const tampered: [string, string[], StepNumber, string][] = [
  ['a changed digit in a ciphertext', editLine(honest, firstBallot, firstC, flipHexDigit(firstC, 40)), 2, 'B8'],
  ['a removed line', honest.filter((_, i) => i !== firstBallot), 2, 'B4'],
  [
    'two lines swapped',
    (() => {
      const l = [...honest];
      [l[firstBallot], l[firstBallot + 1]] = [l[firstBallot + 1]!, l[firstBallot]!];
      return l;
    })(),
    2,
    'B4',
  ],
  ['an entry with a broken parent hash', editLine(honest, firstBallot, `"parent":"${firstParent}"`, `"parent":"${'09'.repeat(32)}"`), 2, 'B5'],
  ['a forged checkpoint signature', editLine(honest, honest.length - 1, signature, flipHexDigit(signature, 10)), 3, 'B14'],
  [
    'a duplicated ballot',
    replan((plan) => {
      const dup = plan[ballotHeights[0]!]!;
      plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
      plan.push({ ...dup, timestamp: plan[plan.length - 1]!.timestamp + 1 });
      appendTally(s.election, plan, s.election.endMs);
    }),
    7,
    '7a',
  ],
  [
    'a ballot whose proof is for another token',
    replan((plan) => {
      // voter 3 copies voter 0's answers (ciphertexts and proofs) and signs them with its own token
      const own = createBallot(s.election, [[1], [1]], s.tokens[3]!);
      const forged = resign({ ...own.ballot, answers: s.ballots[0]!.ballot.answers }, s.tokens[3]!.secretKey);
      plan[ballotHeights[3]!]!.payload = ballotPayload(s.election, forged.ballot, forged.tracker) as unknown as JsonValue;
      plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
      appendTally(s.election, plan, s.election.endMs);
    }),
    6,
    '5.4f',
  ],
  [
    'an edited result count',
    replan((plan) => {
      plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
      appendTally(s.election, plan, s.election.endMs, (res) => res.map((r, i) => (i === 0 ? { ...r, counts: r.counts.map((c, j) => (j === 0 ? c + 1n : c)) } : r)));
    }),
    10,
    '8.4c',
  ],
  [
    'a published T that is not the combination',
    replan((plan) => {
      plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
      appendTally(s.election, plan, s.election.endMs, (res) => res.map((r, i) => (i === 1 ? { ...r, T: r.T + 1n } : r)));
    }),
    10,
    '8.4f',
  ],
  [
    'a ballot after the close',
    replan((plan) => {
      const late = createBallot(s.election, [[2], [0]], s.tokens[0]!);
      const close = plan.findIndex((p) => p.type === 'close');
      plan.splice(close + 1, 0, { type: 'ballot', payload: ballotPayload(s.election, late.ballot, late.tracker) as unknown as JsonValue, timestamp: plan[close]!.timestamp });
    }),
    8,
    '8b',
  ],
];

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeBoard(dir: string, name: string, l: readonly string[]): string {
  const f = join(dir, name);
  writeFileSync(f, `${l.join('\n')}\n`);
  return f;
}

function readReport(file: string): ReportJson {
  return JSON.parse(readFileSync(file, 'utf8')) as ReportJson;
}

function expectFailure(t: Test, r: Run, report: ReportJson, step: StepNumber, check: string, what: string): void {
  t.equal(r.code, 1, `${what}: exit code 1 ${r.stderr}`);
  t.match(r.stdout, new RegExp(`^step ${step} .* FAIL`, 'm'), `${what}: stdout marks step ${step} FAIL`);
  t.match(r.stdout, new RegExp(`^NOT VERIFIED: step ${step} failed`, 'm'), `${what}: verdict names step ${step}`);
  t.equal(report.ok, false, `${what}: JSON ok is false`);
  t.equal(report.firstFailedStep, step, `${what}: JSON firstFailedStep`);
  const st = report.steps.find((x) => x.step === step);
  t.equal(st?.status, 'fail', `${what}: JSON step ${step} status`);
  t.equal(st?.failures[0]?.check, check, `${what}: JSON check ${check} (${st?.failures[0]?.reason})`);
}

t.test('the compiled CLI exists (npm test builds it)', async (t) => {
  t.ok(readdirSync(join(root, 'dist', 'cli')).includes('cmd-verify.js'), 'dist/cli/cmd-verify.js: run `npm run build` first');
});

t.test('an honest board verifies, in one thread and with workers', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-verify-');
  const board = writeBoard(dir, 'board.jsonl', honest);
  // Batch mode (the default, with workers or in this thread) and the per-proof mode (--no-batch).
  for (const extra of [[], ['--workers', '0'], ['--workers', '1'], ['--no-batch'], ['--workers', '0', '--no-batch']]) {
    const args = ['verify', '--board', board, '--json', 'report.json', ...extra];
    const r = await tallyboard(args, dir);
    const what = extra.length ? extra.join(' ') : '(defaults)';
    t.equal(r.code, 0, `${what}: exit code 0 ${r.stderr}`);
    t.match(r.stdout, /^step 6 +ballot validity \.+ pass {2}\(5 ballot entries, 5 valid ballots\)$/m, `${what}: step 6 line`);
    t.match(r.stdout, /^step 7 .* pass {2}\(4 ballots counted, 1 replaced by a revote\)$/m, `${what}: the revote is applied`);
    t.match(r.stdout, /^VERIFIED: every step passes$/m, `${what}: verdict`);
    t.match(r.stdout, /^ {2}\S.* \(mayor\) +Option 0 \(mayor-o0\) +3$/m, `${what}: results table, with the options' titles (#9.13)`);
    t.match(r.stderr, new RegExp(`^verifying the board file ${board.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(${honest.length - 2} entries\\)`, 'm'), `${what}: regression: the progress names the total (#9.10)`);
    const report = readReport(join(dir, 'report.json'));
    t.equal(report.format, 'tallyboard-audit-report/1');
    t.equal(report.specVersion, 'tallyboard/2');
    t.equal(report.ok, true);
    t.equal(report.firstFailedStep, null);
    t.same(report.steps.map((x) => x.status), new Array(10).fill('pass'));
    t.same(report.results, [
      { question: 'mayor', counts: { 'mayor-o0': 3, 'mayor-o1': 1, 'mayor-o2': 0 } },
      { question: 'referendum', counts: { 'referendum-o0': 2, 'referendum-o1': 2 } },
    ]);
  }
});

t.test('each tampered or forged board fails at its step', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-verify-');
  // Two audits at a time (two cores): each spends part of its time starting up.
  const runs = tampered.map(([, l], i) => {
    const board = writeBoard(dir, `board-${i}.jsonl`, l);
    return () => tallyboard(['verify', '--board', board, '--json', join(dir, `report-${i}.json`)], dir);
  });
  const results: Run[] = [];
  for (let i = 0; i < runs.length; i += 2) results.push(...(await Promise.all(runs.slice(i, i + 2).map((f) => f()))));
  tampered.forEach(([what, , step, check], i) => expectFailure(t, results[i]!, readReport(join(dir, `report-${i}.json`)), step, check, what));
});

t.test('--board URL: one download, read twice for the revote, temporary copy removed', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-verify-');
  const childTmp = join(dir, 'child-tmp');
  mkdirSync(childTmp);
  const files = { honest: writeBoard(dir, 'honest.jsonl', honest), forged: writeBoard(dir, 'forged.jsonl', tampered.find((x) => x[0] === 'an edited result count')![1]) };
  let serve = files.honest;
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url !== '/api/board/export') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"no such route"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
    createReadStream(serve, { highWaterMark: 4096 }).pipe(res); // small chunks: lines cross chunk borders
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const ok = await tallyboard(['verify', '--board', `${url}/`, '--json', 'url.json'], dir, { TMPDIR: childTmp });
  t.equal(ok.code, 0, `honest board over HTTP: exit 0 ${ok.stderr}`);
  t.match(ok.stdout, /^VERIFIED: every step passes$/m);
  t.match(ok.stdout, /^step 7 .* pass {2}\(4 ballots counted, 1 replaced by a revote\)$/m, 'the revote pass ran');
  t.same(requests.filter((u) => u === '/api/board/export'), ['/api/board/export'], 'the export was downloaded once');
  t.same(readdirSync(childTmp), [], 'the temporary copy is removed');

  serve = files.forged;
  const bad = await tallyboard(['verify', '--board', url, '--json', 'url-bad.json', '--workers', '0'], dir, { TMPDIR: childTmp });
  expectFailure(t, bad, readReport(join(dir, 'url-bad.json')), 10, '8.4c', 'a forged board over HTTP');
  t.same(readdirSync(childTmp), [], 'the temporary copy is removed after a failed audit too');

  const down = await tallyboard(['verify', '--board', 'http://127.0.0.1:1'], dir);
  t.equal(down.code, 1, 'an unreachable server: exit 1');
  t.match(down.stderr, /^error BOARD_UNAVAILABLE: /m, 'an unreachable server is an error, not a verdict');
});

t.test('regression: --fingerprint anchors the audit to the expected election (#10.7)', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-verify-');
  const board = writeBoard(dir, 'board.jsonl', honest);
  const fp = s.election.fingerprintHex;
  const right = await tallyboard(['verify', '--board', board, '--fingerprint', fp.toUpperCase()], dir);
  t.equal(right.code, 0, `the expected fingerprint: exit 0 ${right.stderr}`);
  t.match(right.stdout, `fingerprint ${fp}  (the expected one)`);
  t.match(right.stdout, /^VERIFIED: every step passes$/m);
  t.notMatch(right.stdout, /no --fingerprint given/);
  // A whole substitute election verifies on its own; only the anchor tells it apart.
  const other = '0f'.repeat(32);
  const wrong = await tallyboard(['verify', '--board', board, '--fingerprint', other], dir);
  t.equal(wrong.code, 1, 'another fingerprint: exit 1 although every step passes');
  t.match(wrong.stdout, /DOES NOT MATCH the expected fingerprint/);
  t.match(wrong.stdout, `expected    ${other}: this board is ANOTHER election than the one you expect`);
  t.match(wrong.stdout, /^NOT VERIFIED: the board is another election than the one expected \(--fingerprint\)$/m);
  const none = await tallyboard(['verify', '--board', board], dir);
  t.match(none.stdout, /^note: no --fingerprint given: this says the board is consistent, not that it is YOUR election/m, 'without the flag, a reminder to compare');
  const malformed = await tallyboard(['verify', '--board', board, '--fingerprint', 'abc'], dir);
  t.equal(malformed.code, 1);
  t.match(malformed.stderr, /^error USAGE: .*--fingerprint.*64 hexadecimal digits/m);
});

t.test('regression: a board exported before the close says "not closed yet", not only "never closed" (#9.13)', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-verify-');
  const open = lines(buildBoard(s.election, s.plan.slice(0, s.plan.findIndex((p) => p.type === 'close'))));
  const r = await tallyboard(['verify', '--board', writeBoard(dir, 'open.jsonl', open)], dir);
  t.equal(r.code, 1, 'an open board does not verify');
  t.match(r.stdout, /^note: this board has no close entry: if it was exported while voting was still open, that is expected; audit the board again after the close and the tally\.$/m);
});

t.test('usage errors', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-verify-');
  const w = await tallyboard(['verify', '--board', 'x.jsonl', '--workers', 'two'], dir);
  t.not(w.code, 0, '--workers must be a number');
  t.match(w.stderr, /--workers/);
  const missing = await tallyboard(['verify', '--board', join(dir, 'nope.jsonl')], dir);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^error (NOT_FOUND|FILE_NOT_FOUND): /m, 'a missing file');
});
