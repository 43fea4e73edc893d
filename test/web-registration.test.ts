/**
 * "Check my registration" in a real browser (issue 10.2, spec §10.3): on the booth and on the
 * board page, a voter who gives their login and reference salt sees whether they are in the
 * committed register and whether a token was issued in their name — an abstainer for whom the
 * organization obtained a token sees "yes". Chromium, real servers on loopback.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startWebElection } from './helpers/web-election.js';
import { WEB_CREDENTIALS } from './helpers/web-election.js';
import { VoterClient } from '../src/client/voter-client.js';
import { createBallot } from '../src/election/ballot.js';
import { registerRef } from '../src/election/register.js';
import { parseHex, toHex } from '../src/wire.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function check(page: Page, login: string, salt: string): Promise<string> {
  await page.fill('#reg-login', login);
  await page.fill('#reg-salt', salt);
  await page.click('#reg-button');
  await page.waitForFunction(() => /token was issued|could not|Enter|salt is/.test(document.getElementById('reg-result')?.textContent ?? ''));
  return (await page.textContent('#reg-result')) ?? '';
}

t.test('the booth and the board page show whether a token was issued in the voter’s name', async (t) => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI) t.fail(`${CHROMIUM} is missing`);
    else t.plan(0, `${CHROMIUM} is missing; the browser test is skipped`);
    return;
  }
  const e = await startWebElection(3);
  t.teardown(() => e.stop());
  // voter1 votes; voter2 abstains and the organization stuffs in their name; voter3 abstains.
  const client = new VoterClient({ server: e.url });
  const token = await client.obtainToken(e.election, await client.login('voter1', e.passwords.get('voter1')!));
  await client.cast(e.election, createBallot(e.election, [[0], []], token).ballot);
  const ref2 = registerRef(e.election.manifest.electionId, 'voter2', parseHex(e.salts.get('voter2')!, 'salt', 32));
  const proof = (await (await fetch(`${e.url}/api/org/register/proof/${toHex(ref2)}`)).json()) as { index: number; path: string[] };
  const rec = await fetch(`${e.url}/internal/token-issued`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${WEB_CREDENTIALS.serviceToken}` },
    body: JSON.stringify({ refs: [{ ref: toHex(ref2), index: proof.index, path: proof.path }] }),
  });
  t.equal(rec.status, 200, 'the organization records an issuance in voter2’s name');
  const stuffedAt = ((await rec.json()) as { height: number }).height;

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  const page = await browser.newPage();

  await page.goto(`${e.url}/board`);
  await page.waitForFunction(() => /\d/.test(document.getElementById('fact-voters')?.textContent ?? ''));
  t.match(await page.textContent('#fact-voters'), /^3 \(committed at height 1\)/, 'the board page shows N, the voters in the committed register');
  const v2 = await check(page, 'voter2', e.salts.get('voter2')!);
  t.match(v2, /You are in the committed register/, 'board page: voter2 is in the register');
  t.match(v2, new RegExp(`token was issued in your name: yes, at board height ${stuffedAt}`), 'board page: the abstainer voter2 sees the token issued in their name');
  const v3 = await check(page, 'voter3', e.salts.get('voter3')!.toUpperCase());
  t.match(v3, /token was issued in your name: no/, 'board page: voter3 (abstained) sees no token');
  const wrong = await check(page, 'voter3', e.salts.get('voter1')!);
  t.match(wrong, /You are NOT in the committed register/, 'a wrong salt: not in the register');

  await page.goto(`${e.url}/`);
  await page.waitForSelector('#reg-form');
  const v1 = await check(page, 'voter1', e.salts.get('voter1')!);
  t.match(v1, /You are in the committed register[\s\S]*token was issued in your name: yes/, 'booth: voter1 (who voted) sees their own issuance');
});
