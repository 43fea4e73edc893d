/**
 * Recovery of a board's state from its store, with torn-tail and corruption detection
 * (spec/09-board.md §9.6.3).
 *
 * Why it is separate from the board: opening is the one moment when the board trusts
 * nothing it has not re-derived. Every later append hashes onto the head and frontier
 * recovered here, so a wrong head would be signed into every future checkpoint. The rule is
 * fail-stop: any disagreement between the stored head, the last stored entry, the stored
 * Merkle nodes and the latest stored checkpoint makes open FAIL with BOARD_CORRUPT and a
 * message saying what disagrees. Nothing is ever truncated or repaired automatically — an
 * operator decides, with the evidence in hand.
 *
 * Two depths:
 * - 'tail' (default, O(log n) reads): the head record, the last entry key and the latest
 *   checkpoint key agree on the size N; entry N − 1 decodes, its hash matches the stored
 *   hash, the head, the checkpoint and the hash index, and it links to entry N − 2; the
 *   frontier rebuilt from the stored nodes of [0, N) gives the checkpoint's root; the leaf
 *   node of N − 1 is the entry's leaf hash; the checkpoint is for this election and verifies
 *   under the board key. With atomic batches this catches every torn append.
 * - 'full' (O(n) reads, O(log n) memory): additionally streams every entry through the
 *   ChainVerifier (B3–B8, B10–B14) and compares every stored Merkle node and hash-index
 *   record with the recomputed ones: it catches corruption anywhere, e.g. bit rot.
 */
import { bytesEqual } from '../src/crypto/hash.js';
import { TallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import { verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { decodeEntry, entryHash, zeroHash, type Entry } from './entry.js';
import { MerkleFrontier, hashLeaf, rangeNodes } from './merkle/index.js';
import type { BoardStore, EntryRecord } from './store/interface.js';
import { ChainVerifier } from './verify.js';

/** How much of the store {@link recoverBoardState} re-checks. */
export type RecoveryDepth = 'tail' | 'full';

/** The state a board resumes from. */
export interface RecoveredState {
  readonly size: number;
  readonly chainHead: Uint8Array;
  readonly frontier: MerkleFrontier;
  /** Timestamp of the last entry (0 when empty): the floor for the next one. */
  readonly lastTimestamp: number;
  readonly latestCheckpoint: Checkpoint | undefined;
}

/** Bytes read per page when streaming entries. */
const PAGE_BYTES = 1 << 20;

function corrupt(message: string, details: Record<string, unknown> = {}, cause?: unknown): TallyError {
  return new TallyError('BOARD_CORRUPT', `board store: ${message}`, cause === undefined ? { details } : { details, cause });
}

/**
 * Reads and checks the state of a stored board (spec §9.6.3).
 *
 * @param store - an opened store
 * @param electionId - the election the board must be for
 * @param boardPublicKey - the key its checkpoints must verify under (32 bytes)
 * @param depth - 'tail' (default) or 'full'
 * @returns the recovered state
 * @throws TallyError BOARD_CORRUPT describing the first inconsistency; CONFLICT if the store
 *   holds another election's board
 */
export async function recoverBoardState(
  store: BoardStore,
  electionId: string,
  boardPublicKey: Uint8Array,
  depth: RecoveryDepth = 'tail',
): Promise<RecoveredState> {
  const [head, last, cp] = await Promise.all([store.head(), store.lastEntryHeight(), store.latestCheckpoint()]);

  if (head === undefined) {
    if (last !== undefined) throw corrupt(`entries up to height ${last} but no head record`);
    if (cp !== undefined) throw corrupt(`a checkpoint for size ${cp.treeSize} but no entries`);
    return { size: 0, chainHead: zeroHash(), frontier: new MerkleFrontier(), lastTimestamp: 0, latestCheckpoint: undefined };
  }

  // --- the three independent records of the size agree ---
  const n = head.size;
  if (n < 1) throw corrupt('head record says 0 entries');
  if (last === undefined) throw corrupt(`head record says ${n} entries but no entry is stored`);
  if (last > n - 1) throw corrupt(`entry ${last} is stored beyond the head (size ${n}): an entry without its checkpoint and head`, { height: last });
  if (last < n - 1) throw corrupt(`head record says ${n} entries but the last stored entry is ${last}`, { height: last + 1 });
  if (cp === undefined) throw corrupt(`entry ${n - 1} has no checkpoint (no checkpoint is stored)`, { height: n - 1 });
  if (cp.treeSize < n) {
    throw corrupt(`entry ${n - 1} has no checkpoint: the latest checkpoint is for size ${cp.treeSize}`, { height: n - 1, treeSize: cp.treeSize });
  }
  if (cp.treeSize > n) throw corrupt(`a checkpoint for size ${cp.treeSize} without its entries (the board has ${n})`, { treeSize: cp.treeSize });

  // --- the last entry is intact and everything points at it ---
  const rec = await store.getEntry(n - 1);
  if (rec === undefined) throw corrupt(`entry ${n - 1} is missing`, { height: n - 1 });
  const entry = decodeStoredEntry(rec);
  const hash = entryHash(rec.bytes);
  expectEqual(rec.hash, hash, `entry ${n - 1}: stored hash is not the hash of the stored bytes`, n - 1);
  expectEqual(head.chainHead, hash, `head record's chain head is not the hash of entry ${n - 1}`, n - 1);
  expectEqual(cp.chainHead, hash, `checkpoint ${n}: chain head is not the hash of entry ${n - 1}`, n - 1);
  const indexed = await store.heightOf(hash);
  if (indexed !== n - 1) throw corrupt(`hash index maps entry ${n - 1}'s hash to ${String(indexed)}`, { height: n - 1 });
  if (n >= 2) {
    const prev = await store.getEntry(n - 2);
    if (prev === undefined) throw corrupt(`entry ${n - 2} is missing`, { height: n - 2 });
    expectEqual(prev.hash, entryHash(prev.bytes), `entry ${n - 2}: stored hash is not the hash of the stored bytes`, n - 2);
    expectEqual(entry.parent, prev.hash, `entry ${n - 1}: parent is not the hash of entry ${n - 2}`, n - 1);
  } else {
    expectEqual(entry.parent, zeroHash(), 'entry 0: parent is not 32 zero bytes', 0);
  }

  // --- the Merkle state rebuilt from stored nodes gives the signed root ---
  const ids = rangeNodes(0, n);
  const hashes = await Promise.all(
    ids.map(async (id) => {
      const h = await store.getNode(id.level, id.index);
      if (h === undefined) throw corrupt(`Merkle node (${id.level}, ${id.index}) is missing`, { level: id.level, index: id.index });
      return h;
    }),
  );
  const frontier = MerkleFrontier.fromNodes(n, hashes);
  const leaf = await store.getNode(0, n - 1);
  if (leaf === undefined) throw corrupt(`Merkle leaf of entry ${n - 1} is missing`, { height: n - 1 });
  expectEqual(leaf, hashLeaf(rec.bytes), `Merkle leaf of entry ${n - 1} is not the hash of its bytes`, n - 1);
  expectEqual(cp.rootHash, frontier.root(), `checkpoint ${n}: root is not the root rebuilt from the stored nodes`, n - 1);

  // --- the checkpoint is ours ---
  if (cp.electionId !== electionId) {
    throw new TallyError('CONFLICT', `board store holds election ${JSON.stringify(cp.electionId)}, not ${JSON.stringify(electionId)}`);
  }
  const sig = verifyCheckpoint(boardPublicKey, cp);
  if (!sig.ok) throw corrupt(`checkpoint ${n}: ${sig.message} (wrong board key, or a corrupt store)`, { treeSize: n });

  if (depth === 'full') await verifyAll(store, electionId, boardPublicKey, n, cp);

  return { size: n, chainHead: hash, frontier, lastTimestamp: entry.timestamp, latestCheckpoint: cp };
}

/** The 'full' depth: every entry, every node, every index record. */
async function verifyAll(store: BoardStore, electionId: string, boardPublicKey: Uint8Array, n: number, cp: Checkpoint): Promise<void> {
  const v = new ChainVerifier({ electionId, boardPublicKey });
  let h = 0;
  while (h < n) {
    const page = await store.readEntries(h, n, PAGE_BYTES);
    if (page.length === 0) throw corrupt(`entry ${h} is missing`, { height: h });
    for (const rec of page) {
      if (rec.height !== h) throw corrupt(`entry ${h} is missing`, { height: h });
      const r = v.push(decodeStoredEntry(rec), rec.hash);
      if (!r.ok) throw corrupt(`entry ${h} fails check ${r.check}: ${r.reason}`, { ...r });
      for (const node of r.nodes) {
        const stored = await store.getNode(node.level, node.index);
        if (stored === undefined) throw corrupt(`Merkle node (${node.level}, ${node.index}) is missing`, { level: node.level, index: node.index });
        expectEqual(stored, node.hash, `Merkle node (${node.level}, ${node.index}) is wrong`, h);
      }
      if ((await store.heightOf(rec.hash)) !== h) throw corrupt(`hash index does not map entry ${h}'s hash to ${h}`, { height: h });
      h += 1;
    }
  }
  const r = v.finish(cp);
  if (!r.ok) throw corrupt(`the latest checkpoint fails check ${r.check}: ${r.reason}`, { ...r });
}

/**
 * Decodes a stored entry record (used by the board's readers too).
 * @param rec - a record read from the store
 * @returns the entry
 * @throws TallyError BOARD_CORRUPT if the bytes do not decode or state another height
 */
export function decodeStoredEntry(rec: EntryRecord): Entry {
  let entry: Entry;
  try {
    entry = decodeEntry(rec.bytes);
  } catch (e) {
    throw corrupt(`entry ${rec.height} does not decode: ${e instanceof Error ? e.message : String(e)}`, { height: rec.height }, e);
  }
  if (entry.height !== rec.height) throw corrupt(`entry stored at height ${rec.height} says height ${entry.height}`, { height: rec.height });
  return entry;
}

function expectEqual(stored: Uint8Array, computed: Uint8Array, message: string, height: number): void {
  if (!bytesEqual(stored, computed)) throw corrupt(message, { height, expected: toHex(stored), computed: toHex(computed) });
}
