/**
 * What the PostgreSQL stores share: opening a connection pool from a connection string, showing
 * that string without its password, running a transaction, and the project's own schema
 * migrations (bulletin/store/pg.ts, src/org/register-pg.ts).
 *
 * Why migrations live here and are this small: the schema is created and versioned by Tallyboard
 * itself, on start, idempotently, so an operator runs no SQL by hand and two servers starting at
 * the same moment cannot both create a table. Each component (board, register) has an ordered
 * list of steps; `tallyboard_schema` records how many of them ran. The steps run in one
 * transaction under a transaction-scoped advisory lock, so concurrent starts serialize and a
 * crash mid-migration leaves the previous version intact.
 *
 * A connection string can carry a password (`postgres://user:secret@host/db`). It is never
 * logged or put into an error: {@link redactConnectionString} replaces the password, and errors
 * from the driver are wrapped with a message that names only the redacted form.
 */
import pg from 'pg';
import { TallyError } from '../errors.js';

/** The environment variable holding the connection string when no flag gives it. */
export const DATABASE_URL_ENV = 'TALLYBOARD_DATABASE_URL';

/** Advisory-lock class of the migration step (pg_advisory_xact_lock(int, int)). */
const MIGRATION_LOCK = 0x7462_0001;

/** True if `s` looks like a PostgreSQL connection string (postgres:// or postgresql://). */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/**
 * The connection string with any password replaced by `***` (for logs and messages).
 * @param url - a connection string; something that does not parse is shown as `<connection string>`
 */
export function redactConnectionString(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '<connection string>';
  }
  if (u.password !== '') u.password = '***';
  for (const k of [...u.searchParams.keys()]) if (/pass/i.test(k)) u.searchParams.set(k, '***');
  return u.toString();
}

/**
 * A pool on `connectionString`. Connection errors of idle clients are reported to `onError`
 * (the pool replaces the client); they must not crash the process.
 * @param connectionString - postgres:// URL
 * @param max - pool size (≥ 2: a store holding its append lock still reads on other clients)
 */
export function openPool(connectionString: string, max = 10, onError: (e: Error) => void = () => undefined): pg.Pool {
  if (!isPostgresUrl(connectionString)) throw new TallyError('MALFORMED', 'database: expected a postgres:// or postgresql:// connection string');
  const pool = new pg.Pool({ connectionString, max: Math.max(2, max) });
  pool.on('error', onError);
  return pool;
}

/**
 * Wraps a driver error: keeps it as `cause` (for operators' debugging), says what failed, and
 * never repeats the connection string.
 */
export function dbError(what: string, cause: unknown): TallyError {
  if (cause instanceof TallyError) return cause;
  const code = typeof (cause as { code?: unknown })?.code === 'string' ? ` (SQLSTATE ${(cause as { code: string }).code})` : '';
  return new TallyError('INTERNAL', `database: ${what} failed${code}`, { cause });
}

/**
 * Runs `fn` in one transaction on one client of `pool`: COMMIT if it resolves, ROLLBACK if it
 * throws (then nothing it wrote is kept).
 * @param isolation - e.g. 'READ COMMITTED' (default) or 'SERIALIZABLE'
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, isolation = 'READ COMMITTED'): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
    // Durable before acknowledged, whatever the server's default (spec/12-servers.md §12.6).
    await client.query('SET LOCAL synchronous_commit TO on');
  } catch (e) {
    client.release(e as Error);
    throw e;
  }
  let out: T;
  try {
    out = await fn(client);
  } catch (e) {
    await client.query('ROLLBACK').catch((re: Error) => (broken = re));
    client.release(broken);
    throw e;
  }
  try {
    await client.query('COMMIT');
  } catch (e) {
    // The outcome of a failed COMMIT is unknown to us; the connection is not reused.
    broken = e as Error;
    throw e;
  } finally {
    client.release(broken);
  }
  return out;
}

/** One migration step: SQL statements run in order. */
export type MigrationStep = readonly string[];

/**
 * Brings `component`'s schema to the last of `steps` (idempotent; concurrent callers serialize).
 * @returns the version now in place (= steps.length)
 * @throws TallyError INTERNAL if the database holds a NEWER version than this
 *   code knows (a downgrade is refused rather than guessed at)
 */
export async function migrate(pool: pg.Pool, component: string, steps: readonly MigrationStep[]): Promise<number> {
  return inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1, 0)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS tallyboard_schema (component text PRIMARY KEY, version integer NOT NULL)');
    const r = await c.query<{ version: number }>('SELECT version FROM tallyboard_schema WHERE component = $1', [component]);
    const have = r.rows[0]?.version ?? 0;
    if (have > steps.length) {
      throw new TallyError('INTERNAL', `database: the ${component} schema is version ${have}, newer than this Tallyboard knows (${steps.length})`);
    }
    for (let v = have; v < steps.length; v++) for (const sql of steps[v]!) await c.query(sql);
    await c.query(
      'INSERT INTO tallyboard_schema (component, version) VALUES ($1, $2) ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version',
      [component, steps.length],
    );
    return steps.length;
  });
}
