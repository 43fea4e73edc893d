/**
 * `tallyboard ceremony` and `tallyboard trustee init` as an official runs them: the COMPILED CLI
 * in child processes, non-interactively (one passphrase file per trustee).
 *
 * Fast part: every refusal happens BEFORE the (slow) safe-prime search and writes nothing —
 * threshold above the trustee count, the wrong number of passphrase files, a short or repeated
 * passphrase, an output that would overwrite an earlier ceremony, a trustee parameters file whose
 * Π^prm fails. The whole ceremony at 2048 bits, with a trustee's own parameters, and a trustee
 * decrypting with the resulting share file, is test/slow/ceremony-cli.slow.ts.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTrusteeParams, TRUSTEE_PARAMS_FORMAT } from '../src/trustee/trustee-params.js';
import { generateRingPedersen, ringPedersenToJson } from '../src/crypto/modulus-proofs.js';
import { readFileSync } from 'node:fs';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const ROOT = repoRoot();
const CLI = join(ROOT, 'dist', 'cli', 'tallyboard.js');
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TALLYBOARD_')));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The committed 2048-bit auxiliary safe primes (test/fixtures/threshold-moduli.json). */
function auxParams(): unknown {
  const fx = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'threshold-moduli.json'), 'utf8')) as Record<string, { p: string; q: string }>;
  const { params, proof } = generateRingPedersen(BigInt('0x' + fx.aux2048!.p), BigInt('0x' + fx.aux2048!.q));
  return { format: TRUSTEE_PARAMS_FORMAT, trustee: 'Trustee 1', ringPedersen: ringPedersenToJson(params, proof) };
}

t.test('ceremony: every refusal comes before the generation and writes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-ceremony-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pass = (name: string, value: string) => {
    const f = join(dir, name);
    writeFileSync(f, `${value}\n`);
    return f;
  };
  const a = pass('a.txt', 'first trustee passphrase');
  const b = pass('b.txt', 'second trustee passphrase');
  const c = pass('c.txt', 'third trustee passphrase');
  const short = pass('short.txt', 'too short');
  const out = join(dir, 'out');

  const cases: { name: string; args: string[]; code: string; says: RegExp }[] = [
    { name: 'threshold above the trustees', args: ['--trustees', '2', '--threshold', '3', '--passphrase-file', a, '--passphrase-file', b], code: 'USAGE', says: /--threshold 3 is more than --trustees 2/ },
    { name: 'one passphrase file for three trustees', args: ['--trustees', '3', '--threshold', '2', '--passphrase-file', a], code: 'USAGE', says: /one per trustee \(3\)/ },
    { name: 'a short passphrase', args: ['--trustees', '2', '--threshold', '2', '--passphrase-file', a, '--passphrase-file', short], code: 'OUT_OF_RANGE', says: /trustee 2 .*at least 12/ },
    { name: 'two trustees with one passphrase', args: ['--trustees', '3', '--threshold', '2', '--passphrase-file', a, '--passphrase-file', b, '--passphrase-file', a], code: 'OUT_OF_RANGE', says: /trustee 3 .*same as an earlier trustee/ },
    { name: 'no terminal and no passphrase files', args: ['--trustees', '1', '--threshold', '1'], code: 'USAGE', says: /one --passphrase-file per trustee/ },
    { name: 'a bits value outside the list', args: ['--trustees', '1', '--threshold', '1', '--bits', '1024', '--passphrase-file', a], code: 'USAGE', says: /2048, 3072 or 4096/ },
  ];
  for (const k of cases) {
    const r = await run(['ceremony', '--out', out, '--bits', '2048', ...k.args]);
    t.equal(r.code, 1, `${k.name}: exit 1`);
    t.match(r.stderr, new RegExp(`error ${k.code}: `), `${k.name}: ${k.code}`);
    t.match(r.stderr, k.says, `${k.name}: the message says why`);
    t.notMatch(r.stderr, /safe prime/, `${k.name}: refused before any generation`);
    t.notOk(existsSync(out) && readdirSync(out).length > 0, `${k.name}: nothing written`);
  }

  // An earlier ceremony's output is never overwritten.
  rmSync(out, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(out);
  writeFileSync(join(out, 'trustee-2.share.json'), '{}');
  const r = await run(['ceremony', '--out', out, '--bits', '2048', '--trustees', '3', '--threshold', '2', '--passphrase-file', a, '--passphrase-file', b, '--passphrase-file', c]);
  t.equal(r.code, 1);
  t.match(r.stderr, /error CONFLICT: .*trustee-2\.share\.json already exists/);
  t.same(readdirSync(out), ['trustee-2.share.json'], 'nothing else written');

  // A trustee's parameters whose Π^prm fails are refused, naming the check, before the generation.
  const params = auxParams() as { ringPedersen: { z: string[] } };
  const z0 = params.ringPedersen.z[0]!;
  params.ringPedersen.z[0] = (z0[0] === '0' ? '1' : '0') + z0.slice(1);
  const bad = join(dir, 'bad-params.json');
  writeFileSync(bad, JSON.stringify(params));
  rmSync(out, { recursive: true, force: true });
  const r2 = await run(['ceremony', '--out', out, '--bits', '2048', '--trustees', '2', '--threshold', '2', '--trustee-params', bad, '--passphrase-file', a, '--passphrase-file', b]);
  t.equal(r2.code, 1);
  t.match(r2.stderr, /error BAD_MODULUS_PROOF: trustee parameters of "Trustee 1": 13\.6c/);
  t.notOk(existsSync(out), 'nothing written');
});

t.test('trustee parameters: the reader verifies Π^prm and refuses unknown members', async (t) => {
  const good = auxParams();
  const read = readTrusteeParams(good);
  t.equal(read.trustee, 'Trustee 1');
  t.throws(() => readTrusteeParams({ ...(good as object), extra: 1 }), { code: 'MALFORMED' });
  t.throws(() => readTrusteeParams({ ...(good as object), format: 'tallyboard-trustee-params/0' }), { code: 'MALFORMED' });
  const swapped = JSON.parse(JSON.stringify(good)) as { ringPedersen: { s: string; t: string } };
  [swapped.ringPedersen.s, swapped.ringPedersen.t] = [swapped.ringPedersen.t, swapped.ringPedersen.s];
  t.throws(() => readTrusteeParams(swapped), { code: 'BAD_MODULUS_PROOF' });
});

t.test('trustee init refuses to overwrite its output', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-trustee-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'params.json');
  writeFileSync(f, 'keep me');
  const r = await run(['trustee', 'init', '--name', 'T', '--out', f]);
  t.equal(r.code, 1);
  t.match(r.stderr, /error CONFLICT: .*already exists/);
  t.equal(readFileSync(f, 'utf8'), 'keep me');
});
