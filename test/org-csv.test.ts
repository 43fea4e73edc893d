/**
 * Tests of the voter CSV import (src/org/csv-import.ts and its RFC 4180 reader): the happy
 * path with quoting, BOM and CRLF; every error type reported with its line number; all errors
 * of a file reported together; nothing imported when anything is wrong; size limits.
 */
import t from 'tap';
import type { Test } from 'tap';
import { isTallyError } from '../src/errors.js';
import { importVotersCsv, parseVoterCsv, type CsvLineError } from '../src/org/csv-import.js';
import { verifyPassword } from '../src/org/password.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import type { RegisterStore } from '../src/org/register-store.js';
import { rejectsCode, TEST_SCRYPT, testVoter } from './helpers/register-contract.js';

const opts = { scrypt: TEST_SCRYPT };

/** Import, expecting CSV_INVALID; returns the reported errors (and checks nothing was added). */
async function expectInvalid(t: Test, store: RegisterStore, csv: string | Uint8Array): Promise<CsvLineError[]> {
  const before = await store.countVoters();
  try {
    await importVotersCsv(store, csv, opts);
  } catch (e) {
    if (!isTallyError(e, 'CSV_INVALID')) {
      t.fail(`expected CSV_INVALID, got ${String(e)}`);
      return [];
    }
    t.equal(await store.countVoters(), before, 'nothing was imported');
    const errors = e.details?.errors as CsvLineError[];
    t.equal(e.details?.count, errors.length, 'count matches the list');
    return errors;
  }
  t.fail('expected CSV_INVALID, the import succeeded');
  return [];
}

/** [line, message fragment] pairs of the errors, for compact assertions. */
function lines(errors: CsvLineError[]): number[] {
  return errors.map((e) => e.line);
}

t.test('happy path: quoting, doubled quotes, given and generated passwords', async (t) => {
  const store = createMemoryRegister();
  const csv = [
    'first_name,last_name,email,login,password',
    'Ada,Lovelace,ada@example.org,ada,analytical-engine',
    '"Smith, Jr.","O""Neil",jr@example.org,jr,',
    'Zoë,"Ünal",zoe@example.org,Zoe,',
    '',
  ].join('\n');
  const fixed = ['aaaaa-bbbbb-ccccc-ddddd', 'eeeee-fffff-ggggg-hhhhh'];
  const result = await importVotersCsv(store, csv, { ...opts, generatePassword: () => fixed.shift()! });
  t.equal(result.imported, 3, '3 imported');
  t.same(
    result.generated.map(({ refSalt: _salt, ...g }) => g),
    [
      { login: 'jr', firstName: 'Smith, Jr.', lastName: 'O"Neil', email: 'jr@example.org', password: 'aaaaa-bbbbb-ccccc-ddddd' },
      { login: 'Zoe', firstName: 'Zoë', lastName: 'Ünal', email: 'zoe@example.org', password: 'eeeee-fffff-ggggg-hhhhh' },
    ],
    'generated passwords returned for the voters without one, in file order',
  );
  const jr = await store.getVoter('jr');
  t.same([jr?.firstName, jr?.lastName], ['Smith, Jr.', 'O"Neil'], 'quoted comma and doubled quote decoded');
  // Every voter, also one whose password the file gave, gets a fresh reference salt (spec §7.5).
  t.same(result.credentials.map((c) => [c.login, c.password]), [['ada', undefined], ['jr', 'aaaaa-bbbbb-ccccc-ddddd'], ['Zoe', 'eeeee-fffff-ggggg-hhhhh']], 'a credential per voter, in file order');
  for (const c of result.credentials) t.equal((await store.getVoter(c.login))!.refSalt, c.refSalt, `${c.login}: the salt given is the stored one`);
  t.equal(new Set(result.credentials.map((c) => c.refSalt)).size, 3, 'distinct salts');
  t.match(result.credentials[0]!.refSalt, /^[0-9a-f]{64}$/, '64 hex digits');
  t.ok(await verifyPassword('aaaaa-bbbbb-ccccc-ddddd', jr!.passwordHash), 'generated password is the stored one');
  t.ok(await verifyPassword('analytical-engine', (await store.getVoter('ada'))!.passwordHash), 'given password is the stored one');
  t.match((await store.getVoter('ada'))!.passwordHash, /^scrypt\$N=16,r=1,p=1\$/, 'hashed with the requested parameters');
});

t.test('without a password column every voter gets a generated password', async (t) => {
  const store = createMemoryRegister();
  const result = await importVotersCsv(store, 'first_name,last_name,email,login\nA,B,a@example.org,a\nC,D,c@example.org,c\n', opts);
  t.equal(result.imported, 2, '2 imported');
  t.equal(result.generated.length, 2, '2 generated');
  for (const g of result.generated) {
    t.match(g.password, /^[0-9a-z]{5}(-[0-9a-z]{5}){3}$/, 'readable shape');
    t.ok(await verifyPassword(g.password, (await store.getVoter(g.login))!.passwordHash), `${g.login}: generated password verifies`);
  }
});

t.test('UTF-8 BOM and CRLF line ends', async (t) => {
  const store = createMemoryRegister();
  const text = '\uFEFFfirst_name,last_name,email,login,password\r\nÉlodie,Durand,e@example.fr,elodie,bonjour-le-monde\r\n';
  const bytes = new TextEncoder().encode(text);
  t.same([...bytes.slice(0, 3)], [0xef, 0xbb, 0xbf], 'the bytes start with a BOM');
  const result = await importVotersCsv(store, bytes, opts);
  t.equal(result.imported, 1, 'imported from bytes');
  t.equal((await store.getVoter('elodie'))?.firstName, 'Élodie', 'UTF-8 decoded');
  const store2 = createMemoryRegister();
  t.equal((await importVotersCsv(store2, text, opts)).imported, 1, 'imported from a string with a BOM');
});

t.test('each error type is reported with its line number', async (t) => {
  const store = createMemoryRegister();
  await store.addVoters([await testVoter('taken')]);
  const H = 'first_name,last_name,email,login,password';
  const cases: [string, string, number, string][] = [
    ['bad header', 'first_name,last_name,e-mail,login\nA,B,a@example.org,a', 1, 'bad header'],
    ['header in another order', 'last_name,first_name,email,login\nA,B,a@example.org,a', 1, 'bad header'],
    ['missing header', '', 1, 'missing header'],
    ['too many fields', `${H}\nA,B,a@example.org,a,longenough1,extra`, 2, 'expected 5 fields, got 6'],
    ['too few fields', `${H}\nA,B,a@example.org,a,longenough1\nA,B,b@example.org`, 3, 'expected 5 fields, got 3'],
    ['empty first name', `${H}\n,B,a@example.org,a,`, 2, 'first_name: empty field'],
    ['empty login', `${H}\nA,B,a@example.org,,`, 2, 'login: empty field'],
    ['bad e-mail', `${H}\nA,B,a@example.org,a,\nC,D,not-an-email,c,`, 3, 'email'],
    ['bad login', `${H}\nA,B,a@example.org,a b,`, 2, 'login'],
    ['control character in a name', `${H}\n"A\tB",B,a@example.org,a,`, 2, 'first_name'],
    ['short password', `${H}\nA,B,a@example.org,a,short`, 2, 'password'],
    ['duplicate within the file', `${H}\nA,B,a@example.org,dup,\nC,D,c@example.org,other,\nE,F,e@example.org,dup,`, 4, 'already appears on line 2'],
    ['duplicate with an existing voter', `${H}\nA,B,a@example.org,fresh,\nC,D,c@example.org,taken,`, 3, 'already registered'],
    ['quote inside an unquoted field', `${H}\nA,B"C,a@example.org,a,`, 2, 'inside an unquoted field'],
    ['text after a closing quote', `${H}\n"A"x,B,a@example.org,a,`, 2, 'after a closing quote'],
    ['unterminated quote', `${H}\nA,B,a@example.org,a,\n"C,D,c@example.org,c,`, 3, 'unterminated'],
    ['bare carriage return', `${H}\nA,B,a@example.org,a,\rC,D,c@example.org,c,`, 2, 'carriage return'],
  ];
  for (const [title, csv, line, needle] of cases) {
    const errors = await expectInvalid(t, store, csv);
    t.same(lines(errors), [line], `${title}: one error, on line ${line}`);
    t.match(errors[0]?.message ?? '', needle, `${title}: message mentions "${needle}"`);
  }
});

t.test('invalid UTF-8 is reported with its line', async (t) => {
  const store = createMemoryRegister();
  const good = new TextEncoder().encode('first_name,last_name,email,login\nA,B,a@example.org,a\nC,');
  const bytes = new Uint8Array([...good, 0xff, 0xfe, ...new TextEncoder().encode(',c@example.org,c\n')]);
  const errors = await expectInvalid(t, store, bytes);
  t.same(lines(errors), [3], 'line 3');
  t.match(errors[0]?.message ?? '', 'UTF-8', 'says UTF-8');
});

t.test('all errors are collected and reported together; nothing is imported', async (t) => {
  const store = createMemoryRegister();
  const csv = [
    'first_name,last_name,email,login,password',
    'Good,Voter,good@example.org,good,', // 2: fine
    'Bad,Mail,bad-mail,bm,', // 3: e-mail
    'Too,Few', // 4: columns
    ',,x@example.org,x,', // 5: two empty fields
    '"Multi', // 6–7: a quoted field spanning two lines (newline in a name)
    'line",Name,m@example.org,m,',
    'Dup,Voter,d@example.org,good,', // 8: duplicate of line 2
    'Short,Pw,s@example.org,s,123', // 9: password
    'Last,Good,last@example.org,last,',
  ].join('\r\n');
  const errors = await expectInvalid(t, store, csv);
  t.same(lines(errors), [3, 4, 5, 5, 6, 8, 9], 'every bad line, in order, with the right numbers');
  t.equal(await store.getVoter('good'), undefined, 'the good voters were not imported either');
  t.equal(await store.getVoter('last'), undefined, 'nor the last one');
});

t.test('a good file after a failed one imports normally', async (t) => {
  const store = createMemoryRegister();
  await expectInvalid(t, store, 'first_name,last_name,email,login\nA,B,a@example.org,a\nC,D,bad,c\n');
  const result = await importVotersCsv(store, 'first_name,last_name,email,login\nA,B,a@example.org,a\nC,D,c@example.org,c\n', opts);
  t.equal(result.imported, 2, 'imported after fixing');
  await rejectsCode(t, importVotersCsv(store, 'first_name,last_name,email,login\nA,B,a@example.org,a\n', opts), 'CSV_INVALID', 'importing it twice', 'already registered');
});

t.test('empty lines are ignored; a header alone imports nothing', async (t) => {
  const store = createMemoryRegister();
  const result = await importVotersCsv(store, 'first_name,last_name,email,login\n\nA,B,a@example.org,a\n\n\n', opts);
  t.equal(result.imported, 1, 'blank lines skipped');
  await rejectsCode(t, importVotersCsv(createMemoryRegister(), 'first_name,last_name,email,login\n', opts), 'CSV_INVALID', 'header only', 'no voters');
});

t.test('size and line limits are checked before decoding', async (t) => {
  const store = createMemoryRegister();
  const csv = 'first_name,last_name,email,login\nA,B,a@example.org,a\nC,D,c@example.org,c\n';
  await rejectsCode(t, importVotersCsv(store, new TextEncoder().encode(csv), { ...opts, maxBytes: 20 }), 'TOO_LARGE', 'bytes over the limit');
  await rejectsCode(t, importVotersCsv(store, csv, { ...opts, maxBytes: 20 }), 'TOO_LARGE', 'string over the limit');
  await rejectsCode(t, importVotersCsv(store, csv, { ...opts, maxLines: 2 }), 'TOO_LARGE', 'lines over the limit');
  await rejectsCode(t, importVotersCsv(store, csv, { ...opts, maxBytes: 51 * 1024 * 1024 }), 'OUT_OF_RANGE', 'limit above the 50 MB cap');
  t.equal(await store.countVoters(), 0, 'nothing imported');
});

t.test('parseVoterCsv is pure and reports the same rows', async (t) => {
  const { rows, errors } = parseVoterCsv('first_name,last_name,email,login,password\nA,B,a@example.org,a,\nC,D,c@example.org,c,0123456789\n');
  t.same(errors, [], 'no errors');
  t.same(rows, [
    { line: 2, firstName: 'A', lastName: 'B', email: 'a@example.org', login: 'a' },
    { line: 3, firstName: 'C', lastName: 'D', email: 'c@example.org', login: 'c', password: '0123456789' },
  ], 'rows with their lines; empty password cell means generate');
});

t.test('regression: voters import hashes in parallel, in file order, with progress', async (t) => {
  const store = createMemoryRegister();
  const lines = ['first_name,last_name,email,login'];
  for (let i = 0; i < 12; i++) lines.push(`F${i},L${i},v${i}@example.org,voter${i}`);
  const progress: number[] = [];
  const r = await importVotersCsv(store, lines.join('\n') + '\n', { scrypt: TEST_SCRYPT, parallel: 3, onProgress: (done, total) => progress.push(done * 100 + total) });
  t.equal(r.imported, 12);
  t.same(progress, Array.from({ length: 12 }, (_, i) => (i + 1) * 100 + 12), 'progress after every hash, counting up to the total');
  for (const g of r.generated) {
    const v = await store.getVoter(g.login);
    t.equal(await verifyPassword(g.password, v!.passwordHash), true, `${g.login}: its own password's hash`);
  }
  await rejectsCode(t, importVotersCsv(createMemoryRegister(), lines.join('\n'), { scrypt: TEST_SCRYPT, parallel: 0 }), 'OUT_OF_RANGE', 'parallel 0');
});
