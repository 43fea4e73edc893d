/**
 * The hash functions of the bulletin board's Merkle log: RFC 9162 §2.1.1 with SHA-256.
 *
 * Why a file of its own: every other part of the log (proof builder, frontier, verifier, the
 * auditor) must hash leaves and interior nodes in exactly one way, and the one byte that
 * separates the two (0x00 for a leaf, 0x01 for a node) is what stops a second-preimage attack
 * in which an interior node is passed off as a leaf. Keeping that rule in one small module
 * means there is only one place to read when checking it. Spec: spec/09-board.md §9.3.1.
 *
 * All hashes are 32-byte `Uint8Array`s. Inputs are never modified; outputs are fresh arrays
 * the caller may keep or mutate.
 */
import { sha256 } from '../../src/crypto/hash.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/** Length in bytes of every hash in the log (SHA-256 output). */
export const HASH_SIZE = 32;

/** RFC 9162 §2.1.1 domain-separation prefix for a leaf hash. */
export const LEAF_PREFIX = 0x00;

/** RFC 9162 §2.1.1 domain-separation prefix for an interior node hash. */
export const NODE_PREFIX = 0x01;

const LEAF_PREFIX_BYTES = Uint8Array.of(LEAF_PREFIX);
const NODE_PREFIX_BYTES = Uint8Array.of(NODE_PREFIX);

/** Precomputed SHA-256("") — kept private so nobody can mutate the shared copy. */
const EMPTY_ROOT = sha256(new Uint8Array(0));

/**
 * Hash of the empty tree, MTH({}) = SHA-256("") (RFC 9162 §2.1.1).
 *
 * @returns a fresh 32-byte array
 *   (e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)
 */
export function emptyRoot(): Uint8Array {
  return EMPTY_ROOT.slice();
}

/**
 * Leaf hash, MTH({d}) = SHA-256(0x00 ‖ d) (RFC 9162 §2.1.1).
 *
 * Hash the bytes exactly as published on the board, never a re-serialisation of them.
 *
 * @param data - the leaf's bytes, any length 0 ≤ data.length < 2^32
 * @returns the 32-byte leaf hash
 * @throws {TypeError} if `data` is not a Uint8Array
 */
export function hashLeaf(data: Uint8Array): Uint8Array {
  aBytes(data, 'data');
  return sha256(LEAF_PREFIX_BYTES, data);
}

/**
 * Interior node hash, SHA-256(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1).
 *
 * @param left - hash of the left subtree, exactly {@link HASH_SIZE} bytes
 * @param right - hash of the right subtree, exactly {@link HASH_SIZE} bytes
 * @returns the 32-byte node hash
 * @throws {TypeError} if either argument is not a Uint8Array
 * @throws {RangeError} if either argument is not exactly 32 bytes long
 */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  aHash(left, 'left');
  aHash(right, 'right');
  return sha256(NODE_PREFIX_BYTES, left, right);
}

/**
 * Whether `value` is a well-formed log hash: a Uint8Array of exactly 32 bytes.
 * Used by the verifier, which must report malformed input as a failure instead of throwing.
 *
 * @param value - anything
 * @returns true iff `value` is a Uint8Array with length = {@link HASH_SIZE}
 */
export function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

/**
 * Byte-wise equality of two hashes. Not constant-time: every hash in the log is public, so
 * there is no secret to leak through timing.
 *
 * @param a - first byte string, any length
 * @param b - second byte string, any length
 * @returns true iff both have the same length and the same bytes
 */
export function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Lowercase hex of a hash, the form used on the wire (spec §9.3.5) and in failure reports.
 *
 * @param hash - any byte string
 * @returns lowercase hex, 2 characters per byte
 */
export function toHex(hash: Uint8Array): string {
  return bytesToHex(hash);
}

/**
 * Asserts that `value` is a 32-byte hash and returns it.
 *
 * @param value - the value to check
 * @param title - the field name used in the error message
 * @returns `value`, typed as a Uint8Array
 * @throws {TypeError} if `value` is not a Uint8Array
 * @throws {RangeError} if `value.length` ≠ 32
 */
export function aHash(value: unknown, title: string): Uint8Array {
  aBytes(value, title);
  if (value.length !== HASH_SIZE) {
    throw new RangeError(`${title}: expected a ${HASH_SIZE}-byte hash, got ${value.length} bytes`);
  }
  return value;
}

function aBytes(value: unknown, title: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    const got = value === null ? 'null' : typeof value;
    throw new TypeError(`${title}: expected a Uint8Array, got ${got}`);
  }
}
