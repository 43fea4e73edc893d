/**
 * The verification server's Paillier secret key at rest: a JSON file encrypted under a
 * passphrase (spec/11-threat-model.md, SECURITY.md).
 *
 * Key derivation: scrypt (N = 2^17, r = 8, p = 1, 16-byte salt) — memory-hard, so a stolen file
 * resists offline guessing; Node's native scrypt keeps unlocking under a second. Encryption:
 * AES-256-GCM with a 12-byte random IV. The public key and the format string are the GCM
 * associated data, so a file cannot be re-labelled with another public key without failing
 * authentication. The plaintext is the secret key's JSON; it is never logged, and a wrong
 * passphrase and a corrupted file give the same error, which names neither.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { TallyError } from '../errors.js';
import { PaillierPublicKey, PaillierSecretKey } from '../crypto/paillier.js';
import { parseHex, toHex } from '../wire.js';

export const KEY_FILE_FORMAT = 'tallyboard-key/1';

/** scrypt parameters; `N` may be lowered only in tests, through `encryptKeyFile`'s options. */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 17, r: 8, p: 1 };
/** Largest N accepted when reading a file: bounds the memory a crafted file can demand. */
const MAX_N = 1 << 20;

export interface KeyFile {
  readonly format: typeof KEY_FILE_FORMAT;
  readonly publicKey: { readonly n: string };
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string };
  readonly cipher: { readonly name: 'aes-256-gcm'; readonly iv: string; readonly tag: string };
  readonly ciphertext: string;
}

/** The 32-byte AES key of a passphrase (scrypt, RFC 7914; the passphrase in NFC). Used by the share file too. */
export function deriveKey(passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const maxmem = 128 * params.N * params.r * params.p + 64 * 1024 * 1024;
    scryptCb(passphrase.normalize('NFC'), salt, 32, { ...params, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function aad(publicKey: { n: string }): Buffer {
  return Buffer.from(`${KEY_FILE_FORMAT}\n${publicKey.n}`, 'utf8');
}

/**
 * Encrypt a secret key under a passphrase.
 * @param passphrase - at least 12 characters
 * @param options.scrypt - KDF parameters (tests only; the default resists offline guessing)
 * @throws TallyError OUT_OF_RANGE for a passphrase shorter than 12 characters
 */
export async function encryptKeyFile(sk: PaillierSecretKey, passphrase: string, options: { scrypt?: ScryptParams } = {}): Promise<KeyFile> {
  if (passphrase.length < 12) throw new TallyError('OUT_OF_RANGE', 'passphrase: use at least 12 characters');
  const params = options.scrypt ?? DEFAULT_SCRYPT;
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const publicKey = sk.publicKey.toJSON();
  const key = await deriveKey(passphrase, salt, params);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(publicKey));
  const ct = Buffer.concat([cipher.update(JSON.stringify(sk.toJSON()), 'utf8'), cipher.final()]);
  key.fill(0);
  return {
    format: KEY_FILE_FORMAT,
    publicKey,
    kdf: { name: 'scrypt', ...params, salt: toHex(salt) },
    cipher: { name: 'aes-256-gcm', iv: toHex(iv), tag: toHex(cipher.getAuthTag()) },
    ciphertext: toHex(ct),
  };
}

/**
 * Read the public key of a key file without the passphrase (validated as a published key).
 * @throws TallyError MALFORMED / BAD_PUBLIC_KEY
 */
export function keyFilePublicKey(file: unknown): PaillierPublicKey {
  const f = file as Partial<KeyFile> | null;
  if (typeof f !== 'object' || f === null || f.format !== KEY_FILE_FORMAT) {
    throw new TallyError('MALFORMED', `key file: expected format ${KEY_FILE_FORMAT}`);
  }
  return PaillierPublicKey.fromJSON(f.publicKey);
}

/**
 * Decrypt a key file.
 * @throws TallyError MALFORMED for a file of the wrong shape; BAD_KEY_FILE for a wrong passphrase
 *   or a file that fails authentication (the two are deliberately indistinguishable)
 */
export async function decryptKeyFile(file: unknown, passphrase: string): Promise<PaillierSecretKey> {
  const publicKey = keyFilePublicKey(file);
  const f = file as KeyFile;
  const kdf = f.kdf as Partial<KeyFile['kdf']> | undefined;
  const c = f.cipher as Partial<KeyFile['cipher']> | undefined;
  if (kdf?.name !== 'scrypt' || c?.name !== 'aes-256-gcm') throw new TallyError('MALFORMED', 'key file: unsupported kdf or cipher');
  const { N, r, p } = kdf;
  const okInt = (x: unknown, max: number) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x <= max;
  if (!okInt(N, MAX_N) || (N! & (N! - 1)) !== 0 || !okInt(r, 32) || !okInt(p, 16)) {
    throw new TallyError('MALFORMED', 'key file: scrypt parameters out of range');
  }
  const salt = parseHex(kdf.salt, 'kdf.salt', 16);
  const iv = parseHex(c.iv, 'cipher.iv', 12);
  const tag = parseHex(c.tag, 'cipher.tag', 16);
  const ct = parseHex(f.ciphertext, 'ciphertext', undefined, 4096);
  const key = await deriveKey(passphrase, salt, { N: N!, r: r!, p: p! });
  let plain: string;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(aad(publicKey.toJSON()));
    d.setAuthTag(tag);
    plain = Buffer.concat([d.update(ct), d.final()]).toString('utf8');
  } catch {
    throw new TallyError('BAD_KEY_FILE', 'cannot decrypt the key file: wrong passphrase or corrupted file');
  } finally {
    key.fill(0);
  }
  const sk = PaillierSecretKey.fromJSON(JSON.parse(plain));
  if (sk.publicKey.n !== publicKey.n) throw new TallyError('BAD_KEY_FILE', 'key file: secret key does not match its public key');
  return sk;
}
