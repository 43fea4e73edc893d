/**
 * The trustee library of spec §13 as wired into the protocol: the ceremony's public output (the
 * manifest's `keys.election`), the share file, the `partial-decryption` payload with its context
 * (fingerprint ‖ question), per-entry verification with check ids, and the combination of any
 * k entries. Uses the committed 512-bit safe-prime fixtures (no prime search).
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCeremony } from '../src/trustee/ceremony.js';
import { readShareFile, writeShareFile, encryptShare, decryptShare } from '../src/trustee/share-file.js';
import { parseElectionKey } from '../src/election/election-key.js';
import { combineEntries, partialDecryptTally, verifyPartialDecryptionEntry } from '../src/election/partial-decryption.js';
import { generateRingPedersen } from '../src/crypto/modulus-proofs.js';
import { throwsCode } from './helpers/assert.js';
import { seededRng } from './helpers/fixtures.js';
import { encryptRaw, thresholdPrimes, VECTOR_MIN_BITS } from './helpers/threshold-kat.js';

const small = thresholdPrimes('small');
const aux = thresholdPrimes('smallAux');
const rng = seededRng('trustee-ceremony test');
const fp = new Uint8Array(32).fill(9);
const fast = { scrypt: { N: 1 << 10, r: 8, p: 1 } };

const out = await runCeremony({ bits: 512, trustees: 3, threshold: 2, minBits: VECTOR_MIN_BITS, primes: { ...small, aux }, rng });
const pk = out.key.threshold;
const tallies = [encryptRaw(pk.n, 1234n, 5n), encryptRaw(pk.n, 77n, 11n)];
const entries = out.shares.map((s) => partialDecryptTally(pk, s, tallies, fp, rng));

t.test('the ceremony output is a valid keys.election and its shares match v_i', async (t) => {
  const k = parseElectionKey(JSON.parse(JSON.stringify(out.publicKey)), { minBits: VECTOR_MIN_BITS });
  t.equal(k.threshold.k, 2);
  t.equal(k.threshold.l, 3);
  t.equal(out.shares.length, 3);
  t.equal(k.auxiliary.length, 1);
  t.notOk(JSON.stringify(out.publicKey).includes(small.p.toString(16)), 'p is not in the public output');
  t.same(Object.keys(out).sort(), ['key', 'publicKey', 'shares'], 'nothing but the public key and the shares is returned');
});

t.test('trustee-supplied ring-Pedersen parameters: one Π^fac per trustee', async (t) => {
  const rp = generateRingPedersen(aux.p, aux.q, rng);
  const o = await runCeremony({ bits: 512, trustees: 2, threshold: 2, minBits: VECTOR_MIN_BITS, primes: small, trusteeRingPedersen: [rp, rp], rng });
  t.equal(o.publicKey.auxiliary.length, 2);
});

t.test('any k entries combine to the plaintexts; S is the k smallest indices', async (t) => {
  const parsed = entries.map((e) => {
    const r = verifyPartialDecryptionEntry(pk, fp, tallies, e);
    if (!r.ok) throw new Error(r.reason);
    return r.entry;
  });
  for (const pick of [[0, 1], [1, 2], [0, 2], [2, 0, 1]]) {
    const c = combineEntries(pk, pick.map((i) => parsed[i]!), 2);
    t.same(c.plaintexts, [1234n, 77n]);
    t.same(c.trustees, [...pick].sort().slice(0, 2).map((i) => i + 1));
  }
  throwsCode(t, () => combineEntries(pk, [parsed[0]!], 2), 'TOO_FEW_PARTIAL_DECRYPTIONS', 'fewer than k entries');
  throwsCode(t, () => combineEntries(pk, [parsed[0]!, parsed[0]!], 2), 'BAD_PARTIAL_DECRYPTION', 'a repeated trustee');
});

t.test('a forged or misplaced entry fails with its check id and question', async (t) => {
  const e = entries[1]!;
  const wrongQuestion = { trustee: 2, partials: [e.partials[1]!, e.partials[0]!] };
  t.match(verifyPartialDecryptionEntry(pk, fp, tallies, wrongQuestion), { ok: false, check: '13.4f', question: 0 });
  const otherElection = verifyPartialDecryptionEntry(pk, new Uint8Array(32), tallies, e);
  t.match(otherElection, { ok: false, check: '13.4f', question: 0 });
  const otherTrustee = { ...e, trustee: 3 };
  t.match(verifyPartialDecryptionEntry(pk, fp, tallies, otherTrustee), { ok: false, check: '13.4f' });
  t.match(verifyPartialDecryptionEntry(pk, fp, tallies, { ...e, trustee: 4 }), { ok: false, check: '13.4a', question: -1 });
  const zTop = 'ff'.repeat(e.partials[0]!.z.length / 2);
  t.match(verifyPartialDecryptionEntry(pk, fp, tallies, { trustee: 2, partials: [{ ...e.partials[0]!, z: zTop }, e.partials[1]!] }), { ok: false, check: '13.4e', question: 0 });
  t.match(verifyPartialDecryptionEntry(pk, fp, tallies, { trustee: 2, partials: [e.partials[0]!] }), { ok: false, check: '13.4p' });
  t.match(verifyPartialDecryptionEntry(pk, fp, tallies, { ...e, extra: 1 }), { ok: false, check: '13.4p' });
  // A wrong share: trustee 2 uses trustee 1's share but claims index 2.
  const wrongShare = partialDecryptTally(pk, { index: 2, s: out.shares[0]!.s }, tallies, fp, rng);
  t.match(verifyPartialDecryptionEntry(pk, fp, tallies, wrongShare), { ok: false, check: '13.4f', question: 0 });
});

t.test('share file: round trip, wrong passphrase, relabelled index', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tb-share-'));
  const path = join(dir, 'trustee-2.json');
  await writeShareFile(path, pk, out.shares[1]!, 'correct horse battery', fast);
  const back = await readShareFile(path, 'correct horse battery', { minBits: VECTOR_MIN_BITS });
  t.equal(back.share.s, out.shares[1]!.s);
  await t.rejects(readShareFile(path, 'wrong horse battery!', { minBits: VECTOR_MIN_BITS }), { code: 'BAD_KEY_FILE' });
  const f = await encryptShare(pk, out.shares[1]!, 'correct horse battery', fast);
  await t.rejects(decryptShare({ ...f, index: 3 }, 'correct horse battery', { minBits: VECTOR_MIN_BITS }), { code: 'BAD_KEY_FILE' });
});
