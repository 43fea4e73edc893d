/**
 * The election data directory: where each command reads and writes each key and store
 * (README "Data directory"). One module, so that `keygen`, `election create`, `voters import`,
 * `serve` and `demo` agree on every path.
 *
 *   DIR/election.json              the manifest (public)
 *   DIR/keys/paillier.public.json  the election key (keys.election: threshold key and its proofs, public)
 *   DIR/keys/paillier.key.json     Paillier secret key, encrypted under a passphrase (verification server)
 *   DIR/keys/issuer.key.json       RSA blind-signing key (organization server)            0600
 *   DIR/keys/issuance.secret       32-byte key of the issuance references (organization)  0600
 *   DIR/keys/board.key             Ed25519 seed of the board (ballot server)              0600
 *   DIR/credentials/admin.token    bearer credential of /admin routes                     0600
 *   DIR/credentials/org.token      the organization server's credential toward the ballot server 0600
 *   DIR/credentials/verifier.token the verification server's credential toward the ballot server 0600
 *   DIR/credentials/service.token  (directories made before tallyboard/2) one shared credential
 *   DIR/register/                  LevelDB voter register (organization server)
 *   DIR/board/                     LevelDB bulletin board (ballot server)
 *   DIR/verifier/                  checkpoints seen and the one decryption (verification server)  0700
 *   DIR/passwords.csv              generated voter passwords, for distribution            0600
 *   DIR/board.jsonl                an export of the board (what auditors download)
 *
 * In a real deployment each server's machine holds only its own secrets; the layout is the
 * same, the files are simply not all on one machine. Secret files are written with mode 0600
 * and never overwritten silently.
 *
 * Modes are explicit, never the umask's (issue 16.8): every directory this module creates,
 * and the register and board stores, are 0700; secret files 0600; public files 0644. Each is
 * set with chmod after creation, so that a permissive umask (000) cannot leave the register's
 * password hashes readable or any file writable by others.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TallyError } from '../errors.js';
import { parseHex, toHex } from '../wire.js';

export function dataPaths(dir: string) {
  return {
    dir,
    manifest: join(dir, 'election.json'),
    keysDir: join(dir, 'keys'),
    paillierPublic: join(dir, 'keys', 'paillier.public.json'),
    paillierKey: join(dir, 'keys', 'paillier.key.json'),
    issuerKey: join(dir, 'keys', 'issuer.key.json'),
    issuanceSecret: join(dir, 'keys', 'issuance.secret'),
    boardKey: join(dir, 'keys', 'board.key'),
    credentialsDir: join(dir, 'credentials'),
    adminToken: join(dir, 'credentials', 'admin.token'),
    serviceToken: join(dir, 'credentials', 'service.token'),
    orgToken: join(dir, 'credentials', 'org.token'),
    verifierToken: join(dir, 'credentials', 'verifier.token'),
    register: join(dir, 'register'),
    board: join(dir, 'board'),
    verifierJournal: join(dir, 'verifier'),
    passwords: join(dir, 'passwords.csv'),
    export: join(dir, 'board.jsonl'),
  };
}

export type DataPaths = ReturnType<typeof dataPaths>;

/**
 * Write a file that holds a secret: mode 0600, parent directories created, never overwritten.
 * @throws TallyError CONFLICT if the file exists
 */
export function writeSecretFile(path: string, content: string): void {
  if (existsSync(path)) throw new TallyError('CONFLICT', `${path} already exists; refusing to overwrite a secret`);
  makeDirs(join(path, '..'));
  writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

/** Write a public file, mode 0644 (parent directories created, 0700). */
export function writePublicFile(path: string, content: string): void {
  makeDirs(join(path, '..'));
  writeFileSync(path, content, { mode: 0o644 });
  chmodSync(path, 0o644);
}

/**
 * Create `dir` (and missing parents) with mode 0700, whatever the umask; an existing `dir` is
 * set to 0700 too (a store directory: the register holds password hashes).
 * @param dir - a directory path
 */
export function ensurePrivateDir(dir: string): void {
  makeDirs(dir);
  chmodSync(dir, 0o700);
}

/** mkdir -p with every created directory 0700 (mkdir's mode is masked by the umask; chmod is not). */
function makeDirs(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (created === undefined) return;
  // `created` is the first directory made; fix it and every one below it on the way to `dir`.
  let d = dir;
  for (;;) {
    chmodSync(d, 0o700);
    if (d === created || d.length <= created.length) break;
    d = join(d, '..');
  }
}

/**
 * Read a JSON file with a size cap.
 * @throws TallyError NOT_FOUND if absent; MALFORMED if not JSON; TOO_LARGE above `maxBytes`
 */
export function readJsonFile(path: string, what: string, maxBytes = 16 << 20): unknown {
  if (!existsSync(path)) throw new TallyError('NOT_FOUND', `${what} not found at ${path}`);
  const buf = readFileSync(path);
  if (buf.length > maxBytes) throw new TallyError('TOO_LARGE', `${what}: ${path} is larger than ${maxBytes} bytes`);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (cause) {
    throw new TallyError('MALFORMED', `${what}: ${path} is not valid JSON`, { cause });
  }
}

/** Read a hex secret of `bytes` bytes from a file (trailing whitespace ignored). */
export function readHexFile(path: string, what: string, bytes: number): Uint8Array {
  if (!existsSync(path)) throw new TallyError('NOT_FOUND', `${what} not found at ${path}`);
  return parseHex(readFileSync(path, 'utf8').trim(), what, bytes);
}

/** A fresh random credential (256 bits, hex). */
export function newCredential(): string {
  return toHex(randomBytes(32));
}

/**
 * A credential: from the environment variable `env` if set, else from `path`.
 * @throws TallyError NOT_FOUND if neither is available
 */
export function readCredential(path: string, env: string): string {
  const fromEnv = process.env[env];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv.trim();
  if (!existsSync(path)) throw new TallyError('NOT_FOUND', `credential not found: set ${env} or create ${path}`);
  return readFileSync(path, 'utf8').trim();
}

/** Environment variables the commands read. */
export const ENV = {
  passphrase: 'TALLYBOARD_PASSPHRASE',
  adminToken: 'TALLYBOARD_ADMIN_TOKEN',
  serviceToken: 'TALLYBOARD_SERVICE_TOKEN',
  orgToken: 'TALLYBOARD_ORG_TOKEN',
  verifierToken: 'TALLYBOARD_VERIFIER_TOKEN',
} as const;
