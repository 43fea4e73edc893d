/**
 * The verification server's encrypted key file: round trip, wrong passphrase, tampering, and
 * bounds on what a crafted file may demand.
 */
import t from 'tap';
import { decryptKeyFile, encryptKeyFile, keyFilePublicKey } from '../src/verifier/keyfile.js';
import { paillierFixture } from './helpers/fixtures.js';
import { rejectsCode } from './helpers/assert.js';

const sk = paillierFixture('a');
const fast = { scrypt: { N: 1 << 10, r: 8, p: 1 } }; // tests only: the default is 2^17
const pass = 'correct horse battery staple';


t.test('round trip', async (t) => {
  const file = await encryptKeyFile(sk, pass, fast);
  const text = JSON.stringify(file);
  t.notMatch(text, sk.toJSON().p, 'the prime p does not appear in the file');
  t.equal(keyFilePublicKey(JSON.parse(text)).n, sk.publicKey.n, 'public key readable without the passphrase');
  const back = await decryptKeyFile(JSON.parse(text), pass);
  t.same(back.toJSON(), sk.toJSON());
});

t.test('default parameters are the strong ones', async (t) => {
  const file = await encryptKeyFile(sk, pass);
  t.equal(file.kdf.N, 1 << 17);
  t.same((await decryptKeyFile(file, pass)).toJSON(), sk.toJSON());
});

t.test('wrong passphrase and tampering give the same error', async (t) => {
  const file = await encryptKeyFile(sk, pass, fast);
  await rejectsCode(t, decryptKeyFile(file, pass + '!'), 'BAD_KEY_FILE', 'wrong passphrase');
  const flip = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);
  await rejectsCode(t, decryptKeyFile({ ...file, ciphertext: flip(file.ciphertext) }, pass), 'BAD_KEY_FILE', 'ciphertext flipped');
  await rejectsCode(t, decryptKeyFile({ ...file, cipher: { ...file.cipher, tag: flip(file.cipher.tag) } }, pass), 'BAD_KEY_FILE', 'tag flipped');
  const other = paillierFixture('b').publicKey.toJSON();
  await rejectsCode(t, decryptKeyFile({ ...file, publicKey: other }, pass), 'BAD_KEY_FILE', 'relabelled with another public key');
});

t.test('malformed files and hostile parameters', async (t) => {
  const file = await encryptKeyFile(sk, pass, fast);
  await rejectsCode(t, decryptKeyFile({ ...file, format: 'x' }, pass), 'MALFORMED', 'wrong format');
  await rejectsCode(t, decryptKeyFile({ ...file, kdf: { ...file.kdf, N: 1 << 24 } }, pass), 'MALFORMED', 'N = 2^24 refused before any work');
  await rejectsCode(t, decryptKeyFile({ ...file, kdf: { ...file.kdf, N: 1000 } }, pass), 'MALFORMED', 'N not a power of two');
  await rejectsCode(t, decryptKeyFile({ ...file, cipher: { ...file.cipher, iv: 'abc' } }, pass), 'MALFORMED', 'bad iv');
  await rejectsCode(t, encryptKeyFile(sk, 'short', fast), 'OUT_OF_RANGE', 'short passphrase refused');
});
