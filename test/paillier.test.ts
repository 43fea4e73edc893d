/**
 * Paillier (spec §3): encryption with g = n + 1, homomorphism, opening (randomness recovery),
 * published-key rules, the key proof, and decoding of keys from JSON.
 */
import t from 'tap';
import { PaillierPublicKey, PaillierSecretKey, proveKey, verifyKeyProof, KEY_PROOF_ROUNDS } from '../src/crypto/paillier.js';
import { proveDecryption, verifyDecryption } from '../src/crypto/decryption-proof.js';
import { modPow, randomBelow, randomUnit } from '../src/crypto/bigint.js';
import { throwsCode } from './helpers/assert.js';
import { paillierFixture } from './helpers/fixtures.js';

const sk = paillierFixture('a');
const pk = sk.publicKey;
const { n, n2 } = pk;

t.test('fixture key shape', async (t) => {
  t.equal(n.toString(2).length, 2048, 'n has 2048 bits');
  const { p, q } = sk.toJSON();
  t.equal(p.length, q.length, 'p and q have equal length');
  t.equal(BigInt('0x' + p) * BigInt('0x' + q), n, 'p·q = n');
});

t.test('encryption matches the definition c = g^m · r^n mod n² with g = n + 1', async (t) => {
  for (let i = 0; i < 3; i++) {
    const m = randomBelow(n);
    const r = randomUnit(n);
    t.equal(pk.encrypt(m, r), (modPow(n + 1n, m, n2) * modPow(r, n, n2)) % n2);
  }
});

t.test('property: decrypt(encrypt(m)) = m and open recovers r', async (t) => {
  for (const m of [0n, 1n, 127n, n - 1n, randomBelow(n)]) {
    const r = randomUnit(n);
    const c = pk.encrypt(m, r);
    t.equal(sk.decrypt(c), m, `decrypt m=${m.toString(16).slice(0, 8)}…`);
    t.same(sk.open(c), { m, r }, 'open gives (m, r)');
  }
});

t.test('property: homomorphism Enc(a)·Enc(b) = Enc(a + b mod n)', async (t) => {
  for (let i = 0; i < 5; i++) {
    const a = randomBelow(n);
    const b = randomBelow(n);
    const ra = randomUnit(n);
    const rb = randomUnit(n);
    const prod = pk.add([pk.encrypt(a, ra), pk.encrypt(b, rb)]);
    t.equal(prod, pk.encrypt((a + b) % n, (ra * rb) % n), 'product is the encryption of the sum with randomness ra·rb');
    t.equal(sk.decrypt(prod), (a + b) % n);
  }
  t.equal(pk.add([]), 1n, 'empty product is Enc(0; 1)');
  t.equal(sk.decrypt(1n), 0n);
});

t.test('decryption proof: open then verify; mutations rejected by the named check', async (t) => {
  const c = pk.add([pk.encryptFresh(5n).c, pk.encryptFresh(7n).c]);
  const proof = proveDecryption(sk, c);
  t.equal(proof.T, 12n);
  t.same(verifyDecryption(pk, c, proof), { ok: true });
  const cases: [string, bigint, bigint, bigint, string][] = [
    ['T changed', c, proof.T + 1n, proof.R, '8.2d'],
    ['R changed', c, proof.T, proof.R ^ 2n, '8.2d'],
    ['R = 0', c, proof.T, 0n, '8.2c'],
    ['R = n', c, proof.T, n, '8.2c'],
    ['R + n', c, proof.T, proof.R + n, '8.2c'],
    ['T = n', c, n, proof.R, '8.2b'],
    ['T < 0', c, -1n, proof.R, '8.2b'],
    ['c not a unit', n, proof.T, proof.R, '8.2a'],
    ['another ciphertext', pk.encryptFresh(12n).c, proof.T, proof.R, '8.2d'],
  ];
  for (const [name, cc, T, R, check] of cases) {
    const res = verifyDecryption(pk, cc, { T, R });
    t.equal(res.ok, false, `${name}: rejected`);
    if (!res.ok) t.equal(res.check, check, `${name}: check ${check}`);
  }
});

t.test('published-key rules (spec §3.2)', async (t) => {
  const p = BigInt('0x' + sk.toJSON().p);
  t.equal((p * p).toString(2).length, 2048, 'p² has 2048 bits (so only the square check can catch it)');
  const bad: [string, bigint, string][] = [
    ['1024-bit n', (1n << 1023n) + 1n, '3.2a'],
    ['odd bit length (2049)', (1n << 2048n) + 1n, '3.2a'],
    ['over 4096 bits', (1n << 4100n) + 1n, '3.2a'],
    ['even n', n + 1n, '3.2b'],
    ['prime factor 3', 3n * ((1n << 2046n) + 1n), '3.2c'],
    ['prime factor 65521 (largest below 2^16)', 65521n * ((1n << 2032n) + 1n), '3.2c'],
    ['perfect square p²', p * p, '3.2d'],
  ];
  for (const [name, value, check] of bad) {
    throwsCode(t, () => PaillierPublicKey.fromN(value), 'BAD_PUBLIC_KEY', name, check);
  }
  t.doesNotThrow(() => PaillierPublicKey.fromN(n), 'fixture n passes');
});

t.test('key proof (spec §3.3)', async (t) => {
  const roots = proveKey(sk);
  t.equal(roots.length, KEY_PROOF_ROUNDS);
  t.ok(verifyKeyProof(pk, roots), 'honest key proof verifies');
  t.notOk(verifyKeyProof(pk, roots.slice(1)), 'too few roots');
  t.notOk(verifyKeyProof(pk, [...roots, roots[0]!]), 'too many roots');
  t.notOk(verifyKeyProof(pk, roots.map((x, i) => (i === 4 ? x ^ 1n : x))), 'flipped bit in a root');
  t.notOk(verifyKeyProof(pk, roots.map((x, i) => (i === 0 ? x + n : x))), 'root + n');
  t.notOk(verifyKeyProof(paillierFixture('b').publicKey, roots), "another key's proof");
});

t.test('key JSON: round trip and malformed input', async (t) => {
  const j = pk.toJSON();
  t.equal(j.n.length, 512, 'n is 256 bytes = 512 hex digits');
  t.equal(PaillierPublicKey.fromJSON(j).n, n);
  t.equal(PaillierSecretKey.fromJSON(sk.toJSON()).publicKey.n, n, 'secret key round trip');
  const malformed: [string, unknown][] = [
    ['not an object', 'x'],
    ['upper case', { n: j.n.toUpperCase() }],
    ['leading zero byte', { n: '00' + j.n }],
    ['odd length', { n: j.n.slice(1) }],
    ['not hex', { n: 'zz' + j.n.slice(2) }],
    ['oversized (checked before conversion)', { n: 'f'.repeat(2 * 600) }],
  ];
  for (const [name, v] of malformed) {
    throwsCode(t, () => PaillierPublicKey.fromJSON(v), 'MALFORMED', name);
  }
  const other = paillierFixture('b').toJSON();
  throwsCode(t, () => PaillierSecretKey.fromJSON({ ...sk.toJSON(), p: other.p }), 'BAD_PRIVATE_KEY', 'p·q ≠ n');
  throwsCode(t, () => sk.decrypt(0n), 'OUT_OF_RANGE', 'decrypt refuses c = 0');
});
