/**
 * Tests for the Merkle log (bulletin/merkle/, spec §9.3).
 *
 * Why this shape: the fast code is iterative arithmetic over indices and stored node hashes;
 * the reference (test/helpers/merkle-reference.ts) is the RFC's recursion over leaf inputs.
 * Every tree size 1..64, every index and every pair of sizes is cross-checked, so every shape
 * of the recursion (perfect, ragged, deep right edges) is covered, and then every valid proof
 * is mutated in the ways an attacker or a bug would, each mutation with the failure reasons it
 * may produce — an unexpected outcome, success included, fails the test. Known answers come
 * from the Certificate Transparency reference data (test/vectors/merkle.json).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import {
  MerkleFrontier,
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProofLength,
  consistencyProofNodes,
  emptyRoot,
  hashChildren,
  hashLeaf,
  inclusionProofLength,
  inclusionProofNodes,
  nodeRange,
  rangeHash,
  rangeHashSync,
  rangeNodes,
  rootFromInclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../bulletin/merkle/index.js';
import type { SubtreeRange, VerifyFailureReason, VerifyResult } from '../bulletin/merkle/index.js';
import { MTH, PATH, PROOF, leafHashRef } from './helpers/merkle-reference.js';

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

const MAX = 64;
/** Leaf inputs: the single byte i. Twice MAX so "size × 2" probes have real roots. */
const DATA = Array.from({ length: 2 * MAX }, (_, i) => Uint8Array.of(i));
/** Leaf hashes computed by the reference, not by the code under test. */
const LEAVES = DATA.map(leafHashRef);
/** ROOTS[n] = reference MTH of the first n leaves, 0 ≤ n ≤ 2·MAX. */
const ROOTS = Array.from({ length: 2 * MAX + 1 }, (_, n) => MTH(DATA.slice(0, n)));

/** A perfect-node store filled the way a log would fill it: from the frontier's reports. */
const STORE = new Map<string, Uint8Array>();
{
  const f = new MerkleFrontier();
  for (const leaf of LEAVES) for (const node of f.append(leaf)) STORE.set(`${node.level}/${node.index}`, node.hash);
}
function getNode(level: number, index: number): Uint8Array {
  const h = STORE.get(`${level}/${index}`);
  if (h === undefined) throw new Error(`test store has no node (${level}, ${index})`);
  return h;
}
const fromStore = (r: SubtreeRange): Uint8Array => rangeHashSync(r.start, r.end, getNode);

const hex = (h: Uint8Array): string => bytesToHex(h);
const hexes = (hs: readonly Uint8Array[]): string[] => hs.map(hex);
function flipBit(h: Uint8Array, bit: number): Uint8Array {
  const c = h.slice();
  c[Math.floor(bit / 8) % c.length]! ^= 1 << bit % 8;
  return c;
}
function swap(p: readonly Uint8Array[], j: number): Uint8Array[] {
  const c = [...p];
  [c[j], c[j + 1]] = [c[j + 1]!, c[j]!];
  return c;
}
const ZERO = new Uint8Array(32);
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
const splitOf = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

// ---------------------------------------------------------------------------------------
// Probe machinery: each mutation lists the failure reasons it may produce
// ---------------------------------------------------------------------------------------

const MISMATCH: readonly VerifyFailureReason[] = ['root-mismatch', 'root1-mismatch', 'root2-mismatch'];
/** Any rejection that is about the proof or the claim, not about malformed input. */
const ANY_REJECTION: readonly VerifyFailureReason[] = [
  'index-out-of-range',
  'size1-zero',
  'size1-exceeds-size2',
  'proof-not-empty',
  'proof-empty',
  'proof-too-long',
  'proof-too-short',
  ...MISMATCH,
];

interface Probe {
  readonly desc: string;
  readonly allowed: readonly VerifyFailureReason[];
  readonly result: VerifyResult;
}

/** Returns a description of every probe whose outcome was not one of its allowed failures. */
function unexpected(probes: readonly Probe[]): string[] {
  const bad: string[] = [];
  for (const p of probes) {
    const r = p.result;
    if (r.ok) {
      bad.push(`${p.desc}: verified`);
    } else if (!p.allowed.includes(r.reason)) {
      bad.push(`${p.desc}: got ${r.reason} (${r.message}), allowed ${p.allowed.join('|')}`);
    } else if (MISMATCH.includes(r.reason)) {
      // Typed failures carry both sides, as distinct 64-char lowercase hex strings.
      const okHex = (s: string | undefined): boolean => s !== undefined && /^[0-9a-f]{64}$/.test(s);
      if (!okHex(r.expected) || !okHex(r.computed) || r.expected === r.computed) {
        bad.push(`${p.desc}: ${r.reason} without distinct expected/computed hex`);
      }
    }
  }
  return bad;
}

// ---------------------------------------------------------------------------------------
// Hasher
// ---------------------------------------------------------------------------------------

t.test('hasher: RFC 9162 §2.1.1 prefixes and input checks', (t) => {
  t.equal(hex(emptyRoot()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (let i = 0; i < 8; i++) t.equal(hex(hashLeaf(DATA[i]!)), hex(LEAVES[i]!), `leaf ${i} matches reference`);
  t.equal(hex(hashChildren(LEAVES[0]!, LEAVES[1]!)), hex(ROOTS[2]!), 'node hash matches reference');
  t.not(hex(hashLeaf(LEAVES[0]!)), hex(LEAVES[0]!), 'leaf and node domains are separated');
  t.throws(() => hashChildren(new Uint8Array(31), ZERO), RangeError);
  t.throws(() => hashChildren(ZERO, new Uint8Array(33)), RangeError);
  t.throws(() => hashChildren('x' as unknown as Uint8Array, ZERO), TypeError);
  t.throws(() => hashLeaf(null as unknown as Uint8Array), TypeError);
  const e = emptyRoot();
  e[0] = 0;
  t.equal(hex(emptyRoot()).slice(0, 2), 'e3', 'emptyRoot returns a fresh copy');
  t.end();
});

// ---------------------------------------------------------------------------------------
// Known answers: Certificate Transparency reference data
// ---------------------------------------------------------------------------------------

interface Vectors {
  leafInputs: string[];
  nodeHashes: { levels: string[][] };
  roots: { bySize: string[] };
  inclusion: { index: number; size: number; hashes: string[] }[];
  consistency: { size1: number; size2: number; hashes: string[] }[];
}
const V = JSON.parse(readFileSync(new URL('./vectors/merkle.json', import.meta.url), 'utf8')) as Vectors;

t.test('known answers (CT reference data)', async (t) => {
  const inputs = V.leafInputs.map((h) => hexToBytes(h));
  const leaves = inputs.map(hashLeaf);
  t.same(hexes(leaves), V.nodeHashes.levels[0], 'leaf hashes');

  const f = new MerkleFrontier();
  const kStore = new Map<string, Uint8Array>();
  t.equal(hex(f.root()), V.roots.bySize[0], 'root of size 0');
  for (let n = 1; n <= leaves.length; n++) {
    for (const node of f.append(leaves[n - 1]!)) {
      kStore.set(`${node.level}/${node.index}`, node.hash);
      t.equal(hex(node.hash), V.nodeHashes.levels[node.level]?.[node.index], `node (${node.level}, ${node.index})`);
    }
    t.equal(hex(f.root()), V.roots.bySize[n], `frontier root of size ${n}`);
    t.equal(hex(rootFromLeafHashes(leaves.slice(0, n))), V.roots.bySize[n], `rootFromLeafHashes(${n})`);
    t.equal(hex(MTH(inputs.slice(0, n))), V.roots.bySize[n], `reference MTH(${n})`);
  }
  const get = (s: number, e: number): Promise<Uint8Array> =>
    rangeHash(s, e, async (l, i) => {
      const h = kStore.get(`${l}/${i}`);
      if (h === undefined) throw new Error('missing');
      return h;
    });
  const root = (n: number): Uint8Array => hexToBytes(V.roots.bySize[n]!);

  for (const v of V.inclusion) {
    const proof = await buildInclusionProof(v.index, v.size, get);
    t.same(hexes(proof), v.hashes, `inclusion ${v.index} in ${v.size}: built proof`);
    t.same(hexes(PATH(v.index, inputs.slice(0, v.size))), v.hashes, `inclusion ${v.index} in ${v.size}: reference`);
    const given = v.hashes.map((h) => hexToBytes(h));
    t.same(verifyInclusion(leaves[v.index]!, v.index, v.size, given, root(v.size)), { ok: true });
  }
  for (const v of V.consistency) {
    const proof = await buildConsistencyProof(v.size1, v.size2, get);
    t.same(hexes(proof), v.hashes, `consistency ${v.size1} → ${v.size2}: built proof`);
    t.same(hexes(PROOF(v.size1, inputs.slice(0, v.size2))), v.hashes, `consistency ${v.size1} → ${v.size2}: reference`);
    const given = v.hashes.map((h) => hexToBytes(h));
    t.same(verifyConsistency(v.size1, v.size2, given, root(v.size1), root(v.size2)), { ok: true });
  }
});

// ---------------------------------------------------------------------------------------
// Frontier and range hashes
// ---------------------------------------------------------------------------------------

t.test('frontier: root equals reference MTH at every size 0..64; resumable', (t) => {
  const f = new MerkleFrontier();
  for (let n = 0; n <= MAX; n++) {
    t.equal(f.size, n);
    t.equal(hex(f.root()), hex(ROOTS[n]!), `root at size ${n}`);
    t.equal(hex(rangeHashSync(0, n, getNode)), hex(ROOTS[n]!), `rangeHash(0, ${n})`);
    const nodes = f.nodes();
    t.same(
      nodes.map(({ level, index }) => ({ level, index })),
      rangeNodes(0, n),
      `frontier nodes of size ${n} are rangeNodes(0, ${n})`,
    );
    t.ok(nodes.length <= 7, 'O(log n) memory');
    const resumed = MerkleFrontier.fromNodes(n, nodes.map((x) => x.hash));
    t.equal(hex(resumed.root()), hex(ROOTS[n]!), `resumed root at size ${n}`);
    resumed.append(LEAVES[n]!);
    t.equal(hex(resumed.root()), hex(ROOTS[n + 1]!), `resumed frontier appends correctly at ${n}`);
    if (n === MAX) break;
    const completed = f.append(LEAVES[n]!);
    t.same(completed[0] && { level: completed[0].level, index: completed[0].index }, { level: 0, index: n });
    for (const c of completed) {
      const r = nodeRange(c.level, c.index);
      t.equal(r.end, n + 1, `completed node (${c.level}, ${c.index}) ends at the new size`);
      t.equal(hex(c.hash), hex(MTH(DATA.slice(r.start, r.end))), `node (${c.level}, ${c.index}) hash`);
    }
  }
  const c = f.clone();
  c.append(LEAVES[MAX]!);
  t.equal(f.size, MAX, 'clone is independent');
  t.throws(() => MerkleFrontier.fromNodes(5, [ZERO]), RangeError, 'wrong node count');
  t.throws(() => f.append(new Uint8Array(31)), RangeError);
  t.equal(hex(rootFromLeafHashes([])), hex(emptyRoot()));
  t.end();
});

t.test('rangeHash agrees with reference MTH on every aligned range; rejects the rest', async (t) => {
  let valid = 0;
  let invalid = 0;
  const bad: string[] = [];
  for (let s = 0; s <= MAX; s++) {
    for (let e = s; e <= MAX; e++) {
      const m = e - s;
      const aligned = m <= 1 || s % splitOf(m) === 0;
      if (aligned) {
        valid++;
        const got = hex(rangeHashSync(s, e, getNode));
        if (got !== hex(MTH(DATA.slice(s, e)))) bad.push(`[${s}, ${e}) hash differs`);
        if (rangeNodes(s, e).length > 7) bad.push(`[${s}, ${e}) uses too many nodes`);
      } else {
        invalid++;
        try {
          rangeNodes(s, e);
          bad.push(`[${s}, ${e}) should be rejected`);
        } catch (err) {
          if (!(err instanceof RangeError)) bad.push(`[${s}, ${e}) threw ${String(err)}`);
        }
      }
    }
  }
  t.same(bad, [], `${valid} aligned ranges agree, ${invalid} unaligned rejected`);
  t.equal(hex(await rangeHash(4, 7, async (l, i) => getNode(l, i))), hex(MTH(DATA.slice(4, 7))), 'async source');
  await t.rejects(rangeHash(3, 7, getNode), RangeError, 'unaligned range rejects');
  await t.rejects(rangeHash(0, 3, () => new Uint8Array(5)), RangeError, 'source returning a non-hash');
  t.throws(() => rangeNodes(5, 4), RangeError);
  t.throws(() => rangeNodes(-1, 4), RangeError);
  t.throws(() => nodeRange(53, 0), RangeError);
});

// ---------------------------------------------------------------------------------------
// Inclusion: every size 1..64, every index
// ---------------------------------------------------------------------------------------

function inclusionProbes(i: number, n: number, P: readonly Uint8Array[]): Probe[] {
  const L = LEAVES[i]!;
  const R = ROOTS[n]!;
  const probes: Probe[] = [];
  const add = (desc: string, allowed: readonly VerifyFailureReason[], result: VerifyResult): void => {
    probes.push({ desc: `(${i}, ${n}) ${desc}`, allowed, result });
  };
  // A flipped bit in any element, at three positions.
  P.forEach((_, j) => {
    for (const bit of [0, 255, (j * 37 + i) % 256]) {
      const q = P.map((h, k) => (k === j ? flipBit(h, bit) : h));
      add(`proof[${j}] bit ${bit} flipped`, ['root-mismatch'], verifyInclusion(L, i, n, q, R));
    }
  });
  // Truncated.
  if (P.length > 0) {
    add('last element removed', ['proof-too-short'], verifyInclusion(L, i, n, P.slice(0, -1), R));
    add('first element removed', ['proof-too-short'], verifyInclusion(L, i, n, P.slice(1), R));
  }
  // Extra elements.
  add('root appended', ['proof-too-long'], verifyInclusion(L, i, n, [...P, R], R));
  add('zero hash appended', ['proof-too-long'], verifyInclusion(L, i, n, [...P, ZERO], R));
  add('leaf prepended', ['proof-too-long'], verifyInclusion(L, i, n, [L, ...P], R));
  if (P.length > 0) add('first element duplicated', ['proof-too-long'], verifyInclusion(L, i, n, [P[0]!, ...P], R));
  // Wrong index.
  for (const j of new Set([i - 1, i + 1, i % 2 === 0 ? i + 1 : i - 1, i + 2, n, n + 5])) {
    if (j < 0 || j === i) continue;
    const allowed: VerifyFailureReason[] =
      j >= n ? ['index-out-of-range'] : ['root-mismatch', 'proof-too-short', 'proof-too-long'];
    add(`index ${j}`, allowed, verifyInclusion(L, j, n, P, R));
  }
  // Wrong tree size, paired with the genuine root of that size (what a forked head looks like).
  for (const m of new Set([n - 1, n + 1, n + 3, 2 * n, Math.floor(n / 2)])) {
    if (m < 1 || m === n) continue;
    add(`size ${m} with its own root`, ANY_REJECTION, verifyInclusion(L, i, m, P, ROOTS[m]!));
  }
  // Wrong tree size, root unchanged: must fail where the path shape changes (×2, ÷2).
  for (const m of new Set([2 * n, Math.floor(n / 2)])) {
    if (m < 1 || m === n) continue;
    add(`size ${m} with the root of size ${n}`, ANY_REJECTION, verifyInclusion(L, i, m, P, R));
  }
  // Wrong root.
  add('root bit flipped', ['root-mismatch'], verifyInclusion(L, i, n, P, flipBit(R, 7)));
  add('empty-tree root', ['root-mismatch'], verifyInclusion(L, i, n, P, emptyRoot()));
  if (n > 1) add('root of size n−1', ['root-mismatch'], verifyInclusion(L, i, n, P, ROOTS[n - 1]!));
  // Wrong leaf.
  if (n > 1) add('another leaf', ['root-mismatch'], verifyInclusion(LEAVES[(i + 1) % n]!, i, n, P, R));
  add('node hash passed as a leaf', ['root-mismatch'], verifyInclusion(hashChildren(L, L), i, n, P, R));
  // Swapped elements.
  for (let j = 0; j + 1 < P.length; j++) {
    add(`proof[${j}] ↔ proof[${j + 1}]`, ['root-mismatch'], verifyInclusion(L, i, n, swap(P, j), R));
  }
  // Malformed.
  if (P.length > 0) {
    add('element of 31 bytes', ['malformed-hash'], verifyInclusion(L, i, n, [P[0]!.slice(1), ...P.slice(1)], R));
  }
  add('leaf of 33 bytes', ['malformed-hash'], verifyInclusion(Uint8Array.of(0, ...L), i, n, P, R));
  add('raw leaf data instead of its hash', ['malformed-hash'], verifyInclusion(DATA[i]!, i, n, P, R));
  add('root of 0 bytes', ['malformed-hash'], verifyInclusion(L, i, n, P, new Uint8Array(0)));
  return probes;
}

t.test('inclusion proofs: builder = reference PATH, verify, and every mutation fails', async (t) => {
  let cases = 0;
  let probes = 0;
  for (let n = 1; n <= MAX; n++) {
    const D = DATA.slice(0, n);
    const bad: string[] = [];
    for (let i = 0; i < n; i++) {
      cases++;
      const ranges = inclusionProofNodes(i, n);
      for (const r of ranges) {
        const w = r.end - r.start;
        const perfect = isPow2(w) && r.start % w === 0;
        if (!(w > 0 && (perfect || r.end === n))) bad.push(`(${i}, ${n}) range [${r.start}, ${r.end}) has a bad shape`);
      }
      const ref = hexes(PATH(i, D));
      if (ranges.length !== inclusionProofLength(i, n)) bad.push(`(${i}, ${n}) inclusionProofLength`);
      const viaStore = await buildInclusionProof(i, n, async (s, e) => fromStore({ start: s, end: e }));
      const viaRef = await buildInclusionProof(i, n, (s, e) => MTH(DATA.slice(s, e)));
      t.same(hexes(viaStore), ref, `(${i}, ${n}) proof from stored nodes = PATH`);
      if (hexes(viaRef).join() !== ref.join()) bad.push(`(${i}, ${n}) proof from reference ranges ≠ PATH`);

      const res = verifyInclusion(LEAVES[i]!, i, n, viaStore, ROOTS[n]!);
      if (!res.ok) bad.push(`(${i}, ${n}) valid proof rejected: ${res.reason} ${res.message}`);
      const root = rootFromInclusionProof(LEAVES[i]!, i, n, viaStore);
      if (!root.ok || hex(root.root) !== hex(ROOTS[n]!)) bad.push(`(${i}, ${n}) rootFromInclusionProof`);

      const ps = inclusionProbes(i, n, viaStore);
      probes += ps.length;
      bad.push(...unexpected(ps));
    }
    t.same(bad, [], `size ${n}: all indices and mutations as expected`);
  }
  t.equal(cases, (MAX * (MAX + 1)) / 2, 'every (index, size) covered');
  t.comment(`inclusion: ${cases} proofs checked, ${probes} mutated proofs rejected`);
});

// ---------------------------------------------------------------------------------------
// Consistency: every 1 ≤ size1 ≤ size2 ≤ 64
// ---------------------------------------------------------------------------------------

function consistencyProbes(m: number, n: number, P: readonly Uint8Array[]): Probe[] {
  const R1 = ROOTS[m]!;
  const R2 = ROOTS[n]!;
  const probes: Probe[] = [];
  const add = (desc: string, allowed: readonly VerifyFailureReason[], result: VerifyResult): void => {
    probes.push({ desc: `(${m} → ${n}) ${desc}`, allowed, result });
  };
  const roots12: readonly VerifyFailureReason[] = ['root1-mismatch', 'root2-mismatch'];
  if (m === n) {
    add('non-empty proof', ['proof-not-empty'], verifyConsistency(m, n, [R1], R1, R2));
    if (n > 1) add('different root2', ['root-mismatch'], verifyConsistency(m, n, [], R1, ROOTS[n - 1]!));
    add('root2 bit flipped', ['root-mismatch'], verifyConsistency(m, n, [], R1, flipBit(R2, 3)));
    return probes;
  }
  P.forEach((_, j) => {
    for (const bit of [0, 255, (j * 41 + m + n) % 256]) {
      const q = P.map((h, k) => (k === j ? flipBit(h, bit) : h));
      add(`proof[${j}] bit ${bit} flipped`, roots12, verifyConsistency(m, n, q, R1, R2));
    }
  });
  const shorter: readonly VerifyFailureReason[] = ['proof-too-short', 'proof-empty'];
  add('last element removed', shorter, verifyConsistency(m, n, P.slice(0, -1), R1, R2));
  add('first element removed', shorter, verifyConsistency(m, n, P.slice(1), R1, R2));
  add('empty proof', ['proof-empty'], verifyConsistency(m, n, [], R1, R2));
  add('root1 appended', ['proof-too-long'], verifyConsistency(m, n, [...P, R1], R1, R2));
  add('root2 appended', ['proof-too-long'], verifyConsistency(m, n, [...P, R2], R1, R2));
  add('zero hash appended', ['proof-too-long'], verifyConsistency(m, n, [...P, ZERO], R1, R2));
  add('root1 prepended', ['proof-too-long'], verifyConsistency(m, n, [R1, ...P], R1, R2));
  add('proof[0] duplicated', ['proof-too-long'], verifyConsistency(m, n, [P[0]!, ...P], R1, R2));
  // Wrong sizes, with the genuine roots of the claimed sizes.
  for (const m2 of new Set([m - 1, m + 1, m % 2 === 0 ? m + 1 : m - 1, Math.floor(m / 2), 2 * m])) {
    if (m2 < 0 || m2 === m) continue;
    add(`size1 ${m2} with its own root`, ANY_REJECTION, verifyConsistency(m2, n, P, ROOTS[m2]!, R2));
    add(`size1 ${m2} with the root of size ${m}`, ANY_REJECTION, verifyConsistency(m2, n, P, R1, R2));
  }
  for (const n2 of new Set([n - 1, n + 1, n + 3, 2 * n, Math.floor(n / 2)])) {
    if (n2 < 1 || n2 === n) continue;
    add(`size2 ${n2} with its own root`, ANY_REJECTION, verifyConsistency(m, n2, P, R1, ROOTS[n2]!));
  }
  for (const n2 of new Set([2 * n, Math.floor(n / 2)])) {
    if (n2 < 1 || n2 === n) continue;
    add(`size2 ${n2} with the root of size ${n}`, ANY_REJECTION, verifyConsistency(m, n2, P, R1, R2));
  }
  // Wrong roots.
  add('root1 bit flipped', roots12, verifyConsistency(m, n, P, flipBit(R1, 5), R2));
  add('root2 bit flipped', ['root2-mismatch'], verifyConsistency(m, n, P, R1, flipBit(R2, 5)));
  add('roots swapped', roots12, verifyConsistency(m, n, P, R2, R1));
  add('root1 of size m−1', roots12, m > 1 ? verifyConsistency(m, n, P, ROOTS[m - 1]!, R2) : verifyConsistency(m, n, P, ZERO, R2));
  // Swapped elements.
  for (let j = 0; j + 1 < P.length; j++) {
    add(`proof[${j}] ↔ proof[${j + 1}]`, roots12, verifyConsistency(m, n, swap(P, j), R1, R2));
  }
  // Malformed.
  add('element of 31 bytes', ['malformed-hash'], verifyConsistency(m, n, [P[0]!.slice(1), ...P.slice(1)], R1, R2));
  add('root1 of 0 bytes', ['malformed-hash'], verifyConsistency(m, n, P, new Uint8Array(0), R2));
  return probes;
}

t.test('consistency proofs: builder = reference PROOF, verify, and every mutation fails', async (t) => {
  let pairs = 0;
  let probes = 0;
  for (let n = 1; n <= MAX; n++) {
    const D = DATA.slice(0, n);
    const bad: string[] = [];
    for (let m = 1; m <= n; m++) {
      pairs++;
      const ranges = consistencyProofNodes(m, n);
      for (const r of ranges) {
        const w = r.end - r.start;
        const perfect = isPow2(w) && r.start % w === 0;
        if (!(w > 0 && (perfect || r.end === n))) bad.push(`(${m} → ${n}) range [${r.start}, ${r.end}) has a bad shape`);
      }
      const ref = hexes(PROOF(m, D));
      if (ranges.length !== consistencyProofLength(m, n)) bad.push(`(${m} → ${n}) consistencyProofLength`);
      const viaStore = await buildConsistencyProof(m, n, async (s, e) => fromStore({ start: s, end: e }));
      const viaRef = await buildConsistencyProof(m, n, (s, e) => MTH(DATA.slice(s, e)));
      t.same(hexes(viaStore), ref, `(${m} → ${n}) proof from stored nodes = PROOF`);
      if (hexes(viaRef).join() !== ref.join()) bad.push(`(${m} → ${n}) proof from reference ranges ≠ PROOF`);

      const res = verifyConsistency(m, n, viaStore, ROOTS[m]!, ROOTS[n]!);
      if (!res.ok) bad.push(`(${m} → ${n}) valid proof rejected: ${res.reason} ${res.message}`);

      const ps = consistencyProbes(m, n, viaStore);
      probes += ps.length;
      bad.push(...unexpected(ps));
    }
    t.same(bad, [], `size2 ${n}: all size1 and mutations as expected`);
  }
  t.equal(pairs, (MAX * (MAX + 1)) / 2, 'every pair covered');
  t.comment(`consistency: ${pairs} proofs checked, ${probes} mutated proofs rejected`);
});

// ---------------------------------------------------------------------------------------
// Special cases and input validation
// ---------------------------------------------------------------------------------------

t.test('special cases return typed failures, never throw', (t) => {
  const E = emptyRoot();
  const R5 = ROOTS[5]!;
  const reason = (r: VerifyResult): string => (r.ok ? 'ok' : r.reason);
  t.equal(reason(verifyInclusion(LEAVES[0]!, 0, 0, [], E)), 'index-out-of-range', 'empty tree has no leaves');
  t.equal(reason(verifyInclusion(LEAVES[5]!, 5, 5, [], R5)), 'index-out-of-range', 'index = size');
  t.equal(reason(verifyInclusion(LEAVES[0]!, 0, 1, [], ROOTS[1]!)), 'ok', 'single leaf: empty proof');
  t.equal(reason(verifyInclusion(LEAVES[0]!, -1, 5, [], R5)), 'invalid-number');
  t.equal(reason(verifyInclusion(LEAVES[0]!, 0.5, 5, [], R5)), 'invalid-number');
  t.equal(reason(verifyInclusion(LEAVES[0]!, 0, Number.NaN, [], R5)), 'invalid-number');
  t.equal(reason(verifyInclusion(LEAVES[0]!, 0, 2 ** 53, [], R5)), 'invalid-number');
  t.equal(
    reason(verifyInclusion(LEAVES[0]!, 0, 2, [null as unknown as Uint8Array], ROOTS[2]!)),
    'malformed-hash',
    'null element',
  );
  t.equal(reason(verifyInclusion(LEAVES[0]!, 0, 2, 'x' as unknown as Uint8Array[], ROOTS[2]!)), 'malformed-hash');
  t.equal(reason(verifyInclusion(LEAVES[0]!, 0, 1, [], undefined as unknown as Uint8Array)), 'malformed-hash');
  t.equal(reason(verifyConsistency(1, 2, [LEAVES[1]!], ROOTS[1]!, undefined as unknown as Uint8Array)), 'malformed-hash');

  t.equal(reason(verifyConsistency(0, 0, [], E, E)), 'size1-zero', 'size1 = 0 is not provable, even 0 → 0');
  t.equal(reason(verifyConsistency(0, 5, [], E, R5)), 'size1-zero');
  t.equal(reason(verifyConsistency(6, 5, [], R5, R5)), 'size1-exceeds-size2');
  t.equal(reason(verifyConsistency(5, 5, [], R5, R5)), 'ok', 'equal sizes, equal roots, empty proof');
  t.equal(reason(verifyConsistency(5, 5, [R5], R5, R5)), 'proof-not-empty');
  const eq = verifyConsistency(5, 5, [], R5, ROOTS[4]!);
  t.same(eq, { ok: false, reason: 'root-mismatch', message: eq.ok ? '' : eq.message, expected: hex(R5), computed: hex(ROOTS[4]!) });
  t.equal(reason(verifyConsistency(3, 5, [], ROOTS[3]!, R5)), 'proof-empty');
  t.equal(reason(verifyConsistency(1.5, 5, [], R5, R5)), 'invalid-number');
  t.equal(reason(verifyConsistency(1, 5, [], new Uint8Array(3), R5)), 'malformed-hash');

  const r = verifyInclusion(LEAVES[2]!, 2, 5, PATH(2, DATA.slice(0, 5)), ROOTS[4]!);
  t.match(r, { ok: false, reason: 'root-mismatch', expected: hex(ROOTS[4]!), computed: hex(R5) }, 'both sides reported');

  t.throws(() => inclusionProofNodes(3, 3), RangeError);
  t.throws(() => inclusionProofNodes(0, 0), RangeError);
  t.throws(() => inclusionProofNodes(0.5, 3), RangeError);
  t.throws(() => inclusionProofNodes('1' as unknown as number, 3), TypeError);
  t.throws(() => consistencyProofNodes(0, 5), RangeError);
  t.throws(() => consistencyProofNodes(6, 5), RangeError);
  t.same(consistencyProofNodes(5, 5), [], 'equal sizes: empty proof');
  t.throws(() => inclusionProofLength(5, 5), RangeError);
  t.throws(() => consistencyProofLength(0, 5), RangeError);
  t.end();
});

t.test('characterisation: the inclusion check binds the tree size only through the path shape', (t) => {
  // RFC 9162 §2.1.3.2 accepts the size-5 proof of leaf 0 under (size 6, root of size 5): for
  // index 0 the path is all "left" steps, and sizes 5 and 6 both need three of them. The
  // claim is still about the tree whose root is given; it is the size that is unbound. Hence
  // spec §9.3.6: size and root must come from the same signed tree head.
  const P = PATH(0, DATA.slice(0, 5));
  t.same(verifyInclusion(LEAVES[0]!, 0, 6, P, ROOTS[5]!), { ok: true });
  t.not(verifyInclusion(LEAVES[0]!, 0, 6, P, ROOTS[6]!).ok, true, 'but not under the real size-6 root');
  t.same(verifyConsistency(1, 6, PROOF(1, DATA.slice(0, 5)), ROOTS[1]!, ROOTS[5]!), { ok: true });
  t.not(verifyConsistency(1, 6, PROOF(1, DATA.slice(0, 5)), ROOTS[1]!, ROOTS[6]!).ok, true);
  t.end();
});

t.test('large sizes: planners and length functions agree beyond 32 bits', (t) => {
  const cases: [number, number][] = [
    [0, 2 ** 40],
    [2 ** 40 - 1, 2 ** 40],
    [2 ** 33 + 12345, 2 ** 35 + 7],
    [2 ** 53 - 2, 2 ** 53 - 1],
    [123456789012, 987654321098],
  ];
  for (const [a, b] of cases) {
    const inc = inclusionProofNodes(a, b);
    t.equal(inc.length, inclusionProofLength(a, b), `inclusion length (${a}, ${b})`);
    t.ok(inc.every((r) => rangeNodes(r.start, r.end).length > 0 && r.end <= b), 'inclusion ranges are aligned');
    const con = consistencyProofNodes(a + 1, b);
    t.equal(con.length, consistencyProofLength(a + 1, b), `consistency length (${a + 1}, ${b})`);
    t.ok(con.every((r) => rangeNodes(r.start, r.end).length > 0 && r.end <= b), 'consistency ranges are aligned');
  }
  t.equal(inclusionProofLength(0, 2 ** 40), 40);
  t.equal(inclusionProofLength(2 ** 53 - 2, 2 ** 53 - 1), 52, 'last leaf of 2^53 − 1: one sibling per larger subtree');
  t.equal(rangeNodes(0, 2 ** 53 - 1).length, 53, 'one frontier node per set bit');
  t.end();
});
