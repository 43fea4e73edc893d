/**
 * The voting booth (web/pages/index.html): log in, fill in the ballot, review, encrypt on this
 * device, optionally audit the encryption, cast, and keep the receipt.
 *
 * What leaves the page, and only this: the login and password (to the organization's login
 * route), the BLINDED token message (the organization signs it without seeing the token), and
 * the encrypted, proven, signed ballot (to the ballot server). The token's secret key, the
 * choices and the encryption randomness stay in this page's memory (and its worker), and are
 * dropped when the voter finishes. The same modules as the terminal client do the work
 * (src/client/voter-client.ts, src/election/*), bundled by web/build.mjs.
 *
 * The token is obtained when the voter casts, not at login: a voter who logs in and walks away
 * has not used up their one token. If casting fails after the token was issued (network), the
 * same encrypted ballot is sent again on "Try again"; the board cannot count it twice.
 */
import { mountRegistrationCheck } from './registration-form.js';
import { TallyError } from '../../src/errors.js';
import { toHex } from '../../src/wire.js';
import { VoterClient, loadToken, saveToken } from '../../src/client/voter-client.js';
import type { Election } from '../../src/election/manifest.js';
import type { EncryptedBallot, VoterToken } from '../../src/election/ballot.js';
import { verifyReceipt, type ReceiptJson } from '../../src/ballot/receipt.js';
import { isSingleChoice, ruleText, selectionProblem } from '../../src/web/selection-rules.js';
import { alreadyVotedMessage, voterMessage } from '../../src/web/voter-messages.js';
import { auditBallot, type BallotAudit } from '../../src/web/ballot-audit.js';
import { byId, copyText, download, h, readFileText, say, setContent, showStep } from './dom.js';
import { passReceipt } from './receipt-handoff.js';
import { BoardApi } from '../../src/web/board-api.js';
import { lastBallotOfToken } from '../../src/client/ballot-standing.js';
import { encryptBallot, prepareEncryption } from './encrypt-worker.js';
import { startScheduleClock } from './schedule.js';
import { trackerNode } from './tracker-view.js';
import { requestToken, type PendingToken } from '../../src/election/token.js';

const STEPS = ['step-loading', 'step-closed', 'step-login', 'step-ballot', 'step-review', 'step-working', 'step-choice', 'step-audit', 'step-receipt'] as const;

/** Largest token file read. */
const MAX_TOKEN_FILE = 64 * 1024;

interface BoothState {
  election: Election;
  session: string | undefined;
  /** SECRET */
  token: VoterToken | undefined;
  /** whether the token was issued in this visit (then it is offered for saving) */
  tokenIsNew: boolean;
  /**
   * SECRET: the token request sent to the organization, kept until its answer arrives, so that
   * a retry resends the SAME blinded message, which gets the same signature (spec §7.4), rather
   * than a new one the organization would refuse as a second token
   */
  tokenRequest?: PendingToken | undefined;
  /** the login, once logged in (names the token file) */
  login: string | undefined;
  selections: number[][];
  /** SECRET until cast: the encrypted ballot and its randomness */
  encrypted: EncryptedBallot | undefined;
  receipt: ReceiptJson | undefined;
  audit: BallotAudit | undefined;
}

/**
 * Start the booth.
 * @param scriptUrl - URL of this bundle, to start the encryption worker
 */
export async function startBooth(scriptUrl: string): Promise<void> {
  const client = new VoterClient({ server: location.origin });
  let prepareFor: Election | undefined;
  const go = (id: (typeof STEPS)[number]) => {
    showStep(STEPS, id);
    // While the voter reads the ballot, the worker does the work that does not depend on the
    // choice (spec §5.6), so that Cast costs milliseconds per question.
    if (id === 'step-ballot' && prepareFor !== undefined) prepareEncryption(scriptUrl, prepareFor);
  };

  let state: BoothState;
  try {
    const { election, status } = await client.election();
    prepareFor = election;
    state = { election, session: undefined, token: undefined, tokenIsNew: false, login: undefined, selections: election.manifest.questions.map(() => []), encrypted: undefined, receipt: undefined, audit: undefined };
    const m = election.manifest;
    document.title = `Vote: ${m.title} · Tallyboard`;
    byId('election-title').textContent = m.title;
    const clock = startScheduleClock(election, status.serverTime, byId('election-schedule'), byId('election-countdown'));
    if (status.phase === 'closed' || status.phase === 'tallied') clock.closed();
    if (status.phase !== 'open') {
      byId('closed-h').textContent = status.phase === 'scheduled' ? 'Voting has not opened yet' : 'Voting has closed';
      byId('closed-text').textContent =
        status.phase === 'scheduled'
          ? 'Voting has not opened yet. Come back at the opening time shown above.'
          : status.phase === 'tallied'
            ? 'Voting has closed and the votes are counted: the results are published, with the proof that they are the sum of the ballots on the board.'
            : 'Voting has closed: no more ballots are accepted. The votes are being counted; the results page shows them as soon as they are published.';
      go('step-closed');
      return;
    }
  } catch (e) {
    say(byId('loading-error'), voterMessage(e, 'election'));
    return;
  }

  const election = state.election;
  const revoting = election.manifest.revoting;
  buildBallotForm(election);
  // A saved token is useful in every election: it may be unused (issued, then the voter stopped
  // before casting) — and under revoting it also replaces an earlier ballot.
  byId('token-option').hidden = false;
  byId('token-option-text').textContent = revoting
    ? 'If you saved your token file (from this booth or the terminal client), load it here. If it already cast a ballot, your new ballot replaces that one; if it has not, this is your first ballot.'
    : 'If your token was issued but you did not cast a ballot with it (for example you stopped the terminal client before casting), load its token file here to cast your ballot.';
  go('step-login');
  mountRegistrationCheck(election);

  // Leaving with a token but no cast ballot would lose the voter's one token.
  window.addEventListener('beforeunload', (ev) => {
    if (state.token && !state.receipt) ev.preventDefault();
  });

  // --- login -----------------------------------------------------------------------------------
  const loginForm = byId<HTMLFormElement>('login-form');
  const loginError = byId('login-error');
  const loginButton = byId<HTMLButtonElement>('login-button');
  loginForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      const login = byId<HTMLInputElement>('login').value.trim();
      const passwordInput = byId<HTMLInputElement>('password');
      const password = passwordInput.value;
      if (login === '' || password === '') {
        say(loginError, login === '' ? 'Enter your login.' : 'Enter your password.');
        byId<HTMLInputElement>(login === '' ? 'login' : 'password').focus();
        return;
      }
      loginButton.disabled = true;
      loginButton.textContent = 'Logging in…';
      say(loginError, '');
      try {
        const session = await client.login(login, password);
        const me = await fetchMe(session);
        passwordInput.value = '';
        if (me.issuance === 'issued') {
          say(loginError, alreadyVotedMessage(revoting, tokenFileName(election.manifest.electionId, login)));
          return;
        }
        if (me.issuance === 'pending') {
          say(loginError, voterMessage(new TallyError('ISSUANCE_PENDING', ''), 'login'));
          return;
        }
        state.session = session;
        state.login = login;
        const regLogin = byId<HTMLInputElement>('reg-login');
        if (regLogin.value === '') regLogin.value = login;
        byId('voter-greeting').textContent = `Logged in as ${[me.firstName, me.lastName].filter(Boolean).join(' ') || login}.`;
        go('step-ballot');
      } catch (e) {
        say(loginError, voterMessage(e, 'login', revoting));
        passwordInput.focus();
      } finally {
        loginButton.disabled = false;
        loginButton.textContent = 'Log in';
      }
    })();
  });

  byId<HTMLInputElement>('token-file').addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    void (async () => {
      try {
        const token = loadToken(election, JSON.parse(await readFileText(file, MAX_TOKEN_FILE)));
        // Say what THIS token has done (issue #9.13): not every loaded token has an earlier ballot.
        const api = new BoardApi();
        const { status: now } = await api.election();
        const earlier = await lastBallotOfToken(async (from, limit) => (await api.entries(from, limit)).entries, now.boardSize, toHex(token.credential.publicKey));
        if (earlier !== undefined && !revoting) {
          say(byId('token-error'), `This token has already cast a ballot (entry ${earlier}), and this election does not let a voter change their vote. Your ballot stands; check it on the public board with your receipt.`);
          return;
        }
        state.token = token;
        state.tokenIsNew = false;
        byId('voter-greeting').textContent =
          earlier === undefined
            ? 'Token loaded. It has not cast a ballot yet: the ballot you cast now is your first.'
            : `Token loaded. It cast the ballot at entry ${earlier}: the ballot you cast now replaces that one.`;
        say(byId('token-error'), '');
        go('step-ballot');
      } catch (e) {
        say(byId('token-error'), `This is not a token file for this election: ${e instanceof Error ? e.message : String(e)}`);
      }
    })();
  });

  // --- ballot and review -----------------------------------------------------------------------
  byId<HTMLFormElement>('ballot-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const problems = readSelections(election, state);
    if (problems.length > 0) {
      const which = problems.map((p) => p.question + 1);
      say(byId('ballot-error'), which.length === 1 ? `Question ${which[0]} needs your attention: see the message under it.` : `Questions ${which.join(' and ')} need your attention: see the messages under them.`);
      document.querySelector<HTMLInputElement>(`input[name="q${problems[0]!.question}"]`)?.focus();
      return;
    }
    say(byId('ballot-error'), '');
    renderReview(election, state);
    go('step-review');
    void checkReachable();
  });

  // Before the voter presses Cast (issue #9.18): can the server be reached at all? A warning,
  // not a block — the voter may reconnect; the check is repeated when the browser says it is
  // back online. The request's timeout measures the network only (the route does no work).
  const reach = byId('reach-warning');
  const checkReachable = async (): Promise<void> => {
    const ok = navigator.onLine !== false && (await fetch('/api/health', { cache: 'no-store', signal: AbortSignal.timeout(15_000) }).then((r) => r.ok, () => false));
    say(reach, ok ? '' : 'The election server cannot be reached right now, so your ballot could not be sent. Check your connection; your choices are kept, and you can cast as soon as it is back.', 'error');
  };
  window.addEventListener('offline', () => void checkReachable());
  window.addEventListener('online', () => void checkReachable());
  // A summary of problems is about the last "Review" press: any change makes it stale.
  byId<HTMLFormElement>('ballot-form').addEventListener('change', () => say(byId('ballot-error'), ''));
  byId('change-button').addEventListener('click', () => go('step-ballot'));

  // --- encrypt, (audit), cast ------------------------------------------------------------------
  const progress = byId<HTMLProgressElement>('progress');
  const status = byId('working-status');
  const workError = byId('working-error');
  const retry = byId<HTMLButtonElement>('retry-button');
  const back = byId<HTMLButtonElement>('back-button');
  const mark = (id: string, s: 'todo' | 'doing' | 'done') => (byId(id).dataset.state = s);
  let retryAction: () => void = () => undefined;

  const fail = (e: unknown, step: 'token' | 'cast', canRetry: boolean) => {
    say(workError, voterMessage(e, step, revoting));
    retry.hidden = !canRetry;
    back.hidden = false;
    if (e instanceof TallyError && e.code === 'UNAUTHORIZED' && step === 'token') {
      state.session = undefined;
      back.textContent = 'Log in again';
      retryAction = () => undefined;
    } else {
      back.textContent = 'Back to my choices';
    }
    (canRetry ? retry : back).focus();
  };

  back.addEventListener('click', () => {
    if (!state.session && !state.token) go('step-login');
    else go('step-review');
  });
  retry.addEventListener('click', () => retryAction());

  const castEncrypted = async (enc: EncryptedBallot): Promise<void> => {
    go('step-working');
    say(workError, '');
    retry.hidden = back.hidden = true;
    mark('work-send', 'doing');
    status.textContent = 'Sending your encrypted ballot…';
    progress.value = 92;
    try {
      state.receipt = await client.cast(election, enc.ballot);
    } catch (e) {
      const retriable = e instanceof TallyError && (e.code === 'BOARD_UNAVAILABLE' || e.code === 'BOARD_BAD_RESPONSE' || e.code === 'INTERNAL');
      retryAction = () => void castEncrypted(enc);
      fail(e, 'cast', retriable);
      return;
    }
    mark('work-send', 'done');
    progress.value = 100;
    state.encrypted = undefined;
    showReceipt(election, state);
    go('step-receipt');
  };

  const encryptAndGo = async (): Promise<void> => {
    go('step-working');
    say(workError, '');
    retry.hidden = back.hidden = true;
    for (const id of ['work-token', 'work-encrypt', 'work-send']) mark(id, 'todo');
    progress.value = 0;
    if (!state.token) {
      if (!state.session) return go('step-login');
      mark('work-token', 'doing');
      status.textContent = 'Getting your voting token…';
      try {
        state.tokenRequest ??= requestToken(election);
        state.token = await client.obtainToken(election, state.session, state.tokenRequest);
        state.tokenRequest = undefined;
        state.tokenIsNew = true;
      } catch (e) {
        retryAction = () => void encryptAndGo();
        const retriable = e instanceof TallyError && (e.code === 'BOARD_UNAVAILABLE' || e.code === 'ISSUANCE_PENDING' || e.code === 'ISSUANCE_NOT_RECORDED' || e.code === 'SERVER_BUSY');
        fail(e, 'token', retriable);
        return;
      }
    }
    mark('work-token', 'done');
    mark('work-encrypt', 'doing');
    progress.value = 10;
    const total = election.questions.length;
    status.textContent = `Encrypting and proving question 1 of ${total}…`;
    let enc: EncryptedBallot;
    try {
      enc = await encryptBallot(scriptUrl, election, state.selections, state.token, (done) => {
        progress.value = 10 + Math.round((80 * done) / total);
        status.textContent = done < total ? `Encrypting and proving question ${done + 1} of ${total}…` : 'Encrypted and proven.';
      });
    } catch (e) {
      retryAction = () => void encryptAndGo();
      fail(e, 'cast', true);
      return;
    }
    mark('work-encrypt', 'done');
    progress.value = 90;
    state.encrypted = enc;
    if (byId<HTMLInputElement>('want-audit').checked) {
      setContent(byId('choice-tracker'), trackerNode(toHex(enc.tracker)));
      go('step-choice');
      return;
    }
    await castEncrypted(enc);
  };

  byId('cast-button').addEventListener('click', () => void encryptAndGo());
  byId('choice-cast').addEventListener('click', () => {
    if (state.encrypted) void castEncrypted(state.encrypted);
  });
  byId('choice-audit').addEventListener('click', () => {
    const enc = state.encrypted;
    if (!enc) return;
    // From here on this ballot's randomness is shown: it must never be cast.
    state.encrypted = undefined;
    state.audit = auditBallot(election, enc, state.selections);
    renderAudit(state.audit);
    go('step-audit');
  });
  byId('audit-again').addEventListener('click', () => void encryptAndGo());
  byId('audit-download').addEventListener('click', () => {
    if (state.audit) download(`audit-${state.audit.tracker.slice(0, 16)}.json`, JSON.stringify(state.audit.record, null, 2) + '\n');
  });

  // --- receipt ---------------------------------------------------------------------------------
  const receiptStatus = byId('receipt-status');
  byId('copy-tracker').addEventListener('click', () => {
    const r = state.receipt;
    if (!r) return;
    void copyText(r.tracker, byId('receipt-tracker')).then((ok) =>
      say(receiptStatus, ok ? 'Tracker copied to the clipboard.' : 'This browser did not let the page copy: the tracker is selected, copy it with your keyboard or menu.', ok ? 'ok' : 'info'),
    );
  });
  byId('download-receipt').addEventListener('click', () => {
    const r = state.receipt;
    if (!r) return;
    download(receiptFileName(r), JSON.stringify(r, null, 2) + '\n');
    say(receiptStatus, `Receipt saved as ${receiptFileName(r)}.`, 'ok');
  });
  byId('save-token').addEventListener('click', () => {
    if (!state.token) return;
    const name = tokenFileName(election.manifest.electionId, state.login);
    download(name, JSON.stringify(saveToken(election, state.token), null, 2) + '\n');
    say(byId('token-status'), `Token file saved as ${name}. Keep it private.`, 'ok');
  });
  byId('finish-button').addEventListener('click', () => {
    // Drop every secret this page holds; a reload starts from nothing.
    state.token = undefined;
    state.session = undefined;
    state.encrypted = undefined;
    location.assign('/');
  });
}

/**
 * The token file's name, as `tallyboard vote` names it: by election AND login (issue #9.18), so
 * that two voters' token files on one computer do not overwrite each other.
 */
function tokenFileName(electionId: string, login: string | undefined): string {
  return `token-${electionId}${login ? `-${login.replace(/[^A-Za-z0-9._-]/g, '_')}` : ''}.json`;
}

/** The receipt's file name (as `tallyboard vote` names it). */
function receiptFileName(r: ReceiptJson): string {
  return `receipt-${r.tracker.slice(0, 16)}.json`;
}

/** GET /api/org/me: the voter's details and whether their token was already issued. */
async function fetchMe(session: string): Promise<{ firstName?: string; lastName?: string; issuance?: string }> {
  const res = await fetch('/api/org/me', { headers: { accept: 'application/json', authorization: `Bearer ${session}` }, signal: AbortSignal.timeout(30_000) }).catch((cause: unknown) => {
    throw new TallyError('BOARD_UNAVAILABLE', 'cannot reach the organization server', { cause });
  });
  if (!res.ok) throw new TallyError(res.status === 401 ? 'UNAUTHORIZED' : 'BOARD_BAD_RESPONSE', `HTTP ${res.status} from /api/org/me`);
  return (await res.json()) as { firstName?: string; lastName?: string; issuance?: string };
}

/** One fieldset per question: radios for "choose one", checkboxes otherwise. */
function buildBallotForm(election: Election): void {
  const container = byId('questions');
  const qs = election.manifest.questions;
  qs.forEach((q, i) => {
    const single = isSingleChoice(q);
    // A live region: a screen reader says why a tick vanished (issue #9.18).
    const err = h('p', { id: `q${i}-error`, class: 'field-error', role: 'status', 'aria-live': 'polite', hidden: true });
    const options = h('div', { class: 'options' });
    q.options.forEach((o, j) => {
      const input = h('input', { type: single ? 'radio' : 'checkbox', name: `q${i}`, value: String(j), id: `q${i}-o${j}` });
      options.appendChild(h('label', { class: 'option', for: `q${i}-o${j}` }, input, h('span', {}, o.title)));
    });
    const fieldset = h(
      'fieldset',
      { class: 'question', 'aria-describedby': `q${i}-rule q${i}-error` },
      h('legend', {}, h('span', { class: 'qnum' }, `Question ${i + 1} of ${qs.length}`), h('span', { class: 'qtitle' }, q.title)),
      h('p', { id: `q${i}-rule`, class: 'rule' }, ruleText(q)),
      options,
      err,
    );
    if (!single) {
      // Enforce the maximum as the voter ticks: the extra tick is undone and explained.
      fieldset.addEventListener('change', (ev) => {
        const t = ev.target as HTMLInputElement;
        const ticked = fieldset.querySelectorAll('input:checked').length;
        if (t.checked && ticked > q.max) {
          t.checked = false;
          say(err, q.max === 1 ? `“${q.title}”: you can choose only one option. Untick your choice first to change it.` : `“${q.title}”: you can choose at most ${q.max} options. Untick one first to choose another.`);
        } else {
          say(err, '');
        }
      });
    } else {
      fieldset.addEventListener('change', () => say(err, ''));
    }
    container.appendChild(fieldset);
  });
}

/** Read the form into state.selections; report the questions whose rules are not met. */
function readSelections(election: Election, state: BoothState): { question: number; message: string }[] {
  const problems: { question: number; message: string }[] = [];
  election.manifest.questions.forEach((q, i) => {
    const picked = Array.from(document.querySelectorAll<HTMLInputElement>(`input[name="q${i}"]:checked`)).map((x) => Number(x.value)).sort((a, b) => a - b);
    state.selections[i] = picked;
    const problem = selectionProblem(q, picked.length);
    const err = byId(`q${i}-error`);
    if (problem) {
      problems.push({ question: i, message: problem });
      say(err, problem);
    } else {
      say(err, '');
    }
  });
  return problems;
}

function renderReview(election: Election, state: BoothState): void {
  const list = byId('review-list');
  list.replaceChildren();
  election.manifest.questions.forEach((q, i) => {
    const sel = state.selections[i] ?? [];
    list.appendChild(h('dt', {}, q.title));
    list.appendChild(h('dd', {}, sel.length === 0 ? h('em', {}, 'Left blank') : sel.map((j) => q.options[j]!.title).join(', ')));
  });
}

function renderAudit(audit: BallotAudit): void {
  const verdict = byId('audit-verdict');
  verdict.dataset.kind = audit.ok ? 'ok' : 'error';
  verdict.textContent = audit.ok
    ? '✓ The encryption holds exactly your choices. This device encrypted honestly.'
    : '✗ The encryption does NOT hold your choices. Do not vote from this device; tell the organizers.';
  const list = byId('audit-list');
  list.replaceChildren(
    ...audit.answers.map((a) =>
      h(
        'li',
        { 'data-ok': String(a.matches && a.asChosen) },
        h('strong', {}, a.question),
        ': ',
        a.holds.length === 0 ? 'left blank' : a.holds.join(', '),
        ' — ',
        a.matches && a.asChosen ? 'matches your choice' : a.matches ? 'NOT your choice' : 'the ciphertext does not open to it',
      ),
    ),
  );
  byId('audit-tracker').textContent = audit.tracker;
}

function showReceipt(election: Election, state: BoothState): void {
  const r = state.receipt!;
  const replaced = r.replaces !== undefined ? ` It replaces your earlier ballot (entry ${r.replaces}).` : '';
  byId('receipt-summary').textContent = `✓ Your encrypted ballot is on the public board, as entry ${r.height}.${replaced}`;
  // The page checks the server's receipt itself: the ballot, the board's signature, the inclusion proof.
  const v = verifyReceipt(election, r);
  const verified = byId('receipt-verified');
  verified.textContent = v.ok
    ? 'This page checked the receipt: it holds your ballot, signed into the board by the election’s board key.'
    : `Warning: the receipt the server returned does not verify (${v.reason}). Keep it and tell the organizers.`;
  verified.className = v.ok ? 'muted' : 'message';
  setContent(byId('receipt-tracker'), trackerNode(r.tracker));
  // The election's fingerprint, on the receipt and here (issue #10.7): auditors anchor to it.
  byId('receipt-fingerprint').textContent = `Election fingerprint: ${election.fingerprintHex}. It is in your receipt; an audit of the election is anchored to it (verify --fingerprint), so compare it with the one the organizers published.`;
  byId<HTMLAnchorElement>('board-link').href = `/board?tracker=${r.tracker}#check`;
  passReceipt(r.tracker, JSON.stringify(r, null, 2));
  byId('token-save').hidden = !(election.manifest.revoting && state.tokenIsNew);
}
