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
    ['election key', (m) => (m.keys.election = manifestJson({ key: 'b' }).keys.election)],
    ['board key', (m) => (m.keys.board = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')],
  ];
  for (const [name, f] of changes) t.not(parseManifest(edit(f)).fingerprintHex, fp, name);
  throwsCode(t, () => parseManifest(edit((m) => (m.extra = 'x'))), 'BAD_MANIFEST', 'unknown fields are refused (2.1a)');
});

t.test('invalid manifests are refused with a clear error', async (t) => {
  const bad: [string, (m: any) => void, string, string?][] = [
    ['wrong version', (m) => (m.version = 'tallyboard/1'), 'BAD_MANIFEST'],
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
    ['broken Π^mod round', (m) => (m.keys.election.modulusProof.rounds[3].z = intToHex(5n, 256)), 'BAD_MODULUS_PROOF', '13.5d'],
    ['Π^mod of another key', (m) => (m.keys.election.modulusProof = manifestJson({ key: 'b' }).keys.election.modulusProof), 'BAD_MODULUS_PROOF'],
    ['Π^fac of another key', (m) => (m.keys.election.auxiliary = manifestJson({ key: 'b' }).keys.election.auxiliary), 'BAD_MODULUS_PROOF', '13.6f'],
    ['127 Π^mod rounds', (m) => m.keys.election.modulusProof.rounds.pop(), 'BAD_MANIFEST'],
    ['unknown member of keys.election', (m) => (m.keys.election.keyProof = []), 'BAD_MANIFEST'],
    ['forged verification key', (m) => (m.keys.election.verificationKeys[0] = intToHex(4n, 512)), 'BAD_PUBLIC_KEY', '13.2e'],
    ['even Paillier modulus', (m) => (m.keys.election.n = m.keys.election.n.slice(0, -1) + 'e'), 'BAD_PUBLIC_KEY'],
    ['board key not on the curve', (m) => (m.keys.board = 'ff'.repeat(32)), 'BAD_PUBLIC_KEY'],
    ['token issuer e = 3', (m) => (m.keys.tokenIssuer.e = '00000003'), 'BAD_PUBLIC_KEY'],
    ['too many options for the key', (m) => ((m.maxVoters = 2 ** 32 - 1), (m.questions[0].options = Array.from({ length: 64 }, (_, j) => ({ id: `o${j}`, title: 'x' })))), 'ENCODING_CAPACITY'],
    ['allowed set of 2^11', (m) => ((m.questions[0].options = Array.from({ length: 11 }, (_, j) => ({ id: `o${j}`, title: 'x' }))), (m.questions[0].min = 0), (m.questions[0].max = 11)), 'ALLOWED_SET_TOO_LARGE', 'more than 1024'],
  ];
  for (const [name, f, code, needle] of bad) throwsCode(t, () => parseManifest(edit(f)), code as any, name, needle);
});

/** The check id a manifest is refused with (details.check), or 'accepted'. */
function checkOf(m: unknown): string {
  try {
    parseManifest(m);
    return 'accepted';
  } catch (e) {
    return String((e as { details?: { check?: unknown } }).details?.check ?? 'none');
  }
}

t.test('regression: every manifest failure names one spec check, in the order of §2.1 (issue 11.9)', async (t) => {
  const cases: [string, (m: any) => void, string][] = [
    ['wrong version', (m) => (m.version = 'tallyboard/1'), '2.1b'],
    ['unknown member at the top', (m) => (m.note = 'x'), '2.1a'],
    ['unknown member in keys.election (one rule for every object)', (m) => (m.keys.election.g = '02'), '2.1a'],
    ['unknown member in a Π^mod round', (m) => (m.keys.election.modulusProof.rounds[0].c = 1), '2.1a'],
    ['unknown member in an option', (m) => (m.questions[0].options[0].color = 'red'), '2.1a'],
    ['revoting as a string', (m) => (m.revoting = 'yes'), '2.1a'],
    ['127 Π^mod rounds', (m) => m.keys.election.modulusProof.rounds.pop(), '2.1a'],
    ['structure before values: a bad title and an unknown member', (m) => ((m.title = ''), (m.extra = 1)), '2.1a'],
    ['option id with a space', (m) => (m.questions[0].options[0].id = 'a b'), '2.1b'],
    ['option title empty', (m) => (m.questions[0].options[0].title = ''), '2.1b'],
    ['time before 1970', (m) => (m.schedule.start = '1969-12-31T23:59:59.999Z'), '2.1b'],
    ['upper-case hex in the board key', (m) => (m.keys.board = m.keys.board.toUpperCase()), '2.1b'],
    ['wire forms before key rules: e = 3 and a short Π^mod value', (m) => ((m.keys.tokenIssuer.e = '00000003'), (m.keys.election.modulusProof.w = '00')), '2.1b'],
    ['even Paillier modulus', (m) => (m.keys.election.n = m.keys.election.n.slice(0, -1) + 'e'), '3.2b'],
    ['threshold above trustees', (m) => (m.keys.election.threshold = 2), '13.2b'],
    ['v_0 ≢ 1 (mod n)', (m) => (m.keys.election.v0 = intToHex(2n, 512)), '13.2d'],
    ['forged v_1', (m) => (m.keys.election.verificationKeys[0] = intToHex(4n, 512)), '13.2e'],
    ['broken Π^mod round', (m) => (m.keys.election.modulusProof.rounds[3].z = intToHex(5n, 256)), '13.5d'],
    ['broken Π^prm round', (m) => (m.keys.election.auxiliary[0].ringPedersen.z[5] = m.keys.election.auxiliary[0].ringPedersen.z[6]), '13.6c'],
    ['Π^fac response out of range', (m) => (m.keys.election.auxiliary[0].factorProof.z1 = 'ff'.repeat(m.keys.election.auxiliary[0].factorProof.z1.length / 2)), '13.6e'],
    ['key rules before the issuer key: broken Π^mod and e = 3', (m) => ((m.keys.election.modulusProof.rounds[3].z = intToHex(5n, 256)), (m.keys.tokenIssuer.e = '00000003')), '13.5d'],
    ['token issuer e = 3', (m) => (m.keys.tokenIssuer.e = '00000003'), '7.1.3'],
    ['board key not on the curve', (m) => (m.keys.board = 'ff'.repeat(32)), '7.3a'],
    ['board key of small order', (m) => (m.keys.board = '01' + '00'.repeat(31)), '7.3a'],
    ['too many options for the key', (m) => ((m.maxVoters = 2 ** 32 - 1), (m.questions[0].options = Array.from({ length: 64 }, (_, j) => ({ id: `o${j}`, title: 'x' })))), '4.2a'],
    ['allowed set of 2^11', (m) => ((m.questions[0].options = Array.from({ length: 11 }, (_, j) => ({ id: `o${j}`, title: 'x' }))), (m.questions[0].min = 0), (m.questions[0].max = 11)), '4.2b'],
  ];
  for (const [name, f, check] of cases) t.equal(checkOf(edit(f)), check, name);
});

t.test('regression: titles are counted in Unicode code points, not UTF-16 units (issue 11.2, 10.11)', async (t) => {
  const emoji = '\u{1F600}';
  t.equal(checkOf(edit((m) => (m.title = emoji.repeat(500)))), 'accepted', '500 astral code points (1000 UTF-16 units) are 500 characters');
  t.equal(checkOf(edit((m) => (m.title = emoji.repeat(501)))), '2.1b', '501 code points are too many');
  t.equal(checkOf(edit((m) => (m.questions[0].options[0].title = 'é'.repeat(500)))), 'accepted', 'an option title of 500 two-byte characters');
});
