/**
 * The BoardStore contract (spec/09-board.md §9.6), as ONE suite that every implementation
 * runs: test/board-store.test.ts calls {@link storeContract} for the memory store and the
 * LevelDB store. A behaviour only one back-end has is a failing test for the other.
 *
 * The batches are real: entry bytes from the entry encoder, nodes from MerkleFrontier,
 * checkpoints signed with the test key — so what is checked here is exactly what the board
 * writes. (Not named *.test.ts: tap runs it only through board-store.test.ts.)
 */
import type { Test } from 'tap';
import { signCheckpoint, type Checkpoint } from '../bulletin/checkpoint.js';
import { signCosignature } from '../bulletin/cosignature.js';
import { encodeEntry, zeroHash, type Entry } from '../bulletin/entry.js';
import { MerkleFrontier, type NodeHash } from '../bulletin/merkle/index.js';
import type { BoardStore, CommitBatch, EntryRecord } from '../bulletin/store/interface.js';
import { toHex } from '../src/wire.js';
import { ELECTION_ID, boardKeys, rejectsCode, samplePayload, sampleType } from './helpers/board.js';

/** How a suite obtains stores of one implementation. */
export interface StoreHarness {
  /** A fresh, empty, opened store (cleaned up when `t` ends). */
  make(t: Test): Promise<BoardStore>;
  /** Closes `store` and returns a new handle on the same data, opened. */
  reopen(t: Test, store: BoardStore): Promise<BoardStore>;
}

/** One append's worth of data, for building batches. */
interface Step {
  record: EntryRecord;
  nodes: NodeHash[];
  checkpoint: Checkpoint;
}

/** The first `n` appends of a sample board, computed without any store. */
export function sampleSteps(n: number): Step[] {
  const steps: Step[] = [];
  const f = new MerkleFrontier();
  let parent = zeroHash();
  for (let h = 0; h < n; h++) {
    const entry: Entry = { height: h, parent, type: sampleType(h), timestamp: 1_704_067_200_000 + h, payload: samplePayload(h) };
    const enc = encodeEntry(entry);
    const nodes = f.append(enc.leafHash);
    const checkpoint = signCheckpoint(boardKeys().secretKey, {
      electionId: ELECTION_ID,
      treeSize: h + 1,
      rootHash: f.root(),
      chainHead: enc.hash,
      timestamp: entry.timestamp,
    });
    steps.push({ record: { height: h, hash: enc.hash, bytes: enc.bytes }, nodes, checkpoint });
    parent = enc.hash;
  }
  return steps;
}

function appendBatch(s: Step): CommitBatch {
  return { entries: [s.record], nodes: s.nodes, checkpoint: s.checkpoint };
}

const N = 300; // crosses the 255/256 boundary of the big-endian height keys

/**
 * Registers the contract tests for one implementation.
 * @param t - parent test
 * @param name - implementation name, for test titles
 * @param h - how to make and reopen stores
 */
export function storeContract(t: Test, name: string, h: StoreHarness): void {
  const steps = sampleSteps(N + 2);

  async function filled(t: Test, n = N): Promise<BoardStore> {
    const store = await h.make(t);
    for (let i = 0; i < n; i++) await store.commit(appendBatch(steps[i]!));
    return store;
  }

  t.test(`${name}: an empty store has nothing`, async (t) => {
    const store = await h.make(t);
    t.equal(await store.head(), undefined, 'head');
    t.equal(await store.lastEntryHeight(), undefined, 'lastEntryHeight');
    t.equal(await store.latestCheckpoint(), undefined, 'latestCheckpoint');
    t.equal(await store.getEntry(0), undefined, 'getEntry');
    t.equal(await store.heightOf(steps[0]!.record.hash), undefined, 'heightOf');
    t.equal(await store.getNode(0, 0), undefined, 'getNode');
    t.equal(await store.getCheckpoint(1), undefined, 'getCheckpoint');
    t.same(await store.readEntries(0, 10, 1 << 20), [], 'readEntries');
  });

  t.test(`${name}: every append is readable by height, hash, node and size`, async (t) => {
    const store = await filled(t);
    const head = await store.head();
    t.equal(head?.size, N, 'head size');
    t.equal(toHex(head!.chainHead), toHex(steps[N - 1]!.record.hash), 'head chain head');
    t.equal(await store.lastEntryHeight(), N - 1, 'lastEntryHeight');
    t.equal((await store.latestCheckpoint())?.treeSize, N, 'latest checkpoint');
    const bad: string[] = [];
    for (const s of steps.slice(0, N)) {
      const { height, hash, bytes } = s.record;
      const e = await store.getEntry(height);
      if (!e || e.height !== height || toHex(e.hash) !== toHex(hash) || toHex(e.bytes) !== toHex(bytes)) bad.push(`entry ${height}`);
      if ((await store.heightOf(hash)) !== height) bad.push(`heightOf ${height}`);
      for (const n of s.nodes) {
        const got = await store.getNode(n.level, n.index);
        if (!got || toHex(got) !== toHex(n.hash)) bad.push(`node ${n.level}/${n.index}`);
      }
      const cp = await store.getCheckpoint(height + 1);
      if (!cp || toHex(cp.signature) !== toHex(s.checkpoint.signature) || cp.electionId !== ELECTION_ID) bad.push(`checkpoint ${height + 1}`);
    }
    t.same(bad, [], `all ${N} entries, their nodes and checkpoints read back exactly`);
    t.equal(await store.getEntry(N), undefined, 'nothing beyond the head');
    t.equal(await store.getCheckpoint(N + 1), undefined, 'no checkpoint beyond the head');
    t.equal(await store.getNode(9, 0), undefined, 'no node that is not complete yet (2^9 > 300)');
  });

  t.test(`${name}: readEntries pages in height order`, async (t) => {
    const store = await filled(t);
    const all = await store.readEntries(0, N, Number.MAX_SAFE_INTEGER);
    t.same(all.map((e) => e.height), Array.from({ length: N }, (_, i) => i), 'all heights, ascending across 255/256');
    const one = await store.readEntries(250, N, 1);
    t.same(one.map((e) => e.height), [250], 'maxBytes = 1 returns exactly one entry');
    const size = steps[250]!.record.bytes.length;
    const two = await store.readEntries(250, N, size + 1);
    t.same(two.map((e) => e.height), [250, 251], 'stops after the entry that reaches maxBytes');
    t.same((await store.readEntries(254, 258, 1 << 30)).map((e) => e.height), [254, 255, 256, 257], '[from, to) is half-open');
    t.same(await store.readEntries(10, 10, 1 << 20), [], 'empty range');
    t.same(await store.readEntries(N, N + 10, 1 << 20), [], 'beyond the head');
  });

  t.test(`${name}: commit refuses gaps, duplicates and mismatched checkpoints, writing nothing`, async (t) => {
    const store = await filled(t, 10);
    const s10 = steps[10]!;
    await rejectsCode(t, store.commit(appendBatch(steps[11]!)), 'CONFLICT', 'a gap (height 11 at size 10)');
    await rejectsCode(t, store.commit(appendBatch(steps[9]!)), 'CONFLICT', 'a duplicate height');
    await rejectsCode(t, store.commit({ ...appendBatch(s10), checkpoint: steps[11]!.checkpoint }), 'CONFLICT', 'checkpoint for another size');
    await rejectsCode(t, store.commit({ ...appendBatch(s10), checkpoint: { ...s10.checkpoint, chainHead: zeroHash() } }), 'CONFLICT', 'checkpoint with another head');
    await rejectsCode(t, store.commit({ entries: [], nodes: [] }), 'CONFLICT', 'an empty batch');
    await rejectsCode(t, store.commit({ entries: [s10.record, steps[12]!.record], nodes: [] }), 'CONFLICT', 'non-consecutive heights in one batch');
    t.equal((await store.head())?.size, 10, 'head unchanged');
    t.equal(await store.lastEntryHeight(), 9, 'no entry written');
    t.equal(await store.getEntry(10), undefined, 'entry 10 absent');
    t.equal((await store.latestCheckpoint())?.treeSize, 10, 'no checkpoint written');
    await store.commit(appendBatch(s10));
    t.equal((await store.head())?.size, 11, 'the right batch still commits');
  });

  t.test(`${name}: a multi-entry batch with one final checkpoint (the import path)`, async (t) => {
    const store = await h.make(t);
    const batch: CommitBatch = {
      entries: steps.slice(0, 5).map((s) => s.record),
      nodes: steps.slice(0, 5).flatMap((s) => s.nodes),
      checkpoint: steps[4]!.checkpoint,
    };
    await store.commit(batch);
    t.equal((await store.head())?.size, 5);
    t.equal(await store.getCheckpoint(3), undefined, 'no checkpoint for intermediate sizes');
    t.equal((await store.latestCheckpoint())?.treeSize, 5);
    await store.commit({ entries: [], nodes: [], checkpoint: steps[4]!.checkpoint });
    t.equal((await store.latestCheckpoint())?.treeSize, 5, 'a checkpoint-only batch at the current size is allowed');
    await store.commit({ entries: [steps[5]!.record], nodes: steps[5]!.nodes });
    t.equal((await store.head())?.size, 6, 'entries without a checkpoint are allowed by the store');
    t.equal((await store.latestCheckpoint())?.treeSize, 5, '(the board refuses such a store on open: torn tail)');
  });

  t.test(`${name}: byte arrays are copied in and out`, async (t) => {
    const store = await h.make(t);
    const s = steps[0]!;
    const bytes = s.record.bytes.slice();
    const hash = s.record.hash.slice();
    await store.commit({ entries: [{ height: 0, hash, bytes }], nodes: s.nodes, checkpoint: s.checkpoint });
    bytes.fill(0);
    hash.fill(0);
    const e1 = await store.getEntry(0);
    t.equal(toHex(e1!.bytes), toHex(s.record.bytes), 'mutating the input after commit changes nothing');
    e1!.bytes.fill(1);
    (await store.getNode(0, 0))!.fill(1);
    (await store.getCheckpoint(1))!.rootHash.fill(1);
    t.equal(toHex((await store.getEntry(0))!.bytes), toHex(s.record.bytes), 'mutating an output changes nothing');
    t.equal(toHex((await store.getNode(0, 0))!), toHex(s.nodes[0]!.hash));
    t.equal(toHex((await store.getCheckpoint(1))!.rootHash), toHex(s.checkpoint.rootHash));
  });

  t.test(`${name}: data survives close and reopen, and appends continue`, async (t) => {
    const store = await filled(t, 20);
    const again = await h.reopen(t, store);
    t.equal((await again.head())?.size, 20, 'head');
    t.equal(await again.lastEntryHeight(), 19, 'last entry');
    t.equal((await again.latestCheckpoint())?.treeSize, 20, 'latest checkpoint');
    t.equal(toHex((await again.getEntry(7))!.bytes), toHex(steps[7]!.record.bytes), 'an entry');
    await rejectsCode(t, again.commit(appendBatch(steps[19]!)), 'CONFLICT', 'the reopened store knows its size');
    await again.commit(appendBatch(steps[20]!));
    t.equal((await again.head())?.size, 21, 'the next append commits');
  });

  t.test(`${name}: witness cosignatures are kept per checkpoint, by name, durably (spec §9.9.5)`, async (t) => {
    const store = await filled(t, 5);
    const w = (seed: number, name: string, size: number, time = 1) =>
      signCosignature(new Uint8Array(32).fill(seed), name, boardKeys().publicKey, steps[size - 1]!.checkpoint, time);
    t.same(await store.getCosignatures(4), [], 'none at first');
    await store.putCosignature(w(0x61, 'w-b.example', 4));
    await store.putCosignature(w(0x62, 'w-a.example', 4));
    await store.putCosignature(w(0x61, 'w-b.example', 5));
    await store.putCosignature(w(0x61, 'w-b.example', 4, 2)); // the same witness again: replaces
    const again = await h.reopen(t, store);
    const at4 = await again.getCosignatures(4);
    t.same(at4.map((c) => c.name), ['w-a.example', 'w-b.example'], 'by name ascending, one per witness');
    t.equal(at4[1]!.time, 2, 'the later cosignature of the same witness replaced the earlier one');
    t.same(toHex(at4[0]!.signature), toHex(w(0x62, 'w-a.example', 4).signature), 'stored bytes read back');
    t.same((await again.getCosignatures(5)).map((c) => c.name), ['w-b.example'], 'another size is apart');
    t.same(await again.getCosignatures(3), [], 'a size without any');
  });
}
