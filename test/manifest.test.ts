/**
 * Election manifest (spec §2): validation with clear errors, and a fingerprint that changes with
 * every field it covers.
 */
import t from 'tap';
import { parseManifest } from '../src/election/manifest.js';
import { manifestJson } from './helpers/fixtures.js';
import { throwsCode } from './helpers/assert.js';
import { intToHex } from '../src/wire.js';

const base = manifestJson();
const fp = parseManifest(base).fingerprintHex;
const edit = (f: (m: any) => void) => {
  const m = JSON.parse(JSON.stringify(base));
  f(m);
  return m;
};

t.test('fingerprint covers every field', async (t) => {
  const changes: [string, (m: any) => void][] = [
    ['electionId', (m) => (m.electionId = 'other')],
    ['title', (m) => (m.title = 'Other')],
    ['question title', (m) => (m.questions[0].title = 'Other')],
    ['option title', (m) => (m.questions[0].options[0].title = 'Other')],
    ['option order', (m) => m.questions[0].options.reverse()],
    ['min', (m) => (m.questions[0].min = 0)],
    ['start', (m) => (m.schedule.start = '2026-01-01T00:00:00.001Z')],
    ['end', (m) => (m.schedule.end = '2026-12-31T00:00:00.001Z')],
    ['maxVoters', (m) => (m.maxVoters = 101)],
    ['revoting', (m) => (m.revoting = true)],
    ['paillier key', (m) => (m.keys.paillier = manifestJson({ key: 'b' }).keys.paillier)],
    ['board key', (m) => (m.keys.board = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')],
  ];
  for (const [name, f] of changes) t.not(parseManifest(edit(f)).fingerprintHex, fp, name);
  t.equal(parseManifest(edit((m) => (m.extra = 'ignored'))).fingerprintHex, fp, 'unknown fields are dropped, not hashed');
});

t.test('invalid manifests are refused with a clear error', async (t) => {
  const bad: [string, (m: any) => void, string, string?][] = [
    ['wrong version', (m) => (m.version = 'tallyboard/2'), 'BAD_MANIFEST'],
    ['empty electionId', (m) => (m.electionId = ''), 'BAD_MANIFEST'],
    ['electionId with a space', (m) => (m.electionId = 'a b'), 'BAD_MANIFEST'],
    ['no questions', (m) => (m.questions = []), 'BAD_MANIFEST'],
    ['33 questions', (m) => (m.questions = Array.from({ length: 33 }, (_, i) => ({ ...m.questions[0], id: `q${i}` }))), 'BAD_MANIFEST'],
    ['duplicate question ids', (m) => m.questions.push(m.questions[0]), 'BAD_MANIFEST', 'duplicate'],
    ['duplicate option ids', (m) => (m.questions[0].options[1].id = m.questions[0].options[0].id), 'BAD_MANIFEST', 'duplicate'],
    ['max > options', (m) => (m.questions[0].max = 5), 'BAD_MANIFEST'],
    ['min > max', (m) => (m.questions[0].min = 2), 'BAD_MANIFEST'],
    ['max = 0', (m) => ((m.questions[0].max = 0), (m.questions[0].min = 0)), 'BAD_MANIFEST'],
    ['fractional maxVoters', (m) => (m.maxVoters = 1.5), 'BAD_MANIFEST'],
    ['maxVoters 0', (m) => (m.maxVoters = 0), 'BAD_MANIFEST'],
    ['end before start', (m) => (m.schedule.end = m.schedule.start), 'BAD_MANIFEST', 'end must be after start'],
    ['time without milliseconds', (m) => (m.schedule.start = '2026-01-01T00:00:00Z'), 'BAD_MANIFEST'],
    ['impossible date', (m) => (m.schedule.start = '2026-02-30T00:00:00.000Z'), 'BAD_MANIFEST'],
    ['revoting as a string', (m) => (m.revoting = 'yes'), 'BAD_MANIFEST'],
    ['broken key proof', (m) => (m.keys.paillier.keyProof[3] = intToHex(5n, 256)), 'BAD_PUBLIC_KEY', '3.3'],
    ['key proof of another key', (m) => (m.keys.paillier.keyProof = manifestJson({ key: 'b' }).keys.paillier.keyProof), 'BAD_PUBLIC_KEY', '3.3'],
    ['15 key proof roots', (m) => m.keys.paillier.keyProof.pop(), 'BAD_MANIFEST'],
    ['even Paillier modulus', (m) => (m.keys.paillier.n = m.keys.paillier.n.slice(0, -1) + 'e'), 'BAD_PUBLIC_KEY'],
    ['board key not on the curve', (m) => (m.keys.board = 'ff'.repeat(32)), 'BAD_PUBLIC_KEY'],
    ['token issuer e = 3', (m) => (m.keys.tokenIssuer.e = '00000003'), 'BAD_PUBLIC_KEY'],
    ['too many options for the key', (m) => ((m.maxVoters = 2 ** 32 - 1), (m.questions[0].options = Array.from({ length: 64 }, (_, j) => ({ id: `o${j}`, title: 'x' })))), 'ENCODING_CAPACITY'],
    ['allowed set of 2^11', (m) => ((m.questions[0].options = Array.from({ length: 11 }, (_, j) => ({ id: `o${j}`, title: 'x' }))), (m.questions[0].min = 0), (m.questions[0].max = 11)), 'ALLOWED_SET_TOO_LARGE', 'more than 1024'],
  ];
  for (const [name, f, code, needle] of bad) throwsCode(t, () => parseManifest(edit(f)), code as any, name, needle);
});
