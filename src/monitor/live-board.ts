/**
 * How the monitor reads a live board: the ballot server's public routes (spec §12.2) —
 * `GET /api/election` (manifest, phase, size), `GET /api/board/checkpoint[?size]`,
 * `GET /api/board/proof/consistency?size1&size2`, `GET /api/board/entries?from&limit`.
 *
 * Everything returned is UNTRUSTED and only parsed here (shapes, sizes, hex); the monitor
 * verifies signatures, proofs and entries. Bodies are read with a byte cap BEFORE they are
 * parsed; a page of entries larger than the cap is asked again with half the limit, down to
 * one entry (at most one 8 MiB line), so memory stays bounded whatever the entries' sizes.
 * A timeout covers one request (the network and the server's answer), never the monitor's
 * own work.
 */
import { readCapped } from '../verifier/board-access.js';
import { MAX_LINE_BYTES } from '../../bulletin/board-file.js';
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import { cosignedCheckpointFromJson, type Cosignature } from '../../bulletin/cosignature.js';
import { entryFromJson, type Entry } from '../../bulletin/entry.js';
import { consistencyProofFromJson, type ConsistencyProof } from '../../bulletin/proofs.js';
import { ERRORS, TallyError, isTallyError, type ErrorCode } from '../errors.js';
import { parseHex } from '../wire.js';

/** An entry as listed, with the hash the server publishes for it (checked by B8). */
export interface ListedEntry {
  readonly entry: Entry;
  readonly hash: Uint8Array;
}

/** What the monitor needs from a board. */
export interface LiveBoard {
  /** a name for messages and the checkpoint log */
  readonly source: string;
  /** the manifest as served (unparsed), the phase and the board's size */
  election(): Promise<{ readonly manifest: unknown; readonly phase: string; readonly size: number }>;
  /** the latest checkpoint, or the one of `size` entries */
  checkpoint(size?: number): Promise<Checkpoint>;
  /** the witness cosignatures served with the checkpoint of `size` entries (spec §9.9.3; none if absent) */
  cosignatures?(size: number): Promise<readonly Cosignature[]>;
  /** an RFC 9162 consistency proof, 1 ≤ size1 ≤ size2 */
  consistency(size1: number, size2: number): Promise<ConsistencyProof>;
  /** entries from `from` on, at most `limit`, in height order */
  entries(from: number, limit: number): Promise<readonly ListedEntry[]>;
  /** entries fetched so far (the tests count them: each entry is read once) */
  readonly fetched: number;
}

/** Largest page the server gives (spec §12.2). */
export const ENTRIES_PAGE = 100;
/** Largest body read for one page of entries before it is asked again in a smaller page. */
const MAX_PAGE_BYTES = 32 * 1024 * 1024;
/** Largest small document (election, checkpoint, proof). */
const MAX_DOC_BYTES = MAX_LINE_BYTES + 64 * 1024;

class TooLarge extends Error {}

async function readCappedOrThrow(res: Response, max: number): Promise<Uint8Array> {
  const bytes = await readCapped(res, max);
  if (bytes === undefined) throw new TooLarge();
  return bytes;
}

/**
 * The HTTP board of a ballot server.
 * @param baseUrl - e.g. `http://127.0.0.1:8080` (no trailing path needed)
 * @param timeoutMs - per request (network and server), default 30 s
 */
export function httpLiveBoard(baseUrl: string, timeoutMs = 30_000, fetchFn: typeof fetch = globalThis.fetch): LiveBoard {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new TallyError('OUT_OF_RANGE', 'board: expected an absolute http(s) URL');
  }
  if ((base.protocol !== 'http:' && base.protocol !== 'https:') || base.username !== '' || base.password !== '') {
    throw new TallyError('OUT_OF_RANGE', 'board: expected an http(s) URL without credentials');
  }
  const prefix = `${base.origin}${base.pathname}`.replace(/\/+$/, '');
  let fetched = 0;

  const get = async (path: string, max: number): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetchFn(`${prefix}${path}`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new TallyError('BOARD_UNAVAILABLE', `cannot reach the ballot server at ${base.origin}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    let bytes: Uint8Array;
    try {
      bytes = await readCappedOrThrow(res, max);
    } catch (e) {
      if (e instanceof TooLarge) throw e;
      throw new TallyError('BOARD_UNAVAILABLE', `${path.split('?')[0]}: the answer was cut off`, { cause: e });
    }
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
    } catch {
      throw new TallyError('BOARD_BAD_RESPONSE', `${path.split('?')[0]}: the answer is not JSON (HTTP ${res.status})`);
    }
    if (!res.ok) {
      const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = err?.code;
      const known = typeof code === 'string' && Object.hasOwn(ERRORS, code);
      const msg = typeof err?.message === 'string' ? err.message.slice(0, 300) : `HTTP ${res.status}`;
      throw new TallyError(res.status >= 500 ? 'BOARD_UNAVAILABLE' : known ? (code as ErrorCode) : 'BOARD_BAD_RESPONSE', `${path.split('?')[0]}: ${msg}`);
    }
    return body;
  };
  const bad = (what: string, e: unknown) => new TallyError('BOARD_BAD_RESPONSE', `${what}: ${isTallyError(e) ? e.message : 'malformed'}`);

  return {
    source: prefix,
    get fetched() {
      return fetched;
    },
    async election() {
      const r = (await get('/api/election', MAX_DOC_BYTES)) as { manifest?: unknown; status?: { phase?: unknown; boardSize?: unknown } } | null;
      const phase = r?.status?.phase;
      const size = r?.status?.boardSize;
      if (typeof phase !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || r?.manifest === undefined) {
        throw new TallyError('BOARD_BAD_RESPONSE', '/api/election: expected { manifest, status: { phase, boardSize } }');
      }
      return { manifest: r.manifest, phase, size };
    },
    async checkpoint(size?: number) {
      const body = await get(`/api/board/checkpoint${size === undefined ? '' : `?size=${size}`}`, MAX_DOC_BYTES);
      try {
        return cosignedCheckpointFromJson(body).checkpoint;
      } catch (e) {
        throw bad('/api/board/checkpoint', e);
      }
    },
    async cosignatures(size: number) {
      const body = await get(`/api/board/checkpoint?size=${size}`, MAX_DOC_BYTES);
      let r;
      try {
        r = cosignedCheckpointFromJson(body);
      } catch (e) {
        throw bad('/api/board/checkpoint', e);
      }
      if (r.checkpoint.treeSize !== size) throw new TallyError('BOARD_BAD_RESPONSE', `/api/board/checkpoint: asked for size ${size}, got ${r.checkpoint.treeSize}`);
      return r.cosignatures;
    },
    async consistency(size1: number, size2: number) {
      const body = await get(`/api/board/proof/consistency?size1=${size1}&size2=${size2}`, MAX_DOC_BYTES);
      let p: ConsistencyProof;
      try {
        p = consistencyProofFromJson(body);
      } catch (e) {
        throw bad('/api/board/proof/consistency', e);
      }
      if (p.size1 !== size1 || p.size2 !== size2) throw new TallyError('BOARD_BAD_RESPONSE', `consistency proof: asked for ${size1} → ${size2}, got ${p.size1} → ${p.size2}`);
      return p;
    },
    async entries(from: number, limit: number) {
      let n = Math.max(1, Math.min(limit, ENTRIES_PAGE));
      for (;;) {
        let body: unknown;
        try {
          body = await get(`/api/board/entries?from=${from}&limit=${n}`, n === 1 ? MAX_DOC_BYTES : MAX_PAGE_BYTES);
        } catch (e) {
          if (e instanceof TooLarge && n > 1) {
            n = Math.ceil(n / 2);
            continue;
          }
          if (e instanceof TooLarge) throw new TallyError('BOARD_BAD_RESPONSE', `/api/board/entries: entry ${from} is larger than a board line may be`);
          throw e;
        }
        const list = (body as { entries?: unknown } | null)?.entries;
        if (!Array.isArray(list) || list.length > n) throw new TallyError('BOARD_BAD_RESPONSE', '/api/board/entries: not a page of entries');
        const out: ListedEntry[] = [];
        for (const x of list) {
          try {
            const hash = parseHex((x as { hash?: unknown } | null)?.hash, 'entry.hash', 32);
            out.push({ entry: entryFromJson(x, ['hash']), hash });
          } catch (e) {
            throw bad('/api/board/entries', e);
          }
        }
        fetched += out.length;
        return out;
      }
    },
  };
}
