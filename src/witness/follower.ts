/**
 * The standalone witness loop (`tallyboard witness --board URL --key F --state DIR`): follows
 * a live ballot server and cosigns each new checkpoint it has verified (spec §9.9.4, §11.6).
 *
 * One round ({@link WitnessFollower.round}):
 *   1. read the latest signed checkpoint;
 *   2. read the entries this process has not verified yet, up to its size, and feed them to
 *      the auditor (auditor/audit.ts — the same checks as `tallyboard verify`, no second
 *      verifier); any failure of a check that judges a prefix is an alarm, and nothing is
 *      cosigned;
 *   3. require the entries' Merkle root and chain head to be the checkpoint's (the entries
 *      served are the ones the checkpoint commits to);
 *   4. fetch the RFC 9162 consistency proof from the last checkpoint it cosigned, and let the
 *      cosigner (cosigner.ts: rules W1–W5, state persisted first) cosign;
 *   5. post the cosignature to the ballot server.
 * After a restart the auditor state is rebuilt by re-reading the entries up to the last
 * cosigned checkpoint, which must give that checkpoint's root (W5 then holds from there on).
 * The live monitor (src/monitor/) keeps the auditor state on disk instead; with
 * `--witness-key` it calls the same cosigner.
 */
import { TallyError, isTallyError } from '../errors.js';
import { bytesEqual } from '../crypto/hash.js';
import { toHex } from '../wire.js';
import { parseManifest, type Election } from '../election/manifest.js';
import { Auditor } from '../../auditor/audit.js';
import { entryFromJson } from '../../bulletin/entry.js';
import { parseHex } from '../wire.js';
import { cosignatureToJson, cosignedCheckpointFromJson, type Cosignature } from '../../bulletin/cosignature.js';
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import { consistencyProofFromJson } from '../../bulletin/proofs.js';
import type { WitnessCosigner } from './cosigner.js';
import type { WitnessKey } from './key-file.js';

/** What one round did. */
export type WitnessRound =
  | { readonly kind: 'cosigned'; readonly treeSize: number; readonly cosignature: Cosignature; readonly posted: boolean }
  | { readonly kind: 'unchanged'; readonly treeSize: number }
  | { readonly kind: 'alarm'; readonly reason: string };

/** A JSON client of one ballot server; every timeout measures the network only. */
export class BoardHttp {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 30_000,
  ) {}

  async get(path: string): Promise<unknown> {
    const res = await this.#fetch(path, { headers: { accept: 'application/json' } });
    return res;
  }

  async post(path: string, body: unknown): Promise<unknown> {
    return this.#fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  }

  async #fetch(path: string, init: RequestInit): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl.replace(/\/+$/, '')}${path}`, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new TallyError('BOARD_UNAVAILABLE', `cannot reach the ballot server at ${this.baseUrl}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new TallyError('BOARD_BAD_RESPONSE', `${path}: the ballot server answered HTTP ${res.status} without JSON`);
    }
    if (!res.ok) {
      const err = (body as { error?: { code?: unknown; message?: unknown } }).error;
      const code = typeof err?.code === 'string' ? err.code : 'BOARD_BAD_RESPONSE';
      throw new TallyError(res.status >= 500 ? 'BOARD_UNAVAILABLE' : 'BOARD_BAD_RESPONSE', `${path}: HTTP ${res.status} ${code}: ${String(err?.message ?? '').slice(0, 300)}`, { details: { upstreamCode: code, upstreamStatus: res.status } });
    }
    return body;
  }
}

/** Reads the election from a ballot server: the manifest, checked, and its fingerprint. */
export async function fetchElection(http: BoardHttp, expectedFingerprint?: string): Promise<Election> {
  const body = (await http.get('/api/election')) as { manifest?: unknown };
  const election = parseManifest(body.manifest);
  if (expectedFingerprint !== undefined && election.fingerprintHex !== expectedFingerprint.toLowerCase()) {
    throw new TallyError('CONFLICT', `the ballot server serves election ${election.fingerprintHex}, not the expected ${expectedFingerprint}`);
  }
  return election;
}

export class WitnessFollower {
  readonly #auditor: Auditor;
  #alarm: string | undefined;

  /**
   * @throws TallyError CONFLICT if the key is not a witness of the manifest under its name
   */
  constructor(
    private readonly http: BoardHttp,
    election: Election,
    key: WitnessKey,
    private readonly cosigner: WitnessCosigner,
  ) {
    const me = election.witnesses.find((w) => w.name === key.name);
    if (!me || !bytesEqual(me.publicKey, key.publicKey)) {
      throw new TallyError('CONFLICT', `the manifest does not name witness ${key.name} with this key (${toHex(key.publicKey)})`);
    }
    this.#auditor = new Auditor({});
    void this.#auditor.push({ kind: 'header', header: { electionId: election.manifest.electionId, boardPublicKey: election.boardKey } });
  }

  /** The alarm raised, if any: this follower then cosigns nothing more. */
  get alarm(): string | undefined {
    return this.#alarm;
  }

  /** Entries verified so far. */
  get verifiedSize(): number {
    return this.#auditor.chainState?.size ?? 0;
  }

  /** One round (see the module comment). Network errors propagate (the caller retries). */
  async round(): Promise<WitnessRound> {
    if (this.#alarm !== undefined) return { kind: 'alarm', reason: this.#alarm };
    const { checkpoint: cp } = cosignedCheckpointFromJson(await this.http.get('/api/board/checkpoint'));
    const last = this.cosigner.last;
    // After a restart: re-verify up to the last cosigned size and require its root.
    if (last !== undefined && this.verifiedSize < last.treeSize) {
      const bad = await this.#verifyTo(last);
      if (bad !== undefined) return this.#raise(`re-reading the board up to the checkpoint of size ${last.treeSize} this witness cosigned: ${bad}`);
    }
    if (last !== undefined && cp.treeSize === last.treeSize && bytesEqual(cp.rootHash, last.rootHash)) {
      // Re-post the cosignature (idempotent): the server may have lost or not received it.
      const c = await this.cosigner.cosign(cp, { verifiedSize: this.verifiedSize });
      const posted = await this.#post(c);
      return posted ? { kind: 'cosigned', treeSize: cp.treeSize, cosignature: c, posted } : { kind: 'unchanged', treeSize: cp.treeSize };
    }
    if (last === undefined || cp.treeSize > last.treeSize) {
      const bad = await this.#verifyTo(cp);
      if (bad !== undefined) return this.#raise(bad);
    }
    let proof;
    if (last !== undefined && cp.treeSize > last.treeSize) {
      proof = consistencyProofFromJson(await this.http.get(`/api/board/proof/consistency?size1=${last.treeSize}&size2=${cp.treeSize}`));
    }
    let c: Cosignature;
    try {
      c = await this.cosigner.cosign(cp, { verifiedSize: this.verifiedSize, ...(proof ? { proof } : {}) });
    } catch (e) {
      if (isTallyError(e, 'WITNESS_REFUSED')) return this.#raise(e.message);
      throw e;
    }
    return { kind: 'cosigned', treeSize: cp.treeSize, cosignature: c, posted: await this.#post(c) };
  }

  #raise(reason: string): WitnessRound {
    this.#alarm = reason;
    return { kind: 'alarm', reason };
  }

  async #post(c: Cosignature): Promise<boolean> {
    try {
      await this.http.post('/api/board/cosignatures', cosignatureToJson(c));
      return true;
    } catch (e) {
      if (isTallyError(e, 'BOARD_UNAVAILABLE')) return false;
      throw e;
    }
  }

  /**
   * Reads and verifies entries [verifiedSize, cp.treeSize) with the auditor, then checks that
   * they give cp's root and chain head. @returns why not, or undefined
   */
  async #verifyTo(cp: Checkpoint): Promise<string | undefined> {
    if (cp.treeSize < this.verifiedSize) return `the board's checkpoint of size ${cp.treeSize} is smaller than the ${this.verifiedSize} entries already verified`;
    while (this.verifiedSize < cp.treeSize) {
      const from = this.verifiedSize;
      const page = (await this.http.get(`/api/board/entries?from=${from}&limit=${Math.min(100, cp.treeSize - from)}`)) as { entries?: unknown[] };
      const entries = Array.isArray(page.entries) ? page.entries : [];
      if (entries.length === 0) return `the board serves no entry at height ${from} below its checkpoint's size ${cp.treeSize}`;
      for (const x of entries.slice(0, cp.treeSize - from)) {
        const o = x as Record<string, unknown>;
        const { hash, ...rest } = o;
        const entry = entryFromJson(rest);
        await this.#auditor.push({ kind: 'entry', entry, ...(typeof hash === 'string' ? { hash: parseHex(hash, 'hash', 32) } : {}) });
        const f = this.#auditor.prefixFailure();
        if (f !== undefined) return `the board fails the audit at step ${f.step} (${f.failure.check})${f.failure.height !== undefined ? ` at height ${f.failure.height}` : ''}: ${f.failure.reason}`;
      }
    }
    const st = this.#auditor.chainState!;
    if (!bytesEqual(st.rootHash, cp.rootHash) || !bytesEqual(st.chainHead, cp.chainHead)) {
      return `the entries served do not give the checkpoint of size ${cp.treeSize} (root ${toHex(st.rootHash)}, signed ${toHex(cp.rootHash)})`;
    }
    return undefined;
  }
}
