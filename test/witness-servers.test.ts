/**
 * Witnesses against real ballot servers on loopback (issue 14, "done when"): two different
 * boards served from ONE ballot server key (a fork), two witnesses (`tallyboard witness`'s loop,
 * src/witness/follower.ts, with the auditor's checks and the one cosigner). At most one fork
 * ever gets the quorum; the verification server decrypts the one that has it and waits —
 * decrypting nothing — on the one that does not; receipts carry the cosignatures available when
 * issued, and `tallyboard receipt check` reports them; the POST route refuses bad cosignatures.
 */
import { recordTestIssuance, testRef } from './helpers/register.js';
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { LevelBoardStore } from '../bulletin/store/level.js';
import type { BoardStore } from '../bulletin/store/interface.js';
import { checkQuorum, cosignatureToJson, cosignedCheckpointFromJson, signCosignature } from '../bulletin/cosignature.js';
import { checkpointFromJson } from '../bulletin/checkpoint.js';
import { exportLines } from '../bulletin/export.js';
import { BallotBox } from '../src/ballot/ballot-box.js';
import { buildBallotApp } from '../src/ballot/app.js';
import { verifyReceipt } from '../src/ballot/receipt.js';
import { ballotToJson, createBallot } from '../src/election/ballot.js';
import { localBoardAccess } from '../src/server/election-servers.js';
import { TallyService } from '../src/verifier/tally-service.js';
import { WitnessCosigner } from '../src/witness/cosigner.js';
import { BoardHttp, WitnessFollower } from '../src/witness/follower.js';
import { witnessHook } from '../src/witness/monitor-hook.js';
import { Monitor } from '../src/monitor/monitor.js';
import { httpLiveBoard } from '../src/monitor/live-board.js';
import { audit } from '../auditor/audit.js';
import { boardRecordsFromLines } from './helpers/board-records.js';
import { boardKeyFixture, fixtureElection, fixtureToken, paillierFixture, witnessFixture } from './helpers/fixtures.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/test/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');
const OPEN = Date.parse('2026-06-01T12:00:00.000Z');
const election = fixtureElection({ electionId: 'witness-fork', revoting: true, maxVoters: 10, witnesses: { count: 2, quorum: 2 } });
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function tempDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'tallyboard-witness-srv-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A ballot server over `store` signing with the fixture board key, listening on loopback. */
async function ballotServer(t: Test, store: BoardStore, clock: { now: number }) {
  const board = await Board.open(store, { electionId: election.manifest.electionId, boardSecretKey: boardKeyFixture().secretKey, now: () => clock.now });
  const box = await BallotBox.open({ board, election, now: () => clock.now });
  const app: FastifyInstance = buildBallotApp({ box, adminToken: 'admin-token-0123456789', serviceToken: 'service-token-0123456789', autoClose: false, cosignatureRate: { max: 1000, timeWindowMs: 60_000 } });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return { box, app, url };
}

function witness(t: Test, i: number, dir = tempDir(t)) {
  const key = witnessFixture(i);
  return { key, dir, cosigner: WitnessCosigner.open({ dir, key, electionId: election.manifest.electionId, boardPublicKey: election.boardKey }) };
}

const follow = (url: string, w: ReturnType<typeof witness>) => new WitnessFollower(new BoardHttp(url), election, w.key, w.cosigner);

async function cosignersOf(url: string, size?: number): Promise<string[]> {
  const res = await fetch(`${url}/api/board/checkpoint${size === undefined ? '' : `?size=${size}`}`);
  const body = (await res.json()) as { cosignatures?: { name: string }[] };
  return (body.cosignatures ?? []).map((c) => c.name);
}

function tallyboardCli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _drop, ...base } = process.env;
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...base, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('two boards from one ballot server key: at most one fork gets the quorum, and the verification server decrypts only that one', async (t) => {
  const clock = { now: OPEN };
  // Fork A on LevelDB, fork B in memory: the same election and board key, different ballots.
  const A = await ballotServer(t, new LevelBoardStore(join(tempDir(t), 'board')), clock);
  const B = await ballotServer(t, new MemoryBoardStore(), clock);
  const tokens = [fixtureToken(election), fixtureToken(election)];
  for (const s of [A, B]) for (let i = 0; i < 2; i++) await recordTestIssuance(s.box, testRef(i + 1));
  const castTo = async (s: typeof A, voter: number, sel: number[][]) => {
    const b = createBallot(election, sel, tokens[voter]!);
    const res = await s.app.inject({ method: 'POST', url: '/api/ballots', payload: ballotToJson(election, b.ballot) as object });
    t.equal(res.statusCode, 201);
    return res.json();
  };
  const receiptA = await castTo(A, 0, [[1]]);
  await castTo(A, 1, [[2]]);
  await castTo(B, 0, [[1]]);
  await castTo(B, 1, [[3]]); // the fork: voter 1's ballot is another one on B

  const issued = verifyReceipt(election, receiptA);
  t.ok(issued.ok && issued.witnesses.valid.length === 0 && !issued.witnesses.hasQuorum, 'the receipt at casting time carries no cosignature yet');

  // Both witnesses follow A and cosign it: A's checkpoint reaches the quorum.
  const w0 = witness(t, 0);
  const w1 = witness(t, 1);
  for (const w of [w0, w1]) {
    const r = await follow(A.url, w).round();
    t.match(r, { kind: 'cosigned', treeSize: 6, posted: true }, `${w.key.name} cosigned A at size 6`);
  }
  t.same(await cosignersOf(A.url), [w0.key.name, w1.key.name], 'A serves both cosignatures with its checkpoint');

  // Then the operator shows B to both (a split view after the fact): both refuse, B never gets one.
  for (const w of [w0, w1]) {
    const r = await follow(B.url, w).round();
    t.equal(r.kind, 'alarm', `${w.key.name} raises the alarm on B`);
    t.match(r.kind === 'alarm' ? r.reason : '', /do not give the checkpoint of size 6|W4|W5/, 'and says why: B is not the board it cosigned');
  }
  t.same(await cosignersOf(B.url), [], 'B carries no cosignature');
  // A restarted witness (new process, same state directory) still refuses B.
  const w0again = witness(t, 0, w0.dir);
  t.equal((await follow(B.url, w0again).round()).kind, 'alarm', 'after a restart the witness still refuses B');

  // A receipt looked up now carries the quorum; `tallyboard receipt check` reports it.
  const later = (await A.app.inject({ method: 'GET', url: `/api/ballots/${receiptA.tracker}` })).json();
  const v = verifyReceipt(election, later);
  t.ok(v.ok && v.witnesses.hasQuorum, 'the receipt looked up after the witnesses carries the quorum');
  t.same(v.ok ? v.witnesses.valid : [], [w0.key.name, w1.key.name]);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'receipt.json'), JSON.stringify(later));
  const run = await tallyboardCli(['receipt', 'check', 'receipt.json', '--board', A.url], dir);
  t.equal(run.code, 0, 'receipt check: exit 0');
  t.match(run.stdout, /^WITNESSES: your receipt's checkpoint \(size 6\) is cosigned by witness-0\.example, witness-1\.example: the quorum of 2 is reached/m, 'receipt check reports the cosignatures');
  writeFileSync(join(dir, 'early.json'), JSON.stringify(receiptA));
  const early = await tallyboardCli(['receipt', 'check', 'early.json', '--board', A.url], dir);
  t.match(early.stdout, /^WITNESSES: .*cosigned by no witness yet: 0 of the 2/m, 'an early receipt: no cosignature yet, said so');

  // Close both forks. The witnesses cosign A's close checkpoint; B's stays without.
  await A.box.close('admin');
  await B.box.close('admin');
  for (const w of [w0again, w1]) t.match(await follow(A.url, w).round(), { kind: 'cosigned', treeSize: 7 });

  const spied = () => {
    const sk = paillierFixture('a');
    const spy = { decrypts: 0 };
    const decrypt = sk.decrypt.bind(sk);
    sk.decrypt = (c) => (spy.decrypts++, decrypt(c));
    return { sk, spy };
  };
  const vb = spied();
  const onB = await new TallyService({ secretKey: vb.sk, election, board: localBoardAccess(B.box), logger: quiet, workers: 0 }).tallyOnce();
  t.match(onB, { outcome: 'awaiting-witnesses', treeSize: 7, cosigned: [], witnesses: [w0.key.name, w1.key.name], quorum: 2 }, 'on the fork: waits for the witnesses, and says whose');
  t.equal(vb.spy.decrypts, 0, 'nothing was decrypted on the fork');
  t.equal(B.box.phase, 'closed', 'no tally on the fork');

  const va = spied();
  const onA = await new TallyService({ secretKey: va.sk, election, board: localBoardAccess(A.box), logger: quiet, workers: 0 }).tallyOnce();
  t.match(onA, { outcome: 'tallied', ballotsCounted: 2 }, 'the fork with the quorum is tallied');

  // The final board: the witnesses cosign it, and the auditor accepts it with check 8e.
  for (const w of [w0again, w1]) t.match(await follow(A.url, w).round(), { kind: 'cosigned', treeSize: 10 });
  const lines: string[] = [];
  for await (const l of exportLines(A.box.board)) lines.push(l);
  const report = await audit(boardRecordsFromLines(lines)(), { reopen: boardRecordsFromLines(lines) });
  t.equal(report.ok, true, 'the exported final board, with its cosignatures, verifies');
  t.match(lines[lines.length - 1], /"cosignatures":\[\{"keyId":/, 'the export carries the cosignatures on the checkpoint record');
  // The fork's close checkpoint lacks the quorum (spec §8.5 rule 4: what every share holder checks).
  const cpB = cosignedCheckpointFromJson((await B.app.inject({ method: 'GET', url: '/api/board/checkpoint' })).json());
  t.match(checkQuorum(election.witnesses, election.witnessQuorum, election.boardKey, cpB.checkpoint, cpB.cosignatures), { ok: false, reason: 'below-quorum' }, "the fork's close checkpoint lacks the quorum");
});

t.test('POST /api/board/cosignatures: only a valid cosignature by a witness of the manifest is stored', async (t) => {
  const clock = { now: OPEN };
  const S = await ballotServer(t, new MemoryBoardStore(), clock);
  await recordTestIssuance(S.box, testRef(1));
  const cpJson = (await S.app.inject({ method: 'GET', url: '/api/board/checkpoint' })).json();
  const cp = checkpointFromJson(cpJson);
  const sign = (i: number, name = witnessFixture(i).name, at = cp) => cosignatureToJson(signCosignature(witnessFixture(i).secretKey, name, election.boardKey, at, 1));
  const post = (payload: unknown) => S.app.inject({ method: 'POST', url: '/api/board/cosignatures', payload: payload as object });
  const cases: [string, unknown, number, string][] = [
    ['unknown witness', sign(3, 'witness-9.example'), 422, 'BAD_COSIGNATURE'],
    ['unknown key under a known name', sign(3, witnessFixture(0).name), 422, 'BAD_COSIGNATURE'],
    ['bad signature', { ...sign(0), signature: sign(1).signature }, 422, 'BAD_COSIGNATURE'],
    ['another root', { ...sign(0), rootHash: 'ab'.repeat(32) }, 422, 'BAD_COSIGNATURE'],
    ['a size the board has no checkpoint for', { ...sign(0), treeSize: 99 }, 404, 'NOT_FOUND'],
    ['an unknown member', { ...sign(0), extra: 1 }, 400, 'MALFORMED'],
    ['too large', { ...sign(0), name: 'x'.repeat(5000) }, 413, 'TOO_LARGE'],
  ];
  for (const [name, body, status, code] of cases) {
    const res = await post(body);
    t.equal(res.statusCode, status, `${name}: ${status}`);
    t.equal(res.json().error?.code, code, `${name}: ${code}`);
  }
  t.same(await S.box.board.cosignaturesAt(cp.treeSize), [], 'nothing was stored');
  const ok = await post(sign(0));
  t.equal(ok.statusCode, 201);
  t.same(ok.json(), { treeSize: cp.treeSize, names: [witnessFixture(0).name], quorum: false });
  t.same((await S.app.inject({ method: 'GET', url: '/api/board/checkpoint' })).json().cosignatures, [sign(0)], 'served with the checkpoint');
});

t.test('tallyboard monitor --witness-key: the live monitor cosigns through its hook with the same cosigner, and refuses a fork', async (t) => {
  const clock = { now: OPEN };
  const A = await ballotServer(t, new MemoryBoardStore(), clock);
  const B = await ballotServer(t, new MemoryBoardStore(), clock);
  const token = fixtureToken(election);
  for (const s of [A, B]) {
    await recordTestIssuance(s.box, testRef(1));
    const b = createBallot(election, [[s === A ? 0 : 1]], token);
    t.equal((await s.app.inject({ method: 'POST', url: '/api/ballots', payload: ballotToJson(election, b.ballot) as object })).statusCode, 201);
  }
  const key = witnessFixture(0);
  const witnessDir = tempDir(t);
  const cosigned: number[] = [];
  const refused: string[] = [];
  const monitorOn = (url: string) => {
    const board = httpLiveBoard(url);
    return new Monitor({
      board,
      stateDir: tempDir(t),
      onVerifiedCheckpoint: witnessHook({ key, stateDir: witnessDir, board, baseUrl: url, onCosigned: (c) => cosigned.push(c.treeSize), onRefused: (why) => refused.push(why) }),
    });
  };
  await monitorOn(A.url).poll();
  t.same(cosigned, [4], 'the monitor cosigned the checkpoint it verified');
  t.same(await cosignersOf(A.url), [key.name], 'and posted it');
  // The standalone witness loop of witness 1 adds the second cosignature: the quorum.
  t.match(await follow(A.url, witness(t, 1)).round(), { kind: 'cosigned', treeSize: 4, posted: true });
  t.same(await cosignersOf(A.url), [witnessFixture(0).name, witnessFixture(1).name], 'quorum reached by a monitor-witness and a loop-witness');
  // The same witness state, a fresh monitor on the fork B: the monitor verifies B (it is a valid
  // board by itself), the cosigner refuses it (W4: same size, another root).
  await monitorOn(B.url).poll();
  t.same(cosigned, [4], 'nothing more was cosigned');
  t.match(refused.join('\n'), /W4/, 'the cosigner refused the fork (W4)');
  t.same(await cosignersOf(B.url), [], 'B carries no cosignature');
});
