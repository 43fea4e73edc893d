/**
 * Fixtures for the bulletin-board tests: a fixed board key, a deterministic clock, temporary
 * LevelDB directories that are removed afterwards, and sample payloads.
 *
 * Deliberately independent of the election fixtures (test/helpers/fixtures.ts): the board
 * knows nothing about elections, and its tests should not either.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Test } from 'tap';
import { ed25519KeyPair, type Ed25519KeyPair } from '../../src/crypto/ed25519.js';
import { isTallyError, type ErrorCode, type TallyError } from '../../src/errors.js';
import { Board, type BoardOptions } from '../../bulletin/board.js';
import type { BoardStore } from '../../bulletin/store/interface.js';
import type { JsonValue } from '../../bulletin/value-encoding.js';

/** The election id every board test uses. */
export const ELECTION_ID = 'board-test-election';

/** The board key: Ed25519 from the seed 07 × 32 (the same seed as boardKeyFixture). */
export function boardKeys(): Ed25519KeyPair {
  return ed25519KeyPair(new Uint8Array(32).fill(7));
}

/** A second key, for "wrong key" tests. */
export function otherKeys(): Ed25519KeyPair {
  return ed25519KeyPair(new Uint8Array(32).fill(9));
}

/** A clock that starts at 2024-01-01T00:00:00Z and advances `step` ms per call. */
export function fakeClock(step = 1, start = 1_704_067_200_000): () => number {
  let t = start - step;
  return () => (t += step);
}

/** Board options with the fixture key and a fake clock. */
export function boardOptions(extra: Partial<BoardOptions> = {}): BoardOptions {
  return { electionId: ELECTION_ID, boardSecretKey: boardKeys().secretKey, now: fakeClock(), ...extra };
}

/** A fresh temporary directory under os.tmpdir(), removed when the test ends. */
export function tempDir(t: Test, prefix = 'tallyboard-board-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A small payload that differs per index and uses every kind of value. */
export function samplePayload(i: number): JsonValue {
  return { i, label: `entry ${i}`, even: i % 2 === 0, tags: [i, i - 1000, null, 'é😀'], nested: { deep: [[i]] } };
}

/** Type of the entry at height i in the sample boards: setup first, then mostly ballots. */
export function sampleType(i: number): 'setup' | 'token-issued' | 'ballot' {
  if (i === 0) return 'setup';
  return i % 3 === 0 ? 'token-issued' : 'ballot';
}

/**
 * Opens a board on `store` and appends `n` sample entries one after another.
 * @returns the open board
 */
export async function sampleBoard(store: BoardStore, n: number, extra: Partial<BoardOptions> = {}): Promise<Board> {
  const board = await Board.open(store, boardOptions(extra));
  for (let i = board.size; i < n; i++) await board.append(sampleType(i), samplePayload(i));
  return board;
}

/** Collects an async iterable into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Deterministic bytes: SHA-256(seed ‖ counter) blocks. */
export function seeded(seed: string): (n: number) => Uint8Array {
  const base = new TextEncoder().encode(seed);
  let counter = 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const c = new Uint8Array(base.length + 4);
      c.set(base);
      new DataView(c.buffer).setUint32(base.length, counter++);
      out.set(sha256(c).subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}

/**
 * Assert that `p` rejects with a TallyError of `code` (and, if given, a message containing
 * `needle`). The async counterpart of throwsCode (test/helpers/assert.ts).
 * @returns the error, for further checks
 */
export async function rejectsCode(t: Test, p: Promise<unknown>, code: ErrorCode, msg: string, needle?: string): Promise<TallyError | undefined> {
  try {
    await p;
  } catch (e) {
    const ok = isTallyError(e, code) && (needle === undefined || e.message.includes(needle));
    t.ok(ok, `${msg}: rejects with ${code}${needle ? ` (${needle})` : ''}`, ok ? {} : { got: e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : e });
    return isTallyError(e) ? e : undefined;
  }
  t.fail(`${msg}: expected ${code}, but it resolved`);
  return undefined;
}
