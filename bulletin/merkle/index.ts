/**
 * Public API of the bulletin board's Merkle log (RFC 9162 §2.1 over SHA-256; spec §9.3).
 *
 * Why an index: callers import the log from one place and do not depend on how it is split
 * into files. An auditor that wants only the pure verifier can import `./verify.js` and
 * `./hasher.js` directly and pull in nothing that plans or stores proofs. The append-side
 * state (MerkleFrontier, rootFromLeafHashes) lives in `./frontier.js`.
 */
export {
  HASH_SIZE,
  LEAF_PREFIX,
  NODE_PREFIX,
  aHash,
  emptyRoot,
  hashChildren,
  hashLeaf,
  hashesEqual,
  isHash,
  toHex,
} from './hasher.js';

export {
  MAX_TREE_SIZE,
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProofNodes,
  inclusionProofNodes,
  nodeRange,
  rangeHash,
  rangeHashSync,
  rangeNodes,
} from './proof-builder.js';
export type {
  NodeHash,
  NodeId,
  PerfectNodeSource,
  PerfectNodeSourceSync,
  SubtreeHashSource,
  SubtreeRange,
} from './proof-builder.js';

export { MerkleFrontier, rootFromLeafHashes } from './frontier.js';

export {
  consistencyProofLength,
  inclusionProofLength,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './verify.js';
export type { Hex, RootResult, VerifyFailure, VerifyFailureReason, VerifyResult } from './verify.js';
