/**
 * Runs the one BoardStore contract suite (test/board-store.contract.ts) against every
 * implementation: the in-memory store and the LevelDB store (in a temporary directory under
 * os.tmpdir(), removed afterwards). Plus the LevelDB-only behaviour: refusing a directory
 * that holds something other than a board store.
 */
import t from 'tap';
import { Level } from 'level';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { LevelBoardStore } from '../bulletin/store/level.js';
import { storeContract } from './board-store.contract.js';
import { rejectsCode, tempDir } from './helpers/board.js';

storeContract(t, 'memory', {
  async make() {
    const s = new MemoryBoardStore();
    await s.open();
    return s;
  },
  async reopen(_t, store) {
    await store.close();
    await store.open();
    return store;
  },
});

storeContract(t, 'level', {
  async make(t) {
    const s = new LevelBoardStore(tempDir(t));
    await s.open();
    t.teardown(() => s.close());
    return s;
  },
  async reopen(t, store) {
    await store.close();
    const s = new LevelBoardStore((store as LevelBoardStore).location);
    await s.open();
    t.teardown(() => s.close());
    return s;
  },
});

t.test('level: a directory holding other data is refused', async (t) => {
  const dir = tempDir(t);
  const db = new Level(dir);
  await db.put('unrelated', 'data');
  await db.close();
  await rejectsCode(t, new LevelBoardStore(dir).open(), 'BOARD_CORRUPT', 'foreign LevelDB');

  const dir2 = tempDir(t);
  const db2 = new Level<Uint8Array, Uint8Array>(dir2, { keyEncoding: 'view', valueEncoding: 'view' });
  await db2.put(Uint8Array.of(0x76), new TextEncoder().encode('tallyboard-board-store/999'));
  await db2.close();
  await rejectsCode(t, new LevelBoardStore(dir2).open(), 'BOARD_CORRUPT', 'unknown store format', 'unknown store format');
});
