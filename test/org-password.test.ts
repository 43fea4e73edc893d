/**
 * Tests of voter passwords (src/org/password.ts) and of the voter field rules
 * (src/org/voter.ts): the self-describing hash string, bounds on stored parameters checked
 * before any work, NFC normalization, generated passwords, and the login, e-mail and name
 * checkers including inputs built to make a naive regular expression backtrack.
 */
import t from 'tap';
import { scrypt } from '@noble/hashes/scrypt.js';
import {
  DEFAULT_SCRYPT_PARAMS,
  GENERATED_ALPHABET,
  generatePassword,
  hashPassword,
  parsePasswordHash,
  scryptNative,
  verifyPassword,
} from '../src/org/password.js';
import { aEmail, aLogin, aName } from '../src/org/voter.js';
import { toHex } from '../src/wire.js';
import { throwsCode } from './helpers/assert.js';
import { rejectsCode, TEST_SCRYPT } from './helpers/register-contract.js';

const SALT = new Uint8Array(16).fill(0xab);

t.test('hash string: format, parameters and salt are self-describing', async (t) => {
  const stored = await hashPassword('correct horse battery', { params: TEST_SCRYPT, salt: SALT });
  const expected = scrypt('correct horse battery', SALT, { N: 16, r: 1, p: 1, dkLen: 32 });
  t.equal(stored, `scrypt$N=16,r=1,p=1$${'ab'.repeat(16)}$${toHex(expected)}`, 'exact string (known answer from the scrypt primitive)');
  const parsed = parsePasswordHash(stored);
  t.same(parsed.params, { N: 16, r: 1, p: 1 }, 'parameters parsed back');
  t.equal(await verifyPassword('correct horse battery', stored), true, 'right password');
  t.equal(await verifyPassword('correct horse batterY', stored), false, 'wrong password');
  t.equal(await verifyPassword('', stored), false, 'empty attempt is just wrong');
  t.equal(await verifyPassword('x'.repeat(5000), stored), false, 'oversized attempt is just wrong');
  const a = await hashPassword('correct horse battery', { params: TEST_SCRYPT });
  const b = await hashPassword('correct horse battery', { params: TEST_SCRYPT });
  t.not(a, b, 'fresh random salt each time');
});

t.test('production default is N=2^15, r=8, p=1', async (t) => {
  t.same(DEFAULT_SCRYPT_PARAMS, { N: 32768, r: 8, p: 1 }, 'default parameters');
  const stored = await hashPassword('a production password');
  t.match(stored, /^scrypt\$N=32768,r=8,p=1\$[0-9a-f]{32}\$[0-9a-f]{64}$/, 'default string');
  t.equal(await verifyPassword('a production password', stored), true, 'verifies');
});

t.test('NFC normalization: composed and decomposed forms match', async (t) => {
  const stored = await hashPassword('caf\u00e9-passw0rd', { params: TEST_SCRYPT });
  t.equal(await verifyPassword('cafe\u0301-passw0rd', stored), true, 'decomposed é matches composed é');
});

t.test('password policy on new passwords', async (t) => {
  await rejectsCode(t, hashPassword('short', { params: TEST_SCRYPT }), 'OUT_OF_RANGE', '< 10 characters');
  await rejectsCode(t, hashPassword('x'.repeat(257), { params: TEST_SCRYPT }), 'OUT_OF_RANGE', '> 256 characters');
  await rejectsCode(t, hashPassword('\ud800 lone surrogate', { params: TEST_SCRYPT }), 'MALFORMED', 'ill-formed Unicode');
  await rejectsCode(t, hashPassword('long enough pw', { params: { N: 3, r: 1, p: 1 } }), 'OUT_OF_RANGE', 'N not a power of two');
  await rejectsCode(t, hashPassword('long enough pw', { salt: new Uint8Array(8), params: TEST_SCRYPT }), 'OUT_OF_RANGE', 'short salt');
});

t.test('stored parameters are bounded before any work', async (t) => {
  const salt = 'ab'.repeat(16);
  const hash = 'cd'.repeat(32);
  const cases: [string, string, 'MALFORMED' | 'OUT_OF_RANGE'][] = [
    [`scrypt$N=2097152,r=8,p=1$${salt}$${hash}`, 'N = 2^21 > 2^20', 'OUT_OF_RANGE'],
    [`scrypt$N=1048576,r=16,p=1$${salt}$${hash}`, '128·N·r = 2 GiB', 'OUT_OF_RANGE'],
    [`scrypt$N=1048576,r=8,p=2$${salt}$${hash}`, 'N·r·p > 2^23', 'OUT_OF_RANGE'],
    [`scrypt$N=1000,r=8,p=1$${salt}$${hash}`, 'N not a power of two', 'OUT_OF_RANGE'],
    [`scrypt$N=1024,r=33,p=1$${salt}$${hash}`, 'r > 32', 'OUT_OF_RANGE'],
    [`scrypt$N=1024,r=8,p=17$${salt}$${hash}`, 'p > 16', 'OUT_OF_RANGE'],
    [`scrypt$N=01024,r=8,p=1$${salt}$${hash}`, 'leading zero', 'MALFORMED'],
    [`scrypt$N=1024,r=8,p=1$${salt}$${hash.toUpperCase()}`, 'upper-case hex', 'MALFORMED'],
    [`scrypt$N=1024,r=8,p=1$abcd$${hash}`, 'short salt', 'MALFORMED'],
    [`scrypt$N=1024,r=8,p=1$${salt}$${hash}$`, 'trailing garbage', 'MALFORMED'],
    [`bcrypt$N=1024,r=8,p=1$${salt}$${hash}`, 'another scheme', 'MALFORMED'],
    [`scrypt$N=1024,r=8,p=1$${'ab'.repeat(300)}$${hash}`, 'oversized string', 'MALFORMED'],
  ];
  for (const [stored, why, code] of cases) {
    const start = performance.now();
    await rejectsCode(t, verifyPassword('anything at all', stored), code, why);
    t.ok(performance.now() - start < 50, `${why}: refused without computing`);
  }
});

t.test('generated passwords: 4×5 characters, unambiguous alphabet, 100 bits', async (t) => {
  t.equal(GENERATED_ALPHABET.length, 32, '32 symbols: 5 bits each');
  t.notMatch(GENERATED_ALPHABET, /[ilou]/, 'no i, l, o, u');
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const p = generatePassword();
    if (!/^[0-9a-hjkmnp-tv-z]{5}(-[0-9a-hjkmnp-tv-z]{5}){3}$/.test(p)) t.fail(`bad shape: ${p}`);
    seen.add(p);
  }
  t.equal(seen.size, 200, 'no repeats in 200');
  t.equal(generatePassword(() => new Uint8Array(20).fill(31 + 32)), 'zzzzz-zzzzz-zzzzz-zzzzz', 'low 5 bits of each byte');
  const generated = generatePassword();
  t.equal(await verifyPassword(generated, await hashPassword(generated, { params: TEST_SCRYPT })), true, 'a generated password is a valid password');
});

t.test('login rules', async (t) => {
  for (const ok of ['alice', 'A.b_c-d@e', 'x', 'x'.repeat(64), 'Alice99']) t.equal(aLogin(ok), ok, `accepts ${ok}`);
  throwsCode(t, () => aLogin(''), 'MALFORMED', 'empty');
  throwsCode(t, () => aLogin('x'.repeat(65)), 'MALFORMED', '65 characters');
  throwsCode(t, () => aLogin('al ice'), 'MALFORMED', 'space');
  throwsCode(t, () => aLogin('élodie'), 'MALFORMED', 'non-ASCII');
  throwsCode(t, () => aLogin('a!b'), 'MALFORMED', '!');
  throwsCode(t, () => aLogin(42), 'MALFORMED', 'not a string');
});

t.test('e-mail rules, linear time on hostile input', async (t) => {
  for (const ok of ['a@example.org', "o'brien+tag@mail.example.co.uk", 'x_y@a-b.c1']) t.equal(aEmail(ok), ok, `accepts ${ok}`);
  for (const bad of ['plain', 'a@b', '@example.org', 'a@-example.org', 'a@example-.org', 'a@@example.org', 'a b@example.org', 'a@exa mple.org', 'a@example..org']) {
    throwsCode(t, () => aEmail(bad), 'MALFORMED', `refuses ${bad}`);
  }
  throwsCode(t, () => aEmail(`${'a'.repeat(65)}@example.org`), 'MALFORMED', 'local part > 64');
  throwsCode(t, () => aEmail(`a@${'b'.repeat(250)}.org`), 'MALFORMED', '> 254 characters');
  // Classic catastrophic-backtracking shapes, just under the length limit.
  const hostile = [`a@${'a-'.repeat(60)}!`, `a@${'a.'.repeat(120)}`, `${'a'.repeat(64)}@${'a'.repeat(61)}-.${'a'.repeat(100)}!`];
  for (const h of hostile) {
    const start = performance.now();
    throwsCode(t, () => aEmail(h), 'MALFORMED', `hostile input of ${h.length} characters`);
    t.ok(performance.now() - start < 20, 'refused quickly');
  }
});

t.test('name rules', async (t) => {
  for (const ok of ['Zoë', 'Jean-Luc', '李', "O'Brien", 'Ana María', '𝓐'.repeat(100)]) t.equal(aName(ok, 'first_name'), ok, `accepts ${ok.slice(0, 10)}`);
  throwsCode(t, () => aName('', 'first_name'), 'MALFORMED', 'empty');
  throwsCode(t, () => aName('   ', 'first_name'), 'MALFORMED', 'blank');
  throwsCode(t, () => aName(' Ann', 'first_name'), 'MALFORMED', 'leading space');
  throwsCode(t, () => aName('x'.repeat(101), 'first_name'), 'MALFORMED', '101 characters');
  throwsCode(t, () => aName('𝓐'.repeat(101), 'first_name'), 'MALFORMED', '101 astral characters');
  throwsCode(t, () => aName('Ann\nSmith', 'first_name'), 'MALFORMED', 'newline', 'control');
  throwsCode(t, () => aName('Ann\u0000', 'first_name'), 'MALFORMED', 'NUL');
  throwsCode(t, () => aName('Ann\u202Eevil', 'first_name'), 'MALFORMED', 'bidi override');
  throwsCode(t, () => aName('Ann\u2028', 'first_name'), 'MALFORMED', 'line separator');
  throwsCode(t, () => aName('Ann\ud800', 'first_name'), 'MALFORMED', 'lone surrogate', 'well-formed');
});

t.test('regression: native scrypt gives identical hashes to the JavaScript scrypt (RFC 7914 vectors, stored strings)', async (t) => {
  // RFC 7914 §12, the vectors that fit the bounds.
  const rfc = [
    { pw: '', salt: '', N: 16, r: 1, p: 1, dk: '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906' },
    { pw: 'password', salt: 'NaCl', N: 1024, r: 8, p: 16, dk: 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640' },
  ];
  const enc = new TextEncoder();
  for (const v of rfc) {
    const dk = await scryptNative(v.pw, enc.encode(v.salt), { N: v.N, r: v.r, p: v.p }, 64);
    t.equal(toHex(dk), v.dk, `RFC 7914 vector N=${v.N}, r=${v.r}, p=${v.p}`);
  }
  // Same output as @noble/hashes for passwords of every kind, at the test and production costs.
  const passwords = ['correct horse battery', 'pässwörd-ñ-日本語-🗳️', 'x'.repeat(256)];
  for (const params of [TEST_SCRYPT, { N: 1024, r: 8, p: 2 }, DEFAULT_SCRYPT_PARAMS]) {
    for (const pw of passwords) {
      const native = await scryptNative(pw, SALT, params, 32);
      const js = scrypt(pw, SALT, { ...params, dkLen: 32 });
      t.equal(toHex(native), toHex(js), `N=${params.N}, r=${params.r}, p=${params.p}: ${JSON.stringify(pw.slice(0, 12))}`);
    }
  }
  // A string stored by the former JavaScript implementation verifies, and a new one has its form.
  const legacy = `scrypt$N=16,r=1,p=1$${'ab'.repeat(16)}$${toHex(scrypt('pässwörd-ñ-日本語', SALT, { N: 16, r: 1, p: 1, dkLen: 32 }))}`;
  t.equal(await verifyPassword('pässwörd-ñ-日本語', legacy), true, 'a legacy hash verifies');
  t.equal(await hashPassword('pässwörd-ñ-日本語', { params: TEST_SCRYPT, salt: SALT }), legacy, 'and a new hash of the same input is the same string');
});
