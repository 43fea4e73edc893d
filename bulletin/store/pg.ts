/**
 * {@link BoardStore} on PostgreSQL (spec/09-board.md §9.6, §9.6.6): the board that several
 * ballot servers append to at once.
 *
 * Why PostgreSQL and why like this: a large election wants casting front ends on several
 * machines and a database its operators already back up, replicate and watch. The store is the
 * same small contract as the LevelDB one (the contract suite runs unchanged against both); what
 * PostgreSQL adds is a place to SEQUENCE appends that is not a process. Every append is one
 * transaction that first locks the board's head row (`SELECT … FOR UPDATE`), so two writers are
 * strictly ordered: the second sees the first's committed head, entries and Merkle nodes, and
 * builds on them. The primary keys (board, height) and (board, hash) make a second entry at a
 * height, or a duplicate hash, impossible even for a buggy writer; `planCommit` checks the batch
 * against the LOCKED head, so a writer with a stale view gets CONFLICT, never a fork.
 *
 * Several boards may share one database; each is named (the ballot server uses the election
 * id). Tables (created by the migration in {@link BOARD_MIGRATIONS}):
 *
 *   tb_board_head(board, size, chain_head)                 one row per board: the lock target
 *   tb_board_entry(board, height, hash, bytes)             PK (board, height), UNIQUE (board, hash)
 *   tb_board_node(board, level, idx, hash)                 perfect Merkle nodes
 *   tb_board_checkpoint(board, tree_size, body)            canonical JSON, as in the LevelDB store
 *   tb_board_cosignature(board, tree_size, witness, body)  witness cosignatures (spec §9.9.5)
 *
 * Durability: each append's transaction sets `synchronous_commit = on` locally, so COMMIT returns
 * only after the WAL is flushed (on a synchronous standby too, if one is configured) — the board
 * acknowledges nothing a crash of the database could take back.
 */
import type pg from 'pg';
import { TallyError } from '../../src/errors.js';
import { dbError, inTransaction, migrate, openPool, type MigrationStep } from '../../src/node/pg-connect.js';
import { checkpointFromJson, checkpointToJson, type Checkpoint } from '../checkpoint.js';
import { cosignatureToJson, decodeStoredCosignature, sortCosignatures, type Cosignature } from '../cosignature.js';
import { parseCanonicalJson } from '../canonical-json.js';
import { canonicalJson } from '../value-encoding.js';
import {
  corrupt,
  planCommit,
  type AppendSection,
  type BoardHead,
  type CommitBatch,
  type EntryRecord,
  type SharedBoardStore,
} from './interface.js';

/** The board schema's migration steps (append only: a shipped step never changes). */
export const BOARD_MIGRATIONS: readonly MigrationStep[] = [
  [
    `CREATE TABLE tb_board_head (
       board text COLLATE "C" PRIMARY KEY,
       size bigint NOT NULL CHECK (size >= 0),
       chain_head bytea NOT NULL CHECK (length(chain_head) = 32))`,
    `CREATE TABLE tb_board_entry (
       board text COLLATE "C" NOT NULL REFERENCES tb_board_head (board),
       height bigint NOT NULL CHECK (height >= 0),
       hash bytea NOT NULL CHECK (length(hash) = 32),
       bytes bytea NOT NULL,
       PRIMARY KEY (board, height),
       UNIQUE (board, hash))`,
    `CREATE TABLE tb_board_node (
       board text COLLATE "C" NOT NULL REFERENCES tb_board_head (board),
       level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
       idx bigint NOT NULL CHECK (idx >= 0),
       hash bytea NOT NULL CHECK (length(hash) = 32),
       PRIMARY KEY (board, level, idx))`,
    `CREATE TABLE tb_board_checkpoint (
       board text COLLATE "C" NOT NULL REFERENCES tb_board_head (board),
       tree_size bigint NOT NULL CHECK (tree_size >= 1),
       body text NOT NULL,
       PRIMARY KEY (board, tree_size))`,
  ],
  [
    `CREATE TABLE tb_board_cosignature (
       board text COLLATE "C" NOT NULL REFERENCES tb_board_head (board),
       tree_size bigint NOT NULL CHECK (tree_size >= 1),
       witness text COLLATE "C" NOT NULL,
       body text NOT NULL,
       PRIMARY KEY (board, tree_size, witness))`,
  ],
];

/** Rows fetched per round trip by readEntries (bounded memory per page). */
const PAGE_ROWS = 256;

/** Options of {@link PgBoardStore}. */
export interface PgBoardStoreOptions {
  /** SECRET (may hold a password): postgres:// connection string; the store owns its pool */
  readonly connectionString?: string;
  /** or a pool owned by the caller (not ended by close()) */
  readonly pool?: pg.Pool;
  /** the board's name in the database, 1–256 characters (the ballot server uses the election id) */
  readonly board: string;
}

function num(x: string | number, what: string): number {
  const n = typeof x === 'number' ? x : Number(x);
  if (!Number.isSafeInteger(n) || n < 0) throw corrupt(`${what} is not an integer in [0, 2^53 − 1]`);
  return n;
}

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b); // a copy: callers may mutate it freely
}

/** A shared BoardStore in a PostgreSQL database. */
export class PgBoardStore implements SharedBoardStore {
  readonly shared = true as const;
  readonly board: string;
  readonly #connectionString: string | undefined;
  readonly #externalPool: pg.Pool | undefined;
  #pool: pg.Pool | undefined;
  /** In-process queue of append sections: at most one pool client waits on the row lock. */
  #tail: Promise<unknown> = Promise.resolve();

  /** @throws TallyError MALFORMED without a connection string or pool, or for a bad board name */
  constructor(opts: PgBoardStoreOptions) {
    if (typeof opts.board !== 'string' || opts.board.length === 0 || opts.board.length > 256) {
      throw new TallyError('MALFORMED', 'board store: the board name must be 1–256 characters');
    }
    if ((opts.connectionString === undefined) === (opts.pool === undefined)) {
      throw new TallyError('MALFORMED', 'board store: give exactly one of a connection string and a pool');
    }
    this.board = opts.board;
    this.#connectionString = opts.connectionString;
    this.#externalPool = opts.pool;
  }

  get #db(): pg.Pool {
    if (this.#pool === undefined) throw new TallyError('INTERNAL', 'board store: not open');
    return this.#pool;
  }

  async open(): Promise<void> {
    if (this.#pool !== undefined) return;
    const pool = this.#externalPool ?? openPool(this.#connectionString!);
    try {
      await migrate(pool, 'board', BOARD_MIGRATIONS);
      await pool.query('INSERT INTO tb_board_head (board, size, chain_head) VALUES ($1, 0, $2) ON CONFLICT (board) DO NOTHING', [
        this.board,
        Buffer.alloc(32),
      ]);
    } catch (e) {
      if (this.#externalPool === undefined) await pool.end().catch(() => undefined);
      throw dbError('opening the board store', e);
    }
    this.#pool = pool;
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    if (pool === undefined) return;
    await this.#tail;
    this.#pool = undefined;
    if (this.#externalPool === undefined) await pool.end();
  }

  async #q<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await this.#db.query<R>(sql, params)).rows;
    } catch (e) {
      throw dbError(what, e);
    }
  }

  async head(): Promise<BoardHead | undefined> {
    const rows = await this.#q<{ size: string; chain_head: Buffer }>('reading the head', 'SELECT size, chain_head FROM tb_board_head WHERE board = $1', [this.board]);
    return headOf(rows[0]);
  }

  async lastEntryHeight(): Promise<number | undefined> {
    const rows = await this.#q<{ h: string | null }>('reading the last entry', 'SELECT max(height) AS h FROM tb_board_entry WHERE board = $1', [this.board]);
    const h = rows[0]?.h;
    return h === null || h === undefined ? undefined : num(h, 'entry height');
  }

  async getEntry(height: number): Promise<EntryRecord | undefined> {
    const rows = await this.#q<{ hash: Buffer; bytes: Buffer }>('reading an entry', 'SELECT hash, bytes FROM tb_board_entry WHERE board = $1 AND height = $2', [this.board, height]);
    const r = rows[0];
    return r && { height, hash: bytes(r.hash), bytes: bytes(r.bytes) };
  }

  async readEntries(from: number, to: number, maxBytes: number): Promise<EntryRecord[]> {
    const out: EntryRecord[] = [];
    let next = Math.max(0, from);
    let total = 0;
    while (next < to) {
      const rows = await this.#q<{ height: string; hash: Buffer; bytes: Buffer }>(
        'reading entries',
        'SELECT height, hash, bytes FROM tb_board_entry WHERE board = $1 AND height >= $2 AND height < $3 ORDER BY height LIMIT $4',
        [this.board, next, to, PAGE_ROWS],
      );
      for (const r of rows) {
        const rec = { height: num(r.height, 'entry height'), hash: bytes(r.hash), bytes: bytes(r.bytes) };
        out.push(rec);
        total += rec.bytes.length;
        if (total >= maxBytes) return out;
      }
      if (rows.length < PAGE_ROWS) break;
      next = out[out.length - 1]!.height + 1;
    }
    return out;
  }

  async heightOf(hash: Uint8Array): Promise<number | undefined> {
    if (hash.length !== 32) return undefined;
    const rows = await this.#q<{ height: string }>('reading the hash index', 'SELECT height FROM tb_board_entry WHERE board = $1 AND hash = $2', [this.board, Buffer.from(hash)]);
    return rows[0] && num(rows[0].height, 'entry height');
  }

  async getNode(level: number, index: number): Promise<Uint8Array | undefined> {
    const rows = await this.#q<{ hash: Buffer }>('reading a Merkle node', 'SELECT hash FROM tb_board_node WHERE board = $1 AND level = $2 AND idx = $3', [this.board, level, index]);
    return rows[0] && bytes(rows[0].hash);
  }

  async putCosignature(c: Cosignature): Promise<void> {
    await this.#q(
      'storing a cosignature',
      `INSERT INTO tb_board_cosignature (board, tree_size, witness, body) VALUES ($1, $2, $3, $4)
       ON CONFLICT (board, tree_size, witness) DO UPDATE SET body = EXCLUDED.body`,
      [this.board, c.treeSize, c.name, canonicalJson(cosignatureToJson(c))],
    );
  }

  async getCosignatures(treeSize: number): Promise<Cosignature[]> {
    const rows = await this.#q<{ body: string }>('reading cosignatures', 'SELECT body FROM tb_board_cosignature WHERE board = $1 AND tree_size = $2 ORDER BY witness', [this.board, treeSize]);
    return sortCosignatures(rows.map((r) => decodeStoredCosignature(r.body, treeSize)));
  }

  async getCheckpoint(treeSize: number): Promise<Checkpoint | undefined> {
    const rows = await this.#q<{ body: string }>('reading a checkpoint', 'SELECT body FROM tb_board_checkpoint WHERE board = $1 AND tree_size = $2', [this.board, treeSize]);
    return rows[0] && decodeCheckpoint(rows[0].body, treeSize);
  }

  async latestCheckpoint(): Promise<Checkpoint | undefined> {
    const rows = await this.#q<{ tree_size: string; body: string }>(
      'reading the latest checkpoint',
      'SELECT tree_size, body FROM tb_board_checkpoint WHERE board = $1 ORDER BY tree_size DESC LIMIT 1',
      [this.board],
    );
    return rows[0] && decodeCheckpoint(rows[0].body, num(rows[0].tree_size, 'checkpoint size'));
  }

  async commit(batch: CommitBatch): Promise<void> {
    await this.withAppendLock((s) => s.commit(batch));
  }

  withAppendLock<T>(fn: (section: AppendSection) => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => this.#section(fn));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #section<T>(fn: (section: AppendSection) => Promise<T>): Promise<T> {
    const board = this.board;
    // What `fn` throws (a guard refusing, a CONFLICT) passes unchanged; driver errors are wrapped.
    let fromFn: { error: unknown } | undefined;
    try {
      return await inTransaction(this.#db, async (c) => {
        // The lock every writer of this board takes first: appends are totally ordered here.
        const r = await c.query<{ size: string; chain_head: Buffer }>('SELECT size, chain_head FROM tb_board_head WHERE board = $1 FOR UPDATE', [board]);
        if (r.rows[0] === undefined) throw corrupt(`no head row for board ${JSON.stringify(board)}`);
        const head = headOf(r.rows[0]);
        let used = false;
        const section: AppendSection = {
          head,
          commit: async (batch) => {
            if (used) throw new TallyError('INTERNAL', 'board store: one commit per append section');
            used = true;
            try {
              await writeBatch(c, board, head, batch);
            } catch (e) {
              if ((e as { code?: unknown }).code === '23505') {
                throw new TallyError('CONFLICT', 'commit: an entry with this height or hash is already stored', { cause: e });
              }
              throw dbError('writing an append', e);
            }
          },
        };
        try {
          return await fn(section);
        } catch (error) {
          fromFn = { error };
          throw error;
        }
      });
    } catch (e) {
      if (fromFn !== undefined && fromFn.error === e) throw e;
      throw dbError('appending to the board', e);
    }
  }
}

/** The batch's rows, in the section's transaction, after checking it against the locked head. */
async function writeBatch(c: pg.PoolClient, board: string, head: BoardHead | undefined, batch: CommitBatch): Promise<void> {
  const next = planCommit(head, batch); // CONFLICT before anything is written
  if (batch.entries.length > 0) {
    await c.query(
      'INSERT INTO tb_board_entry (board, height, hash, bytes) SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::bytea[])',
      [board, batch.entries.map((e) => e.height), batch.entries.map((e) => Buffer.from(e.hash)), batch.entries.map((e) => Buffer.from(e.bytes))],
    );
  }
  if (batch.nodes.length > 0) {
    await c.query(
      `INSERT INTO tb_board_node (board, level, idx, hash) SELECT $1, * FROM unnest($2::smallint[], $3::bigint[], $4::bytea[])
       ON CONFLICT (board, level, idx) DO UPDATE SET hash = EXCLUDED.hash`,
      [board, batch.nodes.map((n) => n.level), batch.nodes.map((n) => n.index), batch.nodes.map((n) => Buffer.from(n.hash))],
    );
  }
  if (batch.checkpoint !== undefined) {
    await c.query(
      `INSERT INTO tb_board_checkpoint (board, tree_size, body) VALUES ($1, $2, $3)
       ON CONFLICT (board, tree_size) DO UPDATE SET body = EXCLUDED.body`,
      [board, batch.checkpoint.treeSize, canonicalJson(checkpointToJson(batch.checkpoint))],
    );
  }
  await c.query('UPDATE tb_board_head SET size = $2, chain_head = $3 WHERE board = $1', [board, next.size, Buffer.from(next.chainHead)]);
}

function headOf(row: { size: string; chain_head: Buffer } | undefined): BoardHead | undefined {
  if (row === undefined) return undefined;
  const size = num(row.size, 'head size');
  if (size === 0) return undefined;
  if (row.chain_head.length !== 32) throw corrupt('head chain hash is not 32 bytes');
  return { size, chainHead: bytes(row.chain_head) };
}

function decodeCheckpoint(body: string, treeSize: number): Checkpoint {
  let cp: Checkpoint;
  try {
    cp = checkpointFromJson(parseCanonicalJson(body));
  } catch (e) {
    throw corrupt(`checkpoint ${treeSize} does not decode`, e);
  }
  if (cp.treeSize !== treeSize) throw corrupt(`checkpoint stored under size ${treeSize} is for size ${cp.treeSize}`);
  return cp;
}
