/**
 * Rewrites test/vectors/tallyboard-v1.json and tallyboard-v1-negative.json (`npm run vectors`).
 * Run it only when a format change is intended, and say so in the CHANGELOG: the vectors are
 * what outside implementations compare against.
 */
import { writeFileSync } from 'node:fs';
import { buildNegativeVectors, buildVectors } from './kat.js';

const dir = new URL('../../../test/vectors/', import.meta.url);
const v = buildVectors();
writeFileSync(new URL('tallyboard-v1.json', dir), JSON.stringify(v, null, 1) + '\n');
writeFileSync(new URL('tallyboard-v1-negative.json', dir), JSON.stringify(buildNegativeVectors(v), null, 1) + '\n');
console.log('vectors written');
