/**
 * The results page (web/pages/results.html): per question, each option's count with a bar
 * chart and a table; the decryption proof of every total checked in this browser against the
 * encrypted tally on the signed board (src/web/results-check.ts), with its status shown; and
 * the board download with the command that audits it; and, once the results are published, the
 * whole audit of the election run in this browser (audit-worker.ts, issue 12.6): progress while
 * it reads the board, then the same ten steps as the command line and whether the audited
 * totals are exactly the totals shown.
 *
 * Before the tally is published the page says when voting ends (with the countdown) and asks
 * the server again every few seconds, so a voter who keeps it open sees the results arrive.
 */
import { TallyError } from '../../src/errors.js';
import { parseManifest, type Election } from '../../src/election/manifest.js';
import type { ResultsView } from '../../src/election/results-view.js';
import { BoardApi } from '../../src/web/board-api.js';
import { checkResults, type ResultsVerdict } from '../../src/web/results-check.js';
import { voterMessage } from '../../src/web/voter-messages.js';
import { byId, copyText, h, say, setContent } from './dom.js';
import { barChart, percent } from './bar-chart.js';
import { startScheduleClock } from './schedule.js';
import { auditInBrowser, type AuditProgress, type BrowserAudit } from './audit-worker.js';
import type { StepReport } from '../../auditor/audit.js';

const POLL_MS = 3000;

/**
 * Start the results page.
 * @param bundleUrl - URL of this bundle, started as the audit worker
 */
export async function startResultsPage(bundleUrl: string): Promise<void> {
  const api = new BoardApi();
  let election: Election;
  let clock: ReturnType<typeof startScheduleClock>;
  try {
    const info = await api.election();
    election = parseManifest(info.manifest);
    if (info.fingerprint !== election.fingerprintHex) throw new Error('the server states another fingerprint than its manifest has');
    document.title = `Results: ${election.manifest.title} · Tallyboard`;
    byId('election-title').textContent = `Results: ${election.manifest.title}`;
    clock = startScheduleClock(election, info.status.serverTime, byId('election-schedule'), byId('election-countdown'));
  } catch (e) {
    say(byId('load-error'), voterMessage(e, 'election'));
    return;
  }

  // The audit command anchored to this election (issue #10.7).
  byId('audit-command').textContent = `node tallyboard-audit.mjs verify --board board.jsonl --fingerprint ${election.fingerprintHex}`;
  byId('audit-fingerprint').textContent = election.fingerprintHex;
  byId('copy-command').addEventListener('click', () => {
    void copyText(byId('audit-command').textContent ?? '', byId('audit-command')).then((ok) => (byId('copy-status').textContent = ok ? 'Copied.' : 'Selected: copy it with your keyboard or menu.'));
  });

  const load = async (): Promise<boolean> => {
    let json: unknown;
    try {
      json = await api.results();
    } catch (e) {
      if (e instanceof TallyError && e.code === 'NOT_FOUND') {
        const status = (await api.election()).status;
        if (status.phase === 'closed' || status.phase === 'tallied') clock.closed();
        byId('pending-text').textContent =
          status.phase === 'closed'
            ? 'Voting has closed. The verification server is checking every ballot and counting; the totals appear here in a moment.'
            : status.phase === 'scheduled'
              ? 'Voting has not opened yet. The results are published after voting closes.'
              : `Voting is open (${status.ballots} ballot${status.ballots === 1 ? '' : 's'} so far). The results are published after voting closes.`;
        byId('pending').hidden = false;
        return false;
      }
      throw e;
    }
    byId('pending').hidden = true;
    clock.closed();
    renderResults(election, json as ResultsView);
    byId('published').hidden = false;
    offerBrowserAudit(api, bundleUrl, election, json as ResultsView);
    const verdict = byId('verdict');
    say(verdict, 'Checking the decryption proofs in your browser…', 'info');
    let v: ResultsVerdict;
    try {
      v = await checkResults(api, election, json);
    } catch (e) {
      say(verdict, `The proofs could not be checked: ${voterMessage(e, 'election')}`);
      return true;
    }
    renderVerdict(election, v);
    return true;
  };

  const poll = async () => {
    try {
      if (await load()) return;
      say(byId('load-error'), '');
    } catch (e) {
      say(byId('load-error'), voterMessage(e, 'election'));
    }
    window.setTimeout(() => void poll(), POLL_MS);
  };
  await poll();
}

function renderResults(election: Election, view: ResultsView): void {
  byId('counted').textContent = `${view.ballotsCounted} ballot${view.ballotsCounted === 1 ? '' : 's'} counted.`;
  const container = byId('questions');
  container.replaceChildren(
    ...view.questions.map((q, i) => {
      const total = q.options.reduce((s, o) => s + o.count, 0);
      // The chart is for the eye; this table carries the same numbers for screen readers.
      // (Hidden through a wrapper: a table is never narrower than its content, so hiding the
      // table itself would widen the page on a phone.)
      const table = h(
        'div',
        { class: 'visually-hidden' },
        h(
          'table',
          { class: 'counts' },
          h('caption', {}, `Counts for ${q.title}`),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Option'), h('th', { scope: 'col', class: 'num' }, 'Votes'), h('th', { scope: 'col', class: 'num' }, 'Share of ballots'))),
          h('tbody', {}, ...q.options.map((o) => h('tr', {}, h('th', { scope: 'row' }, o.title), h('td', { class: 'num' }, String(o.count)), h('td', { class: 'num' }, percent(o.count, view.ballotsCounted))))),
        ),
      );
      const mq = election.manifest.questions[i];
      const blank = mq && mq.min === 0 ? view.ballotsCounted - Math.min(view.ballotsCounted, total) : 0;
      return h(
        'article',
        { class: 'result', id: `result-${i}` },
        h('h3', {}, q.title),
        mq ? h('p', { class: 'muted small' }, ballotRule(mq)) : null,
        barChart(
          q.options.map((o) => ({ label: o.title, count: o.count })),
          view.ballotsCounted,
        ),
        table,
        mq && mq.max === 1 && mq.min === 0 && blank > 0 ? h('p', { class: 'muted small' }, `${blank} ballot${blank === 1 ? '' : 's'} left this question blank.`) : null,
        h('p', { class: 'proof-status', id: `proof-${i}`, 'data-kind': 'info' }, 'Decryption proof: checking…'),
      );
    }),
  );
}

/** How many options a ballot could choose, and what the shares are of. */
function ballotRule(q: { readonly min: number; readonly max: number }): string {
  const { min, max } = q;
  const what = min === max ? (min === 1 ? 'one option' : `exactly ${min} options`) : min === 0 ? `up to ${max} option${max === 1 ? '' : 's'}, or none` : `${min} to ${max} options`;
  return `Each ballot chose ${what}; the shares are of the ballots counted.`;
}

function renderVerdict(election: Election, v: ResultsVerdict): void {
  const verdict = byId('verdict');
  if (v.reason !== undefined) {
    say(verdict, `✗ These results cannot be checked: ${v.reason}`);
    return;
  }
  v.questions.forEach((q, i) => {
    const p = byId(`proof-${i}`);
    p.dataset.kind = q.ok ? 'ok' : 'error';
    p.textContent = q.ok ? '✓ Decryption proof verified in your browser.' : `✗ Decryption proof does not verify (${q.check}): ${q.reason}`;
  });
  if (v.ok && v.board.ok) {
    setContent(
      verdict,
      h('strong', {}, '✓ Verified in your browser. '),
      `For each of the ${election.manifest.questions.length} question${election.manifest.questions.length === 1 ? '' : 's'}, the totals shown are the proven decryption of the encrypted total that the board recorded at height ${v.board.height}, under its signed checkpoint of ${v.board.treeSize} entries.`,
    );
    verdict.dataset.kind = 'ok';
    verdict.hidden = false;
  } else {
    say(verdict, `✗ The results do NOT verify: ${v.board.ok ? 'see the questions below' : v.board.reason}.`);
  }
}

// --- the whole audit in this browser (issue 12.6) ------------------------------------------------

/** Show the browser audit's button; each press runs one audit in a fresh worker. */
function offerBrowserAudit(api: BoardApi, bundleUrl: string, election: Election, shown: ResultsView): void {
  const section = byId('browser-audit');
  if (!section.hidden) return;
  section.hidden = false;
  const button = byId<HTMLButtonElement>('browser-audit-start');
  button.addEventListener('click', () => {
    button.disabled = true;
    void runBrowserAudit(api, bundleUrl, election, shown).finally(() => {
      button.disabled = false;
      button.textContent = 'Run the audit again';
    });
  });
}

async function runBrowserAudit(api: BoardApi, bundleUrl: string, election: Election, shown: ResultsView): Promise<void> {
  const verdict = byId('browser-audit-verdict');
  const progress = byId<HTMLProgressElement>('browser-audit-progress');
  const rate = byId('browser-audit-rate');
  delete verdict.dataset.verdict; // a verdict is only ever that of the audit just finished
  byId('browser-audit-steps-wrap').hidden = true;
  byId('browser-audit-details').hidden = true;
  // The board's size, for the progress bar: the signed checkpoint (read again by the audit itself).
  let size: number | undefined;
  try {
    const cp = (await api.checkpoint()) as { treeSize?: unknown };
    if (typeof cp.treeSize === 'number' && Number.isSafeInteger(cp.treeSize) && cp.treeSize > 0) size = cp.treeSize;
  } catch {
    size = undefined; // the audit still runs; the bar just has no end
  }
  if (size !== undefined) progress.max = size;
  else progress.removeAttribute('value');
  rate.textContent = 'Downloading the board…';
  byId('browser-audit-running').hidden = false;
  say(verdict, 'Auditing the whole election in this browser…', 'info');
  let latest: AuditProgress | undefined;
  let frame = 0;
  const draw = () => {
    frame = 0;
    if (!latest) return;
    if (size !== undefined) progress.value = Math.min(latest.entries, size);
    const seconds = latest.elapsedMs / 1000;
    rate.textContent = `${latest.entries}${size !== undefined ? ` of ${size}` : ''} entries read and checked · ${latest.ballots} ballot${latest.ballots === 1 ? '' : 's'}${seconds > 0 ? ` · ${(latest.ballots / seconds).toFixed(1)} ballots/s` : ''}`;
  };
  let result: BrowserAudit;
  try {
    result = await auditInBrowser(bundleUrl, new URL('/api/board/export', window.location.href).href, election.fingerprintHex, (p) => {
      latest = p;
      if (frame === 0) frame = window.requestAnimationFrame(draw);
    });
  } catch (e) {
    byId('browser-audit-running').hidden = true;
    say(verdict, `The audit could not be run: ${e instanceof Error ? e.message : String(e)}. Try again, or use the command-line auditor below.`);
    return;
  }
  if (frame !== 0) window.cancelAnimationFrame(frame);
  latest = { entries: result.report.entries, ballots: result.ballots, elapsedMs: result.elapsedMs };
  draw();
  rate.textContent = `${rate.textContent} · finished in ${(result.elapsedMs / 1000).toFixed(1)} s`;
  renderAuditSteps(result.report.steps);
  byId('browser-audit-report').textContent = result.text;
  byId('browser-audit-details').hidden = false;
  renderAuditVerdict(verdict, result, shown, election.fingerprintHex);
}

/** One row per step: number, title, result in words, counts or the first failures. */
function renderAuditSteps(steps: readonly StepReport[]): void {
  const tbody = byId('browser-audit-steps').querySelector('tbody')!;
  tbody.replaceChildren(
    ...steps.map((s) =>
      h(
        'tr',
        { 'data-status': s.status, 'data-step': String(s.step), ...(s.failures[0] ? { 'data-check': s.failures[0].check } : {}) },
        h('td', { class: 'num' }, String(s.step)),
        h('td', {}, s.title),
        h('td', { class: 'status' }, s.status === 'pass' ? '✓ pass' : s.status === 'fail' ? '✗ FAIL' : '– not run'),
        h(
          'td',
          {},
          // A step that did not run judged nothing: its partial counts would only mislead here
          // (the full report below keeps them, as the command line prints them).
          s.status === 'not run'
            ? ''
            : Object.entries(s.counts)
                .map(([k, v]) => `${k}: ${v}`)
                .join(', '),
          ...s.failures.slice(0, 3).map((f) => h('span', { class: 'failure' }, `${f.check}${f.height !== undefined ? ` at height ${f.height}` : ''}: ${f.reason}`)),
          s.failureCount > 3 ? h('span', { class: 'failure' }, `… and ${s.failureCount - 3} more`) : null,
        ),
      ),
    ),
  );
  byId('browser-audit-steps-wrap').hidden = false;
}

/** Whether the audited counts are exactly the counts the page shows. */
function sameCounts(audited: NonNullable<BrowserAudit['report']['results']>, shown: ResultsView): boolean {
  return (
    audited.length === shown.questions.length &&
    shown.questions.every((q, i) => {
      const a = audited[i];
      return a !== undefined && a.question === q.id && Object.keys(a.counts).length === q.options.length && q.options.every((o) => a.counts[o.id] === o.count);
    })
  );
}

function renderAuditVerdict(verdict: HTMLElement, result: BrowserAudit, shown: ResultsView, fingerprint: string): void {
  const { report } = result;
  const first = report.firstFailure;
  verdict.dataset.verdict = 'not-verified';
  if (result.otherElection) {
    say(verdict, '✗ NOT VERIFIED: the board the server sent is another election than the one on this page (its fingerprint differs).');
  } else if (!report.ok) {
    const where = first ? ` Step ${first.step} (${report.steps[first.step - 1]?.title ?? ''}) failed: check ${first.check}${first.height !== undefined ? ` at height ${first.height}` : ''}.` : ' Some steps could not be run.';
    say(verdict, `✗ NOT VERIFIED.${where} The results of this election cannot be trusted as published; see the steps below.`);
  } else if (report.fingerprint !== fingerprint || !report.results || !sameCounts(report.results, shown)) {
    say(verdict, '✗ NOT VERIFIED: every step of the board passes, but the audited totals are not the totals shown on this page.');
  } else {
    setContent(
      verdict,
      h('strong', {}, '✓ VERIFIED: every step passes. '),
      `${report.entries} board entries and ${result.ballots} ballot${result.ballots === 1 ? '' : 's'} checked in this browser; the audited totals are exactly the totals shown above.`,
    );
    verdict.dataset.kind = 'ok';
    verdict.dataset.verdict = 'verified';
    verdict.hidden = false;
  }
}
