/**
 * The web pages of an election (issue #6), served by the ballot server itself: the voting
 * booth at `/`, the public board at `/board`, the results at `/results`, and their static
 * files under `/assets/*`. No separate web server and no third-party origin: a voter's browser
 * talks to the election's one origin only.
 *
 * Why the files are read once, at build time of the app, into memory: the set is small and
 * fixed (three pages, one stylesheet, one script bundle and its source map), so serving them is
 * a map lookup. A request path is never joined onto a directory, so no path can escape it, and
 * a missing bundle is an error when the server is built, not a broken page when a voter
 * arrives.
 *
 * Every page response carries a strict Content-Security-Policy: scripts, styles, workers and
 * connections from this origin only, no inline script or style, no plugins, no framing, and
 * forms that post nowhere else. The pages are written for it (web/pages/*.html hold no inline
 * script, no `style` attribute, no event-handler attribute); test/web-pages.test.ts checks both.
 *
 * The pages need the organization's routes on the same origin (`/api/org/*`), which
 * `buildElectionServers(…, { singleOrigin: true })` provides; see docs/web.md for a deployment
 * with separate processes behind one reverse proxy.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TallyError } from '../errors.js';
import { ERROR_RESPONSES } from '../http/error-handler.js';

/** Options of the web pages. */
export interface WebPagesOptions {
  /**
   * Directory of the built pages (`index.html`, `board.html`, `results.html`, `assets/`).
   * Default: `dist/web` of this package, which `npm run build` produces.
   */
  readonly dir?: string;
}

/** The Content-Security-Policy of every page and asset (see the file header). */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Pages: route → file in the web directory. */
export const WEB_PAGES = { '/': 'index.html', '/board': 'board.html', '/results': 'results.html', '/audit': 'audit.html' } as const;

/** Names an asset may have: lowercase words, one extension we know the type of. */
const ASSET_NAME = '^[a-z0-9][a-z0-9.-]{0,63}\\.(js|mjs|css|map|svg|txt)$';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  // the single-file auditor, offered for download (cli/build-auditor.mjs)
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  txt: 'text/plain; charset=utf-8',
};

/** Largest file loaded (the bundle is ~0.2 MB; its source map somewhat more). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** Root of this package: the nearest ancestor directory holding package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new TallyError('INTERNAL', 'web pages: cannot find the package root');
    dir = up;
  }
}

/** Default directory of the built pages. */
export function defaultWebDir(): string {
  return join(packageRoot(), 'dist', 'web');
}

/** One file of the pages, read into memory. */
export interface WebFile {
  readonly body: Buffer;
  readonly type: string;
}

function typeOf(name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1);
  const t = CONTENT_TYPES[ext];
  if (t === undefined) throw new TallyError('INTERNAL', `web pages: no content type for ${name}`);
  return t;
}

function load(path: string, name: string): WebFile {
  if (!existsSync(path)) throw new TallyError('NOT_FOUND', `web pages: ${path} is missing; run \`npm run build\` to build the pages`);
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES) throw new TallyError('TOO_LARGE', `web pages: ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  return { body: readFileSync(path), type: typeOf(name) };
}

/**
 * Read the built pages into memory.
 * @param dir - directory of the built pages
 * @returns the pages by route and the assets by name
 * @throws TallyError NOT_FOUND if a page or the bundle is missing (the pages were not built)
 */
export function loadWebFiles(dir: string): WebFiles {
  const pages = new Map<string, WebFile>();
  if (!existsSync(dir)) throw new TallyError('NOT_FOUND', `web pages: ${dir} is missing; run \`npm run build\` to build the pages`);
  for (const [route, file] of Object.entries(WEB_PAGES)) pages.set(route, load(join(dir, file), file));
  const assets = new Map<string, WebFile>();
  const assetDir = join(dir, 'assets');
  if (!existsSync(assetDir)) throw new TallyError('NOT_FOUND', `web pages: ${assetDir} is missing; run \`npm run build\``);
  const re = new RegExp(ASSET_NAME);
  for (const name of readdirSync(assetDir).sort()) if (re.test(name)) assets.set(name, load(join(assetDir, name), name));
  if (!assets.has('tallyboard.js') || !assets.has('style.css')) throw new TallyError('NOT_FOUND', `web pages: the bundle or stylesheet is missing in ${assetDir}; run \`npm run build\``);
  return { pages, assets };
}

/** The built pages, by route, and their assets, by name. */
export interface WebFiles {
  readonly pages: ReadonlyMap<string, WebFile>;
  readonly assets: ReadonlyMap<string, WebFile>;
}

/** Headers every page and asset carries. */
function secure(reply: FastifyReply, file: WebFile): FastifyReply {
  return reply
    .header('content-security-policy', WEB_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('x-frame-options', 'DENY')
    // Pages and the bundle change together when the server is upgraded: always revalidate.
    .header('cache-control', 'no-cache')
    .type(file.type);
}

const pageSchema = (summary: string) =>
  ({
    summary,
    tags: ['web'],
    response: { 200: { type: 'string', description: 'an HTML page (text/html)' }, ...ERROR_RESPONSES },
  }) as const;

const assetSchema = {
  summary: 'A static file of the web pages: the script bundle, its source map, the stylesheet',
  tags: ['web'],
  params: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: { name: { type: 'string', pattern: ASSET_NAME, maxLength: 68 } },
  },
  response: { 200: { type: 'string', description: 'the file, with its content type' }, ...ERROR_RESPONSES },
} as const;

/**
 * Register the page and asset routes on `app` (call inside the plugin that holds the API
 * routes, so that the OpenAPI document lists them too).
 * @param app - the ballot server's fastify instance (or an encapsulated child of it)
 * @param files - the pages, from {@link loadWebFiles}
 */
export function registerWebRoutes(app: FastifyInstance, files: WebFiles): void {
  const { pages, assets } = files;
  const titles: Record<keyof typeof WEB_PAGES, string> = { '/': 'The voting booth', '/board': 'The public bulletin board', '/results': 'The results', '/audit': 'Check a cast-or-audit file' };
  for (const route of Object.keys(WEB_PAGES) as (keyof typeof WEB_PAGES)[]) {
    const file = pages.get(route)!;
    app.get(route, { schema: pageSchema(titles[route]) }, async (_req, reply) => secure(reply, file).send(file.body));
  }
  app.get<{ Params: { name: string } }>('/assets/:name', { schema: assetSchema }, async (req, reply) => {
    const file = assets.get(req.params.name);
    if (file === undefined) throw new TallyError('NOT_FOUND', `no asset ${req.params.name}`);
    return secure(reply, file).send(file.body);
  });
}
