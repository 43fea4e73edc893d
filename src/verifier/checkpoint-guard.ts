/**
 * The consistency rule of spec §8.5 as one function, for every party that decrypts (the
 * verification server, and each trustee: src/trustee/trustee-service.ts): a checkpoint is
 * accepted only if it is signed by the board key, names this election, and extends (RFC 9162
 * consistency proof) the largest checkpoint recorded in the party's journal; then it is recorded.
 *
 * Why every decrypting party keeps its own record: a ballot server that serves one party a fork
 * (a board holding a victim's ballot alone, say) must be caught by THAT party, from what it saw
 * of the real board before; nobody else's view helps it at the moment it decides to decrypt.
 *
 * (TallyService in tally-service.ts has the same rule as a private method written before this
 * file; the two are meant to become this one.)
 */
import { verifyCheckpoint, type Checkpoint } from '../../bulletin/checkpoint.js';
import { verifyConsistency } from '../../bulletin/merkle/verify.js';
import { isTallyError, type TallyError } from '../errors.js';
import type { Election } from '../election/manifest.js';
import { toHex } from '../wire.js';
import type { BoardAccess } from './board-access.js';
import type { TallyJournal } from './tally-journal.js';

/**
 * Check `cp` against the largest checkpoint in `journal` and record it.
 * @param what - how the checkpoint was obtained, for the message ("the board at its close")
 * @returns why it is inconsistent, or undefined once it is recorded (or already was)
 * @throws TallyError BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE if the proof cannot be fetched
 */
export async function observeCheckpoint(
  election: Election,
  journal: TallyJournal,
  board: Pick<BoardAccess, 'consistency'>,
  cp: Checkpoint,
  what: string,
): Promise<string | undefined> {
  if (!verifyCheckpoint(election.boardKey, cp).ok) return `${what}: the checkpoint of size ${cp.treeSize} is not signed by the board key`;
  if (cp.electionId !== election.manifest.electionId) return `${what}: the checkpoint is for another election (${JSON.stringify(cp.electionId).slice(0, 80)})`;
  const largest = await journal.largestCheckpoint();
  if (largest !== undefined) {
    if (cp.treeSize === largest.treeSize) {
      if (toHex(cp.rootHash) === toHex(largest.rootHash) && toHex(cp.chainHead) === toHex(largest.chainHead)) return undefined;
      return `${what}: two signed checkpoints of size ${cp.treeSize} with different roots (${toHex(largest.rootHash)} seen before, now ${toHex(cp.rootHash)})`;
    }
    const [small, big] = cp.treeSize < largest.treeSize ? [cp, largest] : [largest, cp];
    let proof;
    try {
      proof = await board.consistency(small.treeSize, big.treeSize);
    } catch (e) {
      // Unreachable: try again later. Any other refusal: the board cannot prove that it extends
      // what it signed before (a rollback or a fork).
      if (!isTallyError(e) || isTallyError(e, 'BOARD_UNAVAILABLE') || isTallyError(e, 'BOARD_BAD_RESPONSE')) throw e;
      return `${what}: the board cannot prove that its checkpoint of size ${cp.treeSize} is consistent with the one of size ${largest.treeSize} seen before (${(e as TallyError).code})`;
    }
    const v = verifyConsistency(small.treeSize, big.treeSize, proof.hashes, small.rootHash, big.rootHash);
    if (!v.ok) return `${what}: the signed checkpoint of size ${cp.treeSize} is not consistent with the one of size ${largest.treeSize} seen before (RFC 9162: ${v.reason})`;
  }
  await journal.recordCheckpoint(cp);
  return undefined;
}
