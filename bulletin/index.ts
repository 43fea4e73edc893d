/**
 * Public API of the bulletin board (spec/09-board.md).
 *
 * Why an index: servers, the CLI and the auditor import the board from one place. An auditor
 * that must not pull in storage can import the pure modules directly — `./verify.js`,
 * `./client.js`, `./entry.js`, `./checkpoint.js`, `./board-file.js` — none of which does I/O
 * or imports `level`. Nothing under bulletin/ imports election or server code.
 */
export { Board } from './board.js';
export type { AppendGuard, AppendResult, BoardEntry, BoardOptions } from './board.js';

export { recoverBoardState } from './recover.js';
export type { RecoveredState, RecoveryDepth } from './recover.js';

export {
  ENTRY_TYPES,
  GENESIS_TYPE,
  MAX_ENTRY_BYTES,
  decodeEntry,
  encodeEntry,
  entryBytes,
  entryFromJson,
  entryHash,
  entryToJson,
  isEntryType,
  zeroHash,
} from './entry.js';
export type { EncodedEntry, Entry, EntryJson, EntryType } from './entry.js';

export {
  MAX_ELECTION_ID_BYTES,
  aElectionId,
  checkpointFromJson,
  checkpointMessage,
  checkpointToJson,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint.js';
export type { Checkpoint, CheckpointFailureReason, CheckpointJson, CheckpointResult, UnsignedCheckpoint } from './checkpoint.js';

export { VALUE_LIMITS, VALUE_TAGS, canonicalJson, compareKeys, decodeValue, encodeValue } from './value-encoding.js';
export type { JsonArray, JsonObject, JsonValue } from './value-encoding.js';
export { parseCanonicalJson } from './canonical-json.js';

export {
  consistencyProofFromJson,
  consistencyProofToJson,
  inclusionProofFromJson,
  inclusionProofToJson,
} from './proofs.js';
export type { ConsistencyProof, ConsistencyProofJson, InclusionProof, InclusionProofJson } from './proofs.js';

export { verifyCheckpointExtension, verifyEntryInclusion } from './client.js';
export type { ClientFailure, ClientFailureReason, ClientResult } from './client.js';

export { BOARD_CHECKS, ChainVerifier, boardFailure, verifyBoard } from './verify.js';
export type { BoardCheckId, BoardFailure, BoardHeader, BoardVerified, PushOk } from './verify.js';

export { BOARD_FILE_FORMAT, MAX_LINE_BYTES, checkpointLine, entryLine, headerLine, parseHeader, parseLine, parseRecord } from './board-file.js';
export type { BoardFileRecord } from './board-file.js';
export { exportBoard, exportBoardFile, exportLines } from './export.js';
export type { ExportSummary } from './export.js';
export { importBoard, importBoardFile } from './import.js';
export { boardInvalid, readLines } from './line-reader.js';
export type { ImportOptions, ImportResult } from './import.js';

export type { BoardHead, BoardStore, CommitBatch, EntryRecord } from './store/interface.js';
export { planCommit } from './store/interface.js';
export { MemoryBoardStore } from './store/memory.js';
export { LEVEL_KEYS, LEVEL_STORE_FORMAT, LevelBoardStore } from './store/level.js';
