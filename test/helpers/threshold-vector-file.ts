/**
 * The exact text of test/vectors/tallyboard-v2-threshold.json: positive vectors and the negative
 * vectors derived from them, one JSON document. Shared by the writer script and the test that
 * compares the committed file byte for byte.
 */
import { buildThresholdNegativeVectors, buildThresholdVectors, VECTOR_MIN_BITS } from './threshold-kat.js';
import { shareFromJson, thresholdKeyFromJson } from '../../src/crypto/threshold-paillier.js';

/** The file's text (deterministic). */
export function thresholdVectorFile(): string {
  const positive = buildThresholdVectors();
  const pk = thresholdKeyFromJson(positive.ceremony.publicKey, { minBits: VECTOR_MIN_BITS });
  const shares = positive.secret.shares.map((s) => shareFromJson(pk, s));
  const negative = buildThresholdNegativeVectors(positive, pk, shares);
  return JSON.stringify({ ...positive, negative }, null, 1) + '\n';
}
