/**
 * The whole audit of an election in the browser (issue 12.6), in real headless Chromium: the
 * results page's "Audit the whole election in this browser" runs the project's auditor, with
 * batch verification, in a Web Worker over the streamed board export.
 *
 *  - On an honest tallied board (with a revote, so the auditor's second read of the board runs
 *    too) every step passes, the audited totals are the totals the page shows, and the report's
 *    step lines are exactly those `tallyboard verify` prints for the same bytes.
 *  - On tampered boards served in place of the honest one (a forged, re-signed board with a
 *    changed ballot; one with a ballot whose proof fails 5.4g, re-signed by its token; a forged, re-signed board with a changed result; an edited file whose chain
 *    no longer holds; a line over the 8 MiB bound) the page says NOT VERIFIED and names the failing step and check id at the
 *    height the command-line auditor names.
 *
 * The tampered boards are served by a small proxy in front of the real servers that answers
 * GET /api/board/export itself: a ballot server lying about its board, as a voter would meet it.
 * A screenshot of the audited results page goes to test/artifacts/ (git-ignored).
 */
import t from 'tap';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startWebElection, webManifest } from './helpers/web-election.js';
import { buildBoard, type PlannedEntry } from './helpers/election-board.js';
import { flipHexDigit } from './helpers/mutate.js';
import { resign } from './helpers/crafted-ballot.js';
import { ballotPayload, parseBallotRecord } from '../src/election/records.js';
import { VoterClient } from '../src/client/voter-client.js';
import { ballotBody, ballotTracker, createBallot } from '../src/election/ballot.js';
import { BoardApi } from '../src/web/board-api.js';
import { audit, type AuditReport } from '../auditor/audit.js';
import { lineRecords } from '../auditor/records.js';
import { formatReport } from '../auditor/report.js';
import { InlineBatchVerifier } from '../auditor/inline-batch.js';
import { checkpointLine, entryLine, headerLine } from '../bulletin/board-file.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import type { Election } from '../src/election/manifest.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(import.meta.dirname, 'artifacts');

/** The report's step lines (`step N  title …. pass (counts)`): the part two front ends must agree on. */
const stepLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('step '));

/** The command-line auditor's verdict on the same bytes (in-thread batch mode, as `verify --workers 0`). */
async function cliAudit(lines: readonly string[]): Promise<AuditReport> {
  const v = new InlineBatchVerifier();
  const src = lineRecords(lines);
  return audit(v.prefetch(src()), { reopen: src, verifyBallot: v.verifyBallot });
}

/** A proxy in front of `upstream` that serves `exportBody()` as the board export. */
async function lyingServer(upstream: string, exportBody: () => string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/api/board/export') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
        res.end(exportBody());
        return;
      }
      const r = await fetch(`${upstream}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers: { accept: req.headers.accept ?? '*/*' } });
      const headers: Record<string, string> = {};
      r.headers.forEach((v, k) => {
        if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k)) headers[k] = v;
      });
      res.writeHead(r.status, headers);
      res.end(Buffer.from(await r.arrayBuffer()));
    })().catch((e: unknown) => {
      res.writeHead(502);
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The plan (type, payload, timestamp per entry) of an export, to forge a re-signed variant. */
function planOf(lines: readonly string[]): PlannedEntry[] {
  return lines.slice(1, -1).map((l) => {
    const e = JSON.parse(l) as { type: PlannedEntry['type']; payload: JsonValue; timestamp: number };
    return { type: e.type, payload: e.payload, timestamp: e.timestamp };
  });
}

/** Chain and sign a plan with the board key (a colluding operator) into export lines. */
function forge(election: Election, plan: readonly PlannedEntry[]): string[] {
  return buildBoard(election, plan).map((r) => (r.kind === 'header' ? headerLine(r.header) : r.kind === 'entry' ? entryLine(r.entry, r.hash!) : r.kind === 'checkpoint' ? checkpointLine(r.checkpoint) : ''));
}

if (!existsSync(CHROMIUM)) {
  if (process.env.CI) t.fail(`${CHROMIUM} is missing: .ci/run installs the Debian package chromium`);
  else t.plan(0, `${CHROMIUM} is missing (apt-get install -y chromium); the browser test is skipped`);
} else {
  mkdirSync(ARTIFACTS, { recursive: true });

  t.test('the whole audit in the browser: honest board passes, tampered boards fail at the right check (headless Chromium)', async (t) => {
    const e = await startWebElection(4, webManifest({ electionId: 'web-audit', revoting: true }));
    t.teardown(() => e.stop());
    const client = new VoterClient({ server: e.url });
    const { election } = await client.election();
    const choices = [
      [[0], [0, 1]],
      [[1], []],
      [[1], [2]],
      [[3], [1, 2]],
    ];
    let first: Awaited<ReturnType<typeof client.obtainToken>> | undefined;
    for (let i = 0; i < choices.length; i++) {
      const token = await client.obtainToken(election, await client.login(`voter${i + 1}`, e.passwords.get(`voter${i + 1}`)!));
      first ??= token;
      await client.cast(election, createBallot(election, choices[i]!, token).ballot);
    }
    // voter1 changes their mind (revoting is on): the audit must divide the replaced ballot out
    await client.cast(election, createBallot(election, [[2], [2]], first!).ballot);
    await e.close();
    const api = new BoardApi({ base: e.url });
    while ((await api.results().catch(() => undefined)) === undefined) await new Promise((r) => setTimeout(r, 100));
    const honest = (await (await fetch(`${e.url}/api/board/export`)).text()).trimEnd().split('\n');
    const cli = await cliAudit(honest);
    t.equal(cli.ok, true, 'the command-line auditor verifies the honest board');

    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const problems: string[] = [];
    const newPage = async (): Promise<Page> => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      return page;
    };
    /** Open the results page at `url`, run the browser audit, and return what it shows. */
    const runAudit = async (page: Page, url: string) => {
      await page.goto(`${url}/results`);
      await page.getByText('✓ Verified in your browser.').waitFor({ timeout: 0 });
      await page.getByRole('button', { name: 'Audit the whole election in this browser' }).click();
      // No time limit: the audit takes what this machine needs; the verdict ends the wait.
      await page.locator('#browser-audit-verdict[data-verdict]').waitFor({ timeout: 0 });
      const steps = await page.locator('#browser-audit-steps tbody tr').evaluateAll((rows) =>
        rows.map((r) => ({ step: Number((r as HTMLElement).dataset.step), status: (r as HTMLElement).dataset.status, check: (r as HTMLElement).dataset.check })),
      );
      return {
        verdict: await page.locator('#browser-audit-verdict').getAttribute('data-verdict'),
        message: await page.locator('#browser-audit-verdict').innerText(),
        steps,
        report: await page.locator('#browser-audit-report').textContent(),
        rate: await page.locator('#browser-audit-rate').innerText(),
      };
    };

    // --- the honest board ---------------------------------------------------------------------
    const page = await newPage();
    const ok = await runAudit(page, e.url);
    t.equal(ok.verdict, 'verified', 'the browser audit verifies the honest board');
    t.match(ok.message, /VERIFIED: every step passes/);
    t.match(ok.message, /the audited totals are exactly the totals shown above/, 'the audited counts are the counts the results page shows');
    t.same(
      ok.steps.map((s) => [s.step, s.status]),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => [n, 'pass']),
      'steps 1–10 all pass',
    );
    t.same(stepLines(ok.report ?? ''), stepLines(formatReport(cli)), 'the same step report as the command line, line for line');
    t.match(ok.report, /VERIFIED: every step passes/);
    t.match(ok.report, /Ada Lovelace \(lovelace\)\s+0\b/, 'the report carries the audited counts (voter1 revoted away from Lovelace)');
    t.match(ok.report, /Alan Turing \(turing\)\s+1\b/);
    t.match(ok.report, /Grace Hopper \(hopper\)\s+2\b/);
    t.match(ok.report, /(fingerprint [0-9a-f]{64}\s+\(the expected one\))/, 'the page anchors the audit to its election');
    t.match(ok.rate, new RegExp(`^${honest.length - 2} of ${honest.length - 2} entries read and checked · 5 ballots`), 'progress: entries read out of the board size, and the ballots');
    t.match(ok.rate, /ballots\/s/, 'and the rate');
    await page.screenshot({ path: join(ARTIFACTS, 'results-browser-audit.png'), fullPage: true });

    // --- tampered boards ---------------------------------------------------------------------
    const plan = planOf(honest);
    const ballotHeights = plan.flatMap((p, h) => (p.type === 'ballot' ? [h] : []));
    const ballotHeight = ballotHeights[1]!; // the second ballot takes the third one's first ciphertext
    const changedBallot = structuredClone(plan);
    const b = changedBallot[ballotHeight]!.payload as { ballot: { answers: { c: string }[] } };
    b.ballot.answers[0]!.c = (changedBallot[ballotHeights[2]!]!.payload as { ballot: { answers: { c: string }[] } }).ballot.answers[0]!.c;
    // voter1's own (replaced) ballot with one proof response z multiplied by 3 and re-signed by
    // voter1's token, as its voter could: only 5.4g fails, found by the batch check and bisection
    const badProof = structuredClone(plan);
    const own = parseBallotRecord(election, plan[ballotHeights[0]!]!.payload).ballot;
    const n = election.paillier.n;
    const bad = resign(election, { ...own, answers: own.answers.map((a, q) => (q !== 0 ? a : { c: a.c, proof: a.proof.map((br, k) => (k === 2 ? { ...br, z: (br.z * 3n) % n } : br)) })) }, first!.secretKey);
    badProof[ballotHeights[0]!]!.payload = ballotPayload(election, bad, ballotTracker(ballotBody(election, bad), bad.signature)) as unknown as JsonValue;
    const changedResult = structuredClone(plan);
    t.equal(changedResult[changedResult.length - 1]!.type, 'result');
    const counts = (changedResult[changedResult.length - 1]!.payload as { results: { counts: number[] }[] }).results[0]!.counts;
    counts[2] = counts[2]! + 1; // one more vote for Alan Turing: the decryption proof no longer matches
    const editedLines = [...honest];
    editedLines[ballotHeight + 1] = editedLines[ballotHeight + 1]!.replace(/"c":"([0-9a-f])/, (_m, d: string) => `"c":"${flipHexDigit(d, 0)}`);

    const cases: { name: string; lines: string[]; step: number }[] = [
      { name: 'a forged, re-signed board with a changed ballot', lines: forge(election, changedBallot), step: 6 },
      { name: 'a forged board with a ballot whose proof fails 5.4g', lines: forge(election, badProof), step: 6 },
      { name: 'a forged, re-signed board with a changed result', lines: forge(election, changedResult), step: 10 },
      { name: 'an edited board file (the chain no longer holds)', lines: editedLines, step: 2 },
      // the browser's reader keeps the 8 MiB line bound of the command line (B1, checked before decoding)
      { name: 'regression: a line over 8 MiB fails B1 (step 1), not "another election"', lines: [honest[0]!, `{"kind":"entry","payload":"${'x'.repeat(8 * 1024 * 1024)}"}`, ...honest.slice(1)], step: 1 },
    ];
    for (const c of cases) {
      const expected = await cliAudit(c.lines);
      t.equal(expected.firstFailure?.step, c.step, `${c.name}: the command-line auditor fails step ${c.step}`);
      const proxy = await lyingServer(e.url, () => `${c.lines.join('\n')}\n`);
      t.teardown(() => new Promise<void>((r) => proxy.server.close(() => r())));
      const p = await newPage();
      const got = await runAudit(p, proxy.url);
      t.equal(got.verdict, 'not-verified', `${c.name}: NOT VERIFIED`);
      const failed = got.steps.find((s) => s.status === 'fail');
      t.same({ step: failed?.step, check: failed?.check }, { step: c.step, check: expected.firstFailure?.check }, `${c.name}: step ${c.step} fails with check ${expected.firstFailure?.check}, as on the command line`);
      const height = expected.firstFailure?.height;
      t.match(got.message, new RegExp(`Step ${c.step} \\(.*\\) failed: check ${expected.firstFailure!.check.replace(/\./g, '\\.')}${height !== undefined ? ` at height ${height}` : ''}`), `${c.name}: the verdict names the step, the check and the height`);
      t.same(stepLines(got.report ?? ''), stepLines(formatReport(expected)), `${c.name}: the same step report as the command line`);
      if (c.name.includes('5.4g')) await p.screenshot({ path: join(ARTIFACTS, 'results-browser-audit-tampered.png'), fullPage: true });
      await p.context().close();
    }
    t.same(problems, [], 'no page error, no CSP violation');
  });
}
