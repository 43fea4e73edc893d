/**
 * The register tree (spec §7.5): its root and membership proofs against the naive RFC 9162
 * reference of the tests (test/helpers/merkle-reference.ts), over the sorted references with
 * the tagged leaf data; and the reference's encoding.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { RegisterTree, registerLeafHash, registerRef, verifyRegisterMembership } from '../src/election/register.js';
import { MTH, PATH } from './helpers/merkle-reference.js';
import { seededRng } from './helpers/fixtures.js';
import { toHex } from '../src/wire.js';
import { throwsCode } from './helpers/assert.js';

const str = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};

t.test('root and proofs equal the RFC 9162 reference over the sorted, tagged leaves', async (t) => {
  const rng = seededRng('register tree');
  for (const n of [1, 2, 3, 5, 8, 13, 17]) {
    const refs = Array.from({ length: n }, () => rng(32));
    const tree = new RegisterTree(refs);
    const sorted = [...refs].sort(Buffer.compare);
    const leafData = sorted.map((r) => Buffer.concat([str('tallyboard/2/register-leaf'), Buffer.from(r)]));
    t.equal(toHex(tree.root), toHex(MTH(leafData)), `n = ${n}: the root`);
    for (const r of refs) {
      const p = tree.proof(r)!;
      t.equal(p.index, sorted.findIndex((x) => Buffer.compare(x, r) === 0), 'index in ascending order');
      t.same(p.path.map(toHex), PATH(p.index, leafData).map(toHex), 'the RFC path');
      t.ok(verifyRegisterMembership(r, p, n, tree.root), 'verifies');
      if (n > 1) t.notOk(verifyRegisterMembership(r, { ...p, index: (p.index + 1) % n }, n, tree.root), 'another index fails');
    }
    t.equal(tree.proof(rng(32)), undefined, 'no proof for a non-member');
  }
});

t.test('the leaf is tagged, so no register leaf is a board leaf', async (t) => {
  const r = new Uint8Array(32).fill(3);
  const expected = createHash('sha256').update(Buffer.concat([Buffer.from([0]), str('tallyboard/2/register-leaf'), Buffer.from(r)])).digest('hex');
  t.equal(toHex(registerLeafHash(r)), expected, 'SHA-256(0x00 ‖ STR(tag) ‖ ref)');
});

t.test('input checks', async (t) => {
  throwsCode(t, () => new RegisterTree([]), 'MALFORMED', 'no voters');
  throwsCode(t, () => new RegisterTree([new Uint8Array(32), new Uint8Array(32)]), 'MALFORMED', 'a reference twice');
  throwsCode(t, () => new RegisterTree([new Uint8Array(31)]), 'MALFORMED', 'a short reference');
  throwsCode(t, () => registerRef('e', 'alice', new Uint8Array(33)), 'OUT_OF_RANGE', 'a 33-byte salt');
  t.notOk(verifyRegisterMembership(new Uint8Array(31), { index: 0, path: [] }, 1, new Uint8Array(32)), 'a short reference never verifies');
});
