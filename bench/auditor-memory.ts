/**
 * The auditor's memory on a hostile board (issue 10.8, spec §10.5): a board with a valid chain
 * and a valid election whose `ballot` entries each carry a payload object of 250,000 members,
 * within every limit of §9.1.2 (about 3 MB of canonical JSON each). Writes the board to a file,
 * then runs `tallyboard verify` on it in a child process and reports the child's peak resident
 * memory (maxRSS, worker threads included), for 0 and 2 worker threads.
 *
 * `node dist/bench/auditor-memory.js [entries]` (default 6). The numbers go in README.md.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { exportBoardFile } from '../bulletin/export.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { blindRsaPublicKeyOf, blindRsaPublicKeyToJson, blindRsaSecretKeyFromJson } from '../src/crypto/blind-rsa.js';
import { ed25519KeyPair } from '../src/crypto/ed25519.js';
import { toHex } from '../src/wire.js';
import { parseManifest } from '../src/election/manifest.js';
import { SPEC_VERSION } from '../src/crypto/hash.js';
import { setupPayload, tokenIssuedPayload, registerPayload } from '../src/election/records.js';
import { RegisterTree } from '../src/election/register.js';

const root = new URL('../../', import.meta.url); // dist/bench → repository root
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`test/fixtures/${name}`, root), 'utf8')).secretKey;
/** The manifest's keys.election of the fixture key (1-of-1, spec §2.1). */
const electionKeyJson = () => JSON.parse(readFileSync(new URL('test/fixtures/election-key-2048-a.json', root), 'utf8')).electionKey;

/** An object of `n` members with short distinct keys and null values (3 MB of JSON at 250,000). */
function wideObject(n: number): Record<string, null> {
  const o: Record<string, null> = {};
  for (let i = 0; i < n; i++) o[i.toString(36).padStart(4, '0')] = null;
  return o;
}

async function buildHostileBoard(entries: number): Promise<string> {
  const rsa = blindRsaSecretKeyFromJson(fixture('blind-rsa-2048.json'));
  const boardKey = ed25519KeyPair(new Uint8Array(32).fill(9));
  const manifest = {
    version: SPEC_VERSION,
    electionId: 'memory-bench',
    title: 'Auditor memory bench',
    questions: [{ id: 'q', title: 'Q', options: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }], min: 1, max: 1 }],
    schedule: { start: '2026-01-01T00:00:00.000Z', end: '2026-12-31T00:00:00.000Z' },
    maxVoters: 100,
    revoting: false,
    keys: {
      election: electionKeyJson(),
      tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(rsa)),
      board: toHex(boardKey.publicKey),
    },
  };
  const election = parseManifest(manifest);
  let t = election.startMs;
  const board = await Board.open(new MemoryBoardStore(), { electionId: 'memory-bench', boardSecretKey: boardKey.secretKey, now: () => (t += 1) });
  await board.append('setup', setupPayload(election.manifest) as unknown as JsonValue);
  const ref = new Uint8Array(32).fill(1);
  const register = new RegisterTree([ref]);
  await board.append('register', registerPayload({ voters: 1, root: register.root }) as unknown as JsonValue);
  await board.append('token-issued', tokenIssuedPayload({ refs: [{ ref, ...register.proof(ref)! }], count: 1 }) as unknown as JsonValue);
  for (let i = 0; i < entries; i++) await board.append('ballot', { ballot: wideObject(250_000), tracker: '00'.repeat(32) } as unknown as JsonValue);
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-memory-'));
  const file = join(dir, 'board.jsonl');
  await exportBoardFile(board, file);
  await board.close();
  return file;
}

const entries = Number(process.argv[2] ?? 6);
const given = process.argv[3]; // an existing hostile board (from an earlier run), to skip building
const file = given ?? (await buildHostileBoard(entries));
console.log(`hostile board: ${entries} ballot entries of 250,000 members, ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB`);
if (process.env.HOSTILE_BOARD_ONLY) {
  console.log(file);
  process.exit(0);
}
const cli = fileURLToPath(new URL('dist/cli/tallyboard.js', root));
const probe = fileURLToPath(new URL('dist/bench/_max-rss.js', root));
for (const workers of [0, 2]) {
  const r = spawnSync(process.execPath, ['--import', probe, cli, 'verify', '--board', file, '--workers', String(workers)], { encoding: 'utf8' });
  const m = /max-rss-kib (\d+)/.exec(r.stderr);
  const verdict = /\bFAIL\b|fails/.test(r.stdout) ? 'fails (as it must)' : `exit ${r.status}`;
  console.log(`verify --workers ${workers}: peak RSS ${m ? (Number(m[1]) / 1024).toFixed(0) : '?'} MiB, ${verdict}`);
}
if (given === undefined) rmSync(join(file, '..'), { recursive: true, force: true });
