/**
 * The results page (web/pages/results.html): per question, each option's count with a bar
 * chart and a table; the decryption proof of every total checked in this browser against the
 * encrypted tally on the signed board (src/web/results-check.ts), with its status shown; and
 * the board download with the command that audits it.
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

const POLL_MS = 3000;

/** Start the results page. */
export async function startResultsPage(): Promise<void> {
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
