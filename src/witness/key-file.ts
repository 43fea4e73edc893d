/**
 * The witness key file (spec/09-board.md §9.9.1): written once by `tallyboard witness keygen`,
 * read by `tallyboard witness` and `tallyboard monitor --witness-key`. Like the other server
 * keys (src/node/server-keys.ts): a secret file of mode 0600, never overwritten.
 *
 *   {"format":"tallyboard-witness-key/1","name":"<witness name>","secretKey":"<64 hex: Ed25519 seed>"}
 *
 * The name is part of what the witness signs and of its key id, so it lives with the key: the
 * manifest lists exactly this name with the public key.
 */
import { TallyError } from '../errors.js';
import { parseHex, toHex } from '../wire.js';
import { ed25519KeyPair, ed25519PublicKey } from '../crypto/ed25519.js';
import { aWitnessName } from '../../bulletin/cosignature.js';
import { assertExactKeys } from '../../bulletin/entry.js';
import { readJsonFile, writeSecretFile } from '../node/data-dir.js';

export const WITNESS_KEY_FORMAT = 'tallyboard-witness-key/1';

/** A witness's key. `secretKey` is SECRET. */
export interface WitnessKey {
  readonly name: string;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * Creates a witness key and writes it to `path` (0600; refuses to overwrite).
 * @returns the key; its manifest member is `{ name, key: hex(publicKey) }`
 */
export function createWitnessKeyFile(path: string, name: string): WitnessKey {
  aWitnessName(name, 'witness name');
  const kp = ed25519KeyPair();
  writeSecretFile(path, `${JSON.stringify({ format: WITNESS_KEY_FORMAT, name, secretKey: toHex(kp.secretKey) })}\n`);
  return { name, secretKey: kp.secretKey, publicKey: kp.publicKey };
}

/** Reads a witness key file. @throws TallyError NOT_FOUND, MALFORMED, BAD_PRIVATE_KEY */
export function loadWitnessKeyFile(path: string): WitnessKey {
  const o = readJsonFile(path, 'witness key file', 4096);
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TallyError('MALFORMED', 'witness key file: expected a JSON object');
  const r = o as Record<string, unknown>;
  assertExactKeys(r, ['format', 'name', 'secretKey'], 'witness key file');
  if (r.format !== WITNESS_KEY_FORMAT) throw new TallyError('MALFORMED', `witness key file: format must be ${WITNESS_KEY_FORMAT}`);
  const name = aWitnessName(r.name, 'witness key file: name');
  let secretKey: Uint8Array;
  try {
    secretKey = parseHex(r.secretKey, 'secretKey', 32);
  } catch {
    throw new TallyError('BAD_PRIVATE_KEY', 'witness key file: secretKey must be 64 hex digits');
  }
  return { name, secretKey, publicKey: ed25519PublicKey(secretKey) };
}

/** The manifest member naming this witness (spec §2.1 `witnesses.members[i]`). */
export function witnessManifestMember(k: WitnessKey): { name: string; key: string } {
  return { name: k.name, key: toHex(k.publicKey) };
}
