/**
 * Writes test/fixtures/election-key-2048-{a,b}.json: the two 1-of-1 election keys of the test
 * suite (spec §2.1 `keys.election`), each from committed 1024-bit safe primes, with its
 * well-formedness proofs, its one share, and (TEST FIXTURE ONLY) the primes, so that tests that
 * need the whole secret key can rebuild it. Proving takes seconds; the suite only reads the files.
 * Run only to replace them: `npm run build && node dist/test/helpers/write-election-key-fixtures.js`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { runCeremony } from '../../src/trustee/ceremony.js';
import { shareToJson } from '../../src/crypto/threshold-paillier.js';
import { SPEC_VERSION } from '../../src/crypto/hash.js';
import { seededRng } from './fixtures.js';
import { thresholdPrimes } from './threshold-kat.js';

const dir = new URL(import.meta.url.includes('/dist/test/') ? '../../../test/fixtures/' : '../fixtures/', import.meta.url);
const moduli = JSON.parse(readFileSync(new URL('threshold-moduli.json', dir), 'utf8')) as Record<string, { p: string; q: string }>;
const aux = thresholdPrimes('aux2048');
for (const [which, name] of [['a', 'safe2048'], ['b', 'safe2048b']] as const) {
  const e = moduli[name]!;
  const p = BigInt('0x' + e.p);
  const q = BigInt('0x' + e.q);
  const out = await runCeremony({ bits: 2048, trustees: 1, threshold: 1, primes: { p, q, aux }, rng: seededRng(`${SPEC_VERSION} election key fixture ${which}`) });
  const file = {
    comment: 'TEST FIXTURE ONLY: a published 1-of-1 election key with its share and primes. Never use outside tests.',
    electionKey: out.publicKey,
    share: shareToJson(out.key.threshold, out.shares[0]!),
    secretKey: { n: out.publicKey.n, p: e.p, q: e.q },
  };
  writeFileSync(new URL(`election-key-2048-${which}.json`, dir), JSON.stringify(file, null, 1) + '\n');
  console.log(`election-key-2048-${which}.json written`);
}
