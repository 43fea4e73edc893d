/**
 * Rewrites test/vectors/tallyboard-v2-threshold.json (spec/13-trustees.md):
 * `npm run build && node dist/test/helpers/write-threshold-vectors.js`. Run it only when a
 * format of spec §13 changes on purpose (or the version string, which every tag contains), and
 * say so in the CHANGELOG: outside implementations compare against these vectors.
 */
import { writeFileSync } from 'node:fs';
import { thresholdVectorFile } from './threshold-vector-file.js';

const dir = new URL(import.meta.url.includes('/dist/test/') ? '../../../test/vectors/' : '../vectors/', import.meta.url);
writeFileSync(new URL('tallyboard-v2-threshold.json', dir), thresholdVectorFile());
console.log('threshold vectors written');
