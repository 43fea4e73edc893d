/**
 * The auditor outside a clone (issue #9.7), and the independent check of a cast-or-audit file
 * (issue #9.8).
 *
 * From a temporary directory outside the repository, with nothing of it but the built artifacts:
 *   - the single-file auditor (dist/auditor-dist/tallyboard-audit.mjs) runs with plain `node`
 *     and verifies a board file, and fails a tampered one;
 *   - the package `tallyboard-auditor` is packed with `npm pack` and installed with npm into
 *     that directory (offline: it has no dependencies), and its `tallyboard-audit` command does
 *     the same.
 * The audit-file check is tested on a real opening (src/web/ballot-audit.ts, as the booth makes
 * it) and on the tampering it must catch: another plaintext, another randomness, names that do
 * not match, a plaintext that is not a selection, another election.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BoardRecord } from '../auditor/audit.js';
import { checkpointLine, entryLine, headerLine } from '../bulletin/board-file.js';
import { createBallot } from '../src/election/ballot.js';
import { auditBallot } from '../src/web/ballot-audit.js';
import { checkAuditFile } from '../src/client/audit-file-check.js';
import { auditElection } from '../cli/cmd-audit.js';
import { buildBoard, scenario } from './helpers/election-board.js';
import { fixtureElection, fixtureToken } from './helpers/fixtures.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/test/') ? '../../' : '../', import.meta.url));
const bundle = join(root, 'dist', 'auditor-dist', 'tallyboard-audit.mjs');
const packageDir = join(root, 'dist', 'auditor-dist', 'package');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    // A clean environment: no NODE_OPTIONS of the test runner, no path into the repository.
    const { NODE_OPTIONS: _drop, NODE_PATH: _drop2, ...env } = process.env;
    const child = spawn(cmd, args, { cwd, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lines(records: readonly BoardRecord[]): string[] {
  return records.map((r) => (r.kind === 'header' ? headerLine(r.header) : r.kind === 'entry' ? entryLine(r.entry, r.hash!) : r.kind === 'checkpoint' ? checkpointLine(r.checkpoint) : ''));
}

const s = scenario(
  { electionId: 'outside', revoting: true, maxVoters: 20, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] },
  [[[0]], [[2]], [[1]]],
  [{ voter: 1, selection: [[0]] }],
);
const honest = lines(buildBoard(s.election, s.plan));

t.test('regression: the single-file auditor and the auditor package work outside the clone (#9.7)', async (t) => {
  t.ok(existsSync(bundle), 'the build made the single-file auditor (npm run build)');
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-outside-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.notOk(dir.startsWith(root), 'the directory is outside the repository');
  writeFileSync(join(dir, 'board.jsonl'), `${honest.join('\n')}\n`);
  const forged = [...honest];
  const at = forged.findIndex((l) => l.includes('"type":"ballot"'));
  forged[at] = forged[at]!.replace(/"c":"([0-9a-f])/, (_m, d: string) => `"c":"${d === '0' ? '1' : '0'}`);
  writeFileSync(join(dir, 'forged.jsonl'), `${forged.join('\n')}\n`);

  // 1. One file, plain node.
  copyFileSync(bundle, join(dir, 'tallyboard-audit.mjs'));
  const ok = await run(process.execPath, ['tallyboard-audit.mjs', 'verify', '--board', 'board.jsonl', '--fingerprint', s.election.fingerprintHex], dir);
  t.equal(ok.code, 0, `node tallyboard-audit.mjs verify: exit 0 ${ok.stderr}`);
  t.match(ok.stdout, /^VERIFIED: every step passes$/m);
  t.match(ok.stdout, /\(the expected one\)/, 'with the fingerprint anchor');
  t.match(ok.stdout, /^step 7 .* pass {2}\(3 ballots counted, 1 replaced by a revote\)$/m, 'the revote pass ran (worker threads started from the one file)');
  const bad = await run(process.execPath, ['tallyboard-audit.mjs', 'verify', '--board', 'forged.jsonl'], dir);
  t.equal(bad.code, 1, 'a tampered board fails');
  t.match(bad.stdout, /^NOT VERIFIED: step 2 failed/m);
  const usage = await run(process.execPath, ['tallyboard-audit.mjs', 'verify'], dir);
  t.equal(usage.code, 1);
  t.match(usage.stderr, /^error USAGE: required option/m, 'the same error path as tallyboard');

  // 2. The package, packed and installed with npm (no dependencies: offline).
  const pack = await run('npm', ['pack', packageDir, '--pack-destination', dir, '--silent'], dir);
  t.equal(pack.code, 0, `npm pack ${pack.stderr}`);
  const tgz = readdirSync(dir).find((f) => /^tallyboard-auditor-.*\.tgz$/.test(f));
  t.ok(tgz, 'a tallyboard-auditor-VERSION.tgz');
  const prefix = join(dir, 'install');
  const install = await run('npm', ['install', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '--silent', join(dir, tgz!)], dir);
  t.equal(install.code, 0, `npm install of the tarball ${install.stderr}`);
  const bin = join(prefix, 'node_modules', '.bin', 'tallyboard-audit');
  const installed = await run(bin, ['verify', '--board', 'board.jsonl'], dir);
  t.equal(installed.code, 0, `the installed tallyboard-audit verifies ${installed.stderr}`);
  t.match(installed.stdout, /^VERIFIED: every step passes$/m);
});

t.test('regression: a cast-or-audit file is checked independently, in words (#9.8)', async (t) => {
  const election = fixtureElection({ electionId: 'audit-file', maxVoters: 100, questions: [{ id: 'chair', options: 4, min: 1, max: 1 }, { id: 'projects', options: 3, min: 0, max: 2 }] });
  const enc = createBallot(election, [[2], [0, 2]], fixtureToken(election));
  const record = auditBallot(election, enc, [[2], [0, 2]]).record;
  const params = auditElection(election);
  const v = checkAuditFile(params, record);
  t.ok('questions' in v && v.ok, 'an honest opening checks out');
  if ('questions' in v) {
    t.same(v.questions.map((q) => q.selects), [['Option 2'], ['Option 0', 'Option 2']], 'the choices in words');
  }
  const edit = (f: (r: typeof record) => unknown) => checkAuditFile(params, f(structuredClone(record)));
  const q0 = (x: ReturnType<typeof checkAuditFile>) => ('questions' in x ? x.questions[0]! : undefined);
  const otherM = edit((r) => ({ ...r, answers: [{ ...r.answers[0]!, m: String(1n << BigInt(election.digitBits)), options: ['Option 1'] }, r.answers[1]] }));
  t.notOk(otherM.ok, 'another plaintext fails');
  t.match(q0(otherM), { opens: false, selects: ['Option 1'] }, 'it does not open, and says what that plaintext would be');
  const otherR = edit((r) => ({ ...r, answers: [{ ...r.answers[0]!, r: (BigInt(`0x${r.answers[0]!.r}`) + 2n).toString(16) }, r.answers[1]] }));
  t.match(q0(otherR), { opens: false }, 'another randomness fails');
  const names = edit((r) => ({ ...r, answers: [{ ...r.answers[0]!, options: ['Option 3'] }, r.answers[1]] }));
  t.match(q0(names), { opens: true, namesAgree: false }, 'names that are not what m selects fail');
  t.notOk(names.ok);
  const notSel = edit((r) => ({ ...r, answers: [{ ...r.answers[0]!, m: '3' }, r.answers[1]] }));
  t.match(q0(notSel), { allowed: false }, 'a plaintext with a digit 3 is not a selection');
  t.notOk(notSel.ok);
  const other = checkAuditFile({ ...params, fingerprint: '00'.repeat(32) }, record);
  t.match(other, { ok: false, reason: /another election/ }, 'a file of another election');
  t.match(checkAuditFile(params, { format: 'x' }), { ok: false, reason: /not a tallyboard-audit\/1 file/ });
});
