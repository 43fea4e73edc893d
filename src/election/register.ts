/**
 * The committed voter register (spec/07-tokens.md §7.5): per-voter public references, the
 * Merkle tree over them, and membership proofs.
 *
 * Why: the board must show every token the organization issues, and every issuance must be
 * to a voter of a register that was fixed before any token existed (issue 10.2). Each voter
 * gets, with their password, a random 32-byte `salt`; their public reference is
 *
 *     ref = H(TAGS.registerRef, STR(electionId) ‖ STR(login) ‖ FIXED(salt, 32))
 *
 * which hides the login (the salt has 256 bits of entropy) and which the voter can compute
 * from what they hold, so that they can look for it on the board. The register entry publishes
 * the number of voters N and the RFC 9162 root over the refs in ascending byte order; every
 * `token-issued` entry carries, for each ref, its index and inclusion path against that root.
 *
 * The tree is the board's own Merkle tree (bulletin/merkle, RFC 9162 §2.1) with leaf data
 * STR(TAGS.registerLeaf) ‖ FIXED(ref, 32): the tag keeps a register leaf from ever being read
 * as a board entry's leaf (whose data starts with the entry's height, §9.1.5) or vice versa.
 *
 * Pure: no storage, no network. The auditor imports `verifyRegisterMembership` only.
 */
import { canonical } from '../canonical.js';
import { HASH_LEN, TAGS, hashTagged } from '../crypto/hash.js';
import { TallyError } from '../errors.js';
import { toHex } from '../wire.js';
import { hashChildren, hashLeaf, inclusionProofNodes, rangeHashSync, verifyInclusion } from '../../bulletin/merkle/index.js';

/** Length of a voter's reference salt in bytes (256 bits: the reference hides the login). */
export const REF_SALT_LEN = 32;

/**
 * Largest number of references one `token-issued` entry may carry (spec §10.1, check 5a). With
 * paths of at most 53 hashes an entry stays far below the 8 MiB line limit (§9.7.1).
 */
export const MAX_ISSUANCE_BATCH = 256;

/**
 * A voter's public register reference (spec §7.5).
 * @param electionId - the manifest's election id
 * @param login - the voter's login
 * @param salt - the voter's reference salt, exactly 32 bytes
 * @returns 32 bytes
 * @throws TallyError OUT_OF_RANGE for a salt of another length
 */
export function registerRef(electionId: string, login: string, salt: Uint8Array): Uint8Array {
  if (!(salt instanceof Uint8Array) || salt.length !== REF_SALT_LEN) throw new TallyError('OUT_OF_RANGE', `salt: expected ${REF_SALT_LEN} bytes`);
  if (typeof electionId !== 'string' || typeof login !== 'string') throw new TallyError('MALFORMED', 'electionId and login: expected strings');
  return hashTagged(TAGS.registerRef, canonical().str(electionId).str(login).fixed(salt, REF_SALT_LEN).finish());
}

/** The RFC 9162 leaf hash of a register reference: SHA-256(0x00 ‖ STR(registerLeaf) ‖ FIXED(ref, 32)). */
export function registerLeafHash(ref: Uint8Array): Uint8Array {
  return hashLeaf(canonical().str(TAGS.registerLeaf).fixed(ref, HASH_LEN).finish());
}

/** Byte-wise comparison of two references (ascending order of the register). */
export function compareRefs(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** A reference's membership proof: its index in the sorted register and its inclusion path. */
export interface RegisterProof {
  readonly index: number;
  readonly path: readonly Uint8Array[];
}

/**
 * The register tree of N references, built once (2N hashes kept: every perfect node), from
 * which any reference's proof is read in O(log N).
 */
export class RegisterTree {
  /** N, the number of voters */
  readonly size: number;
  /** the RFC 9162 root over the sorted references */
  readonly root: Uint8Array;
  private readonly sorted: Uint8Array[];
  private readonly index = new Map<string, number>();
  /** levels[l][j]: hash of the perfect subtree of leaves [j·2^l, (j+1)·2^l) */
  private readonly levels: Uint8Array[][];

  /**
   * @param refs - 1 ≤ N references of 32 bytes, pairwise distinct, any order
   * @throws TallyError MALFORMED for an empty list, a wrong length or a repeated reference
   */
  constructor(refs: readonly Uint8Array[]) {
    if (refs.length === 0) throw new TallyError('MALFORMED', 'register: no voters');
    this.sorted = refs.map((r) => {
      if (!(r instanceof Uint8Array) || r.length !== HASH_LEN) throw new TallyError('MALFORMED', 'register: a reference is not 32 bytes');
      return r.slice();
    });
    this.sorted.sort(compareRefs);
    this.sorted.forEach((r, i) => {
      const k = hex(r);
      if (this.index.has(k)) throw new TallyError('MALFORMED', 'register: a reference appears twice');
      this.index.set(k, i);
    });
    this.size = this.sorted.length;
    const levels: Uint8Array[][] = [this.sorted.map(registerLeafHash)];
    for (let l = 0; levels[l]!.length > 1; l++) {
      const below = levels[l]!;
      const up: Uint8Array[] = [];
      for (let j = 0; j + 1 < below.length; j += 2) up.push(hashChildren(below[j]!, below[j + 1]!));
      levels.push(up);
    }
    this.levels = levels;
    this.root = rangeHashSync(0, this.size, (level, i) => this.node(level, i));
  }

  private node(level: number, i: number): Uint8Array {
    const n = this.levels[level]?.[i];
    if (n === undefined) throw new RangeError(`register tree: no perfect node (${level}, ${i})`);
    return n;
  }

  /** @returns whether `ref` is in the register */
  has(ref: Uint8Array): boolean {
    return this.index.has(hex(ref));
  }

  /**
   * The membership proof of `ref`.
   * @returns its index and path, or undefined if `ref` is not in the register
   */
  proof(ref: Uint8Array): RegisterProof | undefined {
    const index = this.index.get(hex(ref));
    if (index === undefined) return undefined;
    const path = inclusionProofNodes(index, this.size).map((r) => rangeHashSync(r.start, r.end, (level, i) => this.node(level, i)));
    return { index, path };
  }
}

/**
 * Check 5e for one reference (spec §10.2): `path` is the RFC 9162 inclusion proof of
 * `registerLeafHash(ref)` at `index` in the tree of `voters` leaves with root `root`.
 * Pure; never throws.
 * @returns true if the reference is a member of the committed register
 */
export function verifyRegisterMembership(ref: Uint8Array, proof: RegisterProof, voters: number, root: Uint8Array): boolean {
  if (!(ref instanceof Uint8Array) || ref.length !== HASH_LEN) return false;
  return verifyInclusion(registerLeafHash(ref), proof.index, voters, proof.path, root).ok;
}

function hex(b: Uint8Array): string {
  return toHex(b);
}
