/**
 * Board-level vectors (test/vectors/tallyboard-v2-boards.json, spec §10): the project's auditor
 * must produce, on every committed board, exactly the report the vector states — every step's
 * status (pass, fail, not run) and, for every failed step, its first failure's check id and
 * height. And the committed file is what the generator (`npm run vectors`) writes today.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { audit } from '../auditor/audit.js';
import { lineRecords } from '../auditor/source.js';
import { buildBoardVectors, type BoardVectorFile } from './helpers/board-vectors.js';

const file = JSON.parse(readFileSync(new URL('./vectors/tallyboard-v2-boards.json', import.meta.url), 'utf8')) as BoardVectorFile;

t.test('the committed board vectors are what the generator writes', async (t) => {
  t.same(JSON.parse(JSON.stringify(buildBoardVectors())), file);
});

t.test('regression: the auditor reports exactly the step statuses and first check ids of every board vector (issue 11)', async (t) => {
  t.ok(file.vectors.length >= 40, `${file.vectors.length} board vectors`);
  for (const v of file.vectors) {
    const src = lineRecords(v.lines);
    const r = await audit(src(), { reopen: src });
    const got = {
      ok: r.ok,
      steps: r.steps.map((s) => s.status),
      failures: r.steps
        .filter((s) => s.status === 'fail')
        .map((s) => ({ step: s.step, check: s.failures[0]!.check, height: s.failures[0]!.height ?? null })),
    };
    t.same(got, v.expected, `${v.id}: ${v.description}`);
    if (!v.expected.ok) t.same(r.firstFailure?.check, v.expected.failures[0]!.check, `${v.id}: first failure`);
  }
});
