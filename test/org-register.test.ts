/**
 * Tests of the voter register (src/org/register-*.ts): the shared contract suite
 * (test/helpers/register-contract.ts) against the in-memory and the LevelDB implementation,
 * then what only the LevelDB one has: its format marker and its single-opener lock.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { openLevelRegister, REGISTER_FORMAT } from '../src/org/register-level.js';
import type { RegisterStore } from '../src/org/register-store.js';
import { registerContract, rejectsCode, testVoter } from './helpers/register-contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tallyboard-register-'));
}

registerContract(t, 'memory', async () => {
  const store = createMemoryRegister();
  return { store, cleanup: () => store.close() };
});

registerContract(t, 'level', async () => {
  const dir = await tempDir();
  let current: RegisterStore = await openLevelRegister(join(dir, 'db'));
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = await openLevelRegister(join(dir, 'db'));
      return current;
    },
    cleanup: async () => {
      await current.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

t.test('level: a second opener of the same directory is refused', async (t) => {
  const dir = await tempDir();
  const a = await openLevelRegister(join(dir, 'db'));
  await rejectsCode(t, openLevelRegister(join(dir, 'db')), 'INTERNAL', 'second open', 'another process');
  await a.close();
  await rm(dir, { recursive: true, force: true });
});

t.test('level: a directory holding something else is refused', async (t) => {
  const dir = await tempDir();
  const foreign = new Level<string, string>(join(dir, 'db'));
  await foreign.put('some', 'thing');
  await foreign.close();
  await rejectsCode(t, openLevelRegister(join(dir, 'db')), 'INTERNAL', 'non-empty, no marker', 'no format marker');

  const other = new Level<string, unknown>(join(dir, 'db2'), { valueEncoding: 'json' });
  await other.put('meta!format', 'tallyboard-register/99');
  await other.close();
  await rejectsCode(t, openLevelRegister(join(dir, 'db2')), 'INTERNAL', 'another format', REGISTER_FORMAT);
  await rm(dir, { recursive: true, force: true });
});

t.test('level: a corrupt stored record is a server error, not bad input', async (t) => {
  const dir = await tempDir();
  const store = await openLevelRegister(join(dir, 'db'));
  await store.addVoters([await testVoter('alice')]);
  await store.close();
  const raw = new Level<string, unknown>(join(dir, 'db'), { valueEncoding: 'json' });
  await raw.put('v!alice', { login: 'alice' });
  await raw.put('i!e1!alice', { state: 'issued' });
  await raw.close();
  const again = await openLevelRegister(join(dir, 'db'));
  await rejectsCode(t, again.getVoter('alice'), 'INTERNAL', 'corrupt voter');
  await rejectsCode(t, again.getIssuance('e1', 'alice'), 'INTERNAL', 'corrupt issuance');
  await again.close();
  await rm(dir, { recursive: true, force: true });
});
