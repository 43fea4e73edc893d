/**
 * The incremental audit's core promise (spec §10.7): stopping the auditor between any two
 * records, saving its state as JSON, and resuming from that JSON gives exactly the report of a
 * single pass — on every committed board vector (honest boards and ~50 tampered ones, each with
 * its expected verdict; split in the middle), and at EVERY split point of a board with revotes (where the monitor
 * divides out replaced ballots as they come instead of re-reading the board).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Auditor, audit, type AuditReport, type AuditorSnapshot, type BoardRecord } from '../auditor/audit.js';
import { lineRecords } from '../auditor/source.js';
import type { BoardVectorFile } from './helpers/board-vectors.js';
import { buildBoard, scenario } from './helpers/election-board.js';

const file = JSON.parse(readFileSync(new URL('./vectors/tallyboard-v2-boards.json', import.meta.url), 'utf8')) as BoardVectorFile;

async function collect(src: AsyncIterable<BoardRecord>): Promise<BoardRecord[]> {
  const out: BoardRecord[] = [];
  for await (const r of src) out.push(r);
  return out;
}

/** Audit `records` stopping after `k`, through a JSON round trip of the state. */
async function resumed(records: readonly BoardRecord[], k: number): Promise<AuditReport> {
  const a = new Auditor({ keepCounted: true });
  let i = 0;
  for (; i < k && !a.stopped; i++) await a.push(records[i]!);
  const snap = JSON.parse(JSON.stringify(a.snapshot())) as AuditorSnapshot;
  const b = Auditor.restore(snap, { keepCounted: true });
  for (; i < records.length && !b.stopped; i++) await b.push(records[i]!);
  return b.finish();
}

function comparable(r: AuditReport): unknown {
  return { ok: r.ok, firstFailure: r.firstFailure, entries: r.entries, results: r.results, steps: r.steps };
}

t.test('resuming from a saved state between any two records gives the single pass’s report on every board vector', async (t) => {
  t.ok(file.vectors.length >= 40, `${file.vectors.length} board vectors`);
  for (const v of file.vectors) {
    const src = lineRecords(v.lines);
    const full = await audit(src(), { reopen: src });
    const records = await collect(src());
    const splits = [Math.floor(records.length / 2)].filter((k) => k > 0 && k < records.length);
    for (const k of splits) t.same(comparable(await resumed(records, k)), comparable(full), `${v.id}: split after record ${k}`);
  }
});

t.test('with revotes: every split point, replaced ballots divided out as they come, equals the single pass with its re-read', async (t) => {
  const s = scenario({ electionId: 'resume-revotes', revoting: true, maxVoters: 10, questions: [{ id: 'q', options: 3, min: 1, max: 1 }] }, [[[0]], [[1]], [[2]]], [
    { voter: 1, selection: [[0]] },
    { voter: 1, selection: [[2]] },
    { voter: 0, selection: [[1]] },
  ]);
  const records = buildBoard(s.election, s.plan);
  const stream = async function* () {
    yield* records;
  };
  const full = await audit(stream(), { reopen: stream });
  t.ok(full.ok, 'the board verifies');
  t.equal(full.steps[6]!.counts['replaced by a revote'], 3, 'three ballots replaced');
  for (let k = 1; k < records.length; k++) t.same(comparable(await resumed(records, k)), comparable(full), `split after record ${k}`);
});
