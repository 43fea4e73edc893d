/**
 * Eligibility tokens on the voter's side (spec/07-tokens.md §7.2): make a token key, blind its
 * message for the organization, and unblind the organization's answer into a credential.
 *
 * The voter generates the Ed25519 token key itself; the organization only ever sees a blinded
 * RSA message (RFC 9474), so it can check WHO asks (the voter logs in) but cannot later link
 * the token it signed to that voter. The unblinded signature is verified before it is kept, so
 * a faulty or malicious signer is caught at once, not when the ballot is refused.
 */
import { TallyError } from '../errors.js';
import { blind, blindSign, finalize, prepare, type BlindRsaSecretKey } from '../crypto/blind-rsa.js';
import { ed25519KeyPair } from '../crypto/ed25519.js';
import { tokenMessage, TOKEN_PREFIX_LEN, type VoterToken } from './ballot.js';
import type { Election } from './manifest.js';

/** What the voter keeps between sending the blinded message and receiving the blind signature. SECRET. */
export interface PendingToken {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly prefix: Uint8Array;
  readonly inputMsg: Uint8Array;
  /** inverse of the blinding factor: with it the blinded message links to the token */
  readonly inv: bigint;
  /** the blinded message to send to the organization (modulus length) */
  readonly blindedMsg: Uint8Array;
}

/**
 * Start a token request: fresh Ed25519 key, RFC 9474 prepare and blind.
 * @param rng - randomness source (tests only); the default is the platform CSPRNG
 */
export function requestToken(election: Election, rng?: (n: number) => Uint8Array): PendingToken {
  const keys = ed25519KeyPair(rng ? rng(32) : undefined);
  const msg = tokenMessage(election.fingerprint, keys.publicKey);
  const prepared = rng ? prepare(msg, rng) : prepare(msg);
  if (prepared.prefix.length !== TOKEN_PREFIX_LEN) throw new Error('unexpected RFC 9474 prefix length');
  const blinded = blind(election.tokenIssuer, prepared.inputMsg, rng ? { rng } : {});
  return { ...keys, prefix: prepared.prefix, inputMsg: prepared.inputMsg, inv: blinded.inv, blindedMsg: blinded.blindedMsg };
}

/**
 * Unblind the organization's blind signature into a usable token; verifies it first.
 * @throws TallyError BAD_TOKEN if the signature does not verify
 */
export function completeToken(election: Election, pending: PendingToken, blindSig: Uint8Array): VoterToken {
  let signature: Uint8Array;
  try {
    signature = finalize(election.tokenIssuer, pending.inputMsg, blindSig, pending.inv);
  } catch (cause) {
    throw new TallyError('BAD_TOKEN', "the organization's blind signature does not verify", { cause });
  }
  return { secretKey: pending.secretKey, credential: { publicKey: pending.publicKey, prefix: pending.prefix, signature } };
}

/** The organization's side: blind-sign a blinded message (RFC 9474 BlindSign). */
export function issueBlindSignature(sk: BlindRsaSecretKey, blindedMsg: Uint8Array): Uint8Array {
  return blindSign(sk, blindedMsg);
}
