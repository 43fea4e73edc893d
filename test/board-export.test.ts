/**
 * Export and import of a board file (spec/09-board.md §9.7, §9.8): the round trip is exact
 * (re-exporting an imported copy gives the same bytes), and every way a file can be damaged
 * is rejected with BOARD_INVALID naming the right line and the right check. Each negative
 * case states the check it must fail; any other outcome, success included, fails the test.
 */
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Board } from '../bulletin/board.js';
import { parseRecord } from '../bulletin/board-file.js';
import { parseCanonicalJson } from '../bulletin/canonical-json.js';
import { checkpointMessage } from '../bulletin/checkpoint.js';
import { encodeEntry, entryBytes } from '../bulletin/entry.js';
import { exportBoard, exportBoardFile, exportLines } from '../bulletin/export.js';
import { importBoard, importBoardFile } from '../bulletin/import.js';
import { LevelBoardStore } from '../bulletin/store/level.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { isTallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import { ELECTION_ID, boardKeys, boardOptions, collect, fakeClock, rejectsCode, sampleBoard, tempDir } from './helpers/board.js';

const N = 12; // entries; line 1 is the header, entry h is line h + 2, the checkpoint line N + 2

/** Payloads that exercise the canonical JSON escapes. */
const SPECIAL = { text: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f ls \u2028 é 😀', n: -9007199254740991, e: [[], {}] };

async function makeBoard(store = new MemoryBoardStore()): Promise<Board> {
  const board = await sampleBoard(store, N - 1);
  await board.append('ballot', SPECIAL);
  return board;
}

async function exportText(board: Board): Promise<string> {
  return (await collect(exportLines(board))).map((l) => `${l}\n`).join('');
}

/** Chunks of a string, as a file stream would deliver them (split at awkward places). */
async function* chunks(text: string | Uint8Array, size = 97): AsyncGenerator<Uint8Array> {
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** Expects the import of `text` to fail at `line` with `check`. */
async function rejects(t: Test, text: string | Uint8Array, line: number, check: string, what: string): Promise<void> {
  try {
    await importBoard(chunks(text));
  } catch (e) {
    const d = isTallyError(e, 'BOARD_INVALID') ? (e.details as { line: number; check: string }) : undefined;
    t.ok(d?.line === line && d.check === check, `${what}: line ${line}, ${check}`, d ? { got: `line ${d.line}, ${d.check}: ${(e as Error).message}` } : { got: e });
    return;
  }
  t.fail(`${what}: expected line ${line} ${check}, but the import succeeded`);
}

t.test('export → import round trip is exact', async (t) => {
  const board = await makeBoard();
  const dir = tempDir(t);
  const file = join(dir, 'board.jsonl');
  const summary = await exportBoardFile(board, file);
  t.equal(summary.size, N);
  t.equal(summary.lines, N + 2);
  const text = readFileSync(file, 'utf8');
  t.equal(text, await exportText(board), 'file = exportLines');
  t.equal(text.split('\n').length, N + 3, 'N + 2 lines, each LF-terminated');
  t.match(text.split('\n')[0], /^\{"boardPublicKey":"[0-9a-f]{64}","electionId":"board-test-election","format":"tallyboard-board\/1"\}$/, 'header line');
  t.match(text.split('\n')[1], /^\{"hash":"[0-9a-f]{64}","height":0,"kind":"entry","parent":"0{64}","payload":\{.*\},"timestamp":\d+,"type":"setup"\}$/, 'entry line');

  const verified = await importBoardFile(file);
  t.equal(verified.size, N, 'verify only');
  t.equal(toHex(verified.rootHash), toHex((await board.latestCheckpoint()).rootHash));
  t.equal(toHex(verified.chainHead), toHex(board.head));
  t.equal(toHex(verified.header.boardPublicKey), toHex(boardKeys().publicKey));

  for (const [name, store] of [['memory', new MemoryBoardStore()], ['level', new LevelBoardStore(join(dir, 'copy'))]] as const) {
    await importBoardFile(file, { store });
    const replica = await Board.open(store, { electionId: ELECTION_ID, boardPublicKey: boardKeys().publicKey, verify: 'full' });
    t.equal(replica.size, N, `${name}: the loaded copy opens (full verification)`);
    t.equal(await exportText(replica), text, `${name}: re-exporting the copy gives the same bytes`);
    t.same((await replica.entryAt(N - 1)).entry.payload, SPECIAL, `${name}: payload with every escape survives`);
    const proof = await replica.inclusionProof(3);
    t.equal(proof.size, N, `${name}: the copy serves proofs at the final checkpoint`);
    await rejectsCode(t, replica.checkpointAt(5), 'NOT_FOUND', `${name}: intermediate checkpoints are not in the file`);
    await rejectsCode(t, importBoardFile(file, { store }), 'CONFLICT', `${name}: importing into a non-empty store`);
    await replica.close();
  }
});

t.test('export streams with back-pressure and exports a fixed snapshot', async (t) => {
  const board = await makeBoard();
  const got: string[] = [];
  let drains = 0;
  const slow = new Writable({
    highWaterMark: 64,
    write(chunk: Buffer, _enc, cb) {
      got.push(chunk.toString('utf8'));
      setImmediate(cb);
    },
  });
  slow.on('drain', () => drains++);
  const lines = exportLines(board);
  const first = await lines.next(); // the export has started: the size is fixed now
  await board.append('ballot', { late: true });
  const rest = (await collect(lines)).length;
  t.equal(rest + 1, N + 2, 'an append during the export is not part of it');
  t.ok(first.value?.startsWith('{"boardPublicKey"'));
  const s = await exportBoard(board, slow);
  t.equal(s.size, N + 1);
  t.ok(drains > 0, `waited for 'drain' ${drains} times`);
  t.equal(got.join(''), await exportText(board));
  const empty = await Board.open(new MemoryBoardStore(), boardOptions());
  await rejectsCode(t, collect(exportLines(empty)), 'NOT_FOUND', 'an empty board has no checkpoint to export');
});

t.test('damaged files are rejected at the right line with the right check', async (t) => {
  const board = await makeBoard();
  const good = await exportText(board);
  const L = good.split('\n').slice(0, -1); // the N + 2 lines, without their LFs
  const join2 = (lines: string[]): string => lines.map((l) => `${l}\n`).join('');
  const at = (line: number, fn: (s: string) => string): string => join2(L.map((l, i) => (i === line - 1 ? fn(l) : l)));
  const swap = (a: number, b: number): string => {
    const c = [...L];
    [c[a - 1], c[b - 1]] = [c[b - 1]!, c[a - 1]!];
    return join2(c);
  };
  const edit = (line: number, field: string, value: string): string =>
    at(line, (l) => {
      const re = new RegExp(`"${field}":("[^"]*"|-?\\d+)`);
      if (!re.test(l)) throw new Error(`no field ${field} on line ${line}`);
      return l.replace(re, `"${field}":${value}`);
    });
  const flipHex = (line: number, field: string): string =>
    at(line, (l) => l.replace(new RegExp(`"${field}":"([0-9a-f])`), (_m, d: string) => `"${field}":"${d === '0' ? '1' : '0'}`));
  const last = N + 2;
  /** Edits an entry line and recomputes its hash field, as a forger would. */
  const rehash = (line: number, fn: (l: string) => string): string =>
    at(line, (l) => {
      const edited = fn(l);
      const rec = parseRecord(parseCanonicalJson(edited, 17));
      if ('ok' in rec || rec.kind !== 'entry') throw new Error('not an entry line');
      return edited.replace(/"hash":"[0-9a-f]{64}"/, `"hash":"${toHex(encodeEntry(rec.entry).hash)}"`);
    });

  await importBoard(chunks(good)); // the baseline verifies
  t.pass('the undamaged file verifies');

  const cases: [string, string | Uint8Array, number, string][] = [
    // B1: framing and canonical JSON
    ['a garbage line', at(5, () => 'garbage'), 5, 'B1'],
    ['a truncated line', at(6, (l) => l.slice(0, Math.floor(l.length / 2))), 6, 'B1'],
    ['a truncated file (cut inside the last line)', good.slice(0, good.length - 20), last, 'B1'],
    ['a missing final line feed', good.slice(0, -1), last, 'B1'],
    ['an empty line', join2([...L.slice(0, 3), '', ...L.slice(3)]), 4, 'B1'],
    ['whitespace after a colon', at(3, (l) => l.replace('"height":', '"height": ')), 3, 'B1'],
    ['keys reordered', at(3, (l) => l.replace(/^\{("hash":"[0-9a-f]+"),("height":\d+),/, '{$2,$1,')), 3, 'B1'],
    ['a duplicated key', at(4, (l) => l.replace('"kind":"entry"', '"kind":"entry","kind":"entry"')), 4, 'B1'],
    ['CRLF line endings', good.replaceAll('\n', '\r\n'), 1, 'B1'],
    ['a float in a payload', at(5, (l) => l.replace(/"i":(\d+)/, '"i":$1.0')), 5, 'B1'],
    ['a needless escape', at(5, (l) => l.replace('"label":"entry', '"label":"\\u0065ntry')), 5, 'B1'],
    ['invalid UTF-8', Uint8Array.from([...new TextEncoder().encode(join2(L.slice(0, 2))), 0xff, 0x0a, ...new TextEncoder().encode(join2(L.slice(2)))]), 3, 'B1'],
    ['a byte-order mark', '\ufeff' + good, 1, 'B1'],
    // B2: header
    ['an empty file', '', 1, 'B2'],
    ['an unknown format', at(1, (l) => l.replace('tallyboard-board/1', 'tallyboard-board/2')), 1, 'B2'],
    ['a small-order board key', at(1, (l) => l.replace(/"boardPublicKey":"[0-9a-f]{64}"/, `"boardPublicKey":"01${'00'.repeat(31)}"`)), 1, 'B2'],
    ['a header with an extra field', at(1, (l) => l.replace('"format"', '"extra":1,"format"')), 1, 'B2'],
    ['an entry where the header should be', join2(L.slice(1)), 1, 'B2'],
    // B3: record shapes
    ['an unknown entry type', edit(4, 'type', '"vote"'), 4, 'B3'],
    ['an unknown record kind', edit(4, 'kind', '"note"'), 4, 'B3'],
    ['upper-case hex', at(4, (l) => l.replace(/"parent":"([0-9a-f]{64})"/, (_m, h: string) => `"parent":"${h.toUpperCase()}"`)), 4, 'B3'],
    ['a short hash', at(4, (l) => l.replace(/"hash":"[0-9a-f]{2}/, '"hash":"')), 4, 'B3'],
    ['a negative timestamp', edit(4, 'timestamp', '-1'), 4, 'B3'],
    ['an extra field (in canonical position)', at(4, (l) => l.replace('"height"', '"hashx":null,"height"')), 4, 'B3'],
    ['the header repeated', join2([L[0]!, ...L]), 2, 'B3'],
    // B4–B8: the chain
    ['two lines swapped', swap(4, 5), 4, 'B4'],
    ['a removed line', join2([...L.slice(0, 6), ...L.slice(7)]), 7, 'B4'],
    ['a duplicated line', join2([...L.slice(0, 7), L[6]!, ...L.slice(7)]), 8, 'B4'],
    ['a broken parent', flipHex(8, 'parent'), 8, 'B5'],
    ['a non-zero genesis parent', flipHex(2, 'parent'), 2, 'B5'],
    ['a genesis that is not setup', edit(2, 'type', '"ballot"'), 2, 'B6'],
    ['a timestamp going backwards', edit(6, 'timestamp', '0'), 6, 'B7'],
    ['an edited payload', at(9, (l) => l.replace(/"i":(\d+)/, '"i":424242')), 9, 'B8'],
    ['an edited payload with its hash recomputed breaks the next parent', rehash(9, (l) => l.replace(/"i":(\d+)/, '"i":424242')), 10, 'B5'],
    ['the last entry edited, its hash recomputed: the root differs', rehash(last - 1, (l) => l.replace('😀', ':)')), last, 'B12'],
    ['a flipped hash field', flipHex(5, 'hash'), 5, 'B8'],
    // B9–B14: the checkpoint
    ['a missing final checkpoint', join2(L.slice(0, -1)), last, 'B9'],
    ['the checkpoint twice', join2([...L, L[last - 1]!]), last + 1, 'B9'],
    ['an entry after the checkpoint', join2([...L, L[5]!]), last + 1, 'B9'],
    ['garbage after the checkpoint (B1 comes first on a line)', join2([...L, 'garbage']), last + 1, 'B1'],
    ['the checkpoint in the middle', join2([...L.slice(0, 4), L[last - 1]!, ...L.slice(4, -1)]), 5, 'B11'],
    ['a checkpoint for another election', edit(last, 'electionId', '"another"'), last, 'B10'],
    ['a checkpoint for another size', edit(last, 'treeSize', String(N - 1)), last, 'B11'],
    ['a wrong root', flipHex(last, 'rootHash'), last, 'B12'],
    ['a wrong chain head', flipHex(last, 'chainHead'), last, 'B13'],
    ['a forged checkpoint signature', flipHex(last, 'signature'), last, 'B14'],
    ['an edited timestamp in the checkpoint', edit(last, 'timestamp', '1'), last, 'B14'],
  ];
  for (const [what, text, line, check] of cases) await rejects(t, text, line, check, what);
});

t.test('a line over 8 MiB is refused before it is complete', async (t) => {
  let produced = 0;
  async function* endless(): AsyncGenerator<Uint8Array> {
    const block = new Uint8Array(1 << 20).fill(0x20);
    for (;;) {
      produced += block.length;
      if (produced > 64 << 20) throw new Error('the reader kept reading');
      yield block;
    }
  }
  await rejectsCode(t, importBoard(endless()), 'BOARD_INVALID', 'an endless first line', 'line 1: B1: line longer than');
  t.ok(produced <= 9 << 20, `stopped after ${(produced / 2 ** 20).toFixed(0)} MiB`);
});

t.test('a rejected import leaves a torn store that the board refuses to open', async (t) => {
  const big = 'ab'.repeat(300_000); // 600 kB per entry: the importer commits every 2 entries
  const board = await Board.open(new MemoryBoardStore(), boardOptions({ now: fakeClock() }));
  await board.append('setup', { big });
  for (let i = 0; i < 4; i++) await board.append('ballot', { i, big });
  const text = await exportText(board);
  const lines = text.split('\n');
  const bad = text.replace(lines[lines.length - 2]!, lines[lines.length - 2]!.replace(/"signature":"([0-9a-f])/, (_m, d: string) => `"signature":"${d === '0' ? '1' : '0'}`));
  const store = new MemoryBoardStore();
  await rejectsCode(t, importBoard(chunks(bad, 1 << 16), { store }), 'BOARD_INVALID', 'forged final checkpoint', 'B14');
  t.ok(((await store.head())?.size ?? 0) > 0, 'some verified entries were committed before the failure');
  await rejectsCode(t, Board.open(store, { electionId: ELECTION_ID, boardPublicKey: boardKeys().publicKey }), 'BOARD_CORRUPT', 'the torn copy does not open');
  const ok = new MemoryBoardStore();
  await importBoard(chunks(text, 1 << 16), { store: ok });
  t.equal((await Board.open(ok, { electionId: ELECTION_ID, boardPublicKey: boardKeys().publicKey })).size, 5, 'the intact file loads');
});

t.test('the file written to disk and re-read from disk verifies (node:fs streams)', async (t) => {
  const board = await makeBoard();
  const file = join(tempDir(t), 'b.jsonl');
  writeFileSync(file, (await exportText(board)).replace(/"i":3,/, '"i":33,'));
  await rejectsCode(t, importBoardFile(file), 'BOARD_INVALID', 'a file edited on disk', 'line 5: B8');
});

t.test('known answer: test/vectors/board-demo.jsonl (the example of spec §9.7.3)', async (t) => {
  const vectorUrl = new URL(import.meta.url.includes('/dist/test/') ? '../../test/vectors/board-demo.jsonl' : './vectors/board-demo.jsonl', import.meta.url);
  const file = readFileSync(vectorUrl, 'utf8');
  const r = await importBoard(chunks(file));
  t.equal(r.size, 2, 'the vector verifies');
  t.equal(toHex(r.rootHash), '0eb4532c2efeac26312b5e64d366ebd3c01935c07532e4dc7105aa18ce3f3c7c');
  // Rebuild it from its inputs: board key seed 07 × 32, clock from 2024-01-01T00:00:00Z.
  let now = 1_704_067_200_000;
  const board = await Board.open(new MemoryBoardStore(), { electionId: 'demo-2024', boardSecretKey: boardKeys().secretKey, now: () => now++ });
  const r0 = await board.append('setup', { a: 1 });
  await board.append('ballot', { vote: [1, -2], ok: true, é: null, id: 'a\nb' });
  t.equal(await exportText(board), file, 'the board reproduces the vector byte for byte');
  t.equal(toHex(entryBytes(r0.entry)), '0000000000000000' + '00'.repeat(32) + '00000005' + '7365747570' + '0000018cc251f400' + '00000013' + '05000000010000000161020000000000000001', 'entry bytes of §9.1.6');
  t.equal(toHex(checkpointMessage(r0.checkpoint)), '5bf4c7b16ad3c5749154ade11f925271d2571ac284fa664de3b4854b96619764', 'checkpoint message of §9.4.2');
});
