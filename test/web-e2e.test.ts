/**
 * The web pages end to end in a real browser (issue #6): headless Chromium from the Debian
 * package, driven by playwright-core, against the three servers on one loopback origin.
 *
 * The scenario of the issue:
 *   1. a voter logs in, fills in the ballot (the page refuses a missing answer and a third
 *      tick where two is the most), reviews, casts, gets a receipt, downloads it and checks it
 *      on the board page;
 *   2. a second attempt to vote with the same account is refused with a clear message;
 *   3. after the close, the results page shows the correct counts, with the decryption proof
 *      verified in the browser.
 * Along the way a second voter uses cast-or-audit (audits one encryption, then casts a fresh
 * one), and two more vote through the HTTP client, so the counts mean something. The page must
 * log no error and break no Content-Security-Policy rule.
 *
 * Screenshots of every page, at phone width (375 px) and desktop width, go to test/artifacts/
 * (git-ignored), to be looked at by a person.
 *
 * Chromium: /usr/bin/chromium (`.ci/run` installs it). Without it the test fails in CI and is
 * skipped elsewhere, saying why.
 */
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startWebElection, webManifest } from './helpers/web-election.js';
import { verifyReceipt } from '../src/ballot/receipt.js';
import { VoterClient, saveToken } from '../src/client/voter-client.js';
import { createBallot } from '../src/election/ballot.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(import.meta.dirname, 'artifacts');
const PHONE = { width: 375, height: 812 };
const DESKTOP = { width: 1280, height: 900 };

if (!existsSync(CHROMIUM)) {
  if (process.env.CI) t.fail(`${CHROMIUM} is missing: .ci/run installs the Debian package chromium`);
  else t.plan(0, `${CHROMIUM} is missing (apt-get install -y chromium); the browser test is skipped`);
} else {
  mkdirSync(ARTIFACTS, { recursive: true });

  /** Answers the scenario provokes on purpose: a wrong password, results asked for before the tally. */
  const EXPECTED_FAILURES = [
    { path: '/api/org/login', status: 401 },
    { path: '/api/results', status: 404 },
  ];

  /**
   * Collect what a page logs as an error (a CSP violation is one), uncaught errors, and every
   * failed request the scenario does not provoke on purpose.
   */
  const watch = (page: Page, problems: string[]): void => {
    page.on('console', (m) => {
      // Failed loads are judged by the response listener below, which knows the URL.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      if (r.status() >= 400 && !EXPECTED_FAILURES.some((x) => x.path === path && x.status === r.status())) problems.push(`HTTP ${r.status()} for ${path}`);
    });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  };

  t.test('vote, receipt, board check, refused second vote, results (headless Chromium)', async (t) => {
    const e = await startWebElection(4);
    t.teardown(() => e.stop());
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const problems: string[] = [];
    /** A full-page screenshot; and no page may scroll sideways (at phone width above all). */
    const shot = async (page: Page, name: string): Promise<void> => {
      await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
      const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      if (scroll > client) problems.push(`${name}: the page is ${scroll} px wide in a ${client} px window`);
    };
    const newPage = async (viewport = PHONE): Promise<Page> => {
      const context = await browser.newContext({ viewport, acceptDownloads: true });
      const page = await context.newPage();
      watch(page, problems);
      return page;
    };
    const logIn = async (page: Page, login: string) => {
      await page.goto(`${e.url}/`);
      await page.getByRole('heading', { name: 'Log in to vote' }).waitFor();
      await page.locator('#login').fill(login);
      await page.getByLabel('Password', { exact: true }).fill(e.passwords.get(login)!);
      await page.getByRole('button', { name: 'Log in' }).click();
    };

    // --- 1. a voter votes ---------------------------------------------------------------------
    const page = await newPage();
    await page.goto(`${e.url}/`);
    await page.getByRole('heading', { name: 'Log in to vote' }).waitFor();
    t.equal(await page.title(), 'Vote: Neighbourhood council 2026 · Tallyboard', 'the booth names the election');
    await shot(page, 'booth-1-login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#login-error').filter({ hasText: 'Enter your login.' }).waitFor();
    t.pass('an empty login is explained');
    await page.locator('#login').fill('voter1');
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('The login or the password is not correct').waitFor();
    await page.getByLabel('Password', { exact: true }).fill(e.passwords.get('voter1')!);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Your ballot' }).waitFor();
    t.equal(await page.evaluate(() => document.activeElement?.id), 'ballot-h', 'the focus moves to the ballot heading');

    // min and max, enforced in the page
    await page.getByRole('button', { name: 'Review my choices' }).click();
    await page.getByText('“Who should chair the council?”: choose an option.').first().waitFor();
    t.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name), 'q0', 'the focus goes to the unanswered question');
    await shot(page, 'booth-2-ballot-error');
    await page.getByLabel('Grace Hopper').check();
    await page.getByLabel('A longer-opening library').check();
    await page.getByLabel('Safe bike lanes on Main Street').check();
    await page.getByLabel('A community garden').click();
    t.notOk(await page.getByLabel('A community garden').isChecked(), 'a third tick where two is the most is undone');
    await page.getByText('you can choose at most 2 options').waitFor();
    t.equal(await page.locator('#q1-error').getAttribute('aria-live'), 'polite', 'regression: the limit message is a live region, so a screen reader says why the tick vanished (#9.18)');
    await shot(page, 'booth-3-ballot');
    await page.getByRole('button', { name: 'Review my choices' }).click();
    await page.getByRole('heading', { name: 'Check your choices' }).waitFor();
    const review = await page.locator('#review-list').innerText();
    t.match(review, /Grace Hopper/, 'the review shows the choice');
    t.match(review, /A longer-opening library, Safe bike lanes on Main Street/, 'and both projects');
    await shot(page, 'booth-4-review');

    await page.getByRole('button', { name: 'Cast my ballot' }).click();
    await page.getByRole('heading', { name: 'Your ballot is cast' }).waitFor({ timeout: 120_000 });
    await shot(page, 'booth-5-receipt');
    t.match(await page.locator('#receipt-fingerprint').innerText(), e.election.fingerprintHex, 'regression: the receipt step shows the election fingerprint (#10.7)');
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download your receipt' }).click();
    const receiptPath = join(ARTIFACTS, 'receipt-voter1.json');
    await (await download).saveAs(receiptPath);
    const receipt = JSON.parse(readFileSync(receiptPath, 'utf8')) as { tracker: string };
    t.ok(verifyReceipt(e.election, receipt).ok, 'the downloaded receipt verifies (checked in Node too)');
    const shownTracker = (await page.locator('#receipt-tracker').innerText()).replace(/\s+/g, '');
    t.equal(shownTracker, receipt.tracker, 'the page shows the receipt’s tracker');

    // ... and checks it on the board page: the receipt comes along, nothing to upload (#9.18)
    await page.getByRole('link', { name: 'Check it on the public board' }).click();
    await page.getByRole('heading', { name: 'Check my receipt' }).waitFor();
    await page.getByText('✓ Your ballot is on the board, and it is the ballot that counts.').waitFor({ timeout: 60_000 });
    t.pass('regression: the booth passes the receipt to the board page, which checks it at once (#9.18)');
    t.match(await page.locator('#check-result').innerText(), /This is the ballot that counts: no later ballot of your token is on the board/, 'regression: the board page says whether it is the ballot that counts (#9.3)');
    await shot(page, 'board-0-receipt-passed');
    // The same check with the downloaded file.
    await page.getByLabel('Or paste the receipt’s text').fill('');
    await page.locator('#cp-root').filter({ hasText: /^[0-9a-f]{64}$/ }).waitFor();
    await page.getByLabel('Receipt file (receipt-….json)').setInputFiles(receiptPath);
    await page.waitForFunction(() => (document.getElementById('receipt-text') as HTMLTextAreaElement).value.length > 0);
    await page.getByRole('button', { name: 'Check my receipt' }).click();
    await page.getByText('✓ Your ballot is on the board, and it is the ballot that counts.').waitFor({ timeout: 60_000 });
    t.match(await page.locator('#tracker-rows').innerText(), new RegExp(receipt.tracker.slice(0, 4)), 'the tracker list shows the ballot');
    t.equal(await page.locator('#tracker-rows tr').count(), 1, 'searched by the tracker: one row');
    t.match(await page.locator('#checkpoint-verdict').innerText(), /Signed by the election’s board key/, 'the checkpoint signature is checked in the browser');
    await page.locator('#witness-verdict').filter({ hasText: /names no witnesses/ }).waitFor();
    t.pass('the board page says what the witnesses vouch for (here: the manifest names none)');
    await shot(page, 'board-1-receipt-checked');
    await page.locator('section', { has: page.getByRole('heading', { name: 'Ballot trackers' }) }).screenshot({ path: join(ARTIFACTS, 'board-2-trackers-section.png') });
    await page.getByLabel('Receipt file (receipt-….json)').setInputFiles([]);
    await page.getByLabel('Or paste the receipt’s text').fill(JSON.stringify({ ...receipt, tracker: '00'.repeat(32) }));
    await page.getByRole('button', { name: 'Check my receipt' }).click();
    await page.getByText('✗ Not confirmed').waitFor();
    t.pass('a tampered receipt is not confirmed');

    // --- 2. the same account again ------------------------------------------------------------
    const again = await newPage();
    await logIn(again, 'voter1');
    await again.getByText('voting token has already been issued').waitFor();
    t.match(await again.locator('#login-error').innerText(), /a second one cannot be given/, 'a second attempt is refused with a clear message');
    t.match(await again.locator('#login-error').innerText(), /did not cast a ballot .* load its token file/, 'regression: an issued but unused token is not called a vote (#9.4)');
    t.ok(await again.locator('#step-ballot').isHidden(), 'and the ballot is not shown');
    await shot(again, 'booth-6-second-attempt-refused');

    // --- a second voter audits one encryption, then casts ---------------------------------------
    const auditor = await newPage(DESKTOP);
    await logIn(auditor, 'voter2');
    await auditor.getByRole('heading', { name: 'Your ballot' }).waitFor();
    await shot(auditor, 'desktop-booth-ballot');
    await auditor.getByLabel('Ada Lovelace').check();
    await auditor.getByRole('button', { name: 'Review my choices' }).click();
    t.match(await auditor.locator('#review-list').innerText(), /Left blank/, 'a blank answer is shown as such');
    await auditor.getByLabel('Let me audit the encryption before casting (optional)').check();
    await auditor.getByRole('button', { name: 'Cast my ballot' }).click();
    await auditor.getByRole('heading', { name: 'Cast or audit?' }).waitFor({ timeout: 120_000 });
    const audited = (await auditor.locator('#choice-tracker').innerText()).replace(/\s+/g, '');
    await auditor.getByRole('button', { name: 'Audit this ballot instead' }).click();
    await auditor.getByText('The encryption holds exactly your choices').waitFor();
    t.match(await auditor.locator('#audit-list').innerText(), /Ada Lovelace — matches your choice/, 'the audit opens the ballot to the choice');
    await shot(auditor, 'desktop-booth-audit');
    // regression (#9.8): the audit file, checked on the audit page (another device: a new context)
    const auditDownload = auditor.waitForEvent('download');
    await auditor.getByRole('button', { name: 'Download the audit file' }).click();
    const auditPath = join(ARTIFACTS, 'audit-voter2.json');
    await (await auditDownload).saveAs(auditPath);
    const checker = await newPage();
    await checker.goto(`${e.url}/audit`);
    await checker.getByRole('heading', { name: 'Check a cast-or-audit file' }).waitFor();
    await checker.locator('#election-name').filter({ hasText: 'fingerprint' }).waitFor();
    await checker.getByLabel('Audit file (audit-….json)').setInputFiles(auditPath);
    await checker.waitForFunction(() => (document.getElementById('audit-text') as HTMLTextAreaElement).value.length > 0);
    await checker.getByRole('button', { name: 'Check the audit file' }).click();
    await checker.getByText('✓ The audited ballot holds exactly the choices below.').waitFor();
    t.match(await checker.locator('#audit-questions').innerText(), /Who should chair the council\?: Ada Lovelace — the ciphertext opens to it/, 'regression: the audit page shows the decoded choice in words (#9.8)');
    t.match(await checker.locator('#audit-questions').innerText(), /left blank — the ciphertext opens to it/, 'and a blank answer');
    await shot(checker, 'audit-1-checked');
    const forgedAudit = JSON.parse(readFileSync(auditPath, 'utf8')) as { answers: { options: string[] }[] };
    forgedAudit.answers[0]!.options = ['Grace Hopper'];
    await checker.getByLabel('Audit file (audit-….json)').setInputFiles([]);
    await checker.getByLabel('Or paste the file’s text').fill(JSON.stringify(forgedAudit));
    await checker.getByRole('button', { name: 'Check the audit file' }).click();
    await checker.getByText('✗ The audited ballot does NOT hold what the device revealed.').waitFor();
    t.pass('a device that names other options than it encrypted is caught');
    await auditor.getByRole('button', { name: 'Encrypt my ballot again' }).click();
    await auditor.getByRole('heading', { name: 'Cast or audit?' }).waitFor({ timeout: 120_000 });
    const fresh = (await auditor.locator('#choice-tracker').innerText()).replace(/\s+/g, '');
    t.not(fresh, audited, 'the ballot is encrypted afresh after an audit');
    await auditor.getByRole('button', { name: 'Cast this ballot' }).click();
    await auditor.getByRole('heading', { name: 'Your ballot is cast' }).waitFor({ timeout: 60_000 });
    t.equal((await auditor.locator('#receipt-tracker').innerText()).replace(/\s+/g, ''), fresh, 'the fresh ballot is the one cast');
    await shot(auditor, 'desktop-booth-receipt');

    // --- two more voters, through the HTTP client ------------------------------------------------
    const client = new VoterClient({ server: e.url });
    const { election } = await client.election();
    for (const [login, choice] of [
      ['voter3', [[1], [2]]],
      ['voter4', [[2], [1, 2]]],
    ] as const) {
      const token = await client.obtainToken(election, await client.login(login, e.passwords.get(login)!));
      await client.cast(election, createBallot(election, choice.map((s) => [...s]), token).ballot);
    }

    // the board page at desktop width, and the results page before the close
    const board = await newPage(DESKTOP);
    await board.goto(`${e.url}/board`);
    await board.locator('#tracker-summary').filter({ hasText: '4 ballots.' }).waitFor();
    await board.getByLabel('Search by tracker (any part of it)').fill(receipt.tracker.slice(10, 18).toUpperCase());
    await board.locator('#tracker-summary').filter({ hasText: '1 of 4 ballots match' }).waitFor();
    await board.getByLabel('Search by tracker (any part of it)').fill('');
    await shot(board, 'desktop-board');
    const pending = await newPage();
    await pending.goto(`${e.url}/results`);
    await pending.getByRole('heading', { name: 'The results are not published yet' }).waitFor();
    await shot(pending, 'results-1-before-close');

    // --- 3. after the close: the results ------------------------------------------------------
    await e.close();
    await pending.getByText('✓ Verified in your browser.').waitFor({ timeout: 120_000 }).catch(async (err: unknown) => {
      await shot(pending, 'results-failure');
      throw new Error(`the results were not verified: ${await pending.locator('main').innerText()}`, { cause: err });
    });
    const rows = async (i: number) =>
      (await pending.locator(`#result-${i} table.counts tbody tr`).allInnerTexts()).map((r) => r.split('\t').slice(0, 2).map((x) => x.trim()));
    t.same(await rows(0), [['Ada Lovelace', '1'], ['Grace Hopper', '2'], ['Alan Turing', '1'], ['Katherine Johnson', '0']], 'question 1: the correct counts');
    t.same(await rows(1), [['A longer-opening library', '1'], ['Safe bike lanes on Main Street', '2'], ['A community garden', '2']], 'question 2: the correct counts');
    t.match(await pending.locator('#counted').innerText(), /4 ballots counted/);
    t.equal(await pending.locator('.proof-status[data-kind="ok"]').count(), 2, 'both decryption proofs verified in the browser');
    t.equal(await pending.locator('svg.chart').count(), 2, 'a bar chart per question');
    t.equal(await pending.getByRole('link', { name: 'Download the board (board.jsonl)' }).getAttribute('href'), '/api/board/export');
    t.match(await pending.locator('#audit-command').innerText(), `node tallyboard-audit.mjs verify --board board.jsonl --fingerprint ${e.election.fingerprintHex}`, 'regression: the audit command is anchored to the election (#10.7)');
    t.equal(await pending.getByRole('link', { name: 'Download the auditor (tallyboard-audit.mjs)' }).getAttribute('href'), '/assets/tallyboard-audit.mjs', 'regression: the results page offers the single-file auditor next to board.jsonl (#9.7)');
    const served = await fetch(`${e.url}/assets/tallyboard-audit.mjs`);
    t.equal(served.status, 200, 'the auditor is served');
    t.ok(Buffer.from(await served.arrayBuffer()).equals(readFileSync(join(import.meta.dirname, '..', 'dist', 'auditor-dist', 'tallyboard-audit.mjs'))), 'and it is the built single-file auditor');
    await shot(pending, 'results-2-published');
    const wide = await newPage(DESKTOP);
    await wide.goto(`${e.url}/results`);
    await wide.getByText('✓ Verified in your browser.').waitFor({ timeout: 60_000 });
    await shot(wide, 'desktop-results');

    // the booth after the close
    const late = await newPage();
    await late.goto(`${e.url}/`);
    await late.getByRole('heading', { name: 'Voting has closed' }).waitFor();
    t.match(await late.locator('#closed-text').innerText(), /the results are published/, 'regression: after the tally the booth says the results are published (#9.13)');
    await shot(late, 'booth-7-closed');

    t.same(problems, [], 'no page logged an error or broke the Content-Security-Policy');
  });

  t.test('revoting: the token file saved after voting lets the voter change their vote', async (t) => {
    const e = await startWebElection(2, webManifest({ electionId: 'web-revote', revoting: true }));
    t.teardown(() => e.stop());
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const problems: string[] = [];
    const page = await (await browser.newContext({ viewport: PHONE, acceptDownloads: true })).newPage();
    watch(page, problems);
    await page.goto(`${e.url}/`);
    await page.locator('#login').fill('voter1');
    await page.getByLabel('Password', { exact: true }).fill(e.passwords.get('voter1')!);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByLabel('Alan Turing').check();
    await page.getByRole('button', { name: 'Review my choices' }).click();
    await page.getByRole('button', { name: 'Cast my ballot' }).click();
    await page.getByRole('heading', { name: 'Your ballot is cast' }).waitFor({ timeout: 120_000 });
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Save my token file' }).click();
    const tokenPath = join(ARTIFACTS, 'token-voter1.json');
    const saved = await download;
    t.equal(saved.suggestedFilename(), 'token-web-revote-voter1.json', 'regression: the token file is named after the election and the voter (#9.18)');
    await saved.saveAs(tokenPath);
    await page.screenshot({ path: join(ARTIFACTS, 'booth-8-revoting-receipt.png'), fullPage: true });

    const later = await (await browser.newContext({ viewport: PHONE })).newPage();
    watch(later, problems);
    await later.goto(`${e.url}/`);
    await later.getByText('Have a token file? Load it').click();
    await later.getByLabel('Token file (token-….json)').setInputFiles(tokenPath);
    await later.getByRole('heading', { name: 'Your ballot' }).waitFor();
    t.match(await later.locator('#voter-greeting').innerText(), /It cast the ballot at entry \d+: the ballot you cast now replaces that one/, 'the booth says the new ballot replaces the old one, and which');
    await later.getByLabel('Katherine Johnson').check();
    await later.getByRole('button', { name: 'Review my choices' }).click();
    await later.getByRole('button', { name: 'Cast my ballot' }).click();
    await later.getByRole('heading', { name: 'Your ballot is cast' }).waitFor({ timeout: 120_000 });
    t.match(await later.locator('#receipt-summary').innerText(), /replaces your earlier ballot/, 'the receipt names the replaced ballot');
    t.ok(await later.locator('#token-save').isHidden(), 'the token is not offered again: the voter already has it');
    await later.screenshot({ path: join(ARTIFACTS, 'booth-9-revoted.png'), fullPage: true });

    // regression (#9.13, #9.4): a token issued elsewhere (the terminal client, stopped before
    // casting) is loaded: the booth must not claim an earlier ballot, and casts the first one.
    const client = new VoterClient({ server: e.url });
    const { election } = await client.election();
    const unused = await client.obtainToken(election, await client.login('voter2', e.passwords.get('voter2')!));
    const unusedPath = join(ARTIFACTS, 'token-voter2-unused.json');
    writeFileSync(unusedPath, JSON.stringify(saveToken(election, unused)));
    const fresh = await (await browser.newContext({ viewport: PHONE })).newPage();
    watch(fresh, problems);
    await fresh.goto(`${e.url}/`);
    await fresh.getByText('Have a token file? Load it').click();
    await fresh.getByLabel('Token file (token-….json)').setInputFiles(unusedPath);
    await fresh.getByRole('heading', { name: 'Your ballot' }).waitFor();
    t.match(await fresh.locator('#voter-greeting').innerText(), /It has not cast a ballot yet: the ballot you cast now is your first/, 'regression: an unused token is not said to replace anything (#9.13)');
    await fresh.getByLabel('Alan Turing').check();
    // regression (#9.18): the server cannot be reached before Cast: the voter is warned first.
    await fresh.route('**/api/health', (route) => route.abort('internetdisconnected'));
    await fresh.getByRole('button', { name: 'Review my choices' }).click();
    await fresh.getByText('The election server cannot be reached right now').waitFor();
    t.pass('regression: an unreachable server is announced on the review step, before Cast (#9.18)');
    await fresh.unroute('**/api/health');
    await fresh.evaluate(() => window.dispatchEvent(new Event('online')));
    await fresh.locator('#reach-warning').waitFor({ state: 'hidden' });
    t.pass('and the warning goes once the server answers again');
    problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('/api/health')));
    await fresh.getByRole('button', { name: 'Cast my ballot' }).click();
    await fresh.getByRole('heading', { name: 'Your ballot is cast' }).waitFor({ timeout: 120_000 });
    t.notMatch(await fresh.locator('#receipt-summary').innerText(), /replaces/, 'the unused token casts a first ballot');
    t.same(problems, [], 'no page logged an error');
  });
}
