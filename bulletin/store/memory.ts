/**
 * In-memory {@link BoardStore}, for tests and for throwaway boards (spec/09-board.md §9.6).
 *
 * Why it exists: the contract suite runs against it as well as against LevelDB, so a
 * behaviour that only one back-end has shows up as a failing test; and board tests that are
 * not about durability run without touching the disk. It is atomic (a batch is checked in
 * full, then applied synchronously) but of course not durable. Data survives close() and a
 * later open() on the same object, which lets the contract suite test reopening.
 */
import { sortCosignatures, type Cosignature } from '../cosignature.js';
import { toHex } from '../../src/wire.js';
import type { Checkpoint } from '../checkpoint.js';
import { planCommit, type BoardHead, type BoardStore, type CommitBatch, type EntryRecord } from './interface.js';

/** A BoardStore that keeps everything in Maps. */
export class MemoryBoardStore implements BoardStore {
  readonly #entries = new Map<number, EntryRecord>();
  readonly #byHash = new Map<string, number>();
  readonly #nodes = new Map<string, Uint8Array>();
  readonly #checkpoints = new Map<number, Checkpoint>();
  #maxCheckpoint: number | undefined;
  #head: BoardHead | undefined;
  readonly #cosignatures = new Map<string, Cosignature>();

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async head(): Promise<BoardHead | undefined> {
    return this.#head && { size: this.#head.size, chainHead: this.#head.chainHead.slice() };
  }

  async lastEntryHeight(): Promise<number | undefined> {
    // Entries are only ever added at the next height, so the count is the last height + 1.
    return this.#entries.size === 0 ? undefined : this.#entries.size - 1;
  }

  async getEntry(height: number): Promise<EntryRecord | undefined> {
    const e = this.#entries.get(height);
    return e && copyEntry(e);
  }

  async readEntries(from: number, to: number, maxBytes: number): Promise<EntryRecord[]> {
    const out: EntryRecord[] = [];
    let bytes = 0;
    const end = Math.min(to, this.#entries.size);
    for (let h = Math.max(0, from); h < end && (out.length === 0 || bytes < maxBytes); h++) {
      const e = this.#entries.get(h);
      if (e === undefined) continue;
      out.push(copyEntry(e));
      bytes += e.bytes.length;
    }
    return out;
  }

  async heightOf(hash: Uint8Array): Promise<number | undefined> {
    return this.#byHash.get(toHex(hash));
  }

  async getNode(level: number, index: number): Promise<Uint8Array | undefined> {
    return this.#nodes.get(`${level}/${index}`)?.slice();
  }

  async getCheckpoint(treeSize: number): Promise<Checkpoint | undefined> {
    const cp = this.#checkpoints.get(treeSize);
    return cp && copyCheckpoint(cp);
  }

  async latestCheckpoint(): Promise<Checkpoint | undefined> {
    return this.#maxCheckpoint === undefined ? undefined : this.getCheckpoint(this.#maxCheckpoint);
  }

  async putCosignature(c: Cosignature): Promise<void> {
    this.#cosignatures.set(`${c.treeSize}/${c.name}`, copyCosignature(c));
  }

  async getCosignatures(treeSize: number): Promise<Cosignature[]> {
    const prefix = `${treeSize}/`;
    return sortCosignatures([...this.#cosignatures.entries()].filter(([k]) => k.startsWith(prefix)).map(([, c]) => copyCosignature(c)));
  }

  async commit(batch: CommitBatch): Promise<void> {
    const head = planCommit(this.#head, batch); // throws before any change
    for (const e of batch.entries) {
      this.#entries.set(e.height, copyEntry(e));
      this.#byHash.set(toHex(e.hash), e.height);
    }
    for (const n of batch.nodes) this.#nodes.set(`${n.level}/${n.index}`, n.hash.slice());
    if (batch.checkpoint !== undefined) {
      const cp = copyCheckpoint(batch.checkpoint);
      this.#checkpoints.set(cp.treeSize, cp);
      this.#maxCheckpoint = Math.max(this.#maxCheckpoint ?? 0, cp.treeSize);
    }
    this.#head = head;
  }
}

function copyEntry(e: EntryRecord): EntryRecord {
  return { height: e.height, hash: e.hash.slice(), bytes: e.bytes.slice() };
}

function copyCheckpoint(cp: Checkpoint): Checkpoint {
  return {
    electionId: cp.electionId,
    treeSize: cp.treeSize,
    rootHash: cp.rootHash.slice(),
    chainHead: cp.chainHead.slice(),
    timestamp: cp.timestamp,
    signature: cp.signature.slice(),
  };
}

function copyCosignature(c: Cosignature): Cosignature {
  return { ...c, keyId: c.keyId.slice(), rootHash: c.rootHash.slice(), signature: c.signature.slice() };
}
