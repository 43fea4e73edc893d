/**
 * The revote rule (spec §8.1) and the strict record parsers (spec §10.1).
 */
import t from 'tap';
import { CountedSet } from '../src/election/counted-set.js';
import { parseClose, parseTokenIssued, parseEncryptedTally, tokenIssuedPayload, closePayload, encryptedTallyPayload, parseSetup, setupPayload } from '../src/election/records.js';
import { fixtureElection, manifestJson } from './helpers/fixtures.js';
import { throwsCode } from './helpers/assert.js';

const tok = (i: number) => new Uint8Array(32).fill(i);
const tr = (i: number) => new Uint8Array(32).fill(100 + i);

t.test('without revoting: one ballot per token', async (t) => {
  const s = new CountedSet(false);
  t.same(s.add(1, tok(1), tr(1)), { ok: true });
  t.same(s.add(2, tok(2), tr(2)), { ok: true });
  const again = s.add(3, tok(1), tr(3));
  t.equal(again.ok, false);
  if (!again.ok) t.same([again.check, again.firstHeight], ['7b', 1], 'token reuse names the first ballot');
  const dup = s.add(4, tok(2), tr(2));
  if (!dup.ok) t.equal(dup.check, '7a', 'an identical ballot is a duplicate');
  t.equal(s.counted, 2);
  t.ok(s.counts(1, tok(1)) && s.counts(2, tok(2)));
  t.notOk(s.counts(3, tok(1)), 'a refused ballot is not recorded');
});

t.test('with revoting: the latest ballot of each token counts', async (t) => {
  const s = new CountedSet(true);
  s.add(1, tok(1), tr(1));
  s.add(2, tok(2), tr(2));
  t.same(s.add(3, tok(1), tr(3)), { ok: true, replaces: 1 });
  t.same(s.add(4, tok(1), tr(4)), { ok: true, replaces: 3 });
  const dup = s.add(5, tok(1), tr(1));
  t.equal(dup.ok, false, 're-casting an earlier identical ballot is refused');
  if (!dup.ok) t.same([dup.check, dup.firstHeight], ['7a', 1]);
  t.same([s.counts(1, tok(1)), s.counts(3, tok(1)), s.counts(4, tok(1)), s.counts(2, tok(2))], [false, false, true, true]);
  t.same([s.ballotEntries, s.counted, s.tokens], [4, 2, 2]);
});

t.test('record payloads: round trip and strictness', async (t) => {
  const election = fixtureElection();
  t.same(parseTokenIssued(tokenIssuedPayload({ refs: [{ ref: tr(1), index: 0, path: [] }], count: 3 })), { refs: [{ ref: tr(1), index: 0, path: [] }], count: 3 });
  t.same(parseClose(closePayload({ reason: 'schedule', ballots: 7 })), { reason: 'schedule', ballots: 7 });
  const et = { ciphertexts: [12345n], ballotsCounted: 1 };
  t.same(parseEncryptedTally(election, encryptedTallyPayload(election, et)), et);
  t.equal(parseSetup(setupPayload(manifestJson())).fingerprintHex, election.fingerprintHex);
  throwsCode(t, () => parseClose({ reason: 'schedule', ballots: 1, extra: 1 }), 'MALFORMED', 'unknown field');
  throwsCode(t, () => parseClose({ reason: 'later', ballots: 1 }), 'MALFORMED', 'bad reason');
  const item = (ref: string) => ({ ref, index: 0, path: [] });
  throwsCode(t, () => parseTokenIssued({ refs: [item('ab')], count: 1 }), 'MALFORMED', 'short ref');
  throwsCode(t, () => parseTokenIssued({ refs: [item('00'.repeat(32))] }), 'MALFORMED', 'missing count');
  throwsCode(t, () => parseTokenIssued({ refs: [item('00'.repeat(32))], count: -1 }), 'MALFORMED', 'negative count');
  throwsCode(t, () => parseTokenIssued({ refs: [], count: 1 }), 'MALFORMED', 'no reference');
  throwsCode(t, () => parseTokenIssued({ refs: [item('01'.repeat(32)), item('00'.repeat(32))], count: 2 }), 'MALFORMED', 'references out of order');
  throwsCode(t, () => parseTokenIssued({ refs: [item('00'.repeat(32)), item('00'.repeat(32))], count: 2 }), 'MALFORMED', 'a reference twice in one entry');
  throwsCode(t, () => parseTokenIssued({ ref: '00'.repeat(32), count: 1 }), 'MALFORMED', "tallyboard/1's single-reference form");
  throwsCode(t, () => parseEncryptedTally(election, { ciphertexts: [], ballotsCounted: 0 }), 'MALFORMED', 'wrong number of ciphertexts');
});
