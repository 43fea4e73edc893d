/**
 * The web pages as the ballot server serves them (issue #6), through app.inject: the routes,
 * their content types and security headers, the strict Content-Security-Policy and pages that
 * need no exception to it, a bundle without Node built-ins or server code, and the API left
 * exactly as it was (the pages are off unless asked for).
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { BallotBox } from '../src/ballot/ballot-box.js';
import { buildBallotApp } from '../src/ballot/app.js';
import { WEB_CSP, WEB_PAGES, loadWebFiles } from '../src/web/web-routes.js';
import { isTallyError } from '../src/errors.js';
import { boardKeyFixture, fixtureElection } from './helpers/fixtures.js';
import { ensureWebBuilt } from './helpers/web-election.js';

const webDir = ensureWebBuilt();

async function app(web: boolean) {
  const election = fixtureElection({ electionId: 'web-pages' });
  const board = await Board.open(new MemoryBoardStore(), { electionId: election.manifest.electionId, boardSecretKey: boardKeyFixture().secretKey });
  const box = await BallotBox.open({ board, election });
  return buildBallotApp({ box, adminToken: 'admin-token-0123456789', serviceToken: 'service-token-0123456789', autoClose: false, ...(web ? { web: { dir: webDir } } : {}) });
}

t.test('pages and assets: content types and security headers', async (t) => {
  const a = await app(true);
  t.teardown(() => a.close());
  for (const route of Object.keys(WEB_PAGES)) {
    const res = await a.inject({ method: 'GET', url: route });
    t.equal(res.statusCode, 200, `${route} is served`);
    t.equal(res.headers['content-type'], 'text/html; charset=utf-8', `${route} is HTML`);
    t.equal(res.headers['content-security-policy'], WEB_CSP, `${route} has the CSP`);
    t.equal(res.headers['x-content-type-options'], 'nosniff');
    t.equal(res.headers['x-frame-options'], 'DENY');
    t.equal(res.headers['referrer-policy'], 'no-referrer');
    t.match(res.body, /<script defer src="\/assets\/tallyboard\.js"><\/script>/, `${route} loads the bundle`);
  }
  const types: Record<string, string> = {
    'tallyboard.js': 'text/javascript; charset=utf-8',
    'tallyboard.js.map': 'application/json; charset=utf-8',
    'style.css': 'text/css; charset=utf-8',
    'icon.svg': 'image/svg+xml',
  };
  for (const [name, type] of Object.entries(types)) {
    const res = await a.inject({ method: 'GET', url: `/assets/${name}` });
    t.equal(res.statusCode, 200, `${name} is served`);
    t.equal(res.headers['content-type'], type, `${name}: ${type}`);
    t.equal(res.headers['content-security-policy'], WEB_CSP);
  }
  const head = await a.inject({ method: 'HEAD', url: '/board' });
  t.equal(head.statusCode, 200, 'HEAD works');
});

t.test('the CSP is strict and the pages need no exception to it', async (t) => {
  t.match(WEB_CSP, "default-src 'self'");
  t.match(WEB_CSP, "script-src 'self'");
  t.notMatch(WEB_CSP, /unsafe-inline|unsafe-eval|\*|https?:/, 'no inline code, no eval, no other origin');
  for (const file of Object.values(WEB_PAGES)) {
    const html = readFileSync(join(webDir, file), 'utf8');
    t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${file}: no inline script`);
    t.notMatch(html, /\son[a-z]+\s*=/i, `${file}: no event-handler attribute`);
    t.notMatch(html, /\sstyle\s*=/i, `${file}: no style attribute`);
    t.notMatch(html, /<style/i, `${file}: no style element`);
    t.notMatch(html, /(src|href)="(https?:)?\/\//i, `${file}: nothing from another origin`);
    t.match(html, /<html lang="en">/, `${file}: declares its language`);
    t.match(html, /name="viewport" content="width=device-width, initial-scale=1"/, `${file}: phone viewport`);
  }
});

t.test('the bundle: no Node built-ins, no server code, within budget', async (t) => {
  const js = readFileSync(join(webDir, 'assets', 'tallyboard.js'), 'utf8');
  t.ok(js.length < 400 * 1024, `the bundle is ${js.length} bytes`);
  t.notMatch(js, /require\(["']node:|from ?["']node:|import\(["']node:/, 'no Node built-in is imported');
  const map = JSON.parse(readFileSync(join(webDir, 'assets', 'tallyboard.js.map'), 'utf8')) as { sources: string[] };
  const sources = map.sources.join('\n');
  for (const forbidden of ['paillier-keygen', 'blind-rsa-keygen', 'bulletin/store', 'bulletin/export', 'bulletin/import', 'src/org/', 'src/verifier/', 'src/server/', 'src/ballot/app', 'src/ballot/ballot-box']) {
    t.notOk(sources.includes(forbidden), `${forbidden} is not in the bundle`);
  }
  for (const needed of ['src/client/voter-client.ts', 'src/election/ballot.ts', 'src/crypto/paillier.ts', 'src/ballot/receipt.ts', 'src/election/partial-decryption.ts', 'auditor/audit.ts', 'auditor/inline-batch.ts', 'auditor/records.ts', 'bulletin/line-reader.ts']) {
    t.ok(sources.includes(needed), `${needed} is in the bundle: the same code as the command line`);
  }
});

t.test('only known assets, by name; nothing outside the directory', async (t) => {
  const a = await app(true);
  t.teardown(() => a.close());
  for (const url of ['/assets/nope.js', '/assets/..%2Fpackage.json', '/assets/../index.html', '/assets/%2e%2e/index.html', '/assets/tallyboard.ts', '/assets/', '/index.html', '/board/']) {
    const res = await a.inject({ method: 'GET', url });
    t.ok(res.statusCode === 404 || res.statusCode === 400, `${url}: ${res.statusCode}`);
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8', `${url}: a JSON error, not a page`);
    t.notMatch(res.body, /"name":\s*"tallyboard"/, `${url}: no file content leaks`);
  }
});

t.test('the API is unchanged, and the pages are off unless asked for', async (t) => {
  const plain = await app(false);
  t.teardown(() => plain.close());
  t.equal((await plain.inject({ method: 'GET', url: '/' })).statusCode, 404, 'no booth without the web option');
  t.equal((await plain.inject({ method: 'GET', url: '/assets/tallyboard.js' })).statusCode, 404);
  const web = await app(true);
  t.teardown(() => web.close());
  for (const url of ['/api/health', '/api/election', '/api/board/checkpoint', '/api/board/entries?from=0&limit=1']) {
    const a = await plain.inject({ method: 'GET', url });
    const b = await web.inject({ method: 'GET', url });
    t.equal(b.statusCode, a.statusCode, `${url}: same status`);
    t.equal(b.headers['content-type'], a.headers['content-type'], `${url}: same type`);
    t.notOk(b.headers['content-security-policy'], `${url}: API answers are not pages`);
  }
  const doc = (await web.inject({ method: 'GET', url: '/api/openapi.json' })).json() as { paths: Record<string, unknown> };
  t.ok(doc.paths['/board'] && doc.paths['/assets/{name}'], 'the OpenAPI document lists the web routes with their schemas');
});

t.test('pages that were not built fail when the app is built, not when a voter comes', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'tallyboard-web-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  for (const dir of [empty, join(empty, 'missing')]) {
    let err: unknown;
    try {
      loadWebFiles(dir);
    } catch (e) {
      err = e;
    }
    t.ok(isTallyError(err, 'NOT_FOUND'), `${dir}: NOT_FOUND`);
    t.match((err as Error).message, /npm run build/, 'and the message says how to build them');
  }
});
