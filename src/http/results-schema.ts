/**
 * The JSON schema of the public results (spec/12-servers.md, §8.4), shared by the ballot server
 * (GET /api/results) and the verification server (GET /api/verifier/results), which serve the
 * same view (src/election/results-view.ts). Hex lengths follow the election's key.
 */
import type { Election } from '../election/manifest.js';
import { hexSchema } from './common.js';

const text = (max: number) => ({ type: 'string', maxLength: max }) as const;
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

/** Response schema of the results view for `election`. */
export function resultsViewSchema(election: Election) {
  const { nLen, n2Len } = election.paillier;
  return {
    type: 'object',
    required: ['electionId', 'fingerprint', 'ballotsCounted', 'questions'],
    additionalProperties: false,
    properties: {
      electionId: text(64),
      fingerprint: hexSchema(32, 'election fingerprint (spec §2.3)'),
      ballotsCounted: count,
      questions: {
        type: 'array',
        maxItems: election.questions.length,
        items: {
          type: 'object',
          required: ['id', 'title', 'options', 'proof'],
          additionalProperties: false,
          properties: {
            id: text(64),
            title: text(500),
            options: {
              type: 'array',
              maxItems: 64,
              items: {
                type: 'object',
                required: ['id', 'title', 'count'],
                additionalProperties: false,
                properties: { id: text(64), title: text(500), count },
              },
            },
            proof: {
              type: 'object',
              required: ['c', 'T'],
              additionalProperties: false,
              description: 'spec §8.4, §13.4: T is the combination of the partial decryptions of c on the board (the result entry names the trustees), checkable by anyone',
              properties: {
                c: hexSchema(n2Len, 'the encrypted tally C_i'),
                T: hexSchema(nLen, 'the decrypted tally T_i'),
              },
            },
          },
        },
      },
    },
  } as const;
}
