/**
 * `tallyboard monitor --witness-key F`: the live monitor (src/monitor/) as a witness. The
 * monitor verifies each new entry once (the auditor, batch verification) and each checkpoint's
 * consistency with the last one it verified, then calls its hook `onVerifiedCheckpoint`; this
 * module's hook cosigns through THE cosigner (cosigner.ts, rules W1–W5 with persisted state)
 * and posts the cosignature. It is the same cosigner as the standalone `tallyboard witness`:
 * one implementation of the rules, two ways to feed it.
 *
 * The hook cosigns nothing once the monitor has raised any alarm or any audit step has failed
 * (W2: only verified entries), and refuses a manifest that does not name this witness.
 */
import { TallyError, isTallyError } from '../errors.js';
import { bytesEqual } from '../crypto/hash.js';
import { parseManifest } from '../election/manifest.js';
import { cosignatureToJson, type Cosignature } from '../../bulletin/cosignature.js';
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import type { LiveBoard } from '../monitor/live-board.js';
import type { OnVerifiedCheckpoint } from '../monitor/monitor.js';
import type { MonitorState } from '../monitor/state.js';
import { WitnessCosigner } from './cosigner.js';
import { BoardHttp } from './follower.js';
import type { WitnessKey } from './key-file.js';

export interface WitnessHookOptions {
  readonly key: WitnessKey;
  /** the witness's state directory (a safety record, separate from the monitor's state) */
  readonly stateDir: string;
  /** the monitor's board: the manifest and consistency proofs */
  readonly board: LiveBoard;
  /** where cosignatures are posted (the ballot server's base URL) */
  readonly baseUrl: string;
  /** told about each cosignature, or why none was made */
  readonly onCosigned?: (c: Cosignature, posted: boolean) => void;
  readonly onRefused?: (reason: string) => void;
}

/** The hook for the monitor. @throws (from the hook) TallyError CONFLICT if the manifest does not name this witness */
export function witnessHook(o: WitnessHookOptions): OnVerifiedCheckpoint {
  let cosigner: WitnessCosigner | undefined;
  const http = new BoardHttp(o.baseUrl);
  return async (cp: Checkpoint, state: MonitorState): Promise<void> => {
    if (state.alarms.length > 0 || state.auditor.steps.some((s) => s.status === 'fail')) {
      o.onRefused?.(`not cosigning the checkpoint of size ${cp.treeSize}: the monitor raised an alarm or an audit step failed`);
      return;
    }
    if (cosigner === undefined) {
      const election = parseManifest((await o.board.election()).manifest);
      const me = election.witnesses.find((w) => w.name === o.key.name);
      if (!me || !bytesEqual(me.publicKey, o.key.publicKey)) throw new TallyError('CONFLICT', `the manifest does not name witness ${o.key.name} with this key`);
      cosigner = WitnessCosigner.open({ dir: o.stateDir, key: o.key, electionId: election.manifest.electionId, boardPublicKey: election.boardKey });
    }
    const last = cosigner.last;
    const proof = last !== undefined && cp.treeSize > last.treeSize ? await o.board.consistency(last.treeSize, cp.treeSize) : undefined;
    let c: Cosignature;
    try {
      // The monitor called us after verifying every entry up to the checkpoint (its contract).
      c = await cosigner.cosign(cp, { verifiedSize: state.auditor.entries, ...(proof ? { proof } : {}) });
    } catch (e) {
      if (isTallyError(e, 'WITNESS_REFUSED')) {
        o.onRefused?.(e.message);
        return;
      }
      throw e;
    }
    let posted = true;
    try {
      await http.post('/api/board/cosignatures', cosignatureToJson(c));
    } catch (e) {
      if (!isTallyError(e, 'BOARD_UNAVAILABLE')) throw e;
      posted = false; // the next checkpoint's cosignature will be posted; this one is on disk
    }
    o.onCosigned?.(c, posted);
  };
}
