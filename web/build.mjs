/**
 * Builds the web pages (issue #6) into dist/web/: the three HTML pages and the stylesheet
 * copied from web/pages/, and ONE script bundle, dist/web/assets/tallyboard.js, made from
 * web/src/main.ts and the project's own browser-safe modules (the same crypto and client code
 * as the command line). Run by `npm run build` after tsc has type-checked everything.
 *
 * Why esbuild (exact-pinned devDependency): bundling TypeScript ESM with bigint code,
 * `.js`-suffixed imports that name `.ts` files, and packages with "browser" entry points
 * (paillier-bigint) is exactly what it does, in ~100 ms, as one well-maintained binary with no
 * plugins; a hand-written bundler would be more code to trust than the pages themselves. It
 * only bundles and minifies: type-checking stays with tsc (web/tsconfig.json).
 *
 * Guards, each failing the build:
 *  - platform "browser": an import of a Node built-in (`node:*`) cannot resolve;
 *  - no Node-only module of the project may be reached (key generation, stores, export);
 *  - the bundle stays under a size budget, so a dependency that balloons is noticed.
 * The bundle's size and its largest inputs are printed; dist/web/assets/bundle-report.txt
 * keeps them.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
const assets = join(out, 'assets');
/** Bytes; the bundle is about 0.1 MB minified today. */
const BUDGET = 400 * 1024;
/** Project modules that use Node APIs or hold secrets of a server: never in a page. */
const FORBIDDEN = [/src\/crypto\/paillier-keygen\.ts$/, /src\/crypto\/blind-rsa-keygen\.ts$/, /bulletin\/(import|export)\.ts$/, /bulletin\/store\//, /src\/(org|verifier|server|http|node|demo)\//, /src\/ballot\/(app|ballot-box)\.ts$/];

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ['web/src/main.ts'],
  outfile: join(assets, 'tallyboard.js'),
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

const inputs = Object.keys(result.metafile.inputs);
const bad = inputs.filter((p) => p.startsWith('node:') || FORBIDDEN.some((re) => re.test(p)));
if (bad.length > 0) {
  console.error(`web build: Node-only modules reached the browser bundle:\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
const bundle = result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('tallyboard.js'))];
const bytes = statSync(join(assets, 'tallyboard.js')).size;
if (bytes > BUDGET) {
  console.error(`web build: the bundle is ${bytes} bytes, over the ${BUDGET}-byte budget`);
  process.exit(1);
}

for (const f of readdirSync(join(root, 'web', 'pages'))) {
  if (f.endsWith('.html')) copyFileSync(join(root, 'web', 'pages', f), join(out, f));
  else if (f.endsWith('.css') || f.endsWith('.svg')) copyFileSync(join(root, 'web', 'pages', f), join(assets, f));
}

const byPackage = new Map();
for (const [path, info] of Object.entries(bundle.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  const key = m ? m[1] : path.split('/').slice(0, 2).join('/');
  byPackage.set(key, (byPackage.get(key) ?? 0) + info.bytesInOutput);
}
const top = [...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
const report = [
  `tallyboard.js: ${bytes} bytes minified (${(bytes / 1024).toFixed(1)} KiB), ${inputs.length} inputs, no Node built-ins`,
  ...top.map(([k, v]) => `  ${String(v).padStart(7)}  ${k}`),
].join('\n');
writeFileSync(join(assets, 'bundle-report.txt'), report + '\n');
console.log(`web build: ${report.split('\n')[0]}`);
