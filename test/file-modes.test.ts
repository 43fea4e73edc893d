/**
 * File modes do not depend on the umask (issue 16.8, 9.16): under umask 000, the register
 * (password hashes) and the board are 0700 directories, secret files 0600, public files 0644,
 * and no directory the data-dir helpers create is writable by others.
 */
import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelBoardStore } from '../bulletin/store/level.js';
import { dataPaths, writePublicFile, writeSecretFile } from '../src/node/data-dir.js';
import { openLevelRegister } from '../src/org/register-level.js';

const mode = (p: string) => statSync(p).mode & 0o777;

t.test('regression: file modes are explicit, not the umask’s', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tallyboard-modes-'));
  const previous = process.umask(0o000);
  t.teardown(() => {
    process.umask(previous);
    rmSync(root, { recursive: true, force: true });
  });
  const paths = dataPaths(join(root, 'election'));
  writePublicFile(paths.manifest, '{}\n');
  writePublicFile(paths.paillierPublic, '{}\n');
  writeSecretFile(paths.boardKey, 'ab\n');
  writeSecretFile(paths.adminToken, 'cd\n');
  const register = await openLevelRegister(paths.register);
  await register.close();
  const board = new LevelBoardStore(paths.board);
  await board.open();
  await board.close();

  t.equal(mode(paths.dir), 0o700, 'data directory 0700');
  t.equal(mode(paths.keysDir), 0o700, 'keys/ 0700');
  t.equal(mode(paths.credentialsDir), 0o700, 'credentials/ 0700');
  t.equal(mode(paths.register), 0o700, 'register/ 0700 (password hashes, names, e-mails)');
  t.equal(mode(paths.board), 0o700, 'board/ 0700');
  t.equal(mode(paths.manifest), 0o644, 'election.json 0644');
  t.equal(mode(paths.paillierPublic), 0o644, 'public key 0644');
  t.equal(mode(paths.boardKey), 0o600, 'board key 0600');
  t.equal(mode(paths.adminToken), 0o600, 'admin credential 0600');
  // An existing register directory with loose modes is tightened on open.
  const loose = join(root, 'loose-register');
  const r2 = await openLevelRegister(loose);
  await r2.close();
  (await import('node:fs')).chmodSync(loose, 0o755);
  const r3 = await openLevelRegister(loose);
  await r3.close();
  t.equal(mode(loose), 0o700, 'a 0755 register directory is set back to 0700');
});
