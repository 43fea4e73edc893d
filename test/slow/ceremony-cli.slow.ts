/**
 * Slow suite (`npm run test:slow`): the key ceremony as an official runs it, at the 2048-bit
 * floor with real safe-prime searches — the COMPILED CLI in child processes:
 *   1. a trustee runs `tallyboard trustee init` (its own ring-Pedersen parameters);
 *   2. `tallyboard ceremony --trustees 3 --threshold 2 --trustee-params …` with one passphrase
 *      file per trustee writes the public key and three share files (0600), prints the erasure
 *      instructions and what k means;
 *   3. `election create --election-key` puts it into the manifest; the public key passes every check of step 4 (it names the trustee's parameters), each
 *      share opens only with its own trustee's passphrase, and any 2 of the 3 decrypt a tally
 *      through the trustee's code path (openShareFile → partialDecryptTally), with proofs that
 *      verify and combine to the plaintext.
 * The fast refusals are in test/cli-ceremony.test.ts.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseElectionKey } from '../../src/election/election-key.js';
import { combineEntries, verifyPartialDecryptionEntry, type PartialDecryptionEntry } from '../../src/election/partial-decryption.js';
import { modPow, randomUnit } from '../../src/crypto/bigint.js';
import { openShareFile } from '../../src/trustee/share-decryptor.js';
import type { Election } from '../../src/election/manifest.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const CLI = join(repoRoot(), 'dist', 'cli', 'tallyboard.js');
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

t.test('ceremony 2-of-3 at 2048 bits with a trustee’s own parameters, then any 2 shares decrypt', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-ceremony-slow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const params = join(dir, 'trustee-1.params.json');
  const init = await run(['trustee', 'init', '--name', 'Trustee 1 (party A)', '--out', params]);
  t.equal(init.code, 0, init.stderr);
  t.match(init.stderr, /safe prime 2 \(1024 bits\): found/, 'progress per safe prime');

  const pass = [1, 2, 3].map((i) => {
    const f = join(dir, `pass-${i}.txt`);
    writeFileSync(f, `passphrase of trustee ${i}\n`);
    return f;
  });
  const out = join(dir, 'ceremony');
  const r = await run(['ceremony', '--trustees', '3', '--threshold', '2', '--bits', '2048', '--out', out, '--trustee-params', params, ...pass.flatMap((f) => ['--passphrase-file', f])]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /election modulus: safe prime 1 \(1024 bits\) searching/);
  t.match(r.stderr, /no-small-factor proof against the parameters of "Trustee 1 \(party A\)"/);
  t.match(r.stdout, /Election key: 2-of-3, 2048 bits, SHA-256\(n\) [0-9a-f]{16}/);
  t.match(r.stdout, /Erasure: /);
  t.match(r.stdout, /any 2 trustees together can decrypt/);
  t.match(r.stdout, /up to 1 may be absent/);

  const key = parseElectionKey(JSON.parse(readFileSync(join(out, 'election-key.public.json'), 'utf8')));
  t.equal(key.threshold.k, 2);
  t.equal(key.threshold.l, 3);
  t.equal(key.auxiliary.length, 1, "Π^fac against the trustee's parameters only");
  t.equal(key.auxiliary[0]!.ringPedersen.N, BigInt('0x' + (JSON.parse(readFileSync(params, 'utf8')) as { ringPedersen: { N: string } }).ringPedersen.N));

  // The officials create the election with the ceremony's public file.
  const data = join(dir, 'election');
  const created = await run(['election', 'create', '--data', data, '--election-key', join(out, 'election-key.public.json'), '--id', 'ceremony-slow', '--title', 'Ceremony', '--question', 'q:Q', '--option', 'q:a:A', '--option', 'q:b:B', '--start', 'now', '--end', 'now+1h', '--max-voters', '10', '--rsa-bits', '2048']);
  t.equal(created.code, 0, created.stderr);
  const manifest = JSON.parse(readFileSync(join(data, 'election.json'), 'utf8')) as { keys: { election: unknown } };
  t.same(manifest.keys.election, JSON.parse(readFileSync(join(out, 'election-key.public.json'), 'utf8')), "the manifest carries the ceremony's key as written");

  const sharePath = (i: number) => join(out, `trustee-${i}.share.json`);
  for (const i of [1, 2, 3]) t.equal(statSync(sharePath(i)).mode & 0o777, 0o600, `share ${i} is 0600`);
  await t.rejects(openShareFile(sharePath(1), `passphrase of trustee 2`), { code: 'BAD_KEY_FILE' }, "a share opens only with its own trustee's passphrase");

  // Any 2 of 3 decrypt, through the trustee's code path.
  const pk = key.threshold;
  const election = { threshold: pk, fingerprint: new Uint8Array(32).fill(5) } as unknown as Election;
  const tally = [((1n + 4242n * pk.n) * modPow(randomUnit(pk.n), pk.n, pk.n2)) % pk.n2];
  const d = await Promise.all([1, 2, 3].map(async (i) => (await openShareFile(sharePath(i), `passphrase of trustee ${i}`)).decryptor));
  for (const pair of [[0, 1], [0, 2], [1, 2]] as const) {
    const entries: PartialDecryptionEntry[] = pair.map((j) => {
      t.equal(d[j]!.mismatch(election), undefined);
      const v = verifyPartialDecryptionEntry(pk, election.fingerprint, tally, JSON.parse(JSON.stringify(d[j]!.partial(election, tally))));
      if (!v.ok) throw new Error(`partial of trustee ${j + 1} rejected: ${v.check}`);
      return v.entry;
    });
    t.equal(combineEntries(pk, entries, 1).plaintexts[0], 4242n, `trustees ${pair[0] + 1} and ${pair[1] + 1} decrypt`);
  }
});
