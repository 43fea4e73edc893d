/**
 * Rewrites the protocol vectors in test/vectors/ (`npm run vectors`):
 * - tallyboard-v2.json: known answers (manifest, fingerprint, allowed sets, token, ballot, tally);
 * - tallyboard-v2-negative.json: mutated ballots, Ed25519 and manifest vectors, each with the ONE
 *   spec check id a verifier must report;
 * - tallyboard-v2-boards.json: tampered boards, each with the verdict of every audit step and
 *   the check id of each failing step (spec §10).
 * Run it only when a format or rule change is intended, and say so in the CHANGELOG section of
 * the version: the vectors are what outside implementations compare against. (The tallyboard/1
 * vectors are kept unchanged in test/vectors/history/.)
 */
import { writeFileSync } from 'node:fs';
import { buildNegativeVectors, buildVectors } from './kat.js';
import { buildBoardVectors } from './board-vectors.js';

const dir = new URL('../../../test/vectors/', import.meta.url);
const v = buildVectors();
writeFileSync(new URL('tallyboard-v2.json', dir), JSON.stringify(v, null, 1) + '\n');
writeFileSync(new URL('tallyboard-v2-negative.json', dir), JSON.stringify(buildNegativeVectors(v), null, 1) + '\n');
writeFileSync(new URL('tallyboard-v2-boards.json', dir), JSON.stringify(await buildBoardVectors(), null, 1) + '\n');
console.log('vectors written');
