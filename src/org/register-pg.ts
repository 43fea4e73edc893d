/**
 * The voter register on PostgreSQL: the third implementation of register-store.ts, beside the
 * in-memory and the LevelDB ones, passing the same contract suite (test/helpers/register-
 * contract.ts), for organizations whose register should live in the database they already back
 * up, or whose organization servers run on several machines.
 *
 * Atomicity across processes: every read-modify-write of an issuance record (reserve, complete,
 * release, clear) is ONE transaction that first takes a transaction-scoped advisory lock on the
 * (election, login) pair, then reads, applies the shared transition function of
 * register-store.ts and writes. Two organization servers on one database therefore serialize per
 * voter exactly as one process does with its in-process lock, and "one token per voter" holds
 * across machines. `addVoters` is one transaction: all voters or none.
 *
 * Tables (created by {@link REGISTER_MIGRATIONS}):
 *
 *   tb_voter(login, record)                                  record: the Voter as JSON
 *   tb_issuance(election_id, login, state, reservation, reserved_at, issued_at)
 *
 * Durability: each write transaction sets `synchronous_commit = on` (pg-connect.ts), so an
 * `issued` mark is on stable storage before the signature leaves the server (see issuance.ts).
 */
import type pg from 'pg';
import { TallyError } from '../errors.js';
import { dbError, inTransaction, migrate, openPool, type MigrationStep } from '../node/pg-connect.js';
import { aLogin, aVoter, type Voter } from './voter.js';
import {
  aDistinctBatch,
  aElectionId,
  aMillis,
  aReservation,
  aStoredIssuance,
  completeTransition,
  loginsTaken,
  MAX_LEASE_MS,
  releaseTransition,
  reserveTransition,
  type IssuanceRecord,
  type RegisterStore,
  type ReserveOutcome,
} from './register-store.js';

/** The register schema's migration steps (append only). */
export const REGISTER_MIGRATIONS: readonly MigrationStep[] = [
  [
    `CREATE TABLE tb_voter (login text COLLATE "C" PRIMARY KEY, record jsonb NOT NULL)`,
    `CREATE TABLE tb_issuance (
       election_id text COLLATE "C" NOT NULL,
       login text COLLATE "C" NOT NULL REFERENCES tb_voter (login),
       state text NOT NULL CHECK (state IN ('reserved', 'issued')),
       reservation text NOT NULL,
       reserved_at bigint NOT NULL,
       issued_at bigint,
       PRIMARY KEY (election_id, login))`,
  ],
];

/** Advisory-lock class of issuance records (the key is hashtext(election ‖ '\n' ‖ login)). */
const ISSUANCE_LOCK = 0x7462_0002;
/** Rows per INSERT / lookup: bounds one statement's parameters. */
const CHUNK = 10_000;

type IssuanceRow = { state: string; reservation: string; reserved_at: string; issued_at: string | null };

function toRecord(r: IssuanceRow | undefined): IssuanceRecord | undefined {
  if (r === undefined) return undefined;
  return aStoredIssuance({
    state: r.state,
    reservation: r.reservation,
    reservedAt: Number(r.reserved_at),
    issuedAt: r.issued_at === null ? null : Number(r.issued_at),
  });
}

/** A RegisterStore in a PostgreSQL database. Create with {@link openPgRegister}. */
export class PgRegisterStore implements RegisterStore {
  #closed = false;

  /** Use {@link openPgRegister}: the schema must be migrated first. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
  ) {}

  #db(): pg.Pool {
    if (this.#closed) throw new TallyError('INTERNAL', 'register: the store is closed');
    return this.pool;
  }

  async #rows<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await this.#db().query<R>(sql, params)).rows;
    } catch (e) {
      throw dbError(`register: ${what}`, e);
    }
  }

  /** One transaction holding the advisory lock of (election, login). */
  async #locked<T>(electionId: string, login: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let fromFn: { error: unknown } | undefined;
    try {
      return await inTransaction(this.#db(), async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ISSUANCE_LOCK, `${electionId}\n${login}`]);
        try {
          return await fn(c);
        } catch (error) {
          fromFn = { error };
          throw error;
        }
      });
    } catch (e) {
      if (fromFn !== undefined && fromFn.error === e && e instanceof TallyError) throw e;
      throw dbError('register: updating an issuance record', e);
    }
  }

  private readVoter(value: unknown): Voter {
    try {
      return aVoter(value);
    } catch (cause) {
      throw new TallyError('INTERNAL', 'register: a stored voter record is corrupt', { cause });
    }
  }

  /** {@inheritDoc RegisterStore.getVoter} */
  async getVoter(login: string): Promise<Voter | undefined> {
    const rows = await this.#rows<{ record: unknown }>('reading a voter', 'SELECT record FROM tb_voter WHERE login = $1', [aLogin(login)]);
    return rows[0] === undefined ? undefined : this.readVoter(rows[0].record);
  }

  /** {@inheritDoc RegisterStore.existingLogins} */
  async existingLogins(logins: readonly string[]): Promise<Set<string>> {
    aDistinctBatch(logins.map((l) => aLogin(l)));
    const found = new Set<string>();
    for (let i = 0; i < logins.length; i += CHUNK) {
      const rows = await this.#rows<{ login: string }>('reading logins', 'SELECT login FROM tb_voter WHERE login = ANY($1::text[])', [logins.slice(i, i + CHUNK)]);
      for (const r of rows) found.add(r.login);
    }
    return found;
  }

  /** {@inheritDoc RegisterStore.addVoters} */
  async addVoters(voters: readonly Voter[]): Promise<void> {
    const checked = voters.map((v) => aVoter(v));
    const logins = checked.map((v) => v.login);
    aDistinctBatch(logins);
    let inserted = 0;
    try {
      await inTransaction(this.#db(), async (c) => {
        for (let i = 0; i < checked.length; i += CHUNK) {
          const part = checked.slice(i, i + CHUNK);
          const r = await c.query(
            'INSERT INTO tb_voter (login, record) SELECT * FROM unnest($1::text[], $2::jsonb[]) ON CONFLICT (login) DO NOTHING',
            [part.map((v) => v.login), part.map((v) => JSON.stringify(v))],
          );
          inserted += r.rowCount ?? 0;
        }
        // Any login already there: roll back everything (all or nothing).
        if (inserted !== checked.length) throw new TallyError('CONFLICT', 'register: some logins are taken');
      });
    } catch (e) {
      if (e instanceof TallyError && e.code === 'CONFLICT') {
        const taken = await this.existingLogins(logins);
        throw loginsTaken(logins.filter((l) => taken.has(l)));
      }
      throw dbError('register: adding voters', e);
    }
  }

  /** {@inheritDoc RegisterStore.countVoters} */
  async countVoters(): Promise<number> {
    const rows = await this.#rows<{ n: string }>('counting voters', 'SELECT count(*) AS n FROM tb_voter', []);
    return Number(rows[0]!.n);
  }

  /** {@inheritDoc RegisterStore.listRefSalts} */
  async listRefSalts(): Promise<{ login: string; refSalt: string }[]> {
    const rows = await this.#rows<{ login: string; salt: string | null }>('listing reference salts', "SELECT login, record->>'refSalt' AS salt FROM tb_voter", []);
    return rows.map((r) => {
      if (typeof r.salt !== 'string' || !/^[0-9a-f]{64}$/.test(r.salt)) throw new TallyError('INTERNAL', `register: voter ${JSON.stringify(r.login)} has no valid reference salt`);
      return { login: r.login, refSalt: r.salt };
    });
  }

  /** {@inheritDoc RegisterStore.getIssuance} */
  async getIssuance(electionId: string, login: string): Promise<IssuanceRecord | undefined> {
    const rows = await this.#rows<IssuanceRow>(
      'reading an issuance record',
      'SELECT state, reservation, reserved_at, issued_at FROM tb_issuance WHERE election_id = $1 AND login = $2',
      [aElectionId(electionId), aLogin(login)],
    );
    return toRecord(rows[0]);
  }

  /** {@inheritDoc RegisterStore.reserveIssuance} */
  async reserveIssuance(electionId: string, login: string, reservation: string, now: number, leaseMs: number): Promise<ReserveOutcome> {
    aElectionId(electionId);
    aLogin(login);
    aReservation(reservation);
    aMillis(now, 'now');
    aMillis(leaseMs, 'leaseMs', 1, MAX_LEASE_MS);
    return this.#locked(electionId, login, async (c) => {
      const v = await c.query('SELECT 1 FROM tb_voter WHERE login = $1', [login]);
      if (v.rowCount === 0) throw new TallyError('NOT_FOUND', `register: no voter with login ${JSON.stringify(login)}`);
      const outcome = reserveTransition(await readIssuance(c, electionId, login), reservation, now, leaseMs);
      if (outcome.ok) await writeIssuance(c, electionId, login, outcome.record);
      return outcome;
    });
  }

  /** {@inheritDoc RegisterStore.completeIssuance} */
  async completeIssuance(electionId: string, login: string, reservation: string, now: number): Promise<boolean> {
    aElectionId(electionId);
    aLogin(login);
    aReservation(reservation);
    aMillis(now, 'now');
    return this.#locked(electionId, login, async (c) => {
      const next = completeTransition(await readIssuance(c, electionId, login), reservation, now);
      if (next === undefined) return false;
      await writeIssuance(c, electionId, login, next);
      return true;
    });
  }

  /** {@inheritDoc RegisterStore.releaseIssuance} */
  async releaseIssuance(electionId: string, login: string, reservation: string): Promise<boolean> {
    aElectionId(electionId);
    aLogin(login);
    aReservation(reservation);
    return this.#locked(electionId, login, async (c) => {
      if (!releaseTransition(await readIssuance(c, electionId, login), reservation)) return false;
      await c.query('DELETE FROM tb_issuance WHERE election_id = $1 AND login = $2', [electionId, login]);
      return true;
    });
  }

  /** {@inheritDoc RegisterStore.clearReservation} */
  async clearReservation(electionId: string, login: string): Promise<boolean> {
    aElectionId(electionId);
    aLogin(login);
    return this.#locked(electionId, login, async (c) => {
      const r = await c.query("DELETE FROM tb_issuance WHERE election_id = $1 AND login = $2 AND state = 'reserved'", [electionId, login]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  /** {@inheritDoc RegisterStore.close} */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.ownsPool) await this.pool.end();
  }
}

async function readIssuance(c: pg.PoolClient, electionId: string, login: string): Promise<IssuanceRecord | undefined> {
  const r = await c.query<IssuanceRow>('SELECT state, reservation, reserved_at, issued_at FROM tb_issuance WHERE election_id = $1 AND login = $2', [electionId, login]);
  return toRecord(r.rows[0]);
}

async function writeIssuance(c: pg.PoolClient, electionId: string, login: string, rec: IssuanceRecord): Promise<void> {
  await c.query(
    `INSERT INTO tb_issuance (election_id, login, state, reservation, reserved_at, issued_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (election_id, login) DO UPDATE SET state = EXCLUDED.state, reservation = EXCLUDED.reservation,
       reserved_at = EXCLUDED.reserved_at, issued_at = EXCLUDED.issued_at`,
    [electionId, login, rec.state, rec.reservation, rec.reservedAt, rec.issuedAt],
  );
}

/**
 * Open a register in a PostgreSQL database, creating or upgrading its schema.
 * @param connectionString - SECRET (may hold a password): postgres:// URL; never logged
 * @returns the open store (it owns its pool)
 * @throws TallyError MALFORMED for something that is not a postgres:// URL; INTERNAL if the
 *   database cannot be reached or holds a newer schema
 */
export async function openPgRegister(connectionString: string): Promise<PgRegisterStore> {
  const pool = openPool(connectionString);
  try {
    await migrate(pool, 'register', REGISTER_MIGRATIONS);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw dbError('opening the register', e);
  }
  return new PgRegisterStore(pool, true);
}
