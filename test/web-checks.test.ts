/**
 * What the web pages compute, without a browser (issue #6): the receipt check of the board
 * page, the results check of the results page, the tracker index, the cast-or-audit opening,
 * and the words the booth uses (rules, countdown, error messages). The checks run against real
 * servers on loopback through the same BoardApi the pages use; each verdict is tested with a
 * positive case and the tampering it must catch.
 */
import t from 'tap';
import { BoardApi } from '../src/web/board-api.js';
import { checkReceiptOnBoard, parseReceiptText } from '../src/web/receipt-check.js';
import { checkResults, parseResultsView } from '../src/web/results-check.js';
import { TrackerIndex, normalizeTrackerQuery } from '../src/web/tracker-index.js';
import { auditBallot } from '../src/web/ballot-audit.js';
import { atMaximum, isSingleChoice, ruleText, selectionProblem } from '../src/web/selection-rules.js';
import { clockOffset, formatDuration, scheduleText } from '../src/web/countdown.js';
import { alreadyVotedMessage, voterMessage } from '../src/web/voter-messages.js';
import { VoterClient } from '../src/client/voter-client.js';
import { createBallot } from '../src/election/ballot.js';
import { TallyError } from '../src/errors.js';
import { startWebElection, webManifest } from './helpers/web-election.js';
import { fixtureElection, fixtureToken } from './helpers/fixtures.js';
import { flipHexDigit } from './helpers/mutate.js';
import type { ReceiptJson } from '../src/ballot/receipt.js';

t.test('receipt check and results check against live servers', async (t) => {
  const manifest = webManifest({ electionId: 'web-checks' });
  const e = await startWebElection(3, manifest);
  t.teardown(() => e.stop());
  const client = new VoterClient({ server: e.url });
  const { election } = await client.election();
  const receipts: ReceiptJson[] = [];
  const choices = [
    [[0], [0, 1]],
    [[1], []],
    [[1], [2]],
  ];
  for (let i = 0; i < 3; i++) {
    const token = await client.obtainToken(election, await client.login(`voter${i + 1}`, e.passwords.get(`voter${i + 1}`)!));
    receipts.push(await client.cast(election, createBallot(election, choices[i]!, token).ballot));
  }
  const api = new BoardApi({ base: e.url });

  // --- receipts ---------------------------------------------------------------------------------
  const first = receipts[0]!;
  const yes = await checkReceiptOnBoard(api, first);
  t.match(yes, { yes: true, tracker: first.tracker, height: first.height }, 'an early receipt is on the board that grew since');
  t.ok(yes.yes && yes.boardSize > first.checkpoint.treeSize, 'checked against a later checkpoint');
  t.match(await checkReceiptOnBoard(api, receipts[2]!, election), { yes: true }, 'the latest receipt (same size as the board)');

  const tampered = structuredClone(first) as { tracker: string };
  tampered.tracker = flipHexDigit(tampered.tracker, 5);
  t.match(await checkReceiptOnBoard(api, tampered), { yes: false, reason: /does not verify/ }, 'a changed tracker is caught');
  const badHash = { ...first, entryHash: flipHexDigit(first.entryHash, 0) };
  t.match(await checkReceiptOnBoard(api, badHash), { yes: false, reason: /entryHash/ }, 'a wrong entry hash is caught');
  t.match(await checkReceiptOnBoard(api, { ...first, fingerprint: '00'.repeat(32) }), { yes: false, reason: /another election/ });
  t.match(await checkReceiptOnBoard(api, { hello: 'world' }), { yes: false, reason: /not a tallyboard-receipt/ });

  // The same election (same keys) served from another board: the receipt's checkpoint was
  // signed, but this board does not contain that board.
  const other = await startWebElection(1, manifest);
  t.teardown(() => other.stop());
  const oc = new VoterClient({ server: other.url });
  const token = await oc.obtainToken(election, await oc.login('voter1', other.passwords.get('voter1')!));
  await oc.cast(election, createBallot(election, [[3], [2]], token).ballot);
  const rewritten = await checkReceiptOnBoard(new BoardApi({ base: other.url }), first);
  t.match(rewritten, { yes: false }, 'a receipt is not confirmed by a board that does not extend its checkpoint');

  t.match(parseReceiptText('  '), { ok: false, reason: /paste your receipt/ });
  t.match(parseReceiptText('tracker: abc'), { ok: false, reason: /not a receipt/ });
  t.match(parseReceiptText(JSON.stringify(first)), { ok: true });

  // --- results ----------------------------------------------------------------------------------
  await t.rejects(api.results(), { code: 'NOT_FOUND' }, 'no results before the close');
  await e.close();
  let results: unknown;
  for (let i = 0; i < 600 && results === undefined; i++) {
    results = await api.results().catch(() => undefined);
    if (results === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(results, 'results are published after the close');
  const v = await checkResults(api, election, results);
  t.equal(v.ok, true, 'the published results verify in the page’s check');
  t.match(v.board, { ok: true });
  t.equal(v.questions.length, 2);
  const { view } = parseResultsView(election, results);
  t.same(
    view.questions.map((q) => q.options.map((o) => o.count)),
    [
      [1, 2, 0, 0],
      [1, 1, 1],
    ],
    'the counts are the votes',
  );

  const withCounts = structuredClone(results) as { questions: { options: { count: number }[]; proof: { T: string; R: string; c: string } }[] };
  withCounts.questions[0]!.options[0]!.count = 2;
  withCounts.questions[0]!.options[1]!.count = 1;
  const vc = await checkResults(api, election, withCounts);
  t.match(vc, { ok: false, questions: [{ ok: false, check: '8.4c' }, { ok: true }] }, 'counts that are not the decryption are caught (8.4c)');

  const withT = structuredClone(results) as typeof withCounts;
  withT.questions[1]!.proof.T = flipHexDigit(withT.questions[1]!.proof.T, withT.questions[1]!.proof.T.length - 1);
  t.match(await checkResults(api, election, withT), { ok: false, questions: [{ ok: true }, { ok: false, check: '8.4f' }] }, "a T that is not the combination of the board's partial decryptions is caught (8.4f)");

  const withC = structuredClone(results) as typeof withCounts;
  withC.questions[0]!.proof.c = withC.questions[1]!.proof.c;
  t.match(await checkResults(api, election, withC), { ok: false, questions: [{ ok: false, check: '8.4b' }] }, 'a ciphertext that is not the board’s is caught (8.4b)');

  t.match(await checkResults(api, election, { ...(results as object), fingerprint: '00'.repeat(32) }), { ok: false, reason: /another election/ });
  t.match(await checkResults(api, election, { ...(results as object), ballotsCounted: 2 }), { ok: false, board: { ok: false, reason: /counted 3 ballots/ } });
  t.match(await checkResults(api, election, null), { ok: false, reason: /not a results document/ });
});

t.test('the tracker index: search, pages newest first, replaced ballots', async (t) => {
  const idx = new TrackerIndex();
  const tr = (n: number) => n.toString(16).padStart(64, '0');
  const ballot = (height: number, n: number, key: string) => ({ height, type: 'ballot', timestamp: 1000 + height, payload: { tracker: tr(n), ballot: { token: { publicKey: key } } } });
  idx.add([{ height: 0, type: 'setup', timestamp: 1, payload: {} }, ballot(1, 0xabc1, 'k1'), { height: 2, type: 'token-issued', timestamp: 2, payload: {} }, ballot(3, 0xabc2, 'k2')]);
  idx.add([ballot(3, 0xabc2, 'k2'), ballot(4, 0xdef3, 'k1')]);
  t.equal(idx.size, 3, 'three ballots; an entry seen twice counts once');
  t.equal(idx.readUpTo, 5);
  const all = idx.page('', 0, 2);
  t.same(
    all.rows.map((r) => r.height),
    [4, 3],
    'newest first',
  );
  t.equal(all.pages, 2);
  t.same(
    idx.page('', 9, 2).rows.map((r) => r.height),
    [1],
    'a page past the end is clamped to the last',
  );
  t.equal(idx.page('', 1, 2).rows[0]!.replacedBy, 4, 'the earlier ballot of a token is marked replaced by the later one');
  t.equal(idx.page(' AB C', 0, 10).matching, 2, 'search ignores case and spaces');
  t.equal(idx.page('zzz', 0, 10).matching, 0);
  t.equal(idx.page('zzz', 0, 10).pages, 1, 'an empty result still has one page');
  t.equal(normalizeTrackerQuery(' 0128 BAC5 '), '0128bac5');
});

t.test('cast-or-audit: the opening shows the choice, and catches a lie', async (t) => {
  const election = fixtureElection({ electionId: 'audit', questions: [{ id: 'q1', options: 3, min: 1, max: 1 }, { id: 'q2', options: 3, min: 0, max: 2 }] });
  const enc = createBallot(election, [[2], [0, 1]], fixtureToken(election));
  const a = auditBallot(election, enc, [[2], [1, 0]]);
  t.equal(a.ok, true, 'an honest encryption holds the choice');
  t.same(
    a.answers.map((x) => x.holds),
    [['Option 2'], ['Option 0', 'Option 1']],
  );
  t.equal(a.record.format, 'tallyboard-audit/1');
  t.equal(a.record.answers[0]!.m, String(enc.plaintexts[0]), 'the audit file carries the plaintext');
  t.equal(auditBallot(election, enc, [[1], [0, 1]]).ok, false, 'an encryption of another choice is caught');
  t.equal(auditBallot(election, enc, [[1], [0, 1]]).answers[0]!.asChosen, false);
  const lying = { ...enc, randomness: [enc.randomness[0]! + 1n, enc.randomness[1]!] };
  t.equal(auditBallot(election, lying, [[2], [0, 1]]).answers[0]!.matches, false, 'randomness that does not open the ciphertext is caught');
});

t.test('the words of the booth', async (t) => {
  t.equal(ruleText({ min: 1, max: 1 }), 'Choose one option.');
  t.equal(ruleText({ min: 2, max: 2 }), 'Choose exactly 2 options.');
  t.equal(ruleText({ min: 0, max: 1 }), 'Choose one option, or none to leave this question blank.');
  t.equal(ruleText({ min: 0, max: 3 }), 'Choose up to 3 options, or none to leave this question blank.');
  t.equal(ruleText({ min: 1, max: 3 }), 'Choose from 1 to 3 options.');
  t.ok(isSingleChoice({ min: 1, max: 1 }));
  t.notOk(isSingleChoice({ min: 0, max: 1 }), 'a question that may be left blank uses checkboxes');
  const q = { title: 'Q', min: 2, max: 3 };
  t.equal(selectionProblem(q, 2), undefined);
  t.equal(selectionProblem(q, 1), '“Q”: choose 1 more option (at least 2).');
  t.equal(selectionProblem(q, 0), '“Q”: choose 2 more options (at least 2).');
  t.equal(selectionProblem(q, 5), '“Q”: you chose 5 options; the most is 3. Remove 2.');
  t.equal(selectionProblem({ title: 'Q', min: 1, max: 1 }, 0), '“Q”: choose an option.');
  t.ok(atMaximum({ max: 2 }, 2));

  t.equal(formatDuration(0), '0 s');
  t.equal(formatDuration(-5), '0 s');
  t.equal(formatDuration(65_000), '1 min 05 s');
  t.equal(formatDuration(3_723_000), '1 h 02 min');
  t.equal(formatDuration(90_000_000), '1 day 1 h');
  t.equal(formatDuration(3 * 86_400_000), '3 days 0 h');
  t.same(scheduleText(1000, 5000, 0), { phase: 'before', text: 'Voting opens in 1 s' });
  t.same(scheduleText(1000, 65_000, 4000), { phase: 'open', text: 'Voting closes in 1 min 01 s' });
  t.same(scheduleText(1000, 5000, 5000), { phase: 'after', text: 'Voting has closed' }, 'the end time itself is closed (τ < end)');
  t.equal(clockOffset('2026-01-01T00:00:10.000Z', Date.parse('2026-01-01T00:00:00.000Z')), 10_000);
  t.equal(clockOffset('not a date', 5), 0);

  t.match(voterMessage(new TallyError('UNAUTHORIZED', 'x'), 'login'), /login or the password is not correct/);
  t.match(voterMessage(new TallyError('UNAUTHORIZED', 'x'), 'token'), /session has expired/);
  t.match(voterMessage(new TallyError('TOKEN_ALREADY_ISSUED', 'x'), 'token'), /already been issued/);
  t.match(voterMessage(new TallyError('RATE_LIMITED', 'x'), 'login'), /Wait a minute/);
  t.match(voterMessage(new TallyError('ELECTION_CLOSED', 'x'), 'cast'), /Voting is closed/);
  t.match(voterMessage(new TallyError('BOARD_UNAVAILABLE', 'x'), 'cast'), /Try again.*cannot count twice/);
  t.match(voterMessage(new TallyError('CONFLICT', 'some detail'), 'cast'), /some detail \(CONFLICT\)/, 'an unexpected code keeps the server’s words and code');
  t.match(voterMessage(new Error('boom'), 'cast'), /boom.*Reload/);
  t.match(alreadyVotedMessage(true), /token file/);
  t.match(alreadyVotedMessage(false), /If you voted, your ballot stands/);
  t.match(alreadyVotedMessage(false), /did not cast a ballot .*load its token file/, 'regression: an issued token may be unused; the message says how to vote with it (#9.4)');
});
