/**
 * Which ballots count (spec/08-tally.md §8.1): the revote rule in ONE place, used by the ballot
 * server (to accept or refuse a second ballot), the verification server (to tally) and the
 * auditor (to check), so the three cannot disagree.
 *
 * It is fed the ballot entries in board order and remembers, per token, the heights and
 * trackers of its ballots: O(number of ballots) small records, never a ciphertext. Tallying is
 * then a second pass that multiplies the ciphertexts of the entries for which `counts(height)`
 * is true — so memory does not grow with key size or number of questions, and a board of any
 * length is tallied by streaming it twice.
 */
import { toHex } from '../wire.js';

/** What adding a ballot means under the rule. */
export type BallotAdmission =
  | { readonly ok: true; /** height of the ballot this one replaces (revoting) */ readonly replaces?: number }
  | { readonly ok: false; readonly check: '7a' | '7b'; readonly reason: string; readonly firstHeight: number };

interface TokenBallots {
  readonly heights: number[];
  readonly trackers: string[];
}

/** JSON form of a {@link CountedSet}. */
export interface CountedSetJson {
  readonly revoting: boolean;
  readonly tokens: readonly (readonly [string, readonly number[], readonly string[]])[];
}

export class CountedSet {
  private readonly byToken = new Map<string, TokenBallots>();
  private ballots = 0;
  private replaced = 0;

  /**
   * @param revoting - the manifest's revote rule
   */
  constructor(private readonly revoting: boolean) {}

  /**
   * Check whether a ballot may be added, without adding it (the ballot server's pre-check).
   * @param tokenPublicKey - the ballot's token key (32 bytes)
   * @param tracker - the ballot's tracker (32 bytes)
   */
  admit(tokenPublicKey: Uint8Array, tracker: Uint8Array): BallotAdmission {
    const t = this.byToken.get(toHex(tokenPublicKey));
    if (!t) return { ok: true };
    const tr = toHex(tracker);
    const dup = t.trackers.indexOf(tr);
    if (dup >= 0) return { ok: false, check: '7a', reason: 'the same ballot was cast twice', firstHeight: t.heights[dup]! };
    if (!this.revoting) return { ok: false, check: '7b', reason: 'this token has already cast a ballot', firstHeight: t.heights[0]! };
    return { ok: true, replaces: t.heights[t.heights.length - 1]! };
  }

  /**
   * Record a ballot at `height` (heights must increase). Returns the admission decision; a
   * refused ballot is NOT recorded.
   */
  add(height: number, tokenPublicKey: Uint8Array, tracker: Uint8Array): BallotAdmission {
    const a = this.admit(tokenPublicKey, tracker);
    if (!a.ok) return a;
    const key = toHex(tokenPublicKey);
    const t = this.byToken.get(key);
    if (t) {
      t.heights.push(height);
      t.trackers.push(toHex(tracker));
      this.replaced++;
    } else {
      this.byToken.set(key, { heights: [height], trackers: [toHex(tracker)] });
    }
    this.ballots++;
    return a;
  }

  /** True iff the ballot recorded at `height` for this token counts (it is the token's latest). */
  counts(height: number, tokenPublicKey: Uint8Array): boolean {
    const t = this.byToken.get(toHex(tokenPublicKey));
    return t !== undefined && t.heights[t.heights.length - 1] === height;
  }

  /** True iff a ballot of this token was recorded at `height` (counted or since replaced). */
  wasRecorded(height: number, tokenPublicKey: Uint8Array): boolean {
    return this.byToken.get(toHex(tokenPublicKey))?.heights.includes(height) ?? false;
  }

  /**
   * The set as JSON, for a monitor's saved state (spec §10.7): per token (hex), its ballots'
   * heights and trackers in order.
   */
  toJSON(): CountedSetJson {
    return { revoting: this.revoting, tokens: [...this.byToken].map(([k, t]) => [k, [...t.heights], [...t.trackers]]) };
  }

  /**
   * Rebuilds a set from {@link toJSON}'s output.
   * @throws TypeError for a value of the wrong shape (the caller's own state file)
   */
  static fromJSON(j: CountedSetJson): CountedSet {
    const s = new CountedSet(j.revoting === true);
    if (!Array.isArray(j.tokens)) throw new TypeError('counted set: tokens must be an array');
    for (const item of j.tokens) {
      const [k, heights, trackers] = item;
      if (typeof k !== 'string' || !Array.isArray(heights) || !Array.isArray(trackers) || heights.length !== trackers.length || heights.length === 0) {
        throw new TypeError('counted set: bad token record');
      }
      s.byToken.set(k, { heights: heights.map(Number), trackers: trackers.map(String) });
      s.ballots += heights.length;
      s.replaced += heights.length - 1;
    }
    return s;
  }

  /** Ballots recorded (including replaced ones). */
  get ballotEntries(): number {
    return this.ballots;
  }

  /** Ballots that count: one per token. */
  get counted(): number {
    return this.ballots - this.replaced;
  }

  /** Distinct tokens that cast a ballot. */
  get tokens(): number {
    return this.byToken.size;
  }
}
