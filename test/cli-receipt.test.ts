/**
 * `tallyboard receipt check` and `tallyboard board export` as spawned processes of the COMPILED
 * command line (issue #5), against real ballot servers built in this process
 * (src/server/election-servers.ts, in-memory or LevelDB boards) and listening on loopback.
 *
 * Receipts are the real ones the server returns for cast ballots. A voter's receipt must be
 * found (YES) on the server and in the server's export file, also after later ballots; and
 * refused (NO) when the receipt was tampered with, when it is checked against another
 * election's board, and when the server forks the board (a second board of the SAME election,
 * signed with the same key, without the ballot): the check that the current board extends the
 * receipt's checkpoint is what catches that.
 */
import { recordTestIssuance } from './helpers/register.js';
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { LevelBoardStore } from '../bulletin/store/level.js';
import type { BoardStore } from '../bulletin/store/interface.js';
import { buildBallotServer } from '../src/server/election-servers.js';
import { ballotToJson, createBallot, type VoterToken } from '../src/election/ballot.js';
import type { Election } from '../src/election/manifest.js';
import type { ReceiptJson } from '../src/ballot/receipt.js';
import { boardKeyFixture, fixtureElection, fixtureToken } from './helpers/fixtures.js';
import { flipHexDigit } from './helpers/mutate.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/test/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the compiled CLI; NODE_OPTIONS is dropped so the child runs plain compiled JavaScript. */
function tallyboard(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _drop, ...base } = process.env;
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...base, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
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

const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };
const questions = [{ id: 'q', options: 4, min: 1, max: 1 }];
const election = fixtureElection({ electionId: 'cli-receipt', revoting: true, maxVoters: 10, questions });
const otherElection = fixtureElection({ electionId: 'cli-receipt-other', revoting: true, maxVoters: 10, questions });

interface Server {
  readonly url: string;
  readonly app: FastifyInstance;
  /** cast a ballot for `option`, returning the server's receipt */
  cast(option: number, token?: VoterToken): Promise<ReceiptJson>;
}

/** A ballot server on loopback with a ticking test clock inside the election's schedule. */
async function startServer(t: Test, e: Election, store: BoardStore = new MemoryBoardStore()): Promise<Server> {
  let clock = e.startMs + 60_000;
  const { app, box } = await buildBallotServer(
    { election: e, boardStore: store, boardSecretKey: boardKeyFixture().secretKey },
    { credentials, autoClose: false, now: () => (clock += 1000) },
  );
  t.teardown(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  let refs = 0;
  const issued = new Set<VoterToken>();
  return {
    url,
    app,
    async cast(option, token = fixtureToken(e)) {
      // Each token's issuance is on the board once, before its first ballot.
      if (!issued.has(token)) await recordTestIssuance(box, new Uint8Array(32).fill(++refs));
      issued.add(token);
      const b = createBallot(e, [[option]], token);
      const res = await fetch(`${url}/api/ballots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ballotToJson(e, b.ballot)) });
      if (res.status !== 201) throw new Error(`cast refused: ${res.status} ${await res.text()}`);
      return (await res.json()) as ReceiptJson;
    },
  };
}

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function save(dir: string, name: string, value: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, `${JSON.stringify(value, null, 2)}\n`);
  return f;
}

async function exportBytes(app: FastifyInstance): Promise<string> {
  return (await app.inject({ method: 'GET', url: '/api/board/export' })).body;
}

function expectYes(t: Test, r: Run, receipt: ReceiptJson, size: number, what: string): void {
  t.equal(r.code, 0, `${what}: exit 0 ${r.stderr}`);
  t.match(
    r.stdout,
    new RegExp(`^YES: your ballot ${receipt.tracker} is on the board at height ${receipt.height}, included in the board of ${size} entries signed \\w{3} \\d{1,2} \\w{3} \\d{4}, \\d\\d:\\d\\d:\\d\\d \\S+$`, 'm'),
    `${what}: YES line`,
  );
}

function expectNo(t: Test, r: Run, reason: RegExp, what: string): void {
  t.equal(r.code, 1, `${what}: exit 1 ${r.stderr}`);
  t.match(r.stdout, /^NO: /m, `${what}: NO line`);
  t.match(r.stdout, reason, `${what}: reason`);
  t.notMatch(r.stdout, /YES/, `${what}: no YES`);
}

t.test('receipt check: yes on the server and in its export, after later ballots', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-receipt-');
  const s = await startServer(t, election);
  const voter = fixtureToken(election);
  const mine = await s.cast(2, voter);
  await s.cast(0);
  await s.cast(1);
  const receipt = save(dir, 'receipt.json', mine);
  t.ok(mine.checkpoint.treeSize < 7, 'the receipt was signed before the later ballots');

  const byUrl = await tallyboard(['receipt', 'check', receipt, '--board', s.url], dir);
  expectYes(t, byUrl, mine, 8, '--board URL');
  t.match(byUrl.stdout, /^COUNTS: This is the ballot that counts/m, 'the URL check says the ballot counts');

  const exp = await tallyboard(['board', 'export', '--server', s.url, '--out', 'board.jsonl'], dir);
  t.equal(exp.code, 0, `board export --server: exit 0 ${exp.stderr}`);
  t.match(exp.stdout, /^exported 8 entries to board\.jsonl$/m);
  t.match(exp.stdout, /^final checkpoint: size 8, root [0-9a-f]{64}, signed at /m);
  t.equal(readFileSync(join(dir, 'board.jsonl'), 'utf8'), await exportBytes(s.app), 'the file holds exactly what the server exports');
  const byFile = await tallyboard(['receipt', 'check', receipt, '--board', 'board.jsonl'], dir);
  expectYes(t, byFile, mine, 8, '--board FILE');
  t.match(byFile.stdout, /^COUNTS: This is the ballot that counts/m, 'the file check says the ballot counts');

  // The voter revotes: the first receipt is still on the board, and BOTH checks say it no longer counts.
  await s.cast(3, voter);
  await tallyboard(['board', 'export', '--server', s.url, '--out', 'board2.jsonl'], dir);
  const revoted = await tallyboard(['receipt', 'check', receipt, '--board', 'board2.jsonl'], dir);
  expectYes(t, revoted, mine, 9, 'after a revote');
  t.match(revoted.stdout, /^REPLACED: This ballot does NOT count: your token cast a later ballot, at height 8/m, 'the revote is pointed out (file)');
});

t.test('regression: a replaced ballot is not a plain YES against the server either (#9.3)', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-receipt-');
  const s = await startServer(t, election);
  const voter = fixtureToken(election);
  const mine = await s.cast(2, voter);
  await s.cast(0);
  const receipt = save(dir, 'receipt.json', mine);
  const again = await s.cast(3, voter);
  await s.cast(1);
  const r = await tallyboard(['receipt', 'check', receipt, '--board', s.url], dir);
  expectYes(t, r, mine, 9, '--board URL after a revote');
  t.match(r.stdout, /^REPLACED: This ballot does NOT count: your token cast a later ballot, at height 6/m, 'the URL check says it was replaced, and where');
  t.notMatch(r.stdout, /COUNTS:/, 'and never that it counts');
  const second = await tallyboard(['receipt', 'check', save(dir, 'again.json', again), '--board', s.url], dir);
  expectYes(t, second, again, 9, 'the later ballot');
  t.match(second.stdout, /^COUNTS: This is the ballot that counts/m, 'the later ballot is the one that counts');
});

t.test('receipt check: no for tampered receipts and for other boards', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-receipt-');
  const s = await startServer(t, election);
  const mine = await s.cast(1);
  await s.cast(2);
  const exp = await tallyboard(['board', 'export', '--server', s.url, '--out', 'board.jsonl'], dir);
  t.equal(exp.code, 0, exp.stderr);

  const tampered: [string, ReceiptJson, RegExp][] = [
    ['another tracker', { ...mine, tracker: flipHexDigit(mine.tracker, 5) }, /another tracker/],
    ['a forged checkpoint signature', { ...mine, checkpoint: { ...mine.checkpoint, signature: flipHexDigit(mine.checkpoint.signature, 3) } }, /not included under the signed checkpoint/],
    ['an edited ciphertext', structuredClone(mine), /does not verify/],
    ['an entry hash that is not the entry’s', { ...mine, entryHash: flipHexDigit(mine.entryHash, 0) }, /entryHash is not the hash of its entry/],
  ];
  const edited = tampered[2]![1] as unknown as { entry: { payload: { ballot: { answers: { c: string }[] } } } };
  edited.entry.payload.ballot.answers[0]!.c = flipHexDigit(edited.entry.payload.ballot.answers[0]!.c, 60);
  // Two checks at a time (two cores); each spends part of its time starting up.
  for (const [i, [what, r, reason]] of tampered.entries()) {
    const f = save(dir, `tampered-${i}.json`, r);
    const [byUrl, byFile] = await Promise.all([tallyboard(['receipt', 'check', f, '--board', s.url], dir), tallyboard(['receipt', 'check', f, '--board', 'board.jsonl'], dir)]);
    expectNo(t, byUrl, reason, `${what} (URL)`);
    expectNo(t, byFile, reason, `${what} (FILE)`);
  }

  const receipt = save(dir, 'receipt.json', mine);
  // Another election's board.
  const other = await startServer(t, otherElection);
  await other.cast(1);
  t.equal((await tallyboard(['board', 'export', '--server', other.url, '--out', 'other.jsonl'], dir)).code, 0);
  const [otherUrl, otherFile] = await Promise.all([tallyboard(['receipt', 'check', receipt, '--board', other.url], dir), tallyboard(['receipt', 'check', receipt, '--board', 'other.jsonl'], dir)]);
  expectNo(t, otherUrl, /for another election/, 'another election (URL)');
  expectNo(t, otherFile, /for another election/, 'another election (FILE)');

  // A fork: the same election and board key, a board without this ballot (history rewritten).
  const fork = await startServer(t, election);
  await fork.cast(3);
  await fork.cast(0);
  t.equal((await tallyboard(['board', 'export', '--server', fork.url, '--out', 'fork.jsonl'], dir)).code, 0);
  const [forkUrl, forkFile] = await Promise.all([tallyboard(['receipt', 'check', receipt, '--board', fork.url], dir), tallyboard(['receipt', 'check', receipt, '--board', 'fork.jsonl'], dir)]);
  expectNo(t, forkUrl, /no longer contains the board your receipt's checkpoint signed/, 'a forked board (URL)');
  expectNo(t, forkFile, /holds a different entry at height \d+/, 'a forked board (FILE)');

  const garbage = save(dir, 'garbage.json', { hello: 'world' });
  expectNo(t, await tallyboard(['receipt', 'check', garbage, '--board', 'board.jsonl'], dir), /not a tallyboard-receipt\/1 receipt/, 'not a receipt');
});

t.test('board export --data: the stopped server’s LevelDB board, read-only', async (t) => {
  const dir = tempDir(t, 'tallyboard-cli-board-');
  writeFileSync(join(dir, 'election.json'), JSON.stringify(election.manifest, null, 2));
  const s = await startServer(t, election, new LevelBoardStore(join(dir, 'board')));
  await s.cast(0);
  await s.cast(2);
  const expected = await exportBytes(s.app);

  const busy = await tallyboard(['board', 'export', '--data', dir, '--out', 'busy.jsonl'], dir);
  t.equal(busy.code, 1, 'with the server running: exit 1');
  t.match(busy.stderr, /^error CONFLICT: .*in use/m, 'the store is in use');

  await s.app.close();
  const r = await tallyboard(['board', 'export', '--data', dir, '--out', 'data.jsonl'], dir);
  t.equal(r.code, 0, `exit 0 ${r.stderr}`);
  t.match(r.stdout, /^exported 6 entries to data\.jsonl$/m);
  t.match(r.stdout, /^final checkpoint: size 6, root [0-9a-f]{64}, signed at /m);
  t.equal(readFileSync(join(dir, 'data.jsonl'), 'utf8'), expected, 'the same bytes as the server’s export');

  const both = await tallyboard(['board', 'export', '--data', dir, '--server', 'http://127.0.0.1:1', '--out', 'x.jsonl'], dir);
  t.equal(both.code, 1, 'both sources: a usage error (exit 1)');
  t.match(both.stderr, /^error USAGE: /m);
  const none = await tallyboard(['board', 'export', '--data', join(dir, 'nothing'), '--out', 'x.jsonl'], dir);
  t.equal(none.code, 1, 'a directory without an election');
  t.match(none.stderr, /^error NOT_FOUND: /m);
});
