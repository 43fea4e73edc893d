/**
 * A trustee's key share at rest (spec §13.3, §13.7): the share's JSON encrypted under the
 * trustee's own passphrase, as the key file of spec §11 (src/verifier/keyfile.ts): scrypt
 * (N = 2^17, r = 8, p = 1, 16-byte salt) and AES-256-GCM with a 12-byte IV.
 *
 * The associated data binds the format, the election key's n, its threshold, trustee count and
 * the share's index and verification key v_i, so a file cannot be relabelled for another key or
 * another index without failing authentication. Reading checks the share against its v_i
 * (check 13.3a). A wrong passphrase and a corrupted file give the same error, naming neither.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { TallyError } from '../errors.js';
import { shareFromJson, shareToJson, thresholdKeyFromJson, thresholdKeyToJson, type KeyShare, type SizeOptions, type ThresholdPublicKey, type ThresholdPublicKeyJson } from '../crypto/threshold-paillier.js';
import { DEFAULT_SCRYPT, deriveKey, type ScryptParams } from '../verifier/keyfile.js';
import { parseHex, toHex } from '../wire.js';

export const SHARE_FILE_FORMAT = 'tallyboard-share/1';
const MAX_N = 1 << 20;

/** The file's JSON. `publicKey` is the threshold key without proofs (the manifest has them). */
export interface ShareFile {
  readonly format: typeof SHARE_FILE_FORMAT;
  readonly index: number;
  readonly publicKey: ThresholdPublicKeyJson;
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string };
  readonly cipher: { readonly name: 'aes-256-gcm'; readonly iv: string; readonly tag: string };
  readonly ciphertext: string;
}

function aad(pk: ThresholdPublicKeyJson, index: number): Buffer {
  return Buffer.from(`${SHARE_FILE_FORMAT}\n${pk.n}\n${pk.threshold}\n${pk.trustees}\n${index}\n${pk.verificationKeys[index - 1]}`, 'utf8');
}

/**
 * Encrypt a share under its trustee's passphrase.
 * @param passphrase - at least 12 characters
 * @throws TallyError OUT_OF_RANGE for a short passphrase or an index outside 1 … l
 */
export async function encryptShare(pk: ThresholdPublicKey, share: KeyShare, passphrase: string, options: { scrypt?: ScryptParams } = {}): Promise<ShareFile> {
  if (passphrase.length < 12) throw new TallyError('OUT_OF_RANGE', 'passphrase: use at least 12 characters');
  if (share.index < 1 || share.index > pk.l) throw new TallyError('OUT_OF_RANGE', `share index must be in [1, ${pk.l}]`);
  const params = options.scrypt ?? DEFAULT_SCRYPT;
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const publicKey = thresholdKeyToJson(pk);
  const key = await deriveKey(passphrase, salt, params);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(publicKey, share.index));
  const ct = Buffer.concat([cipher.update(JSON.stringify(shareToJson(pk, share)), 'utf8'), cipher.final()]);
  key.fill(0);
  return {
    format: SHARE_FILE_FORMAT,
    index: share.index,
    publicKey,
    kdf: { name: 'scrypt', ...params, salt: toHex(salt) },
    cipher: { name: 'aes-256-gcm', iv: toHex(iv), tag: toHex(cipher.getAuthTag()) },
    ciphertext: toHex(ct),
  };
}

/**
 * The public part of a share file (no passphrase needed): its index and threshold key.
 * @throws TallyError MALFORMED / BAD_PUBLIC_KEY
 */
export function shareFilePublic(file: unknown, options: SizeOptions = {}): { index: number; publicKey: ThresholdPublicKey } {
  const f = file as Partial<ShareFile> | null;
  if (typeof f !== 'object' || f === null || f.format !== SHARE_FILE_FORMAT) throw new TallyError('MALFORMED', `share file: expected format ${SHARE_FILE_FORMAT}`);
  const publicKey = thresholdKeyFromJson(f.publicKey, options);
  if (!Number.isSafeInteger(f.index) || f.index! < 1 || f.index! > publicKey.l) throw new TallyError('MALFORMED', `share file: index must be in [1, ${publicKey.l}]`);
  return { index: f.index!, publicKey };
}

/**
 * Decrypt a share file and check the share against its verification key (13.3a).
 * @throws TallyError MALFORMED; BAD_KEY_FILE for a wrong passphrase or a file failing authentication;
 *   BAD_PRIVATE_KEY if the share does not match v_i
 */
export async function decryptShare(file: unknown, passphrase: string, options: SizeOptions = {}): Promise<{ publicKey: ThresholdPublicKey; share: KeyShare }> {
  const { index, publicKey } = shareFilePublic(file, options);
  const f = file as ShareFile;
  const kdf = f.kdf as Partial<ShareFile['kdf']> | undefined;
  const c = f.cipher as Partial<ShareFile['cipher']> | undefined;
  if (kdf?.name !== 'scrypt' || c?.name !== 'aes-256-gcm') throw new TallyError('MALFORMED', 'share file: unsupported kdf or cipher');
  const { N, r, p } = kdf;
  const okInt = (x: unknown, max: number) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x <= max;
  if (!okInt(N, MAX_N) || (N! & (N! - 1)) !== 0 || !okInt(r, 32) || !okInt(p, 16)) throw new TallyError('MALFORMED', 'share file: scrypt parameters out of range');
  const salt = parseHex(kdf.salt, 'kdf.salt', 16);
  const iv = parseHex(c.iv, 'cipher.iv', 12);
  const tag = parseHex(c.tag, 'cipher.tag', 16);
  const ct = parseHex(f.ciphertext, 'ciphertext', undefined, 4096);
  const key = await deriveKey(passphrase, salt, { N: N!, r: r!, p: p! });
  let plain: string;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(aad(thresholdKeyToJson(publicKey), index));
    d.setAuthTag(tag);
    plain = Buffer.concat([d.update(ct), d.final()]).toString('utf8');
  } catch {
    throw new TallyError('BAD_KEY_FILE', 'cannot decrypt the share file: wrong passphrase or corrupted file');
  } finally {
    key.fill(0);
  }
  const share = shareFromJson(publicKey, JSON.parse(plain));
  if (share.index !== index) throw new TallyError('BAD_KEY_FILE', 'share file: the share does not match its index');
  return { publicKey, share };
}

/** Write a share file (mode 0600: only its owner reads it). */
export async function writeShareFile(path: string, pk: ThresholdPublicKey, share: KeyShare, passphrase: string, options: { scrypt?: ScryptParams } = {}): Promise<void> {
  const file = await encryptShare(pk, share, passphrase, options);
  await writeFile(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
}

/** Read and decrypt a share file. @throws as {@link decryptShare}, or MALFORMED for a file that is not JSON */
export async function readShareFile(path: string, passphrase: string, options: SizeOptions = {}): Promise<{ publicKey: ThresholdPublicKey; share: KeyShare }> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    throw new TallyError('MALFORMED', 'share file: not JSON');
  }
  return decryptShare(json, passphrase, options);
}
