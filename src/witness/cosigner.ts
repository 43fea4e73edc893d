/**
 * The ONE place a witness cosignature is made (spec/09-board.md §9.9.4, spec §11.6). Both entry
 * points use it: the standalone witness loop (follower.ts, `tallyboard witness`) and the live
 * monitor's hook (`tallyboard monitor --witness-key`).
 *
 * The safety rules, enforced here against state persisted on disk BEFORE a cosignature leaves
 * this module (a crash after the state write and before the post loses a cosignature, never
 * a rule):
 *   W1 the checkpoint verifies under the board key and is for this election;
 *   W2 the caller verified the entries up to the checkpoint's size (the auditor's checks);
 *   W3 never a smaller tree than the last one cosigned;
 *   W4 never two checkpoints of the same size with different roots;
 *   W5 a larger tree only with an RFC 9162 consistency proof from the last one cosigned.
 * A refused checkpoint that contradicts the state (W3–W5) is kept as evidence in the state.
 *
 * State file (state.json in the state directory), written atomically (temp file, fsync,
 * rename, fsync of the directory):
 *   {"format":"tallyboard-witness-state/1","electionId","boardPublicKey","name",
 *    "last": <checkpoint JSON> | null, "lastCosignature": <cosignature JSON> | null,
 *    "evidence": [ {"reason", "checkpoint"} … at most 16 ]}
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TallyError } from '../errors.js';
import { bytesEqual } from '../crypto/hash.js';
import { toHex } from '../wire.js';
import { checkpointFromJson, checkpointToJson, verifyCheckpoint, type Checkpoint, type CheckpointJson } from '../../bulletin/checkpoint.js';
import { cosignatureFromJson, cosignatureToJson, signCosignature, type Cosignature, type CosignatureJson } from '../../bulletin/cosignature.js';
import { verifyCheckpointExtension } from '../../bulletin/client.js';
import type { ConsistencyProof } from '../../bulletin/proofs.js';
import type { WitnessKey } from './key-file.js';

export const WITNESS_STATE_FORMAT = 'tallyboard-witness-state/1';
const MAX_EVIDENCE = 16;

interface StateJson {
  format: string;
  electionId: string;
  boardPublicKey: string;
  name: string;
  last: CheckpointJson | null;
  lastCosignature: CosignatureJson | null;
  evidence: { reason: string; checkpoint: CheckpointJson }[];
}

/** What the caller vouches for: the entries it verified and, for a larger tree, the proof. */
export interface CosignEvidence {
  /** entries [0, verifiedSize) were verified with the auditor's checks (W2) */
  readonly verifiedSize: number;
  /** consistency proof from the last cosigned checkpoint's size to this one's (W5) */
  readonly proof?: ConsistencyProof;
}

export class WitnessCosigner {
  #state: StateJson;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly key: WitnessKey,
    private readonly boardPublicKey: Uint8Array,
    state: StateJson,
    private readonly now: () => number,
  ) {
    this.#state = state;
  }

  /**
   * Opens (or creates) the witness state in `dir` for one election's board.
   * @throws TallyError CONFLICT if the state is for another election, board key or witness
   */
  static open(opts: { dir: string; key: WitnessKey; electionId: string; boardPublicKey: Uint8Array; now?: () => number }): WitnessCosigner {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const path = join(opts.dir, 'state.json');
    let state: StateJson;
    if (existsSync(path)) {
      state = JSON.parse(readFileSync(path, 'utf8')) as StateJson;
      if (state.format !== WITNESS_STATE_FORMAT) throw new TallyError('CONFLICT', `witness state ${path}: unknown format`);
      if (state.electionId !== opts.electionId || state.boardPublicKey !== toHex(opts.boardPublicKey) || state.name !== opts.key.name) {
        throw new TallyError('CONFLICT', `witness state ${path} is for another election, board key or witness name`);
      }
      // Re-parse what we rely on: a damaged state must not weaken a rule.
      if (state.last !== null) checkpointFromJson(state.last);
      if (state.lastCosignature !== null) cosignatureFromJson(state.lastCosignature);
    } else {
      state = { format: WITNESS_STATE_FORMAT, electionId: opts.electionId, boardPublicKey: toHex(opts.boardPublicKey), name: opts.key.name, last: null, lastCosignature: null, evidence: [] };
      writeAtomic(path, state);
    }
    return new WitnessCosigner(opts.dir, opts.key, opts.boardPublicKey, state, opts.now ?? Date.now);
  }

  /** The last checkpoint this witness cosigned (from the persisted state), if any. */
  get last(): Checkpoint | undefined {
    return this.#state.last === null ? undefined : checkpointFromJson(this.#state.last);
  }

  /** Contradictions seen (checkpoints refused by W3–W5), most recent last. */
  get evidence(): readonly { reason: string; checkpoint: CheckpointJson }[] {
    return this.#state.evidence;
  }

  /**
   * Cosigns `cp` if the rules W1–W5 allow it; the new state is durable before this resolves.
   * The same checkpoint again gets the same cosignature back (nothing new is signed).
   * @throws TallyError WITNESS_REFUSED naming the rule
   */
  cosign(cp: Checkpoint, ev: CosignEvidence): Promise<Cosignature> {
    const run = this.#tail.then(() => this.#cosign(cp, ev));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #cosign(cp: Checkpoint, ev: CosignEvidence): Promise<Cosignature> {
    const refuse = (rule: string, why: string, contradiction = false): never => {
      if (contradiction) {
        const evidence = [...this.#state.evidence, { reason: `${rule}: ${why}`, checkpoint: checkpointToJson(cp) }].slice(-MAX_EVIDENCE);
        this.#state = { ...this.#state, evidence };
        writeAtomic(join(this.dir, 'state.json'), this.#state);
      }
      throw new TallyError('WITNESS_REFUSED', `witness ${this.key.name} refuses to cosign the checkpoint of size ${cp.treeSize}: ${rule}: ${why}`, { details: { rule } });
    };
    const sig = verifyCheckpoint(this.boardPublicKey, cp);
    if (!sig.ok) return refuse('W1', sig.message);
    if (cp.electionId !== this.#state.electionId) return refuse('W1', 'the checkpoint is for another election');
    if (!(ev.verifiedSize >= cp.treeSize)) return refuse('W2', `only ${ev.verifiedSize} of its ${cp.treeSize} entries were verified`);
    const last = this.last;
    if (last !== undefined) {
      if (cp.treeSize < last.treeSize) return refuse('W3', `a smaller tree than the one of size ${last.treeSize} already cosigned`, true);
      if (cp.treeSize === last.treeSize) {
        if (!bytesEqual(cp.rootHash, last.rootHash) || !bytesEqual(cp.chainHead, last.chainHead)) {
          return refuse('W4', `another root for size ${cp.treeSize} than the one already cosigned (${toHex(last.rootHash)})`, true);
        }
        if (this.#state.lastCosignature !== null) return cosignatureFromJson(this.#state.lastCosignature);
      } else {
        if (ev.proof === undefined) return refuse('W5', `no consistency proof from size ${last.treeSize}`);
        const ext = verifyCheckpointExtension(this.boardPublicKey, last, cp, ev.proof);
        if (!ext.ok) return refuse('W5', `not consistent with the checkpoint of size ${last.treeSize} already cosigned (${ext.reason}: ${ext.message})`, true);
      }
    }
    const lastTime = this.#state.lastCosignature?.time ?? 0;
    const c = signCosignature(this.key.secretKey, this.key.name, this.boardPublicKey, cp, Math.max(this.now(), lastTime));
    const next: StateJson = { ...this.#state, last: checkpointToJson(cp), lastCosignature: cosignatureToJson(c) };
    writeAtomic(join(this.dir, 'state.json'), next); // durable BEFORE the cosignature is returned
    this.#state = next;
    return c;
  }
}

/** Writes JSON to `path` atomically: temp file, fsync, rename, fsync of the directory. */
function writeAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(value)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
