/**
 * The one BoardStore contract suite (test/board-store.contract.ts), unchanged, against the
 * PostgreSQL store on a throwaway cluster (test/helpers/pg-cluster.ts), plus what only a
 * database store has: the migration is idempotent, boards sharing a database are independent,
 * and two store objects on one board (two processes, in production) cannot both append at a
 * height. Without PostgreSQL the file is skipped saying why; under CI=true it fails.
 */
import t from 'tap';
import { PgBoardStore } from '../bulletin/store/pg.js';
import { BOARD_MIGRATIONS } from '../bulletin/store/pg.js';
import { migrate, openPool } from '../src/node/pg-connect.js';
import { storeContract, sampleSteps } from './board-store.contract.js';
import { rejectsCode } from './helpers/board.js';
import { pgForTests } from './helpers/pg-cluster.js';

const pg = await pgForTests();
if ('skip' in pg) {
  t.test('PostgreSQL board store', { skip: pg.skip }, async () => undefined);
} else {
  const cluster = pg.cluster;
  t.teardown(() => cluster.stop());

  /** Which database each store of the contract suite is on, so that reopen can reconnect. */
  const urls = new WeakMap<object, string>();
  storeContract(t, 'postgres', {
    async make(t) {
      const url = await cluster.createDatabase('board');
      const s = new PgBoardStore({ connectionString: url, board: 'contract' });
      urls.set(s, url);
      await s.open();
      t.teardown(() => s.close());
      return s;
    },
    async reopen(t, store) {
      await store.close();
      // Same database, a new store and pool: what a restarted server sees.
      const s = new PgBoardStore({ connectionString: urls.get(store)!, board: 'contract' });
      urls.set(s, urls.get(store)!);
      await s.open();
      t.teardown(() => s.close());
      return s;
    },
  });

  t.test('postgres: the migration is idempotent and concurrent opens are safe', async (t) => {
    const url = await cluster.createDatabase('migrate');
    const stores = Array.from({ length: 4 }, () => new PgBoardStore({ connectionString: url, board: 'b' }));
    await Promise.all(stores.map((s) => s.open()));
    const pool = openPool(url);
    t.teardown(() => pool.end());
    t.equal(await migrate(pool, 'board', BOARD_MIGRATIONS), BOARD_MIGRATIONS.length, 'a further run changes nothing');
    const v = await pool.query<{ version: number }>("SELECT version FROM tallyboard_schema WHERE component = 'board'");
    t.equal(v.rows[0]?.version, BOARD_MIGRATIONS.length, 'version recorded once');
    await Promise.all(stores.map((s) => s.close()));
  });

  t.test('postgres: a newer schema than the code knows is refused', async (t) => {
    const url = await cluster.createDatabase('newer');
    const s = new PgBoardStore({ connectionString: url, board: 'b' });
    await s.open();
    await s.close();
    const pool = openPool(url);
    t.teardown(() => pool.end());
    await pool.query("UPDATE tallyboard_schema SET version = 99 WHERE component = 'board'");
    await rejectsCode(t, new PgBoardStore({ connectionString: url, board: 'b' }).open(), 'INTERNAL', 'newer schema', 'newer than this Tallyboard knows');
  });

  t.test('postgres: boards sharing a database are independent', async (t) => {
    const url = await cluster.createDatabase('two');
    const a = new PgBoardStore({ connectionString: url, board: 'election-a' });
    const b = new PgBoardStore({ connectionString: url, board: 'election-b' });
    await a.open();
    await b.open();
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const steps = sampleSteps(3);
    for (const s of steps) await a.commit({ entries: [s.record], nodes: s.nodes, checkpoint: s.checkpoint });
    t.equal((await a.head())?.size, 3, 'a has 3');
    t.equal(await b.head(), undefined, 'b is still empty');
    await b.commit({ entries: [steps[0]!.record], nodes: steps[0]!.nodes, checkpoint: steps[0]!.checkpoint });
    t.equal((await b.head())?.size, 1, 'the same entry bytes may start another board');
  });

  t.test('regression: two writers on one board never store two entries at one height', async (t) => {
    const url = await cluster.createDatabase('race');
    const a = new PgBoardStore({ connectionString: url, board: 'b' });
    const b = new PgBoardStore({ connectionString: url, board: 'b' });
    await a.open();
    await b.open();
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const steps = sampleSteps(1);
    const batch = { entries: [steps[0]!.record], nodes: steps[0]!.nodes, checkpoint: steps[0]!.checkpoint };
    // Both believe the board is empty and commit height 0 at the same moment.
    const outcomes = await Promise.allSettled([a.commit(batch), b.commit(batch)]);
    t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, 'exactly one commit succeeds');
    const failed = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    t.equal((failed.reason as { code?: string }).code, 'CONFLICT', 'the other is refused with CONFLICT');
    t.equal((await a.head())?.size, 1, 'the board has one entry');
    t.equal(await b.lastEntryHeight(), 0, 'no entry beyond it');
  });

  t.test('postgres: what an append section throws leaves nothing written', async (t) => {
    const url = await cluster.createDatabase('abort');
    const a = new PgBoardStore({ connectionString: url, board: 'b' });
    await a.open();
    t.teardown(() => a.close());
    const steps = sampleSteps(1);
    const refusal = new Error('guard refuses');
    const got = await a
      .withAppendLock(async (s) => {
        t.equal(s.head, undefined, 'the locked head of an empty board');
        await s.commit({ entries: [steps[0]!.record], nodes: steps[0]!.nodes, checkpoint: steps[0]!.checkpoint });
        throw refusal;
      })
      .catch((e: unknown) => e);
    t.equal(got, refusal, 'the section rejects with exactly what it threw');
    t.equal(await a.head(), undefined, 'head unchanged');
    t.equal(await a.getEntry(0), undefined, 'entry rolled back');
    t.equal(await a.latestCheckpoint(), undefined, 'checkpoint rolled back');
  });
}
