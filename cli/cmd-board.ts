/**
 * `tallyboard board export (--server URL | --data DIR) --out FILE`: save a whole bulletin board
 * as a board export file (spec/09-board.md §9.7), the file auditors verify.
 *
 * - From a ballot server: `GET {URL}/api/board/export`, streamed to `FILE.tmp` and renamed to
 *   FILE at the end, so FILE is never a half-written board. The bytes are parsed as they arrive
 *   (auditor/source.ts) and the hash chain and final checkpoint are checked (bulletin/verify.ts,
 *   cheap: hashes and one signature). Something that is not a board file at all (an error page,
 *   a truncated download) is refused and nothing is written. A board file whose chain does NOT
 *   verify is kept — it is evidence against the server — with a warning and exit code 1.
 * - From a data directory (the ballot server's machine, server stopped): opens DIR/board as a
 *   read-only replica under the board key of DIR/election.json and writes it with the
 *   bulletin's own exporter. LevelDB allows one process at a time: with the server running,
 *   export from the server instead.
 */
import { createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { TallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import { parseManifest } from '../src/election/manifest.js';
import { dataPaths, readJsonFile } from '../src/node/data-dir.js';
import { Board } from '../bulletin/board.js';
import { LevelBoardStore } from '../bulletin/store/level.js';
import { exportBoardFile } from '../bulletin/export.js';
import { ChainVerifier, type BoardFailure } from '../bulletin/verify.js';
import type { Checkpoint } from '../bulletin/checkpoint.js';
import { boardRecords } from '../auditor/source.js';
import { printable } from '../auditor/report.js';
import { action } from './_common.js';
import { boardDownload } from './_http.js';

// ---------------------------------------------------------------------------------------------
// board export
// ---------------------------------------------------------------------------------------------

/** What an export wrote. */
interface Exported {
  readonly entries: number;
  readonly checkpoint: Checkpoint;
  /** the first chain or checkpoint failure (server exports only) */
  readonly failure?: BoardFailure;
}

/** Stream a server's export to `out` (via `out.tmp`), parsing and chain-checking as it goes. */
async function exportFromServer(server: string, out: string): Promise<Exported> {
  const tmp = `${out}.tmp`;
  const ws = createWriteStream(tmp);
  let done = false;
  try {
    const tee = async function* (): AsyncGenerator<Uint8Array, void, undefined> {
      for await (const chunk of boardDownload(server)) {
        if (!ws.write(chunk)) await once(ws, 'drain');
        yield chunk;
      }
    };
    let chain: ChainVerifier | undefined;
    let checkpoint: Checkpoint | undefined;
    let entries = 0;
    for await (const rec of boardRecords(tee())) {
      switch (rec.kind) {
        case 'invalid':
          throw new TallyError('BOARD_INVALID', `the server's export is not a board file: ${rec.check}${rec.line !== undefined ? ` at line ${rec.line}` : ''}: ${printable(rec.reason)}`);
        case 'header':
          chain = new ChainVerifier(rec.header);
          break;
        case 'entry':
          entries++;
          chain?.push(rec.entry, rec.hash);
          break;
        case 'checkpoint':
          checkpoint = rec.checkpoint;
          chain?.finish(rec.checkpoint);
          break;
      }
    }
    if (checkpoint === undefined) throw new TallyError('BOARD_INVALID', "the server's export ends without a checkpoint line (truncated?)");
    ws.end();
    await finished(ws);
    renameSync(tmp, out);
    done = true;
    const failure = chain?.failure;
    return { entries, checkpoint, ...(failure ? { failure } : {}) };
  } finally {
    if (!done) {
      ws.destroy();
      rmSync(tmp, { force: true });
    }
  }
}

/** Export DIR/board, opened read-only under DIR/election.json's board key. */
async function exportFromDataDir(dir: string, out: string): Promise<Exported> {
  const paths = dataPaths(dir);
  // The manifest is only read for the election id and board key: no key-proof check needed here.
  const election = parseManifest(readJsonFile(paths.manifest, 'the election manifest'), { checkKeyProof: false });
  if (!existsSync(paths.board)) throw new TallyError('NOT_FOUND', `no board store at ${paths.board}`);
  const store = new LevelBoardStore(paths.board);
  let board: Board;
  try {
    board = await Board.open(store, { electionId: election.manifest.electionId, boardPublicKey: election.boardKey });
  } catch (e) {
    await store.close().catch(() => undefined);
    if (causeCode(e, 'LEVEL_LOCKED')) {
      throw new TallyError('CONFLICT', `the board store ${paths.board} is in use (is the ballot server running?); export from the server with --server URL`, { cause: e });
    }
    throw e;
  }
  const tmp = `${out}.tmp`;
  try {
    const s = await exportBoardFile(board, tmp);
    renameSync(tmp, out);
    return { entries: s.size, checkpoint: s.checkpoint };
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    await board.close();
  }
}

/** True if `e` or one of its causes has `code`. */
function causeCode(e: unknown, code: string): boolean {
  for (let x = e, depth = 0; x !== null && typeof x === 'object' && depth < 8; x = (x as { cause?: unknown }).cause, depth++) {
    if ((x as { code?: unknown }).code === code) return true;
  }
  return false;
}

/**
 * Registers `board export`.
 * @param program - the `tallyboard` program
 */
export function register(program: Command): void {
  const board = program.command('board').description('bulletin board files (spec §9.7)');
  board
    .command('export')
    .description('save the whole board as a board export file (JSON Lines), from a ballot server or from a data directory')
    .option('--server <url>', 'base URL of the ballot server, e.g. http://127.0.0.1:8080')
    .option('--data <dir>', "the ballot server's data directory (DIR/board, DIR/election.json); the server must be stopped")
    .requiredOption('--out <file>', 'the file to write (replaced only once the export is complete)')
    .action(
      action(async (opts: { server?: string; data?: string; out: string }, cmd: Command) => {
        if ((opts.server === undefined) === (opts.data === undefined)) cmd.error('give exactly one of --server <url> or --data <dir>', { exitCode: 1 });
        const r = opts.server !== undefined ? await exportFromServer(opts.server, opts.out) : await exportFromDataDir(opts.data!, opts.out);
        const cp = r.checkpoint;
        process.stdout.write(`exported ${r.entries} ${r.entries === 1 ? 'entry' : 'entries'} to ${opts.out}\n`);
        process.stdout.write(`final checkpoint: size ${cp.treeSize}, root ${toHex(cp.rootHash)}, signed at ${new Date(cp.timestamp).toISOString()}\n`);
        if (r.failure) {
          const f = r.failure;
          process.stderr.write(
            `warning: the board as served does NOT verify: ${f.check}${f.height !== undefined ? ` at height ${f.height}` : ''}: ${printable(f.reason)}\n` +
              `  the file is kept as evidence; audit it with: tallyboard verify --board ${opts.out}\n`,
          );
          return 1;
        }
        return 0;
      }),
    );
}
