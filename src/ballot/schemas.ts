/**
 * JSON schemas of the ballot server's routes (spec/12-servers.md), request and response.
 *
 * The ballot schema is built from the election: every hex string has its exact length (a
 * ciphertext 2·L_{n²} digits, a response 2·L_n, a challenge 64), every proof its exact number of
 * branches, so fastify refuses a malformed ballot before any handler or big-integer work runs.
 * The body limit is computed the same way.
 */
import { byteLength } from '../crypto/bigint.js';
import type { Election } from '../election/manifest.js';
import { ERROR_RESPONSES } from '../http/error-handler.js';
import { hexSchema } from '../http/common.js';
import { resultsViewSchema } from '../http/results-schema.js';

const hash = hexSchema(32);
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const PARTIAL_RESPONSE = { type: 'object', required: ['height', 'hash', 'existing'], additionalProperties: false, properties: { height: count, hash, existing: { type: 'boolean' } } } as const;

/**
 * Largest body of POST /api/partial-decryptions: one (c_i, e, z) per question in hex, with room
 * for JSON punctuation (spec §13.7 lengths).
 */
export function partialDecryptionBodyLimit(election: Election): number {
  const { n2Len, zLen } = election.threshold;
  return election.questions.length * (2 * (n2Len + 32 + zLen) + 64) + 256;
}
/**
 * A number in a query string: query values are strings and the servers never coerce types,
 * so the schema admits only canonical decimal digits (no sign, no leading zero, ≤ 15 digits)
 * and the route converts with `queryInt`.
 */
const qint = { type: 'string', pattern: '^(0|[1-9][0-9]{0,14})$' } as const;

/** Convert a query value admitted by `qint`. */
export function queryInt(x: string | undefined): number | undefined {
  return x === undefined ? undefined : Number(x);
}

/** A witness cosignature (spec §9.9.3). */
export const COSIGNATURE_SCHEMA = {
  type: 'object',
  required: ['name', 'keyId', 'treeSize', 'rootHash', 'time', 'signature'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, keyId: hexSchema(4), treeSize: count, rootHash: hash, time: count, signature: hexSchema(64) },
} as const;

/** A signed checkpoint, with `cosignatures` iff it carries any (spec §9.4.3, §9.9.3). */
export const CHECKPOINT_SCHEMA = {
  type: 'object',
  required: ['electionId', 'treeSize', 'rootHash', 'chainHead', 'timestamp', 'signature'],
  additionalProperties: false,
  properties: {
    electionId: { type: 'string' }, treeSize: count, rootHash: hash, chainHead: hash, timestamp: count, signature: hexSchema(64),
    cosignatures: { type: 'array', minItems: 1, maxItems: 16, items: COSIGNATURE_SCHEMA },
  },
} as const;

const ENTRY_SCHEMA = {
  type: 'object',
  required: ['height', 'parent', 'type', 'timestamp', 'payload'],
  additionalProperties: false,
  properties: { height: count, parent: hash, type: { type: 'string' }, timestamp: count, payload: {}, hash },
} as const;

const INCLUSION_SCHEMA = {
  type: 'object',
  required: ['index', 'size', 'hashes'],
  additionalProperties: false,
  properties: { index: count, size: count, hashes: { type: 'array', maxItems: 64, items: hash } },
} as const;

const CONSISTENCY_SCHEMA = {
  type: 'object',
  required: ['size1', 'size2', 'hashes'],
  additionalProperties: false,
  properties: { size1: count, size2: count, hashes: { type: 'array', maxItems: 128, items: hash } },
} as const;

export const RECEIPT_SCHEMA = {
  type: 'object',
  required: ['format', 'electionId', 'fingerprint', 'tracker', 'height', 'entry', 'entryHash', 'checkpoint', 'inclusionProof'],
  additionalProperties: false,
  properties: {
    format: { type: 'string' },
    electionId: { type: 'string' },
    fingerprint: hash,
    tracker: hash,
    height: count,
    entry: ENTRY_SCHEMA,
    entryHash: hash,
    checkpoint: CHECKPOINT_SCHEMA,
    inclusionProof: INCLUSION_SCHEMA,
    replaces: count,
  },
} as const;

const STATUS_SCHEMA = {
  type: 'object',
  required: ['phase', 'boardSize', 'ballots', 'ballotsCounted', 'tokensIssued', 'serverTime'],
  additionalProperties: false,
  properties: {
    phase: { type: 'string', enum: ['scheduled', 'open', 'closed', 'tallied'] },
    boardSize: count,
    ballots: count,
    ballotsCounted: count,
    tokensIssued: count,
    serverTime: { type: 'string' },
  },
} as const;

/** Request schema of a ballot for this election, with exact lengths and counts. */
export function ballotBodySchema(election: Election) {
  const { nLen, n2Len } = election.paillier;
  return {
    type: 'object',
    required: ['election', 'token', 'answers', 'signature'],
    additionalProperties: false,
    properties: {
      election: hash,
      token: {
        type: 'object',
        required: ['publicKey', 'prefix', 'signature'],
        additionalProperties: false,
        properties: { publicKey: hexSchema(32), prefix: hexSchema(32), signature: hexSchema(byteLength(election.tokenIssuer.n)) },
      },
      answers: {
        type: 'array',
        minItems: election.questions.length,
        maxItems: election.questions.length,
        items: {
          type: 'object',
          required: ['c', 'proof'],
          additionalProperties: false,
          properties: {
            c: hexSchema(n2Len),
            proof: {
              type: 'array',
              minItems: Math.min(...election.questions.map((q) => q.allowed.length)),
              maxItems: Math.max(...election.questions.map((q) => q.allowed.length)),
              items: {
                type: 'object',
                required: ['a', 'e', 'z'],
                additionalProperties: false,
                properties: { a: hexSchema(n2Len), e: hexSchema(32), z: hexSchema(nLen) },
              },
            },
          },
        },
      },
      signature: hexSchema(64),
    },
  } as const;
}

/** Largest well-formed ballot body in bytes for this election, plus slack for JSON syntax. */
export function ballotBodyLimit(election: Election): number {
  const { nLen, n2Len } = election.paillier;
  const branch = 2 * (n2Len + 32 + nLen) + 32;
  const answers = election.questions.reduce((s, q) => s + 2 * n2Len + 32 + q.allowed.length * branch, 0);
  return answers + 2 * byteLength(election.tokenIssuer.n) + 4096;
}

export function routeSchemas(election: Election) {
  return {
    health: {
      response: { 200: { type: 'object', required: ['status', 'phase'], additionalProperties: false, properties: { status: { type: 'string' }, phase: STATUS_SCHEMA.properties.phase } } },
    },
    election: {
      response: {
        200: {
          type: 'object',
          required: ['manifest', 'fingerprint', 'status'],
          additionalProperties: false,
          properties: { manifest: { type: 'object', additionalProperties: true }, fingerprint: hash, status: STATUS_SCHEMA },
        },
      },
    },
    cast: { body: ballotBodySchema(election), response: { 201: RECEIPT_SCHEMA, ...ERROR_RESPONSES } },
    receipt: {
      params: { type: 'object', required: ['tracker'], additionalProperties: false, properties: { tracker: hash } },
      response: { 200: RECEIPT_SCHEMA, ...ERROR_RESPONSES },
    },
    entries: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { from: qint, limit: { type: 'string', pattern: '^([1-9]|[1-9][0-9]|100)$' } },
      },
      response: {
        200: {
          type: 'object',
          required: ['size', 'from', 'entries'],
          additionalProperties: false,
          properties: { size: count, from: count, entries: { type: 'array', items: ENTRY_SCHEMA } },
        },
        ...ERROR_RESPONSES,
      },
    },
    checkpoint: {
      querystring: { type: 'object', additionalProperties: false, properties: { size: qint } },
      response: { 200: CHECKPOINT_SCHEMA, ...ERROR_RESPONSES },
    },
    cosign: {
      summary: "Post a witness's cosignature of a checkpoint (public; verified against the manifest's witnesses)",
      body: COSIGNATURE_SCHEMA,
      response: {
        201: {
          type: 'object',
          required: ['treeSize', 'names', 'quorum'],
          additionalProperties: false,
          properties: { treeSize: count, names: { type: 'array', items: { type: 'string' } }, quorum: { type: 'boolean' } },
        },
        ...ERROR_RESPONSES,
      },
    },
    inclusion: {
      querystring: {
        type: 'object',
        required: ['height'],
        additionalProperties: false,
        properties: { height: qint, size: qint },
      },
      response: { 200: INCLUSION_SCHEMA, ...ERROR_RESPONSES },
    },
    consistency: {
      querystring: {
        type: 'object',
        required: ['size1'],
        additionalProperties: false,
        properties: { size1: qint, size2: qint },
      },
      response: { 200: CONSISTENCY_SCHEMA, ...ERROR_RESPONSES },
    },
    runningTally: {
      response: {
        200: {
          type: 'object',
          required: ['ciphertexts', 'ballotsCounted'],
          additionalProperties: false,
          properties: { ciphertexts: { type: 'array', items: hexSchema(election.paillier.n2Len) }, ballotsCounted: count },
        },
      },
    },
    results: {
      response: {
        200: resultsViewSchema(election),
        ...ERROR_RESPONSES,
      },
    },
    tokenIssued: {
      summary: "Record a token issuance (the organization server's credential only)",
      security: [{ bearer: [] }],
      body: {
        type: 'object',
        required: ['refs'],
        additionalProperties: false,
        properties: {
          refs: {
            type: 'array',
            minItems: 1,
            maxItems: 256,
            items: {
              type: 'object',
              required: ['ref', 'index', 'path'],
              additionalProperties: false,
              properties: { ref: hash, index: count, path: { type: 'array', maxItems: 53, items: hash } },
            },
          },
        },
      },
      response: {
        200: { type: 'object', required: ['height', 'count', 'existing'], additionalProperties: false, properties: { height: count, count, existing: { type: 'boolean' } } },
        ...ERROR_RESPONSES,
      },
    },
    commitRegister: {
      summary: "Commit the voter register (the organization server's credential only; spec §7.5)",
      security: [{ bearer: [] }],
      body: { type: 'object', required: ['voters', 'root'], additionalProperties: false, properties: { voters: count, root: hash } },
      response: {
        200: { type: 'object', required: ['height', 'existing'], additionalProperties: false, properties: { height: count, existing: { type: 'boolean' } } },
        ...ERROR_RESPONSES,
      },
    },
    register: {
      summary: 'The committed voter register: number of voters and Merkle root (spec §7.5)',
      response: {
        200: { type: 'object', required: ['height', 'voters', 'root'], additionalProperties: false, properties: { height: count, voters: count, root: hash } },
        ...ERROR_RESPONSES,
      },
    },
    issuance: {
      summary: "Whether a token was issued to a register reference, and where on the board (the voter's check)",
      params: { type: 'object', required: ['ref'], additionalProperties: false, properties: { ref: hash } },
      response: {
        200: {
          type: 'object',
          required: ['ref', 'issued'],
          additionalProperties: false,
          properties: { ref: hash, issued: { type: 'boolean' }, height: count, count },
        },
        ...ERROR_RESPONSES,
      },
    },
    encryptedTally: {
      summary: "Submit the encrypted tally after the close (the verification server's credential only); it must equal this server's product",
      security: [{ bearer: [] }],
      body: { type: 'object' },
      response: {
        201: { type: 'object', required: ['height', 'existing'], additionalProperties: false, properties: { height: count, existing: { type: 'boolean' } } },
        200: { type: 'object', required: ['height', 'existing'], additionalProperties: false, properties: { height: count, existing: { type: 'boolean' } } },
        ...ERROR_RESPONSES,
      },
    },
    partialDecryption: {
      summary: "Submit a trustee's partial decryption of the encrypted tally, with its proofs (spec §13.4); public: only the holder of share i can make proofs that verify against v_i",
      body: {
        type: 'object',
        required: ['trustee', 'partials'],
        additionalProperties: false,
        properties: {
          trustee: { type: 'integer', minimum: 1, maximum: election.threshold.l },
          partials: {
            type: 'array',
            minItems: election.questions.length,
            maxItems: election.questions.length,
            items: {
              type: 'object',
              required: ['ci', 'e', 'z'],
              additionalProperties: false,
              properties: { ci: hexSchema(election.threshold.n2Len), e: hexSchema(32), z: hexSchema(election.threshold.zLen) },
            },
          },
        },
      },
      response: {
        201: PARTIAL_RESPONSE,
        200: PARTIAL_RESPONSE,
        ...ERROR_RESPONSES,
      },
    },
    result: {
      summary: "Submit the result combined from k partial decryptions (the verification server's credential only); re-checked before it is appended",
      security: [{ bearer: [] }],
      body: { type: 'object' },
      response: {
        201: { type: 'object', required: ['height', 'existing'], additionalProperties: false, properties: { height: count, existing: { type: 'boolean' } } },
        200: { type: 'object', required: ['height', 'existing'], additionalProperties: false, properties: { height: count, existing: { type: 'boolean' } } },
        ...ERROR_RESPONSES,
      },
    },
    close: {
      summary: 'Close the election now (the admin credential)',
      security: [{ bearer: [] }],
      response: { 200: { type: 'object', required: ['height', 'phase'], additionalProperties: false, properties: { height: count, phase: STATUS_SCHEMA.properties.phase } }, ...ERROR_RESPONSES },
    },
    openapi: { response: { 200: { type: 'object', additionalProperties: true } } },
  };
}
