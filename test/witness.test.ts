/**
 * Witnesses (issue 14.2–14.4, spec §9.9, §11.6): the cosigner's safety rules W1–W5 with its
 * persisted state (also after a restart), the auditor's check 8e on the final checkpoint, and
 * the re-signed fork that reorders one voter's revotes — accepted by the auditor without
 * witnesses, rejected (8e) when the manifest names them, because the witnesses refuse it.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { audit, type AuditReport, type BoardRecord } from '../auditor/audit.js';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { signCosignature, checkQuorum, type Cosignature } from '../bulletin/cosignature.js';
import type { Checkpoint } from '../bulletin/checkpoint.js';
import { isTallyError } from '../src/errors.js';
import { WitnessCosigner } from '../src/witness/cosigner.js';
import { parseManifest } from '../src/election/manifest.js';
import { appendTally, buildBoard, scenario, stream, type PlannedEntry } from './helpers/election-board.js';
import { boardKeyFixture, manifestJson, witnessFixture } from './helpers/fixtures.js';

const boardKey = boardKeyFixture();

function tempDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'tallyboard-witness-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A board of `n` entries whose payloads depend on `tag` (two tags: two forks, one board key). */
async function forkBoard(tag: string, n: number): Promise<Board> {
  let ts = 1_704_067_200_000;
  const board = await Board.open(new MemoryBoardStore(), { electionId: 'witness-test', boardSecretKey: boardKey.secretKey, now: () => ts++ });
  await board.append('setup', { a: 1 });
  for (let i = 1; i < n; i++) await board.append('ballot', { fork: tag, i });
  return board;
}

function cosigner(dir: string): WitnessCosigner {
  const w = witnessFixture(0);
  return WitnessCosigner.open({ dir, key: w, electionId: 'witness-test', boardPublicKey: boardKey.publicKey });
}

async function refusedWith(t: Test, p: Promise<unknown>, rule: string, msg: string): Promise<void> {
  try {
    await p;
    t.fail(`${msg}: cosigned`);
  } catch (e) {
    t.ok(isTallyError(e, 'WITNESS_REFUSED'), `${msg}: WITNESS_REFUSED`);
    t.equal((e as { details?: { rule?: string } }).details?.rule, rule, `${msg}: rule ${rule}`);
  }
}

t.test('a witness never cosigns an equivocating checkpoint: same size other root, smaller after larger, inconsistent — also after a restart', async (t) => {
  const dir = tempDir(t);
  const a = await forkBoard('a', 8);
  const b = await forkBoard('b', 8);
  let w = cosigner(dir);
  const a5 = await a.checkpointAt(5);
  const c5 = await w.cosign(a5, { verifiedSize: 5 });
  t.equal(c5.treeSize, 5);
  const a6 = await a.checkpointAt(6);
  await w.cosign(a6, { verifiedSize: 6, proof: await a.consistencyProof(5, 6) });

  const checks = async (w: WitnessCosigner, when: string) => {
    await refusedWith(t, w.cosign(await b.checkpointAt(6), { verifiedSize: 6 }), 'W4', `${when}: same size, other root`);
    await refusedWith(t, w.cosign(await a.checkpointAt(4), { verifiedSize: 8 }), 'W3', `${when}: a smaller tree after a larger one`);
    await refusedWith(t, w.cosign(await b.checkpointAt(7), { verifiedSize: 7, proof: await b.consistencyProof(6, 7) }), 'W5', `${when}: a larger tree of the other fork`);
    await refusedWith(t, w.cosign(await a.checkpointAt(7), { verifiedSize: 7 }), 'W5', `${when}: a larger tree without a proof`);
    await refusedWith(t, w.cosign(await a.checkpointAt(7), { verifiedSize: 6, proof: await a.consistencyProof(6, 7) }), 'W2', `${when}: entries not verified`);
  };
  await checks(w, 'running');
  // Restart: a new process reads the persisted state; nothing of the rules is forgotten.
  w = cosigner(dir);
  t.equal(w.last?.treeSize, 6, 'the last cosigned checkpoint survived the restart');
  t.ok(w.evidence.length >= 3, 'the contradictions were kept as evidence');
  await checks(w, 'after a restart');
  // The honest continuation is still cosigned, and the same checkpoint again gets the same cosignature.
  const c7 = await w.cosign(await a.checkpointAt(7), { verifiedSize: 7, proof: await a.consistencyProof(6, 7) });
  const again = await w.cosign(await a.checkpointAt(7), { verifiedSize: 7 });
  t.same(again, c7, 'the same checkpoint: the same cosignature');
  const election = parseManifest({ ...manifestJson({ witnesses: { count: 1, quorum: 1 } }), electionId: 'witness-test' });
  t.ok(checkQuorum(election.witnesses, 1, boardKey.publicKey, await a.checkpointAt(7), [c7]).ok, 'the cosignature verifies against the manifest');
});

// ---- the auditor (check 8e) ---------------------------------------------------------------

const spec = { electionId: 'witness-audit', revoting: true, maxVoters: 10, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] };
// Voter 0 votes option 2, then revotes option 0: the revote must count.
const selections = [[[2]], [[1]], [[1]]];
const revotes = [{ voter: 0, selection: [[0]] }];
const witnessed = scenario({ ...spec, witnesses: { count: 2, quorum: 2 } }, selections, revotes);
const unwitnessed = scenario(spec, selections, revotes);

function cosigned(records: BoardRecord[], cos: (cp: Checkpoint) => Cosignature[]): BoardRecord[] {
  const last = records[records.length - 1]!;
  if (last.kind !== 'checkpoint') throw new Error('no checkpoint');
  return [...records.slice(0, -1), { ...last, cosignatures: cos(last.checkpoint) }];
}
const cosign = (i: number, cp: Checkpoint, time = 1) => signCosignature(witnessFixture(i).secretKey, witnessFixture(i).name, boardKey.publicKey, cp, time);
const run = (recs: BoardRecord[]): Promise<AuditReport> => audit(stream(recs), { reopen: () => stream(recs) });
const step8 = (r: AuditReport) => r.steps.find((s) => s.step === 8)!;

t.test('the auditor requires the witnesses’ quorum on the final checkpoint (8e)', async (t) => {
  const honest = buildBoard(witnessed.election, witnessed.plan);
  const ok = await run(cosigned(honest, (cp) => [cosign(0, cp), cosign(1, cp)]));
  t.equal(ok.ok, true, 'both witnesses cosigned: the board verifies');
  t.equal(step8(ok).counts['witness cosignatures'], 2);

  const cases: [string, (cp: Checkpoint) => Cosignature[], RegExp][] = [
    ['no cosignature', () => [], /0 of the 2/],
    ['below quorum', (cp) => [cosign(0, cp)], /1 of the 2/],
    ['a bad signature', (cp) => [cosign(0, cp), { ...cosign(1, cp), signature: cosign(1, cp, 2).signature }], /does not verify/],
    ['a cosignature by an unknown key', (cp) => [cosign(0, cp), { ...signCosignature(witnessFixture(5).secretKey, witnessFixture(1).name, boardKey.publicKey, cp, 1) }], /key id|does not verify/],
    ['a cosignature for a different root', (cp) => [cosign(0, cp), cosign(1, { ...cp, rootHash: new Uint8Array(32).fill(9) })], /not this checkpoint/],
  ];
  for (const [name, cos, why] of cases) {
    const r = await run(cosigned(honest, cos));
    t.equal(r.ok, false, `${name}: the board fails`);
    t.same(r.firstFailure, { step: 8, check: '8e' }, `${name}: step 8, check 8e, no height`);
    t.match(step8(r).failures[0]!.reason, why, `${name}: the reason`);
    t.same(r.steps.filter((s) => s.step >= 9).map((s) => s.status), ['not run', 'not run'], `${name}: steps 9 and 10 are not run`);
  }
  const vacuous = await run(buildBoard(unwitnessed.election, unwitnessed.plan));
  t.equal(vacuous.ok, true, 'no witnesses in the manifest: the rule is vacuous');
  const extra = await run(cosigned(buildBoard(unwitnessed.election, unwitnessed.plan), (cp) => [cosign(0, cp)]));
  t.same(extra.firstFailure, { step: 8, check: '8e' }, 'a cosignature by a witness the manifest does not name fails 8e');
});

/** The fork: voter 0's two ballots swapped (timestamps kept), re-chained, re-tallied, re-signed. */
function reorderRevotes(s: typeof witnessed): PlannedEntry[] {
  const closeAt = s.plan.findIndex((p) => p.type === 'close');
  const plan = structuredClone(s.plan.slice(0, closeAt));
  const heights = plan.map((p, h) => (p.type === 'ballot' ? h : -1)).filter((h) => h >= 0);
  const first = heights[0]!;
  const revote = heights[heights.length - 1]!;
  [plan[first]!.payload, plan[revote]!.payload] = [plan[revote]!.payload, plan[first]!.payload];
  appendTally(s.election, plan, s.election.endMs);
  return plan;
}

t.test('regression: the re-signed fork that reorders a voter’s revotes is rejected when the manifest names witnesses', async (t) => {
  // Without witnesses the fork is a valid board by itself (this is the attack of issue 14).
  const forkPlain = await run(buildBoard(unwitnessed.election, reorderRevotes(unwitnessed)));
  t.equal(forkPlain.ok, true, 'without witnesses the auditor accepts the fork');
  t.same(forkPlain.results?.[0]?.counts, { 'mayor-o0': 0, 'mayor-o1': 2, 'mayor-o2': 1 }, 'and it counts the voter’s earlier choice');

  // With witnesses: they followed the honest board while it ran and cosigned it.
  const honest = buildBoard(witnessed.election, witnessed.plan);
  const fork = buildBoard(witnessed.election, reorderRevotes(witnessed));
  const honestBoard = await boardOf(honest);
  const forkBoard2 = await boardOf(fork);
  const closeSize = witnessed.plan.findIndex((p) => p.type === 'close') + 1;
  const dirs = [tempDir(t), tempDir(t)];
  const witnesses = dirs.map((dir, i) => WitnessCosigner.open({ dir, key: witnessFixture(i), electionId: spec.electionId, boardPublicKey: boardKey.publicKey }));
  const cos: Cosignature[] = [];
  for (const w of witnesses) {
    await w.cosign(await honestBoard.checkpointAt(closeSize - 1), { verifiedSize: closeSize - 1 });
    cos.push(await w.cosign(await honestBoard.checkpointAt(honestBoard.size), { verifiedSize: honestBoard.size, proof: await honestBoard.consistencyProof(closeSize - 1, honestBoard.size) }));
  }
  t.equal((await run(cosigned(honest, () => cos))).ok, true, 'the honest board carries the quorum and verifies');
  // The fork has the honest board's size (the same entries, two swapped): W4, same size, other root.
  t.equal(forkBoard2.size, honestBoard.size);
  for (const w of witnesses) {
    await refusedWith(t, w.cosign(await forkBoard2.checkpointAt(forkBoard2.size), { verifiedSize: forkBoard2.size }), 'W4', 'a witness offered the fork');
  }
  const r = await run(fork);
  t.equal(r.ok, false, 'the fork, without cosignatures, fails');
  t.same(r.firstFailure, { step: 8, check: '8e' }, 'at check 8e');
  const stolen = await run(cosigned(fork, () => cos));
  t.same(stolen.firstFailure, { step: 8, check: '8e' }, 'the honest board’s cosignatures do not fit the fork’s checkpoint');
});

/** A read-only board holding `records` (to get checkpoints and consistency proofs of any size). */
async function boardOf(records: BoardRecord[]): Promise<Board> {
  let i = 0;
  const entries = records.filter((r): r is Extract<BoardRecord, { kind: 'entry' }> => r.kind === 'entry');
  const board = await Board.open(new MemoryBoardStore(), { electionId: spec.electionId, boardSecretKey: boardKey.secretKey, now: () => entries[Math.min(i, entries.length - 1)]!.entry.timestamp });
  for (const e of entries) {
    i = e.entry.height;
    await board.append(e.entry.type, e.entry.payload);
  }
  return board;
}
