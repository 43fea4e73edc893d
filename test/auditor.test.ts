/**
 * The auditor's verdicts (spec/10-verification.md): an honest board passes every step with the
 * right counts; each forged or tampered board fails at the step (and check) the spec assigns.
 *
 * "Operator" forgeries re-chain and re-sign with the board key, so that only the election
 * semantics can catch them; "file" tampering edits a finished board's records.
 */
import t, { type Test } from 'tap';
import { audit, type AuditReport, type BoardRecord, type StepNumber } from '../auditor/audit.js';
import { appendTally, buildBoard, scenario, stream, type PlannedEntry } from './helpers/election-board.js';
import { ballotPayload } from '../src/election/records.js';
import { createBallot, ballotBody, ballotSigningMessage, ballotTracker, type Ballot } from '../src/election/ballot.js';
import { ed25519Sign } from '../src/crypto/ed25519.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { flipHexDigit } from './helpers/mutate.js';

const spec = {
  electionId: 'audit-test',
  revoting: true,
  maxVoters: 20,
  questions: [
    { id: 'mayor', options: 3, min: 1, max: 1 },
    { id: 'referendum', options: 2, min: 0, max: 1 },
  ],
};
// Voter 1 first votes mayor 2, then revotes mayor 0: the revote must win.
const s = scenario(spec, [[[0], [0]], [[2], []], [[1], [1]], [[0], [1]]], [{ voter: 1, selection: [[0], [0]] }]);
const honest = buildBoard(s.election, s.plan);

function run(records: readonly BoardRecord[]): Promise<AuditReport> {
  return audit(stream(records), { reopen: () => stream(records) });
}

function failedAt(t: Test, r: AuditReport, step: StepNumber, check: string, msg: string): void {
  const failed = r.steps.filter((x) => x.status === 'fail').map((x) => x.step);
  t.equal(r.ok, false, `${msg}: audit fails`);
  t.equal(failed[0], step, `${msg}: first failing step is ${step} (failed: ${failed.join(',')})`);
  const f = r.steps.find((x) => x.step === step)?.failures[0];
  t.equal(f?.check, check, `${msg}: check ${check} (${f?.reason})`);
}

const replan = (f: (plan: PlannedEntry[]) => void) => {
  const plan = structuredClone(s.plan);
  f(plan);
  return buildBoard(s.election, plan);
};
const ballotHeights = s.plan.map((p, h) => (p.type === 'ballot' ? h : -1)).filter((h) => h >= 0);

/** The hex string with its last digit changed. */
function flipHex(h: string): string {
  return h.slice(0, -1) + (h.endsWith('0') ? '1' : '0');
}

t.test('an honest board passes every step, with the revote applied', async (t) => {
  const r = await run(honest);
  t.ok(r.ok, 'audit passes');
  t.same(r.steps.map((x) => x.status), new Array(10).fill('pass'));
  t.same(r.results, [
    { question: 'mayor', counts: { 'mayor-o0': 3, 'mayor-o1': 1, 'mayor-o2': 0 } },
    { question: 'referendum', counts: { 'referendum-o0': 2, 'referendum-o1': 2 } },
  ]);
  t.equal(r.steps[6]!.counts['ballots counted'], 4);
  t.equal(r.steps[6]!.counts['replaced by a revote'], 1);
});

t.test('file tampering fails the chain steps', async (t) => {
  const entryAt = (h: number) => honest.findIndex((x) => x.kind === 'entry' && x.entry.height === h);
  const b = entryAt(ballotHeights[0]!);
  {
    const recs = structuredClone(honest);
    const e = recs[b] as Extract<BoardRecord, { kind: 'entry' }>;
    const p = e.entry.payload as { ballot: { answers: { c: string }[] } };
    p.ballot.answers[0]!.c = flipHexDigit(p.ballot.answers[0]!.c, 40);
    failedAt(t, await run(recs), 2, 'B8', 'a changed digit in a ciphertext');
  }
  {
    const recs = honest.filter((_, i) => i !== b);
    failedAt(t, await run(recs), 2, 'B4', 'a removed line');
  }
  {
    const recs = [...honest];
    [recs[b], recs[b + 1]] = [recs[b + 1]!, recs[b]!];
    failedAt(t, await run(recs), 2, 'B4', 'two lines swapped');
  }
  {
    const recs = structuredClone(honest);
    const e = recs[b] as Extract<BoardRecord, { kind: 'entry' }>;
    (e.entry as { parent: Uint8Array }).parent = new Uint8Array(32).fill(9);
    failedAt(t, await run(recs), 2, 'B5', 'an entry with a broken parent hash');
  }
  {
    const recs = structuredClone(honest);
    const cp = recs[recs.length - 1] as Extract<BoardRecord, { kind: 'checkpoint' }>;
    cp.checkpoint.signature[5]! ^= 1;
    failedAt(t, await run(recs), 3, 'B14', 'a forged checkpoint signature');
  }
});

t.test('operator forgeries fail the semantic steps', async (t) => {
  // A duplicated ballot: the same ballot entry appended twice before the close.
  failedAt(t, await run(replan((plan) => {
    const dup = plan[ballotHeights[0]!]!;
    const close = plan.findIndex((p) => p.type === 'close');
    plan.splice(close, 4);
    plan.push({ ...dup, timestamp: plan[plan.length - 1]!.timestamp + 1 });
    appendTally(s.election, plan, s.election.endMs);
  })), 7, '7a', 'a duplicated ballot');

  // A ballot whose proof is for another token: voter 3 copies voter 0's answers, signs with its own token.
  failedAt(t, await run(replan((plan) => {
    const victim = s.ballots[0]!.ballot;
    const own = createBallot(s.election, [[1], [1]], s.tokens[3]!);
    const forged = { ...own.ballot, answers: victim.answers };
    const resigned = resign(forged, s.tokens[3]!.secretKey);
    plan[ballotHeights[3]!]!.payload = ballotPayload(s.election, resigned.ballot, resigned.tracker) as unknown as JsonValue;
    plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
    appendTally(s.election, plan, s.election.endMs);
  })), 6, '5.4f', 'a ballot whose proof is for another token');

  failedAt(t, await run(replan((plan) => {
    plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
    appendTally(s.election, plan, s.election.endMs, (res) => res.map((r, i) => (i === 0 ? { ...r, counts: r.counts.map((c, j) => (j === 0 ? c + 1n : c)) } : r)));
  })), 10, '8.4c', 'an edited result count');

  failedAt(t, await run(replan((plan) => {
    plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
    appendTally(s.election, plan, s.election.endMs, (res) => res.map((r, i) => (i === 1 ? { ...r, T: r.T + 1n } : r)));
  })), 10, '8.4f', 'a published T that is not the combination of the partial decryptions');

  failedAt(t, await run(replan((plan) => {
    plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
    appendTally(s.election, plan, s.election.endMs, undefined, (pd) => ({ ...pd, partials: pd.partials.map((x, i) => (i === 1 ? { ...x, e: flipHex(x.e) } : x)) }));
  })), 10, '13.4f', 'regression: a board with one forged partial decryption fails the audit naming that entry');

  failedAt(t, await run(replan((plan) => {
    const late = createBallot(s.election, [[2], [0]], s.tokens[0]!);
    const close = plan.findIndex((p) => p.type === 'close');
    plan.splice(close + 1, 0, { type: 'ballot', payload: ballotPayload(s.election, late.ballot, late.tracker) as unknown as JsonValue, timestamp: plan[close]!.timestamp });
  })), 8, '8b', 'a ballot after the close');

  failedAt(t, await run(replan((plan) => {
    // Everything up to the third ballot moved to before the opening (timestamps stay ordered).
    plan.forEach((p, i) => (p.timestamp = i <= ballotHeights[2]! ? Date.parse('2025-12-31T00:00:00.000Z') + i : p.timestamp));
  })), 6, '6d', 'a ballot cast before the election opened');

  failedAt(t, await run(replan((plan) => {
    plan.splice(plan.findIndex((p) => p.type === 'close'), 4);
    appendTally(s.election, plan, s.election.endMs - 1);
  })), 8, '8d', 'closed on schedule before the end time');

  failedAt(t, await run(replan((plan) => {
    const issued = plan.filter((p) => p.type === 'token-issued');
    (issued[2]!.payload as { refs: unknown }).refs = (issued[1]!.payload as { refs: unknown }).refs;
  })), 5, '5c', 'two tokens issued under the same reference');
});

t.test('the encrypted tally is recomputed, never trusted', async (t) => {
  const recs = replan((plan) => {
    const et = plan.find((p) => p.type === 'encrypted-tally')!;
    (et.payload as { ballotsCounted: number }).ballotsCounted = 5; // counts the replaced ballot too
  });
  failedAt(t, await run(recs), 9, '9b', 'ballotsCounted includes a replaced ballot');
});

function resign(b: Ballot, secretKey: Uint8Array): { ballot: Ballot; tracker: Uint8Array } {
  const body = ballotBody(s.election, b);
  const signature = ed25519Sign(ballotSigningMessage(body), secretKey);
  return { ballot: { ...b, signature }, tracker: ballotTracker(body, signature) };
}

t.test("stage 'tally': a board that ends at its close yields the recomputed tally", async (t) => {
  const plan = structuredClone(s.plan);
  plan.splice(plan.findIndex((p) => p.type === 'encrypted-tally'), 3);
  const recs = buildBoard(s.election, plan);
  const r = await audit(stream(recs), { reopen: () => stream(recs), stage: 'tally' });
  t.ok(r.ok, 'steps 1–8 pass');
  t.equal(r.tally?.ballotsCounted, 4, 'revote applied');
  const honestEt = s.plan.find((p) => p.type === 'encrypted-tally')!.payload as { ciphertexts: string[] };
  t.same(r.tally?.ciphertexts.map((c) => c.toString(16).padStart(honestEt.ciphertexts[0]!.length, '0')), honestEt.ciphertexts, 'same product as the honest tally');
  const already = await audit(stream(honest), { reopen: () => stream(honest), stage: 'tally' });
  t.notOk(already.ok, 'an already tallied board is refused for tallying');
  t.equal(already.tally, undefined);
});
