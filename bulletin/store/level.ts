/**
 * The default {@link BoardStore}: an embedded LevelDB database via `level`
 * (spec/09-board.md §9.6).
 *
 * Why LevelDB: it is embedded (no server to run for a small election), its write batches are
 * atomic — after a crash or SIGKILL either the whole batch is in the log or none of it — and
 * with `{ sync: true }` a batch is fsync'ed before the promise resolves, so an append the
 * board has acknowledged survives a power cut. Keys sort bytewise, so fixed-width big-endian
 * numbers make range reads iterate in height order.
 *
 * Key layout (all numbers big-endian, fixed width; one ASCII prefix byte per kind):
 *
 *   'v'                          → UTF-8 "tallyboard-board-store/1" (format; in every batch)
 *   'h'                          → U64(size) ‖ chainHead(32)
 *   'e' ‖ U64(height)            → hash(32) ‖ entry bytes
 *   'x' ‖ hash(32)               → U64(height)
 *   'n' ‖ U8(level) ‖ U64(index) → node hash(32)
 *   'c' ‖ U64(treeSize)          → canonical JSON of the checkpoint (wire form, §9.4.3)
 *
 * {@link LEVEL_KEYS} is exported for tools and tests that inspect or (deliberately) damage a
 * store; nothing else should depend on the layout.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { Level } from 'level';
import { TallyError } from '../../src/errors.js';
import { checkpointFromJson, checkpointToJson, type Checkpoint } from '../checkpoint.js';
import { cosignatureToJson, decodeStoredCosignature as decodeCosignature, sortCosignatures, type Cosignature } from '../cosignature.js';
import { canonicalJson } from '../value-encoding.js';
import { parseCanonicalJson } from '../canonical-json.js';
import { corrupt, planCommit, type BoardHead, type BoardStore, type CommitBatch, type EntryRecord } from './interface.js';

/** Format tag stored under 'v'. */
export const LEVEL_STORE_FORMAT = 'tallyboard-board-store/1';

const P = { version: 0x76, head: 0x68, entry: 0x65, byHash: 0x78, node: 0x6e, checkpoint: 0x63, cosignature: 0x77 } as const;

function u64(x: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(x));
  return b;
}

function readU64(b: Uint8Array, off: number): number {
  const x = new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('stored integer exceeds 2^53 − 1');
  return Number(x);
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Key constructors of the layout above. */
export const LEVEL_KEYS = {
  version: (): Uint8Array => Uint8Array.of(P.version),
  head: (): Uint8Array => Uint8Array.of(P.head),
  entry: (height: number): Uint8Array => cat(Uint8Array.of(P.entry), u64(height)),
  byHash: (hash: Uint8Array): Uint8Array => cat(Uint8Array.of(P.byHash), hash),
  node: (level: number, index: number): Uint8Array => cat(Uint8Array.of(P.node, level), u64(index)),
  checkpoint: (treeSize: number): Uint8Array => cat(Uint8Array.of(P.checkpoint), u64(treeSize)),
  /** 'w' ‖ U64(treeSize) ‖ ASCII name: one witness cosignature (spec §9.9.5) */
  cosignature: (treeSize: number, name: string): Uint8Array => cat(Uint8Array.of(P.cosignature), u64(treeSize), utf8.encode(name)),
  /** First key after every key of the given prefix byte. */
  prefixEnd: (prefix: number): Uint8Array => Uint8Array.of(prefix + 1),
  prefixes: P,
} as const;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Db = Level<Uint8Array, Uint8Array>;
type Op = { type: 'put'; key: Uint8Array; value: Uint8Array };

/** A BoardStore over LevelDB in directory `location`. */
export class LevelBoardStore implements BoardStore {
  readonly #db: Db;
  #head: BoardHead | undefined;
  #opened = false;

  /**
   * @param location - directory of the database (created if missing)
   */
  constructor(readonly location: string) {
    this.#db = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' });
  }

  async open(): Promise<void> {
    if (this.#opened) return;
    // The store's directory is 0700 whatever the umask (issue 16.8); LevelDB makes it 0755 otherwise.
    mkdirSync(this.location, { recursive: true, mode: 0o700 });
    chmodSync(this.location, 0o700);
    await this.#db.open();
    const version = await this.#db.get(LEVEL_KEYS.version());
    if (version !== undefined && decodeUtf8(version, 'format tag') !== LEVEL_STORE_FORMAT) {
      throw corrupt(`unknown store format ${JSON.stringify(decodeUtf8(version, 'format tag'))}`);
    }
    if (version === undefined) {
      const any = await this.#db.keys({ limit: 1 }).all();
      if (any.length > 0) throw corrupt('data without a format tag: not a board store');
    }
    this.#head = await this.#readHead();
    this.#opened = true;
  }

  async close(): Promise<void> {
    this.#opened = false;
    await this.#db.close();
  }

  async head(): Promise<BoardHead | undefined> {
    const h = await this.#readHead();
    return h;
  }

  async #readHead(): Promise<BoardHead | undefined> {
    const v = await this.#db.get(LEVEL_KEYS.head());
    if (v === undefined) return undefined;
    if (v.length !== 40) throw corrupt(`head record of ${v.length} bytes, expected 40`);
    return { size: readU64(v, 0), chainHead: v.slice(8, 40) };
  }

  async lastEntryHeight(): Promise<number | undefined> {
    const keys = await this.#db
      .keys({ gte: Uint8Array.of(P.entry), lt: LEVEL_KEYS.prefixEnd(P.entry), reverse: true, limit: 1 })
      .all();
    const k = keys[0];
    if (k === undefined) return undefined;
    if (k.length !== 9) throw corrupt('malformed entry key');
    return readU64(k, 1);
  }

  async getEntry(height: number): Promise<EntryRecord | undefined> {
    const v = await this.#db.get(LEVEL_KEYS.entry(height));
    return v === undefined ? undefined : decodeEntryRecord(height, v);
  }

  async readEntries(from: number, to: number, maxBytes: number): Promise<EntryRecord[]> {
    const out: EntryRecord[] = [];
    if (from >= to) return out;
    let bytes = 0;
    const it = this.#db.iterator({ gte: LEVEL_KEYS.entry(Math.max(0, from)), lt: LEVEL_KEYS.entry(to) });
    try {
      for await (const [k, v] of it) {
        if (k.length !== 9) throw corrupt('malformed entry key');
        const rec = decodeEntryRecord(readU64(k, 1), v);
        out.push(rec);
        bytes += rec.bytes.length;
        if (bytes >= maxBytes) break;
      }
    } finally {
      await it.close();
    }
    return out;
  }

  async heightOf(hash: Uint8Array): Promise<number | undefined> {
    if (hash.length !== 32) return undefined;
    const v = await this.#db.get(LEVEL_KEYS.byHash(hash));
    if (v === undefined) return undefined;
    if (v.length !== 8) throw corrupt('malformed hash index record');
    return readU64(v, 0);
  }

  async getNode(level: number, index: number): Promise<Uint8Array | undefined> {
    const v = await this.#db.get(LEVEL_KEYS.node(level, index));
    if (v === undefined) return undefined;
    if (v.length !== 32) throw corrupt(`node (${level}, ${index}) is ${v.length} bytes, expected 32`);
    return v.slice();
  }

  async getCheckpoint(treeSize: number): Promise<Checkpoint | undefined> {
    const v = await this.#db.get(LEVEL_KEYS.checkpoint(treeSize));
    return v === undefined ? undefined : decodeCheckpoint(v, treeSize);
  }

  async latestCheckpoint(): Promise<Checkpoint | undefined> {
    const rows = await this.#db
      .iterator({ gte: Uint8Array.of(P.checkpoint), lt: LEVEL_KEYS.prefixEnd(P.checkpoint), reverse: true, limit: 1 })
      .all();
    const row = rows[0];
    if (row === undefined) return undefined;
    const [k, v] = row;
    if (k.length !== 9) throw corrupt('malformed checkpoint key');
    return decodeCheckpoint(v, readU64(k, 1));
  }

  async putCosignature(c: Cosignature): Promise<void> {
    if (!this.#opened) throw new TallyError('INTERNAL', 'board store: write before open');
    const text = canonicalJson(cosignatureToJson(c));
    await this.#db.put(LEVEL_KEYS.cosignature(c.treeSize, c.name), utf8.encode(text), { sync: true });
  }

  async getCosignatures(treeSize: number): Promise<Cosignature[]> {
    const prefix = cat(Uint8Array.of(P.cosignature), u64(treeSize));
    const end = cat(Uint8Array.of(P.cosignature), u64(treeSize + 1));
    const rows = await this.#db.iterator({ gte: prefix, lt: end }).all();
    return sortCosignatures(rows.map(([, v]) => decodeCosignature(decodeUtf8(v, `cosignature at size ${treeSize}`), treeSize)));
  }

  async commit(batch: CommitBatch): Promise<void> {
    if (!this.#opened) throw new TallyError('INTERNAL', 'board store: commit before open');
    const head = planCommit(this.#head, batch);
    const ops: Op[] = [{ type: 'put', key: LEVEL_KEYS.version(), value: utf8.encode(LEVEL_STORE_FORMAT) }];
    for (const e of batch.entries) {
      ops.push({ type: 'put', key: LEVEL_KEYS.entry(e.height), value: cat(e.hash, e.bytes) });
      ops.push({ type: 'put', key: LEVEL_KEYS.byHash(e.hash), value: u64(e.height) });
    }
    for (const n of batch.nodes) ops.push({ type: 'put', key: LEVEL_KEYS.node(n.level, n.index), value: n.hash.slice() });
    if (batch.checkpoint !== undefined) {
      const text = canonicalJson(checkpointToJson(batch.checkpoint));
      ops.push({ type: 'put', key: LEVEL_KEYS.checkpoint(batch.checkpoint.treeSize), value: utf8.encode(text) });
    }
    ops.push({ type: 'put', key: LEVEL_KEYS.head(), value: cat(u64(head.size), head.chainHead) });
    // One batch, fsync'ed: the append is all-or-nothing and durable before we resolve.
    await this.#db.batch(ops, { sync: true });
    this.#head = head;
  }
}

function decodeEntryRecord(height: number, v: Uint8Array): EntryRecord {
  if (v.length < 33) throw corrupt(`entry ${height}: record of ${v.length} bytes`);
  return { height, hash: v.slice(0, 32), bytes: v.slice(32) };
}

function decodeCheckpoint(v: Uint8Array, treeSize: number): Checkpoint {
  let cp: Checkpoint;
  try {
    cp = checkpointFromJson(parseCanonicalJson(decodeUtf8(v, `checkpoint ${treeSize}`)));
  } catch (e) {
    throw corrupt(`checkpoint ${treeSize} does not decode`, e);
  }
  if (cp.treeSize !== treeSize) throw corrupt(`checkpoint stored under size ${treeSize} is for size ${cp.treeSize}`);
  return cp;
}

function decodeUtf8(v: Uint8Array, what: string): string {
  try {
    return utf8Strict.decode(v);
  } catch (e) {
    throw corrupt(`${what} is not UTF-8`, e);
  }
}
