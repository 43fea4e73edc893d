/**
 * How long the results page's "Audit the whole election in this browser" (issue 12.6) takes in
 * headless Chromium over a board of BENCH_BROWSER_BALLOTS ballots (default 1,000; one question,
 * 4 options, 2048-bit fixture key), served by a real ballot server with the web pages.
 *
 * The board is built with bench/audit-board.ts (pooled randomness: valid ballots that cost the
 * verifier exactly what real ones do), loaded into a ballot server, and the page is driven as a
 * person would: open /results, press the button, wait for the verdict. Prints the page's own
 * figure (download and audit in the worker) and the wall time from the click to the verdict.
 * A measurement, not a test: `npm run bench:browser` (after `npm run build`).
 */
import { readFileSync, createReadStream } from 'node:fs';
import { chromium } from 'playwright-core';
import { PaillierSecretKey } from '../src/crypto/paillier.js';
import { blindRsaPublicKeyOf, blindRsaPublicKeyToJson, blindRsaSecretKeyFromJson } from '../src/crypto/blind-rsa.js';
import { ed25519KeyPair } from '../src/crypto/ed25519.js';
import { toHex } from '../src/wire.js';
import { parseManifest } from '../src/election/manifest.js';
import { SPEC_VERSION } from '../src/crypto/hash.js';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { importBoard } from '../bulletin/import.js';
import { BallotBox } from '../src/ballot/ballot-box.js';
import { buildBallotApp } from '../src/ballot/app.js';
import { defaultWebDir } from '../src/web/web-routes.js';
import { buildAuditBoard } from './audit-board.js';

const BALLOTS = Number(process.env.BENCH_BROWSER_BALLOTS ?? 1000);
const root = new URL('../../', import.meta.url);
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`test/fixtures/${name}`, root), 'utf8')).secretKey;
/** The manifest's keys.election of the fixture key (1-of-1, spec §2.1). */
const electionKeyJson = () => JSON.parse(readFileSync(new URL('test/fixtures/election-key-2048-a.json', root), 'utf8')).electionKey;

const sk = PaillierSecretKey.fromJSON(fixture('election-key-2048-a.json'));
const rsa = blindRsaSecretKeyFromJson(fixture('blind-rsa-2048.json'));
const boardKey = ed25519KeyPair(new Uint8Array(32).fill(7));
const election = parseManifest({
  version: SPEC_VERSION,
  electionId: 'bench-browser',
  title: 'Benchmark',
  questions: [{ id: 'q', title: 'Q', options: ['a', 'b', 'c', 'd'].map((id) => ({ id, title: id })), min: 1, max: 1 }],
  schedule: { start: '2026-01-01T00:00:00.000Z', end: '2026-12-31T00:00:00.000Z' },
  maxVoters: Math.max(1000, BALLOTS),
  revoting: false,
  keys: {
    election: electionKeyJson(),
    tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(rsa)),
    board: toHex(boardKey.publicKey),
  },
});

process.stderr.write(`building a board of ${BALLOTS} ballots (2048 bits)…\n`);
const file = await buildAuditBoard(election, { paillier: sk, issuer: rsa, boardSecretKey: boardKey.secretKey }, BALLOTS, (k) => {
  if (k % 250 === 0) process.stderr.write(`  ${k}\n`);
}, true);
const store = new MemoryBoardStore();
await importBoard(createReadStream(file), { store });
const board = await Board.open(store, { electionId: election.manifest.electionId, boardSecretKey: boardKey.secretKey });
const box = await BallotBox.open({ board, election });
const app = buildBallotApp({ box, adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789', autoClose: false, web: { dir: defaultWebDir() } });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
try {
  const page = await browser.newPage();
  await page.goto(`${url}/results`);
  await page.getByText('✓ Verified in your browser.').waitFor({ timeout: 0 });
  const t0 = performance.now();
  await page.getByRole('button', { name: 'Audit the whole election in this browser' }).click();
  await page.locator('#browser-audit-verdict[data-verdict]').waitFor({ timeout: 0 });
  const wall = (performance.now() - t0) / 1000;
  const verdict = await page.locator('#browser-audit-verdict').getAttribute('data-verdict');
  const rate = await page.locator('#browser-audit-rate').innerText();
  if (verdict !== 'verified') throw new Error(`the benchmark board did not verify: ${await page.locator('#browser-audit-verdict').innerText()}`);
  console.log(`bench browser-audit-${BALLOTS}-ballots-2048 ${wall.toFixed(1)} s (click to verdict; page: ${rate})`);
  console.log(`bench browser-audit-${BALLOTS}-ballots-2048-rate ${(BALLOTS / wall).toFixed(1)} ballots/s`);
} finally {
  await browser.close();
  await app.close();
  await board.close();
}
