/**
 * Hashing and transcripts (spec/01-encoding.md §1.4 and §1.5).
 *
 * One hash function, SHA-256, used everywhere with a distinct domain-separation tag per
 * purpose: H(tag, body) = SHA-256(STR(tag) ‖ body). The tag is length-prefixed, so no tag is a
 * prefix of another tag's input. The table below is the complete list; the spec repeats it and
 * the two must agree (a test checks every tag is unique and versioned).
 *
 * SHA-256 rather than SHA-384/512 or BLAKE: it is the hash of the Merkle log (RFC 9162), its
 * 256-bit output is exactly the challenge length t = 256 of the proofs (no truncation needed),
 * and every verifier's platform ships it.
 */
import { sha256 as portableSha256 } from '@noble/hashes/sha2.js';
import { canonical, CanonicalWriter } from '../canonical.js';
import { nativeCrypto, nativeSha256 } from './native.js';

/** The protocol version string bound into every transcript. */
export const SPEC_VERSION = 'tallyboard/2';

/**
 * Domain-separation tags, one per purpose. Never reuse a tag for a second purpose or layout.
 * A tag carries the protocol version that DEFINED its input layout (spec §1.4): the layouts
 * below are unchanged since tallyboard/1, so they keep their names under tallyboard/2 (the
 * version is still bound everywhere through the manifest's `version`, which the fingerprint
 * covers, and STR(VERSION) in the ballot body). A layout added or changed in a later version
 * gets a tag with that version.
 */
export const TAGS = {
  /** Election fingerprint over the canonical manifest (spec §2.3). */
  fingerprint: 'tallyboard/1/election-fingerprint',
  /** Challenge elements of the Paillier key proof (spec §3.3). */
  keyProof: 'tallyboard/1/paillier-key-proof',
  /** Hash of an allowed set (spec §4.3). */
  allowedSet: 'tallyboard/1/allowed-set',
  /** Fiat–Shamir challenge of a ballot validity proof (spec §5.3). */
  membershipChallenge: 'tallyboard/1/membership-challenge',
  /** Eligibility token message signed blindly by the organization (spec §7.2). */
  tokenMessage: 'tallyboard/1/token-message',
  /** Message signed by the token key over a ballot body (spec §6.2). */
  ballotSignature: 'tallyboard/1/ballot-signature',
  /** Ballot tracker, the ballot's public identifier (spec §6.3). */
  tracker: 'tallyboard/1/ballot-tracker',
  /** Bulletin-board entry hash (spec/09-board.md). */
  boardEntry: 'tallyboard/1/board-entry',
  /** Bulletin-board checkpoint signature message (spec/09-board.md). */
  checkpoint: 'tallyboard/1/board-checkpoint',
  /** Pseudonymous reference of a token issuance (spec/07-tokens.md §7.4). */
  issuanceRef: 'tallyboard/1/issuance-ref',
  /** the public register reference of a voter (spec §7.4): H(tag, STR(electionId) ‖ STR(login) ‖ FIXED(salt, 32)) */
  registerRef: `${SPEC_VERSION}/register-ref`,
  /** the leaf data of the register tree (spec §7.5): RFC 9162 leaf of STR(tag) ‖ FIXED(ref, 32) */
  registerLeaf: `${SPEC_VERSION}/register-leaf`,
  // Threshold decryption and modulus proofs (spec/13-trustees.md). Written from SPEC_VERSION so
  // that they follow the version string when it changes.
  /** Expansion of n into the verification base v of threshold decryption (spec §13.2). */
  thresholdBase: `${SPEC_VERSION}/threshold-verification-base`,
  /** Fiat–Shamir challenge of a partial decryption's proof (spec §13.4). */
  partialDecryption: `${SPEC_VERSION}/partial-decryption-proof`,
  /** Challenge elements of the Paillier–Blum modulus proof Π^mod (spec §13.5). */
  modulusProof: `${SPEC_VERSION}/paillier-blum-modulus-proof`,
  /** Fiat–Shamir challenge of the no-small-factor proof Π^fac (spec §13.6). */
  factorProof: `${SPEC_VERSION}/no-small-factor-proof`,
  /** Fiat–Shamir challenge of the ring-Pedersen parameter proof Π^prm (spec §13.6). */
  ringPedersenProof: `${SPEC_VERSION}/ring-pedersen-proof`,
  /** Message a witness signs to cosign a board checkpoint (spec/09-board.md §9.9.2). */
  cosignature: `${SPEC_VERSION}/board-cosignature`,
  /** Key id of a witness, from its name and public key (spec/09-board.md §9.9.1). */
  witnessKeyId: `${SPEC_VERSION}/witness-key-id`,
} as const;

export type Tag = (typeof TAGS)[keyof typeof TAGS];

/** Hash output length in bytes. */
export const HASH_LEN = 32;

/**
 * H(tag, body) = SHA-256(STR(tag) ‖ body).
 * @param tag - one of TAGS
 * @param body - canonical bytes of the hashed object
 * @returns 32-byte digest
 */
export function hashTagged(tag: Tag, body: Uint8Array): Uint8Array {
  return sha256(canonical().str(tag).finish(), body);
}

/**
 * SHA-256 of the concatenation of `parts` (FIPS 180-4): `node:crypto` on Node, @noble/hashes
 * elsewhere (src/crypto/native.ts). Both are the same function; the native one is 2.5× faster
 * on a 64-byte input and 10× on 20 kB (a ballot's body).
 */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  return nativeCrypto ? nativeSha256(nativeCrypto, parts) : sha256Portable(...parts);
}

/** SHA-256 with @noble/hashes only (the browser's path; tests compare it with the native one). */
export function sha256Portable(...parts: Uint8Array[]): Uint8Array {
  const h = portableSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * A transcript: a canonical writer whose first field is the tag, finished by hashing.
 * `transcript(tag).str(SPEC_VERSION).fixed(fp)....digest()` is H(tag, STR(SPEC_VERSION) ‖ …).
 */
export class Transcript extends CanonicalWriter {
  constructor(readonly tag: Tag) {
    super();
  }
  /** H(tag, everything written). */
  digest(): Uint8Array {
    return hashTagged(this.tag, this.finish());
  }
}

/** Start a transcript for `tag`. */
export function transcript(tag: Tag): Transcript {
  return new Transcript(tag);
}

/** Constant-time equality of two byte arrays (length leaks, contents do not). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
