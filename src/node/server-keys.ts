/**
 * The servers' keys in the data directory (src/node/data-dir.ts gives the paths): created once
 * by `tallyboard election create`, loaded by `tallyboard serve`.
 *
 * Why one module: the two commands must agree on each file's format (hex seed, JSON key,
 * credential line), and on the rule that a loaded key must be the one the manifest publishes —
 * a server started with the issuer key or board key of another election would sign tokens or
 * checkpoints that no voter or auditor accepts, so `serve` refuses at start-up instead.
 *
 * Creation is two-phase (`prepareServerKeys`, then `writePendingSecrets`): `election create`
 * first builds and validates the manifest with keys held in memory, and writes the new secret
 * files only once the manifest is accepted, so a refused manifest leaves no stray secrets.
 * Existing files are reused, never regenerated or overwritten (writeSecretFile refuses).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { TallyError } from '../errors.js';
import { toHex } from '../wire.js';
import { generateBlindRsaKey } from '../crypto/blind-rsa-keygen.js';
import { blindRsaSecretKeyFromJson, blindRsaSecretKeyToJson, type BlindRsaSecretKey } from '../crypto/blind-rsa.js';
import { ed25519KeyPair, ed25519PublicKey } from '../crypto/ed25519.js';
import { bytesEqual } from '../crypto/hash.js';
import type { PaillierSecretKey } from '../crypto/paillier.js';
import type { ElectionKeyJson } from '../election/election-key.js';
import type { Election } from '../election/manifest.js';
import type { Credentials } from '../server/election-servers.js';
import { ENV, newCredential, readCredential, readHexFile, readJsonFile, writeSecretFile, type DataPaths } from './data-dir.js';

/** Default modulus size of the organization's blind-signing key (spec/07-tokens.md §7.1). */
export const ISSUER_KEY_DEFAULT_BITS = 3072;
/** Byte length of the issuance-reference key (spec/07-tokens.md §7.4). */
export const ISSUANCE_SECRET_LEN = 32;

/** The servers' secrets of one election. SECRET, every field. */
export interface ServerKeys {
  readonly issuerKey: BlindRsaSecretKey;
  readonly issuanceSecret: Uint8Array;
  /** the board's Ed25519 seed */
  readonly boardSecretKey: Uint8Array;
  readonly boardPublicKey: Uint8Array;
  readonly credentials: Credentials;
}

/** A secret file to write once the manifest is accepted. `content` is SECRET. */
export interface PendingSecret {
  readonly path: string;
  readonly what: string;
  readonly content: string;
}

/** The published election key as `keygen` writes it: exactly the manifest's `keys.election` (spec §2.1). */
export type PaillierPublicFile = ElectionKeyJson;

/**
 * Load the servers' keys from `paths`, generating in memory those whose file is absent.
 * Nothing is written: pass `toWrite` to writePendingSecrets once the manifest is accepted.
 * @param paths - the data directory
 * @param opts.rsaBits - modulus size of a NEW issuer key, even, in [2048, 4096] (default 3072)
 * @returns the keys and the files still to write
 * @throws TallyError NOT_FOUND/MALFORMED/BAD_PUBLIC_KEY/BAD_PRIVATE_KEY for an existing file that cannot be read
 * @throws RangeError for an unsupported rsaBits
 */
export function prepareServerKeys(paths: DataPaths, opts: { rsaBits?: number } = {}): { keys: ServerKeys; toWrite: PendingSecret[] } {
  const toWrite: PendingSecret[] = [];

  let issuerKey: BlindRsaSecretKey;
  if (existsSync(paths.issuerKey)) issuerKey = loadIssuerKey(paths);
  else {
    issuerKey = generateBlindRsaKey(opts.rsaBits ?? ISSUER_KEY_DEFAULT_BITS);
    toWrite.push({ path: paths.issuerKey, what: 'token issuer key (organization server)', content: `${JSON.stringify(blindRsaSecretKeyToJson(issuerKey), null, 2)}\n` });
  }

  let issuanceSecret: Uint8Array;
  if (existsSync(paths.issuanceSecret)) issuanceSecret = loadIssuanceSecret(paths);
  else {
    issuanceSecret = new Uint8Array(randomBytes(ISSUANCE_SECRET_LEN));
    toWrite.push({ path: paths.issuanceSecret, what: 'issuance secret (organization server)', content: `${toHex(issuanceSecret)}\n` });
  }

  let boardSecretKey: Uint8Array;
  if (existsSync(paths.boardKey)) boardSecretKey = loadBoardSecretKey(paths);
  else {
    boardSecretKey = ed25519KeyPair().secretKey;
    toWrite.push({ path: paths.boardKey, what: 'board signing key (ballot server)', content: `${toHex(boardSecretKey)}\n` });
  }

  const credential = (path: string, what: string): string => {
    if (existsSync(path)) return readCredentialFile(path, what);
    const c = newCredential();
    toWrite.push({ path, what, content: `${c}\n` });
    return c;
  };
  const adminToken = credential(paths.adminToken, 'admin credential');
  // One credential per service role (issue 10.9): each opens only its own /internal route.
  const orgToken = credential(paths.orgToken, 'organization server credential');
  const verifierToken = credential(paths.verifierToken, 'verification server credential');

  return {
    keys: { issuerKey, issuanceSecret, boardSecretKey, boardPublicKey: ed25519PublicKey(boardSecretKey), credentials: { adminToken, orgToken, verifierToken } },
    toWrite,
  };
}

/**
 * Write the secret files of prepareServerKeys (mode 0600, never overwriting).
 * @throws TallyError CONFLICT if one appeared meanwhile (the earlier ones stay written)
 */
export function writePendingSecrets(pending: readonly PendingSecret[]): void {
  for (const p of pending) writeSecretFile(p.path, p.content);
}

/** The organization's RSA blind-signing key. @throws TallyError NOT_FOUND, MALFORMED, BAD_PUBLIC_KEY, BAD_PRIVATE_KEY */
export function loadIssuerKey(paths: DataPaths): BlindRsaSecretKey {
  return blindRsaSecretKeyFromJson(readJsonFile(paths.issuerKey, 'token issuer key', 64 << 10));
}

/** The 32-byte issuance-reference key. @throws TallyError NOT_FOUND, MALFORMED */
export function loadIssuanceSecret(paths: DataPaths): Uint8Array {
  return readHexFile(paths.issuanceSecret, 'issuance secret', ISSUANCE_SECRET_LEN);
}

/** The board's 32-byte Ed25519 seed. @throws TallyError NOT_FOUND, MALFORMED */
export function loadBoardSecretKey(paths: DataPaths): Uint8Array {
  return readHexFile(paths.boardKey, 'board key', 32);
}

/**
 * The published election key: written by `keygen` (DIR/keys/paillier.public.json), or by
 * `ceremony` (its election-key.public.json, given as `file`). Shape only: parseManifest validates
 * the key and verifies its proofs.
 * @param file - the ceremony's public key file (default: keygen's file in the data directory)
 * @throws TallyError NOT_FOUND (with a hint to run keygen or the ceremony), MALFORMED
 */
export function loadPaillierPublic(paths: DataPaths, file?: string): PaillierPublicFile {
  const path = file ?? paths.paillierPublic;
  if (!existsSync(path)) {
    throw new TallyError(
      'NOT_FOUND',
      file === undefined
        ? `election public key not found at ${path}: run \`tallyboard keygen --out ${paths.dir}\` first, or give the ceremony's public key with --election-key FILE`
        : `election public key not found at ${path} (the ceremony's election-key.public.json)`,
    );
  }
  // Π^mod and one Π^prm are 128 rounds each: about 300 KiB at 3072 bits, more with many trustees.
  const o = readJsonFile(path, 'election public key', 16 << 20) as Partial<PaillierPublicFile> | null;
  if (typeof o !== 'object' || o === null || typeof o.n !== 'string' || typeof o.modulusProof !== 'object' || !Array.isArray(o.auxiliary)) {
    throw new TallyError('MALFORMED', `${path}: expected the election key of \`keygen\` or a ceremony ({ "n", "threshold", "trustees", …, "modulusProof", "auxiliary" })`);
  }
  return o as PaillierPublicFile;
}

function readCredentialFile(path: string, what: string): string {
  // The file only, not the environment: these are the credentials this directory's servers use.
  const c = readFileSync(path, 'utf8').trim();
  if (c.length < 16) throw new TallyError('MALFORMED', `${what} in ${path}: at least 16 characters`);
  return c;
}

/**
 * A server credential: the environment variable if set, else DIR/credentials/.
 *
 * `org` and `verifier` are the two service roles' credentials toward the ballot server (issue
 * 10.9). A data directory made before they existed has one shared `service.token`; it is used
 * for both roles then (with the old guarantee only: either service role can use both routes).
 * @param which - 'admin', 'org', 'verifier' (or 'service', the shared legacy credential)
 * @throws TallyError NOT_FOUND if neither is available; MALFORMED if shorter than 16 characters
 */
export function loadCredential(paths: DataPaths, which: 'admin' | 'org' | 'verifier' | 'service'): string {
  const where: Record<typeof which, [string, string]> = {
    admin: [paths.adminToken, ENV.adminToken],
    org: [paths.orgToken, ENV.orgToken],
    verifier: [paths.verifierToken, ENV.verifierToken],
    service: [paths.serviceToken, ENV.serviceToken],
  };
  const [path, env] = where[which];
  const legacy = (which === 'org' || which === 'verifier') && !existsSync(path) && !process.env[env] && (existsSync(paths.serviceToken) || !!process.env[ENV.serviceToken]);
  const c = legacy ? readCredential(paths.serviceToken, ENV.serviceToken) : readCredential(path, env);
  if (c.length < 16) throw new TallyError('MALFORMED', `${which} credential: at least 16 characters`);
  return c;
}

/**
 * Check that the given secret keys are those the manifest publishes.
 * @throws TallyError BAD_PRIVATE_KEY naming the key that does not match
 */
export function checkKeysMatchManifest(
  election: Election,
  keys: { issuerKey?: BlindRsaSecretKey; boardSecretKey?: Uint8Array; paillierKey?: PaillierSecretKey },
): void {
  const mismatch = (what: string) =>
    new TallyError('BAD_PRIVATE_KEY', `${what} does not match the one published in the manifest of ${JSON.stringify(election.manifest.electionId)}`);
  if (keys.issuerKey && (keys.issuerKey.n !== election.tokenIssuer.n || keys.issuerKey.e !== election.tokenIssuer.e)) throw mismatch('the token issuer key');
  if (keys.boardSecretKey && !bytesEqual(ed25519PublicKey(keys.boardSecretKey), election.boardKey)) throw mismatch('the board key');
  if (keys.paillierKey && keys.paillierKey.publicKey.n !== election.paillier.n) throw mismatch('the Paillier key');
}
