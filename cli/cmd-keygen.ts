/**
 * `tallyboard keygen`: a 1-of-1 key ceremony for the single-server election (spec §13: the same
 * code path as a k-of-n ceremony, src/trustee/ceremony.ts, with one trustee).
 *
 * Writes DIR/keys/paillier.key.json (the secret key, encrypted under a passphrase: scrypt +
 * AES-256-GCM, src/verifier/keyfile.ts) and DIR/keys/paillier.public.json, which is exactly the
 * manifest's `keys.election` object — the threshold key (k = l = 1) with Π^mod, Π^prm and Π^fac
 * (spec §2.1, §13.7) — so that `election create` copies it verbatim and never needs the secret
 * key or the passphrase. Transitional (spec §13.11): until the verification server decrypts with
 * its share, the key file still holds the whole secret key (p, q).
 *
 * Why it refuses to overwrite: replacing the key of an election that has started makes every
 * ballot cast under the old one undecryptable. Why the passphrase is asked twice on a terminal:
 * a typo would lock the tally away for good. Both are checked before the (slow) generation.
 */
import { existsSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import { runSingleServerCeremony } from '../src/trustee/ceremony.js';
import { bitLength, toBytesBE } from '../src/crypto/bigint.js';
import { PAILLIER_DEFAULT_BITS, PAILLIER_MAX_BITS, PAILLIER_MIN_BITS, type PaillierPublicKey } from '../src/crypto/paillier.js';
import { encryptKeyFile } from '../src/verifier/keyfile.js';
import { dataPaths, ENV, writePublicFile, writeSecretFile } from '../src/node/data-dir.js';
import { action, holdEcho, promptHidden, readSecret } from './_common.js';

/** Shortest passphrase accepted for a key file (keyfile.ts enforces the same bound). */
const MIN_PASSPHRASE = 12;

interface KeygenOptions {
  out: string;
  bits: number;
  passphraseFile?: string;
}

function parseBits(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n % 2 !== 0 || n < PAILLIER_MIN_BITS || n > PAILLIER_MAX_BITS) {
    throw new InvalidArgumentError(`Expected an even number of bits in [${PAILLIER_MIN_BITS}, ${PAILLIER_MAX_BITS}]`);
  }
  return n;
}

/**
 * The passphrase of a NEW key file: from the file or the environment as readSecret does; on a
 * terminal, asked twice and compared, and asked again (issue #9.14) when too short or when the
 * two entries differ — a typo is the common case, not a reason to start over.
 * @throws TallyError OUT_OF_RANGE if a passphrase from a file or the environment is shorter than 12 characters
 */
async function newPassphrase(file: string | undefined): Promise<string> {
  if (file !== undefined || process.env[ENV.passphrase] || !process.stdin.isTTY) {
    const pass = await readSecret({ file, env: ENV.passphrase, prompt: 'Passphrase' });
    if (pass.length < MIN_PASSPHRASE) throw new TallyError('OUT_OF_RANGE', `passphrase: use at least ${MIN_PASSPHRASE} characters`);
    return pass;
  }
  for (;;) {
    const pass = await promptHidden(`Passphrase for the key file (at least ${MIN_PASSPHRASE} characters, not shown): `);
    if (pass.length < MIN_PASSPHRASE) {
      process.stderr.write(`That is ${pass.length} character${pass.length === 1 ? '' : 's'}; use at least ${MIN_PASSPHRASE}. Try again.\n`);
      continue;
    }
    if ((await promptHidden('Repeat the passphrase: ')) !== pass) {
      process.stderr.write('The two entries differ. Try again.\n');
      continue;
    }
    return pass;
  }
}

/**
 * A short, comparable summary of a public key: bit length and the first 16 hex digits of
 * SHA-256 over n's canonical bytes (as published, L_n bytes big-endian).
 */
export function paillierKeySummary(pk: PaillierPublicKey): string {
  const digest = toHex(sha256(toBytesBE(pk.n, pk.nLen)));
  return `${bitLength(pk.n)} bits, SHA-256(n) ${digest.slice(0, 16)}`;
}

async function keygen(opts: KeygenOptions): Promise<void> {
  const release = holdEcho();
  const paths = dataPaths(opts.out);
  for (const p of [paths.paillierKey, paths.paillierPublic]) {
    if (existsSync(p)) throw new TallyError('CONFLICT', `${p} already exists; refusing to overwrite a Paillier key (an election under it could no longer be tallied)`);
  }
  const passphrase = await newPassphrase(opts.passphraseFile);
  release(); // Ctrl-C works again during the generation

  const log = (line: string) => process.stderr.write(`${line}\n`);
  const ceremony = await runSingleServerCeremony(opts.bits, log);
  const sk = ceremony.secretKey;
  log('encrypting key file');
  const file = await encryptKeyFile(sk, passphrase);

  // The secret first: it creates keys/ with mode 0700 and fails if a concurrent run won.
  writeSecretFile(paths.paillierKey, `${JSON.stringify(file, null, 2)}\n`);
  const pk = sk.publicKey;
  const published = ceremony.publicKey;
  writePublicFile(paths.paillierPublic, `${JSON.stringify(published, null, 2)}\n`);

  process.stdout.write(
    `Paillier key: ${paillierKeySummary(pk)}\n` +
      `  secret (encrypted): ${paths.paillierKey}\n` +
      `  public (keys.election of the manifest): ${paths.paillierPublic}\n`,
  );
}

/** Register `tallyboard keygen`. */
export function register(program: Command): void {
  program
    .command('keygen')
    .description('1-of-1 key ceremony for a single-server election: DIR/keys/paillier.key.json (encrypted) and paillier.public.json (keys.election)')
    .requiredOption('--out <dir>', 'election data directory')
    .addOption(new Option('--bits <n>', 'modulus size in bits').argParser(parseBits).default(PAILLIER_DEFAULT_BITS))
    .option('--passphrase-file <file>', `file holding the key file's passphrase (else $${ENV.passphrase}, else asked twice)`)
    .action(action(async (opts: KeygenOptions) => keygen(opts)));
}
