/**
 * The public board page (web/pages/board.html): the election and its schedule with a
 * countdown, the number of ballots, the latest checkpoint with its signature and its witnesses'
 * cosignatures checked here, the
 * searchable, paged list of trackers, and "Check my receipt".
 *
 * Nothing shown as verified is taken from the server's word: the manifest is re-validated
 * (parseManifest checks every key and the key proof), the checkpoint's signature is checked
 * under the manifest's board key, and the receipt check (src/web/receipt-check.ts) is the same
 * check as `tallyboard receipt check`. The counts and the tracker list are displayed as served.
 */
import { parseManifest, type Election } from '../../src/election/manifest.js';
import { verifyCheckpoint } from '../../bulletin/checkpoint.js';
import { cosignedCheckpointFromJson } from '../../bulletin/cosignature.js';
import { witnessText } from '../../src/web/witness-text.js';
import { toHex } from '../../src/wire.js';
import { BoardApi, ENTRIES_PAGE_MAX } from '../../src/web/board-api.js';
import { checkReceiptOnBoard, parseReceiptText, MAX_RECEIPT_CHARS } from '../../src/web/receipt-check.js';
import { standingText } from '../../src/client/ballot-standing.js';
import { takePassedReceipt } from './receipt-handoff.js';
import { TrackerIndex } from '../../src/web/tracker-index.js';
import { formatDateTime } from '../../src/web/countdown.js';
import { ruleText } from '../../src/web/selection-rules.js';
import { voterMessage } from '../../src/web/voter-messages.js';
import { byId, h, readFileText, say, setContent } from './dom.js';
import { startScheduleClock } from './schedule.js';
import { trackerNode } from './tracker-view.js';
import { mountRegistrationCheck } from './registration-form.js';

const PER_PAGE = 20;
const PHASES: Record<string, string> = { scheduled: 'Not open yet', open: 'Voting is open', closed: 'Closed, counting', tallied: 'Closed and counted' };

/** Start the board page. */
export async function startBoardPage(): Promise<void> {
  const api = new BoardApi();
  let election: Election;
  let clock: ReturnType<typeof startScheduleClock>;
  try {
    const info = await api.election();
    election = parseManifest(info.manifest);
    if (info.fingerprint !== election.fingerprintHex) throw new Error('the server states another fingerprint than its manifest has');
    renderElection(election);
    mountRegistrationCheck(election);
    clock = startScheduleClock(election, info.status.serverTime, byId('election-schedule'), byId('election-countdown'));
  } catch (e) {
    say(byId('load-error'), voterMessage(e, 'election'));
    return;
  }

  // --- status and checkpoint -------------------------------------------------------------------
  const index = new TrackerIndex();
  let boardSize = 0;
  let phase = '';
  const refreshStatus = async () => {
    const info = await api.election();
    const s = info.status;
    boardSize = s.boardSize;
    phase = s.phase;
    if (s.phase === 'closed' || s.phase === 'tallied') clock.closed();
    byId('fact-ballots').textContent = String(s.ballots);
    byId('fact-tokens').textContent = String(s.tokensIssued);
    // The committed register (spec §7.5): N, to compare with the published electoral roll.
    const reg = await fetch('/api/board/register').then((r) => (r.ok ? (r.json() as Promise<{ voters: number; height: number }>) : undefined), () => undefined);
    byId('fact-voters').textContent = reg ? `${reg.voters} (committed at height ${reg.height})` : 'not committed yet';
    byId('fact-phase').textContent = PHASES[s.phase] ?? s.phase;
    byId('fact-size').textContent = String(s.boardSize);
    const verdict = byId('checkpoint-verdict');
    try {
      const { checkpoint: cp, cosignatures } = cosignedCheckpointFromJson(await api.checkpoint());
      const sig = verifyCheckpoint(election.boardKey, cp);
      byId('cp-size').textContent = String(cp.treeSize);
      byId('cp-time').textContent = formatDateTime(cp.timestamp);
      byId('cp-root').textContent = toHex(cp.rootHash);
      say(verdict, sig.ok ? '✓ Signed by the election’s board key (checked in your browser).' : `✗ The checkpoint’s signature does not verify: ${sig.message}`, sig.ok ? 'ok' : 'error');
      const w = witnessText(election, cp, cosignatures);
      say(byId('witness-verdict'), w.text, w.kind);
    } catch (e) {
      say(verdict, `✗ The latest checkpoint could not be checked: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  // --- trackers ----------------------------------------------------------------------------------
  const search = byId<HTMLInputElement>('tracker-search');
  const rows = byId('tracker-rows');
  const summary = byId('tracker-summary');
  const prev = byId<HTMLButtonElement>('page-prev');
  const next = byId<HTMLButtonElement>('page-next');
  let page = 0;
  let loading = false;
  const render = () => {
    const p = index.page(search.value, page, PER_PAGE);
    page = p.page;
    rows.replaceChildren(
      ...p.rows.map((r) =>
        h(
          'tr',
          {},
          h('td', { 'data-label': 'Tracker' }, trackerNode(r.tracker)),
          h('td', { 'data-label': 'Height' }, String(r.height)),
          h('td', { 'data-label': 'Cast at' }, formatDateTime(r.timestamp)),
          h('td', { 'data-label': 'Status' }, r.replacedBy !== undefined ? `Replaced by the ballot at height ${r.replacedBy}` : 'On the board'),
        ),
      ),
    );
    if (p.rows.length === 0) rows.appendChild(h('tr', {}, h('td', { colspan: '4', class: 'muted' }, search.value.trim() === '' ? 'No ballot yet.' : 'No tracker contains this text.')));
    const of = search.value.trim() === '' ? `${index.size} ballot${index.size === 1 ? '' : 's'}` : `${p.matching} of ${index.size} ballots match`;
    summary.textContent = `${of}${loading ? ' (still loading the board…)' : ''}.`;
    byId('page-info').textContent = `Page ${p.page + 1} of ${p.pages}`;
    prev.disabled = p.page === 0;
    next.disabled = p.page >= p.pages - 1;
  };
  const loadEntries = async () => {
    if (loading) return;
    loading = true;
    try {
      while (index.readUpTo < boardSize) {
        const r = await api.entries(index.readUpTo, ENTRIES_PAGE_MAX);
        if (r.entries.length === 0) break;
        index.add(r.entries);
        boardSize = Math.max(boardSize, r.size);
        render();
      }
    } finally {
      loading = false;
      render();
    }
  };
  search.value = new URLSearchParams(location.search).get('tracker') ?? '';
  search.addEventListener('input', () => {
    page = 0;
    render();
  });
  prev.addEventListener('click', () => {
    page--;
    render();
  });
  next.addEventListener('click', () => {
    page++;
    render();
  });

  const refresh = async () => {
    try {
      await refreshStatus();
      await loadEntries();
      say(byId('load-error'), '');
    } catch (e) {
      say(byId('load-error'), voterMessage(e, 'election'));
    }
  };
  byId('refresh').addEventListener('click', () => void refresh());
  await refresh();

  // --- check my receipt --------------------------------------------------------------------------
  const result = byId('check-result');
  const fileInput = byId<HTMLInputElement>('receipt-file');
  const textInput = byId<HTMLTextAreaElement>('receipt-text');
  const button = byId<HTMLButtonElement>('check-button');
  fileInput.addEventListener('change', () => {
    const f = fileInput.files?.[0];
    if (!f) return;
    void readFileText(f, MAX_RECEIPT_CHARS).then(
      (t) => (textInput.value = t),
      (e: unknown) => say(result, `This file cannot be read: ${e instanceof Error ? e.message : String(e)}`),
    );
  });
  const runCheck = async (): Promise<void> => {
    const f = fileInput.files?.[0];
    let text = textInput.value;
    if (text.trim() === '' && f) text = await readFileText(f, MAX_RECEIPT_CHARS).catch(() => '');
    const parsed = parseReceiptText(text);
    if (!parsed.ok) {
      say(result, `✗ ${capitalize(parsed.reason)}.`);
      return;
    }
    button.disabled = true;
    button.textContent = 'Checking…';
    try {
      const a = await checkReceiptOnBoard(api, parsed.json, election, (done, total) => {
        button.textContent = `Checking… ${done} of ${total} later entries`;
      });
      if (a.yes) {
        // On the board AND whether it is the ballot that counts (issue #9.3): the same two
        // statements as `tallyboard receipt check`.
        const counts = a.standing.counts;
        setContent(
          result,
          h('strong', {}, counts ? '✓ Your ballot is on the board, and it is the ballot that counts.' : '✓ Your ballot is on the board, but it no longer counts: a later ballot replaced it.'),
          ' ',
          `It is at height ${a.height}, and the board’s latest checkpoint (${a.boardSize} entries, signed ${formatDateTime(a.signedAt)}) still contains it. `,
          standingText(a.standing, phase, election.manifest.revoting),
          ' Tracker: ',
          trackerNode(a.tracker),
        );
        result.dataset.kind = counts ? 'ok' : 'info';
        result.hidden = false;
        search.value = a.tracker;
        page = 0;
        render();
      } else {
        say(result, `✗ Not confirmed: ${a.reason}.`);
      }
    } catch (e) {
      say(result, voterMessage(e, 'election'));
    } finally {
      button.disabled = false;
      button.textContent = 'Check my receipt';
    }
  };
  byId<HTMLFormElement>('check-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void runCheck();
  });
  // Coming from the booth's "Check it on the public board": the receipt came along (issue #9.18).
  const passed = takePassedReceipt(search.value);
  if (passed !== undefined) {
    textInput.value = passed;
    byId('check-passed').hidden = false;
    byId('check').scrollIntoView();
    await runCheck();
  }

  // Keep the numbers current while the page is open (the tracker list grows on Refresh).
  window.setInterval(() => {
    if (document.visibilityState === 'visible') refreshStatus().catch(() => undefined);
  }, 20_000);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function renderElection(election: Election): void {
  const m = election.manifest;
  document.title = `Public board: ${m.title} · Tallyboard`;
  byId('election-title').textContent = m.title;
  byId('fact-id').textContent = m.electionId;
  byId('fact-revoting').textContent = m.revoting ? 'Allowed: a later ballot replaces the earlier one' : 'Not allowed: one ballot per voter';
  byId('fact-fingerprint').textContent = election.fingerprintHex;
  byId('question-list').replaceChildren(
    ...m.questions.map((q) => h('li', {}, h('strong', {}, q.title), ' ', h('span', { class: 'muted' }, ruleText(q)), h('ul', {}, ...q.options.map((o) => h('li', {}, o.title))))),
  );
}
