/**
 * Proof records of the board and their JSON wire form (spec/09-board.md §9.3.5, §9.5).
 *
 * Why a file of its own: the Merkle module plans, builds and verifies lists of hashes; a
 * board client receives those lists inside JSON objects from an untrusted server. The
 * decoder here follows §9.3.5 to the letter — numbers and the exact proof length implied by
 * the sizes are checked BEFORE any hash is decoded — so a hostile response cannot make a
 * client allocate or hash more than the sizes allow.
 */
import { TallyError } from '../src/errors.js';
import { parseHex, toHex } from '../src/wire.js';
import { HASH_SIZE, consistencyProofLength, inclusionProofLength } from './merkle/index.js';

/** Inclusion proof of entry `index` in the tree of `size` entries (§9.3.3). */
export interface InclusionProof {
  readonly index: number;
  readonly size: number;
  readonly hashes: readonly Uint8Array[];
}

/** Consistency proof from size `size1` to size `size2` (§9.3.4). */
export interface ConsistencyProof {
  readonly size1: number;
  readonly size2: number;
  readonly hashes: readonly Uint8Array[];
}

/** Wire form of {@link InclusionProof}. */
export interface InclusionProofJson {
  readonly index: number;
  readonly size: number;
  readonly hashes: readonly string[];
}

/** Wire form of {@link ConsistencyProof}. */
export interface ConsistencyProofJson {
  readonly size1: number;
  readonly size2: number;
  readonly hashes: readonly string[];
}

/** @param p - a proof @returns its wire form */
export function inclusionProofToJson(p: InclusionProof): InclusionProofJson {
  return { index: p.index, size: p.size, hashes: p.hashes.map(toHex) };
}

/** @param p - a proof @returns its wire form */
export function consistencyProofToJson(p: ConsistencyProof): ConsistencyProofJson {
  return { size1: p.size1, size2: p.size2, hashes: p.hashes.map(toHex) };
}

/**
 * Decodes an inclusion proof (§9.3.5).
 *
 * @param x - `{ index, size, hashes }` with 0 ≤ index < size ≤ 2^53 − 1 and exactly
 *   inclusionProofLength(index, size) 64-digit lowercase hex strings
 * @returns the proof
 * @throws TallyError MALFORMED for a bad shape, number or hash; OUT_OF_RANGE if index ≥ size
 */
export function inclusionProofFromJson(x: unknown): InclusionProof {
  const o = anObject(x, 'inclusion proof', ['index', 'size', 'hashes']);
  const size = aCount(o.size, 'size', 1);
  const index = aCount(o.index, 'index', 0);
  if (index >= size) throw new TallyError('OUT_OF_RANGE', `inclusion proof: index ${index} is not below size ${size}`);
  return { index, size, hashes: hashList(o.hashes, inclusionProofLength(index, size)) };
}

/**
 * Decodes a consistency proof (§9.3.5).
 *
 * @param x - `{ size1, size2, hashes }` with 1 ≤ size1 ≤ size2 ≤ 2^53 − 1 and exactly
 *   consistencyProofLength(size1, size2) 64-digit lowercase hex strings
 * @returns the proof
 * @throws TallyError MALFORMED for a bad shape, number or hash; OUT_OF_RANGE if size1 > size2
 */
export function consistencyProofFromJson(x: unknown): ConsistencyProof {
  const o = anObject(x, 'consistency proof', ['size1', 'size2', 'hashes']);
  const size2 = aCount(o.size2, 'size2', 1);
  const size1 = aCount(o.size1, 'size1', 1);
  if (size1 > size2) throw new TallyError('OUT_OF_RANGE', `consistency proof: size1 ${size1} exceeds size2 ${size2}`);
  return { size1, size2, hashes: hashList(o.hashes, consistencyProofLength(size1, size2)) };
}

function anObject(x: unknown, what: string, keys: readonly string[]): Readonly<Record<string, unknown>> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new TallyError('MALFORMED', `${what}: expected an object`);
  const o = x as Readonly<Record<string, unknown>>;
  for (const k of keys) if (!Object.hasOwn(o, k)) throw new TallyError('MALFORMED', `${what}: missing field ${k}`);
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new TallyError('MALFORMED', `${what}: unexpected field ${JSON.stringify(k).slice(0, 80)}`);
  return o;
}

function aCount(x: unknown, field: string, min: number): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) {
    throw new TallyError('MALFORMED', `${field}: expected an integer ${min} ≤ ${field} ≤ 2^53 − 1, got ${String(x)}`);
  }
  return x;
}

function hashList(x: unknown, want: number): Uint8Array[] {
  if (!Array.isArray(x)) throw new TallyError('MALFORMED', 'hashes: expected an array');
  if (x.length !== want) throw new TallyError('MALFORMED', `hashes: expected exactly ${want} hashes for these sizes, got ${x.length}`);
  return x.map((h: unknown, i) => parseHex(h, `hashes[${i}]`, HASH_SIZE));
}
