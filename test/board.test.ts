/**
 * The Board (spec/09-board.md §9.1–9.6): appends and their refusals, serialization of
 * concurrent appends, reading, checkpoints, proofs checked with the client helpers, and the
 * fail-stop open: a torn or corrupt LevelDB store, damaged by hand, must make open fail with
 * BOARD_CORRUPT saying what is wrong — never be repaired silently.
 */
import t, { type Test } from 'tap';
import { Level } from 'level';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { Board } from '../bulletin/board.js';
import { checkpointMessage, verifyCheckpoint, type Checkpoint } from '../bulletin/checkpoint.js';
import { verifyCheckpointExtension, verifyEntryInclusion } from '../bulletin/client.js';
import { entryHash, type Entry } from '../bulletin/entry.js';
import { consistencyProofFromJson, consistencyProofToJson, inclusionProofFromJson, inclusionProofToJson } from '../bulletin/proofs.js';
import type { BoardStore } from '../bulletin/store/interface.js';
import { LEVEL_KEYS, LevelBoardStore } from '../bulletin/store/level.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { verifyBoard } from '../bulletin/verify.js';
import { canonical } from '../src/canonical.js';
import { TAGS } from '../src/crypto/hash.js';
import { toHex } from '../src/wire.js';
import {
  ELECTION_ID,
  boardKeys,
  boardOptions,
  collect,
  fakeClock,
  otherKeys,
  rejectsCode,
  sampleBoard,
  samplePayload,
  sampleType,
  tempDir,
} from './helpers/board.js';

const header = { electionId: ELECTION_ID, boardPublicKey: boardKeys().publicKey };

/** Verifies a whole board with the pure ChainVerifier, reading it page by page. */
async function verifyAll(board: Board): Promise<ReturnType<typeof verifyBoard>> {
  const items = await collect(board.entries());
  return verifyBoard(header, items, board.size > 0 ? await board.latestCheckpoint() : undefined);
}

t.test('append: genesis, chain, hashes, timestamps, checkpoints', async (t) => {
  const clock = [1000, 900, 900, 2000]; // the clock goes backwards once
  let i = 0;
  const board = await Board.open(new MemoryBoardStore(), boardOptions({ now: () => clock[Math.min(i++, clock.length - 1)]! }));
  t.equal(board.size, 0);
  t.equal(toHex(board.head), '00'.repeat(32), 'empty chain head is 32 zero bytes');
  await rejectsCode(t, board.append('ballot', {}), 'MALFORMED', 'the first entry must be setup', 'setup');
  await rejectsCode(t, board.append('vote' as never, {}), 'MALFORMED', 'unknown type');
  await rejectsCode(t, board.append('setup', { x: 1.5 }), 'MALFORMED', 'float payload');
  await rejectsCode(t, board.append('setup', 'x'.repeat(5 << 20)), 'TOO_LARGE', '5 MiB payload');
  t.equal(board.size, 0, 'refused appends leave no trace');

  const a0 = await board.append('setup', { manifest: 'm' });
  const a1 = await board.append('token-issued', { ref: 'r' });
  const a2 = await board.append('ballot', [1, 2, 3]);
  const a3 = await board.append('close', null);
  t.same([a0, a1, a2, a3].map((a) => a.entry.height), [0, 1, 2, 3], 'heights');
  t.equal(toHex(a0.entry.parent), '00'.repeat(32), 'genesis parent');
  t.equal(toHex(a1.entry.parent), toHex(a0.hash), 'parent links');
  t.equal(toHex(a3.entry.parent), toHex(a2.hash));
  t.same([a0, a1, a2, a3].map((a) => a.entry.timestamp), [1000, 1000, 1000, 2000], 'timestamps = max(now, previous)');
  t.equal(toHex(board.head), toHex(a3.hash), 'head = hash of the last entry');
  for (const a of [a0, a1, a2, a3]) {
    t.equal(a.checkpoint.treeSize, a.entry.height + 1, `checkpoint ${a.checkpoint.treeSize} covers the new size`);
    t.equal(toHex(a.checkpoint.chainHead), toHex(a.hash));
    t.same(verifyCheckpoint(boardKeys().publicKey, a.checkpoint), { ok: true }, 'and verifies');
  }
  t.equal(a3.checkpoint.timestamp, a3.entry.timestamp, 'the checkpoint carries the entry timestamp');
  t.same(await verifyAll(board), { ok: true, size: 4, rootHash: a3.checkpoint.rootHash, chainHead: a3.hash, checkpoint: await board.latestCheckpoint() });
  await board.append('setup', {});
  t.equal(board.size, 5, 'the board gives types no meaning after genesis (the auditor does)');
  await board.close();
  await rejectsCode(t, board.append('ballot', {}), 'CONFLICT', 'append after close');
});

t.test('entry hash and checkpoint message: known answers from an independent computation', async (t) => {
  const board = await Board.open(new MemoryBoardStore(), boardOptions({ now: () => 1_704_067_200_000 }));
  const { entry, hash, checkpoint } = await board.append('setup', { a: 1 });
  // entry bytes by hand: U64 height ‖ parent ‖ STR(type) ‖ U64 timestamp ‖ BYTES(value)
  const value = '05' + '00000001' + '00000001' + '61' + '02' + '0000000000000001';
  const bytesHex =
    '0000000000000000' + '00'.repeat(32) + '00000005' + toHex(new TextEncoder().encode('setup')) + toHex(canonical().u64(1_704_067_200_000).finish()) + '00000013' + value;
  const bytes = Uint8Array.from(bytesHex.match(/../g)!.map((b) => parseInt(b, 16)));
  const tag = new TextEncoder().encode(TAGS.boardEntry);
  const manual = sha256(Uint8Array.from([0, 0, 0, tag.length, ...tag, ...bytes]));
  t.equal(toHex(hash), toHex(manual), 'H(TAGS.boardEntry, entry bytes) = SHA-256(STR(tag) ‖ bytes)');
  t.equal(toHex(entryHash(bytes)), toHex(hash));
  t.equal(entry.timestamp, 1_704_067_200_000);
  const cpTag = new TextEncoder().encode(TAGS.checkpoint);
  const eid = new TextEncoder().encode(ELECTION_ID);
  const body = [
    ...canonical().u32(cpTag.length).finish(), ...cpTag,
    ...canonical().u32(eid.length).finish(), ...eid,
    ...canonical().u64(1).finish(), ...checkpoint.rootHash, ...hash, ...canonical().u64(entry.timestamp).finish(),
  ];
  t.equal(toHex(checkpointMessage(checkpoint)), toHex(sha256(Uint8Array.from(body))), 'checkpoint message');
  t.equal(toHex(checkpoint.rootHash), toHex(sha256(Uint8Array.from([0, ...bytes]))), 'root of one entry = its leaf hash');
});

t.test('1,000 concurrent appends on LevelDB: heights 0..999, valid chain and tree', async (t) => {
  const store = new LevelBoardStore(tempDir(t));
  const board = await Board.open(store, boardOptions({ now: fakeClock(0) }));
  t.teardown(() => board.close());
  await board.append('setup', { n: 1000 });
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 999 }, (_, i) => board.append(i % 2 ? 'ballot' : 'token-issued', { i })));
  const ms = performance.now() - started;
  t.comment(`999 concurrent synced appends: ${ms.toFixed(0)} ms (${((999 / ms) * 1000).toFixed(0)} appends/s)`);
  t.same(results.map((r) => r.entry.height), Array.from({ length: 999 }, (_, i) => i + 1), 'heights in call order, no gap, no duplicate');
  t.same(results.map((r) => (r.entry.payload as { i: number }).i), Array.from({ length: 999 }, (_, i) => i), 'each payload at its own height');
  t.equal(board.size, 1000);
  const v = await verifyAll(board);
  t.ok(v.ok, 'the ChainVerifier accepts the whole board', v);
  const sizes = await Promise.all([1, 500, 999, 1000].map((s) => board.checkpointAt(s)));
  t.same(sizes.map((c) => c.treeSize), [1, 500, 999, 1000], 'one checkpoint per size');
});

t.test('reading: pages, by height, by hash, and the refusals', async (t) => {
  const board = await sampleBoard(new MemoryBoardStore(), 40);
  const all = await collect(board.entries());
  t.same(all.map((e) => e.entry.height), Array.from({ length: 40 }, (_, i) => i));
  t.same(all[7]!.entry.payload, samplePayload(7), 'payload read back');
  t.equal(all[7]!.entry.type, sampleType(7));
  t.same((await collect(board.entries(10, 13))).map((e) => e.entry.height), [10, 11, 12], '[from, to)');
  t.same(await collect(board.entries(40, 40)), [], 'empty range at the end');
  const e5 = await board.entryAt(5);
  t.equal(toHex(e5.hash), toHex(all[5]!.hash));
  t.equal((await board.entryByHash(all[33]!.hash)).entry.height, 33);
  await rejectsCode(t, board.entryAt(40), 'NOT_FOUND', 'entryAt(size)');
  await rejectsCode(t, board.entryAt(-1), 'OUT_OF_RANGE', 'entryAt(-1)');
  await rejectsCode(t, board.entryAt(1.5), 'OUT_OF_RANGE', 'entryAt(1.5)');
  await rejectsCode(t, board.entryByHash(new Uint8Array(32)), 'NOT_FOUND', 'unknown hash');
  await rejectsCode(t, board.entryByHash(new Uint8Array(31)), 'MALFORMED', '31-byte hash');
  await rejectsCode(t, collect(board.entries(0, 41)), 'OUT_OF_RANGE', 'entries beyond the size');
  await rejectsCode(t, collect(board.entries(5, 4)), 'OUT_OF_RANGE', 'from > to');
  await rejectsCode(t, board.checkpointAt(0), 'NOT_FOUND', 'no checkpoint of size 0');
  await rejectsCode(t, board.checkpointAt(41), 'NOT_FOUND', 'no checkpoint beyond the size');
  t.equal((await board.checkpointAt(17)).treeSize, 17);
  const empty = await Board.open(new MemoryBoardStore(), boardOptions());
  await rejectsCode(t, empty.latestCheckpoint(), 'NOT_FOUND', 'latest checkpoint of an empty board');
});

t.test('inclusion proofs verify for every height at several sizes; mutations fail', async (t) => {
  const board = await sampleBoard(new MemoryBoardStore(), 70);
  const entries = (await collect(board.entries())).map((e) => e.entry);
  const pub = boardKeys().publicKey;
  const bad: string[] = [];
  let checked = 0;
  for (const size of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 64, 70]) {
    const cp = await board.checkpointAt(size);
    for (let h = 0; h < size; h++) {
      const proof = await board.inclusionProof(h, size);
      const wire = inclusionProofFromJson(JSON.parse(JSON.stringify(inclusionProofToJson(proof))));
      if (!verifyEntryInclusion(pub, cp, entries[h]!, wire).ok) bad.push(`${h}@${size}`);
      checked++;
    }
  }
  t.same(bad, [], `${checked} inclusion proofs verify through their JSON wire form`);

  const cp = await board.checkpointAt(33);
  const proof = await board.inclusionProof(20, 33);
  const e20 = entries[20]!;
  const flipped = proof.hashes.map((h, i) => (i === 2 ? Uint8Array.from(h, (b, j) => (j === 0 ? b ^ 1 : b)) : h));
  const expectFail = (what: string, r: ReturnType<typeof verifyEntryInclusion>, reason: string): void => {
    t.equal(r.ok ? 'ok' : r.reason, reason, what);
  };
  expectFail('a flipped proof hash', verifyEntryInclusion(pub, cp, e20, { ...proof, hashes: flipped }), 'merkle');
  expectFail('a dropped proof hash', verifyEntryInclusion(pub, cp, e20, { ...proof, hashes: proof.hashes.slice(1) }), 'merkle');
  expectFail('another entry', verifyEntryInclusion(pub, cp, entries[21]!, { ...proof, index: 21 }), 'merkle');
  expectFail('an edited payload', verifyEntryInclusion(pub, cp, { ...e20, payload: 'x' } as Entry, proof), 'merkle');
  expectFail('a proof for another size', verifyEntryInclusion(pub, await board.checkpointAt(34), e20, proof), 'proof-mismatch');
  expectFail('a forged checkpoint', verifyEntryInclusion(pub, { ...cp, timestamp: cp.timestamp + 1 }, e20, proof), 'checkpoint-signature');
  expectFail('another board key', verifyEntryInclusion(otherKeys().publicKey, cp, e20, proof), 'checkpoint-signature');
  await rejectsCode(t, board.inclusionProof(33, 33), 'OUT_OF_RANGE', 'height = treeSize');
  await rejectsCode(t, board.inclusionProof(0, 71), 'NOT_FOUND', 'treeSize beyond the board');
  t.equal((await board.inclusionProof(69)).size, 70, 'treeSize defaults to the latest');
});

t.test('consistency proofs between checkpoints verify; mutations fail', async (t) => {
  const board = await sampleBoard(new MemoryBoardStore(), 70);
  const pub = boardKeys().publicKey;
  const sizes = [1, 2, 3, 5, 8, 13, 16, 21, 33, 34, 55, 64, 70];
  const bad: string[] = [];
  let checked = 0;
  for (const s1 of sizes) {
    for (const s2 of sizes.filter((s) => s >= s1)) {
      const proof = consistencyProofFromJson(JSON.parse(JSON.stringify(consistencyProofToJson(await board.consistencyProof(s1, s2)))));
      const r = verifyCheckpointExtension(pub, await board.checkpointAt(s1), await board.checkpointAt(s2), proof);
      if (!r.ok) bad.push(`${s1}→${s2}: ${r.reason}`);
      checked++;
    }
  }
  t.same(bad, [], `${checked} consistency proofs verify`);

  const [c13, c34] = [await board.checkpointAt(13), await board.checkpointAt(34)];
  const proof = await board.consistencyProof(13, 34);
  const reason = (older: Checkpoint, newer: Checkpoint, p = proof): string => {
    const r = verifyCheckpointExtension(pub, older, newer, p);
    return r.ok ? 'ok' : r.reason;
  };
  const flip = (h: Uint8Array): Uint8Array => Uint8Array.from(h, (b, j) => (j === 31 ? b ^ 0x80 : b));
  t.equal(reason(c13, c34, { ...proof, hashes: proof.hashes.map((h, i) => (i === 0 ? flip(h) : h)) }), 'merkle', 'flipped proof hash');
  t.equal(reason(c13, c34, { ...proof, hashes: proof.hashes.slice(0, -1) }), 'merkle', 'truncated proof');
  t.equal(reason(c34, c13), 'not-newer', 'reversed checkpoints');
  t.equal(reason(c13, await board.checkpointAt(35)), 'proof-mismatch', 'proof for other sizes');
  t.equal(reason(c13, { ...c34, rootHash: flip(c34.rootHash) }), 'newer-signature', 'a newer root the board did not sign');
  t.equal(reason({ ...c13, electionId: 'x' }, c34), 'older-signature', 'forged older checkpoint');
  // A board that signs a rewritten history: same key, different root at size 34.
  const other = await sampleBoard(new MemoryBoardStore(), 34, { now: fakeClock(5) });
  t.equal(reason(c13, await other.checkpointAt(34)), 'merkle', 'a signed fork is detected (and the two checkpoints are evidence)');
  t.equal(reason(c34, await other.checkpointAt(34), { size1: 34, size2: 34, hashes: [] }), 'head-mismatch', 'two signed heads at one size');
  await rejectsCode(t, board.consistencyProof(34, 13), 'OUT_OF_RANGE', 'size1 > size2');
  await rejectsCode(t, board.consistencyProof(0, 13), 'NOT_FOUND', 'size1 = 0 has no checkpoint');
});

t.test('read-only replica, key and election checks on open', async (t) => {
  const store = new MemoryBoardStore();
  const board = await sampleBoard(store, 5);
  await board.close();
  const replica = await Board.open(store, { electionId: ELECTION_ID, boardPublicKey: boardKeys().publicKey });
  t.ok(replica.readOnly);
  t.equal(replica.size, 5);
  await rejectsCode(t, replica.append('ballot', {}), 'CONFLICT', 'a replica cannot append');
  await rejectsCode(t, Board.open(store, boardOptions({ electionId: 'another-election' })), 'CONFLICT', 'another election', 'another-election');
  await rejectsCode(t, Board.open(store, boardOptions({ boardSecretKey: otherKeys().secretKey })), 'BOARD_CORRUPT', 'another key', 'wrong board key');
  await rejectsCode(t, Board.open(store, { electionId: ELECTION_ID }), 'MALFORMED', 'no key at all');
  await rejectsCode(t, Board.open(store, boardOptions({ boardPublicKey: otherKeys().publicKey })), 'MALFORMED', 'mismatched key pair');
});

t.test('a failed commit stops the board until it is reopened', async (t) => {
  const inner = new MemoryBoardStore();
  let failNext = false;
  const flaky: BoardStore = Object.assign(Object.create(inner) as BoardStore, {
    commit: async (b: Parameters<BoardStore['commit']>[0]) => {
      if (failNext) {
        failNext = false;
        throw new Error('disk full');
      }
      return inner.commit(b);
    },
  });
  for (const m of ['open', 'close', 'head', 'lastEntryHeight', 'getEntry', 'readEntries', 'heightOf', 'getNode', 'getCheckpoint', 'latestCheckpoint'] as const) {
    (flaky as unknown as Record<string, unknown>)[m] = (inner[m] as (...a: unknown[]) => unknown).bind(inner);
  }
  const board = await sampleBoard(flaky, 3);
  failNext = true;
  const [r1, r2] = await Promise.allSettled([board.append('ballot', 1), board.append('ballot', 2)]);
  t.ok(r1.status === 'rejected' && (r1.reason as { code?: string }).code === 'INTERNAL', 'the failed append rejects with INTERNAL');
  t.ok(r2.status === 'rejected' && (r2.reason as { code?: string }).code === 'INTERNAL', 'the queued one is refused too');
  t.equal(board.size, 3, 'state unchanged');
  await rejectsCode(t, board.append('ballot', 3), 'INTERNAL', 'later appends are refused', 'reopen');
  const again = await Board.open(flaky, boardOptions());
  t.equal(again.size, 3);
  t.equal((await again.append('ballot', 4)).entry.height, 3, 'after reopening, appends continue');
});

t.test('close waits for queued appends', async (t) => {
  const board = await sampleBoard(new MemoryBoardStore(), 1);
  const pending = [board.append('ballot', 1), board.append('ballot', 2)];
  await board.close();
  t.same((await Promise.all(pending)).map((r) => r.entry.height), [1, 2], 'appends queued before close complete');
});

// ---------------------------------------------------------------------------------------
// Torn and corrupt stores (LevelDB, damaged by hand while closed)
// ---------------------------------------------------------------------------------------

/** Builds a closed LevelDB board of `n` entries and returns its directory. */
async function levelBoard(t: Test, n: number): Promise<string> {
  const dir = tempDir(t);
  const board = await sampleBoard(new LevelBoardStore(dir), n);
  await board.close();
  return dir;
}

/** Opens the raw database, runs `damage`, closes it. */
async function damage(dir: string, fn: (db: Level<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

async function openLevel(dir: string, verify: 'tail' | 'full' = 'tail'): Promise<Board> {
  return Board.open(new LevelBoardStore(dir), boardOptions({ verify }));
}

t.test('open: a sound LevelDB board reopens, at both verification depths', async (t) => {
  const dir = await levelBoard(t, 21);
  const b1 = await openLevel(dir, 'full');
  t.equal(b1.size, 21);
  const head = toHex(b1.head);
  await b1.append('ballot', { after: 'reopen' });
  await b1.close();
  const b2 = await openLevel(dir);
  t.equal(b2.size, 22);
  t.equal(toHex((await b2.entryAt(21)).entry.parent), head, 'the next entry links to the recovered head');
  t.ok((await verifyAll(b2)).ok);
  await b2.close();
});

t.test('open: torn and corrupt stores fail with BOARD_CORRUPT', async (t) => {
  const N = 21; // odd: the last leaf is a frontier node
  const cases: [string, (db: Level<Uint8Array, Uint8Array>) => Promise<void>, string][] = [
    ['checkpoint of the last entry dropped', (db) => db.del(LEVEL_KEYS.checkpoint(N)), 'has no checkpoint'],
    ['last entry dropped (checkpoint without its entry)', (db) => db.del(LEVEL_KEYS.entry(N - 1)), 'last stored entry'],
    ['an entry beyond the head (entry without checkpoint)', async (db) => {
      const v = (await db.get(LEVEL_KEYS.entry(N - 1)))!;
      await db.put(LEVEL_KEYS.entry(N), v);
    }, 'beyond the head'],
    ['a checkpoint beyond the head', async (db) => {
      await db.put(LEVEL_KEYS.checkpoint(N + 1), (await db.get(LEVEL_KEYS.checkpoint(N)))!);
    }, 'checkpoint'],
    ['a payload byte of the last entry flipped', async (db) => {
      const v = (await db.get(LEVEL_KEYS.entry(N - 1)))!;
      v[v.length - 3] = v[v.length - 3]! ^ 1;
      await db.put(LEVEL_KEYS.entry(N - 1), v);
    }, 'stored hash is not the hash'],
    ['the stored hash of the last entry changed', async (db) => {
      const v = (await db.get(LEVEL_KEYS.entry(N - 1)))!;
      v[0] = v[0]! ^ 1;
      await db.put(LEVEL_KEYS.entry(N - 1), v);
    }, 'stored hash'],
    ['a frontier node dropped', (db) => db.del(LEVEL_KEYS.node(4, 0)), 'node (4, 0)'],
    ['a frontier node changed', (db) => db.put(LEVEL_KEYS.node(2, 4), new Uint8Array(32)), 'root'],
    ['the head record rolled back', async (db) => {
      const v = (await db.get(LEVEL_KEYS.head()))!;
      v[7] = v[7]! - 1;
      await db.put(LEVEL_KEYS.head(), v);
    }, 'head'],
    ['the head record dropped', (db) => db.del(LEVEL_KEYS.head()), 'no head record'],
    ['the hash index entry dropped', async (db) => {
      const rec = (await db.get(LEVEL_KEYS.entry(N - 1)))!;
      await db.del(LEVEL_KEYS.byHash(rec.slice(0, 32)));
    }, 'hash index'],
    ['the latest checkpoint signature flipped', async (db) => {
      const text = new TextDecoder().decode((await db.get(LEVEL_KEYS.checkpoint(N)))!);
      const sig = /"signature":"([0-9a-f])/.exec(text)!;
      const edited = text.replace(`"signature":"${sig[1]}`, `"signature":"${sig[1] === '0' ? '1' : '0'}`);
      await db.put(LEVEL_KEYS.checkpoint(N), new TextEncoder().encode(edited));
    }, 'does not verify'],
    ['the latest checkpoint garbled', (db) => db.put(LEVEL_KEYS.checkpoint(N), new TextEncoder().encode('{"x":')), 'does not decode'],
  ];
  for (const [name, fn, needle] of cases) {
    const dir = await levelBoard(t, N);
    await damage(dir, fn);
    const err = await rejectsCode(t, openLevel(dir), 'BOARD_CORRUPT', name, needle);
    if (err) t.comment(`${name} → ${err.message}`);
  }
});

t.test('open: a corrupt middle entry passes the tail check and fails the full check', async (t) => {
  const dir = await levelBoard(t, 21);
  await damage(dir, async (db) => {
    const v = (await db.get(LEVEL_KEYS.entry(7)))!;
    v[v.length - 3] = v[v.length - 3]! ^ 1;
    await db.put(LEVEL_KEYS.entry(7), v);
  });
  const b = await openLevel(dir, 'tail');
  t.equal(b.size, 21, "'tail' reads O(log n) records and does not see it");
  await b.close();
  await rejectsCode(t, openLevel(dir, 'full'), 'BOARD_CORRUPT', "'full' finds it", 'entry 7 fails check B8');
});

t.test('bulletin/ depends on no election or server code (issue #3)', async (t) => {
  const root = fileURLToPath(new URL('..', import.meta.url.includes('/dist/test/') ? new URL('../', import.meta.url) : import.meta.url));
  const allowedSrc = new Set(['src/canonical.js', 'src/errors.js', 'src/wire.js', 'src/crypto/hash.js', 'src/crypto/ed25519.js', 'src/crypto/bigint.js', 'src/node/pg-connect.js']);
  const files = readdirSync(join(root, 'bulletin'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  t.ok(files.length >= 15, `${files.length} files checked`);
  const bad: string[] = [];
  let seen = 0;
  for (const f of files) {
    const text = readFileSync(join(root, 'bulletin', f), 'utf8');
    const specs = [...text.matchAll(/^(?:import|export)\b[^;]*?from\s*'([^']+)'/gm), ...text.matchAll(/\bimport\s*\(\s*'([^']+)'/g)];
    for (const m of specs) {
      const spec = m[1]!;
      seen++;
      if (spec.startsWith('node:') || spec.startsWith('@noble/') || spec === 'level' || spec === 'pg') continue;
      if (!spec.startsWith('.')) {
        bad.push(`${f}: ${spec}`);
        continue;
      }
      const target = relative(root, resolve(dirname(join(root, 'bulletin', f)), spec)).split(sep).join('/');
      if (!target.startsWith('bulletin/') && !allowedSrc.has(target)) bad.push(`${f}: ${spec}`);
    }
  }
  t.ok(seen > 60, `${seen} import specifiers found (the pattern works)`);
  t.same(bad, [], 'imports only bulletin/, node:, @noble/, level, pg and the shared primitives of src/');
});
