/**
 * The list of ballot trackers on the public board page: built from the board's entries as
 * they are read page by page, searched by any part of a tracker, and shown a page at a time.
 *
 * Why an index and not the entries themselves: a ballot entry carries every ciphertext and
 * proof (kilobytes each), while the list needs three small fields per ballot. Keeping only
 * those lets the page hold the whole board's list and search it without asking the server
 * again. Under revoting (spec §8.1) a token's later ballot replaces its earlier one; the index
 * marks replaced ballots so a voter who changed their mind sees which tracker counts.
 *
 * Display only: nothing here is verified. A voter's proof that THEIR ballot is on the board is
 * the receipt check (receipt-check.ts).
 */

/** One ballot in the list. */
export interface TrackerRow {
  /** 64 lowercase hex digits */
  readonly tracker: string;
  readonly height: number;
  /** ms since the epoch */
  readonly timestamp: number;
  /** height of the later ballot of the same token that replaced this one */
  replacedBy?: number;
}

/** A page of the (filtered) list. */
export interface TrackerPage {
  readonly rows: readonly TrackerRow[];
  /** 0-based page number, clamped to the pages that exist */
  readonly page: number;
  readonly pages: number;
  /** number of rows matching the query */
  readonly matching: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

export class TrackerIndex {
  private readonly rows: TrackerRow[] = [];
  private readonly lastOfToken = new Map<string, TrackerRow>();
  private nextHeight = 0;

  /** Height of the next entry to read. */
  get readUpTo(): number {
    return this.nextHeight;
  }

  /** Number of ballots indexed. */
  get size(): number {
    return this.rows.length;
  }

  /**
   * Add entries in board order (an entry already seen is ignored).
   * @param entries - entries as listed by /api/board/entries
   */
  add(entries: readonly { readonly height: number; readonly type: string; readonly timestamp: number; readonly payload: unknown }[]): void {
    for (const e of entries) {
      if (e.height < this.nextHeight) continue;
      this.nextHeight = e.height + 1;
      if (e.type !== 'ballot') continue;
      const p = e.payload as { tracker?: unknown; ballot?: { token?: { publicKey?: unknown } } } | null;
      const tracker = p?.tracker;
      if (typeof tracker !== 'string' || !HEX64.test(tracker)) continue;
      const row: TrackerRow = { tracker, height: e.height, timestamp: e.timestamp };
      const key = p?.ballot?.token?.publicKey;
      if (typeof key === 'string') {
        const earlier = this.lastOfToken.get(key);
        if (earlier) earlier.replacedBy = e.height;
        this.lastOfToken.set(key, row);
      }
      this.rows.push(row);
    }
  }

  /**
   * One page of the ballots whose tracker contains `query`, newest first.
   * @param query - any part of a tracker; spaces and case are ignored; '' for all
   * @param page - 0-based page number (clamped)
   * @param perPage - rows per page, ≥ 1
   */
  page(query: string, page: number, perPage: number): TrackerPage {
    const q = normalizeTrackerQuery(query);
    const matching = q === '' ? this.rows : this.rows.filter((r) => r.tracker.includes(q));
    const pages = Math.max(1, Math.ceil(matching.length / perPage));
    const p = Math.min(Math.max(0, Math.floor(page)), pages - 1);
    const newestFirst = matching.length - 1 - p * perPage;
    const rows: TrackerRow[] = [];
    for (let i = newestFirst; i > newestFirst - perPage && i >= 0; i--) rows.push(matching[i]!);
    return { rows, page: p, pages, matching: matching.length };
  }
}

/**
 * A search query as the index compares it: lowercase, without spaces (trackers are often
 * copied in groups of four digits).
 */
export function normalizeTrackerQuery(query: string): string {
  return query.toLowerCase().replace(/\s+/g, '');
}
