/**
 * The board page's line on the witnesses (spec §9.9, §11.6), as plain text so that it is tested
 * in Node and shown by the page (web/src/board-page.ts).
 */
import type { Checkpoint } from '../../bulletin/checkpoint.js';
import { verifyCosignature, type Cosignature } from '../../bulletin/cosignature.js';
import type { Election } from '../election/manifest.js';

/**
 * What the witnesses say of this checkpoint (spec §9.9, §11.6), each cosignature checked here
 * under the manifest's witness keys: who cosigned, who has not (yet), and whether the quorum the
 * manifest requires is reached. A witness cosigns a checkpoint only after checking it extends
 * every checkpoint it saw before, so a quorum means that many independent parties saw this same
 * board; the newest checkpoint is often not cosigned yet (witnesses poll), the close checkpoint
 * must be before the count.
 */
export function witnessText(election: Election, cp: Checkpoint, cosignatures: readonly Cosignature[]): { text: string; kind: 'ok' | 'info' | 'error' } {
  if (election.witnesses.length === 0) return { text: 'This election names no witnesses: only the board key vouches for this checkpoint.', kind: 'info' };
  const valid: string[] = [];
  const bad: string[] = [];
  for (const c of cosignatures) {
    if (verifyCosignature(election.witnesses, election.boardKey, cp, c).ok) {
      if (!valid.includes(c.name)) valid.push(c.name);
    } else bad.push(String(c.name).slice(0, 64));
  }
  const missing = election.witnesses.map((x) => x.name).filter((n) => !valid.includes(n));
  const q = election.witnessQuorum;
  const parts = [
    valid.length >= q
      ? `✓ Cosigned by ${valid.length} of the ${election.witnesses.length} witnesses (${valid.join(', ')}); the manifest requires ${q} (checked in your browser).`
      : `Cosigned by ${valid.length} of the ${election.witnesses.length} witnesses${valid.length > 0 ? ` (${valid.join(', ')})` : ''}; the manifest requires ${q}. Witnesses cosign after checking, so the newest checkpoint may not be cosigned yet.`,
  ];
  if (missing.length > 0 && valid.length >= q) parts.push(`Not (yet) cosigned by: ${missing.join(', ')}.`);
  if (bad.length > 0) parts.push(`✗ ${bad.length} cosignature${bad.length === 1 ? '' : 's'} did not verify (${bad.join(', ')}).`);
  return { text: parts.join(' '), kind: bad.length > 0 ? 'error' : valid.length >= q ? 'ok' : 'info' };
}

