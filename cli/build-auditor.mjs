/**
 * Builds the auditor for people without a clone of this repository (issue #9.7):
 *
 *   dist/auditor-dist/tallyboard-audit.mjs   ONE file, `node tallyboard-audit.mjs verify --board
 *                                       board.jsonl`: cli/auditor-standalone.ts with everything
 *                                       it imports (commander, noble, the verifier) bundled in;
 *                                       only Node built-ins are left as imports (checked here).
 *   dist/web/assets/tallyboard-audit.mjs  the same file, offered for download by the board and
 *                                       results pages next to board.jsonl
 *   dist/auditor-dist/package/          the installable package `tallyboard-auditor`: that file
 *                                       as its bin, a package.json with no dependencies, a
 *                                       README. `npm run pack:auditor` packs it into
 *                                       tallyboard-auditor-VERSION.tgz, installed with
 *                                       `npm install -g ./tallyboard-auditor-VERSION.tgz`.
 *   dist/auditor-dist/tallyboard-audit.mjs.sha256  its SHA-256, to compare with the published one
 *
 * Why a bundle: the main package holds the servers (fastify, LevelDB with native code) and is
 * private; an auditor needs none of that, and a single file is easy to read, hash and keep.
 * Run by `npm run build` after web/build.mjs (which empties dist/web).
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { builtinModules } from 'node:module';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const out = join(root, 'dist', 'auditor-dist');
const file = join(out, 'tallyboard-audit.mjs');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'package'), { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ['cli/auditor-standalone.ts'],
  outfile: file,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: ['node20'],
  minify: false, // an auditor may want to read it
  legalComments: 'inline',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.TALLYBOARD_AUDITOR_VERSION': JSON.stringify(pkg.version) },
  // Bundled CommonJS (commander) calls require() for built-ins: give the ESM file one.
  banner: { js: "import { createRequire as __tbCreateRequire } from 'node:module';\nconst require = __tbCreateRequire(import.meta.url);" },
});

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
const foreign = imports.filter((p) => !builtins.has(p));
if (foreign.length > 0) {
  console.error(`auditor build: the single-file auditor imports more than Node built-ins:\n  ${[...new Set(foreign)].join('\n  ')}`);
  process.exit(1);
}
const forbidden = Object.keys(result.metafile.inputs).filter((p) => /src\/(org|verifier|server|http|demo)\/|bulletin\/store\/|src\/crypto\/(paillier|blind-rsa)-keygen/.test(p));
if (forbidden.length > 0) {
  console.error(`auditor build: server or key-generation code reached the auditor:\n  ${forbidden.join('\n  ')}`);
  process.exit(1);
}
chmodSync(file, 0o755);
const bytes = readFileSync(file);
const sha256 = createHash('sha256').update(bytes).digest('hex');
writeFileSync(`${file}.sha256`, `${sha256}  tallyboard-audit.mjs\n`);

// The pages offer it next to board.jsonl.
mkdirSync(join(root, 'dist', 'web', 'assets'), { recursive: true });
copyFileSync(file, join(root, 'dist', 'web', 'assets', 'tallyboard-audit.mjs'));
writeFileSync(join(root, 'dist', 'web', 'assets', 'tallyboard-audit.sha256.txt'), `${sha256}  tallyboard-audit.mjs\n`);

// The installable package: the file as its bin, no dependencies.
const dir = join(out, 'package');
copyFileSync(file, join(dir, 'tallyboard-audit.mjs'));
chmodSync(join(dir, 'tallyboard-audit.mjs'), 0o755);
writeFileSync(
  join(dir, 'package.json'),
  `${JSON.stringify(
    {
      name: 'tallyboard-auditor',
      version: pkg.version,
      description: 'The Tallyboard auditor alone: verify an election from its board file, check a receipt or a cast-or-audit file. One file, no dependencies.',
      license: pkg.license,
      type: 'module',
      engines: pkg.engines,
      bin: { 'tallyboard-audit': 'tallyboard-audit.mjs' },
      files: ['tallyboard-audit.mjs', 'README.md'],
    },
    null,
    2,
  )}\n`,
);
writeFileSync(
  join(dir, 'README.md'),
  `# tallyboard-auditor ${pkg.version}

The Tallyboard auditor as one file with no dependencies (Node.js ≥ 20.19).

    tallyboard-audit verify --board board.jsonl --fingerprint FINGERPRINT
    tallyboard-audit receipt check receipt-….json --board board.jsonl
    tallyboard-audit audit check audit-….json --election board.jsonl

\`verify\` runs every verification step of the Tallyboard specification (spec/10-verification.md)
over a board export and exits 0 only if all pass. \`--fingerprint\` is the election's fingerprint,
as on your receipt and the election's pages: without it the audit says that the board is
consistent, not that it is the election you mean.

SHA-256 of tallyboard-audit.mjs: ${sha256}
`,
);
console.log(`auditor build: tallyboard-audit.mjs ${bytes.length} bytes, Node built-ins only, SHA-256 ${sha256.slice(0, 16)}…`);
