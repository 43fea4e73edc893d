/**
 * "Is this the ballot that counts?" — the second half of every receipt check (issue #9.3).
 *
 * A receipt proves that a ballot is on the board. Under revoting, though, only a token's LAST
 * ballot is counted (spec §8.1), so a voter whose token cast again later — they themselves, or
 * whoever holds their token — must be told that this ballot no longer counts, whatever way they
 * check (CLI or web, against a server or a file).
 *
 * Against a live server the answer must not rest on the server's word: this walks every entry
 * after the receipt's up to the latest signed checkpoint, re-hashing each one and checking that
 * it links to the one before (its `parent`), starting from the receipt's own entry hash and
 * ending on the checkpoint's `chainHead` (spec §9.2, §9.4). A server that hid a later ballot of
 * the token, or showed another suffix, would break the chain or miss the signed head. The caller
 * checks beforehand that the latest checkpoint is signed and extends the receipt's.
 *
 * Browser-safe (no Node built-ins): the board page uses it, as does `tallyboard receipt check`.
 */
import { TallyError } from '../errors.js';
import { parseHex, toHex } from '../wire.js';
import { bytesEqual } from '../crypto/hash.js';
import { encodeEntry, entryFromJson } from '../../bulletin/entry.js';
import type { Checkpoint } from '../../bulletin/checkpoint.js';

/** Where a ballot stands among its token's ballots, as of a signed checkpoint. */
export type Standing =
  /** no later ballot of the same token up to `asOf` entries: this is the ballot that counts */
  | { readonly counts: true; readonly asOf: number }
  /** a later ballot of the same token, at `replacedAt` (the last one), replaces it */
  | { readonly counts: false; readonly replacedAt: number; readonly asOf: number };

/** A failure to establish the standing: the board does not hold together. */
export interface StandingFailure {
  readonly failed: true;
  readonly reason: string;
}

/** The token key (hex) of a ballot entry's payload, or undefined for another entry. */
export function ballotTokenKey(type: string, payload: unknown): string | undefined {
  if (type !== 'ballot') return undefined;
  const k = (payload as { ballot?: { token?: { publicKey?: unknown } } } | null)?.ballot?.token?.publicKey;
  return typeof k === 'string' ? k : undefined;
}

/** Options of {@link ballotStanding}. */
export interface StandingOptions {
  /** the receipt's entry: its height, its hash (checked against the entry by the caller) and its token key (hex) */
  readonly height: number;
  readonly entryHash: Uint8Array;
  readonly tokenKey: string;
  /** the latest checkpoint, signed and extending the receipt's (checked by the caller); treeSize > height */
  readonly latest: Checkpoint;
  /** one page of entries from height `from` (GET /api/board/entries), at most `limit`; untrusted */
  readonly page: (from: number, limit: number) => Promise<readonly unknown[]>;
  /** page size, 1 ≤ pageSize ≤ 100 */
  readonly pageSize: number;
  /** called after each page with the entries checked so far and the number to check */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Walk the entries after the receipt's up to the latest checkpoint (see the file header).
 * @returns the standing, or why the board's entries do not hold together
 * @throws what `page` throws (a server that cannot be reached is not an answer)
 */
export async function ballotStanding(o: StandingOptions): Promise<Standing | StandingFailure> {
  const end = o.latest.treeSize;
  if (!(o.height < end)) return { failed: true, reason: `the latest checkpoint (${end} entries) does not cover height ${o.height}` };
  let prev = o.entryHash;
  let replacedAt: number | undefined;
  const total = end - o.height - 1;
  for (let h = o.height + 1; h < end; ) {
    const items = await o.page(h, Math.min(o.pageSize, end - h));
    if (items.length === 0) return { failed: true, reason: `the server lists no entry at height ${h}, below its own checkpoint's ${end}` };
    for (const item of items) {
      if (h >= end) break;
      let encoded;
      try {
        const entry = entryFromJson(item, ['hash']);
        if (entry.height !== h) return { failed: true, reason: `the server listed height ${entry.height} where ${h} was asked` };
        if (!bytesEqual(entry.parent, prev)) return { failed: true, reason: `the entry at height ${h} does not link to the one before it (its parent is not that entry's hash)` };
        encoded = encodeEntry(entry);
        const stated = parseHex((item as { hash?: unknown }).hash, 'entry.hash', 32);
        if (!bytesEqual(stated, encoded.hash)) return { failed: true, reason: `the entry at height ${h} is listed with a hash that is not its own` };
      } catch (e) {
        if (e instanceof TallyError) return { failed: true, reason: `the entry at height ${h} is malformed: ${e.message}` };
        throw e;
      }
      if (ballotTokenKey(encoded.entry.type, encoded.entry.payload) === o.tokenKey) replacedAt = h;
      prev = encoded.hash;
      h++;
    }
    o.onProgress?.(h - o.height - 1, total);
  }
  if (!bytesEqual(prev, o.latest.chainHead)) {
    return { failed: true, reason: `the entries after your ballot do not end on the signed checkpoint's chain head (${toHex(o.latest.chainHead).slice(0, 16)}…): the server shows another board than it signed` };
  }
  return replacedAt === undefined ? { counts: true, asOf: end } : { counts: false, replacedAt, asOf: end };
}

/**
 * The standing in words, the same in the CLI and on the board page.
 * @param s - the standing
 * @param phase - the election's phase, when known ('open' adds that a new ballot would replace this one)
 * @param revoting - whether the election allows revoting
 */
export function standingText(s: Standing, phase?: string, revoting?: boolean): string {
  if (!s.counts) {
    return `This ballot does NOT count: your token cast a later ballot, at height ${s.replacedAt}, which replaced it (only a token's last ballot is counted). If you did not vote again, someone else holds your token.`;
  }
  const open = phase === 'open' || phase === 'scheduled';
  return `This is the ballot that counts: no later ballot of your token is on the board (checked up to entry ${s.asOf - 1})${open && revoting ? '; if you vote again before the close, the new ballot will replace it' : ''}.`;
}

/**
 * The height of the last ballot cast with a token, as listed by the server (informational: it
 * tells a voter who loads a token whether a new ballot would replace an earlier one; the
 * receipt check is the verified answer).
 * @param page - one page of entries from `from` (GET /api/board/entries)
 * @param size - the board's size
 * @param tokenKey - the token's public key, hex
 * @returns the height, or undefined if the token has cast no ballot
 */
export async function lastBallotOfToken(page: (from: number, limit: number) => Promise<readonly unknown[]>, size: number, tokenKey: string): Promise<number | undefined> {
  let last: number | undefined;
  for (let from = 0; from < size; ) {
    const items = await page(from, 100);
    if (items.length === 0) break;
    for (const item of items) {
      const e = item as { height?: unknown; type?: unknown; payload?: unknown };
      if (typeof e.type === 'string' && typeof e.height === 'number' && ballotTokenKey(e.type, e.payload) === tokenKey) last = e.height;
    }
    from += items.length;
  }
  return last;
}
