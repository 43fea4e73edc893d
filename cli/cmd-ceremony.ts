/**
 * `tallyboard ceremony`: the key ceremony (spec/13-trustees.md §13.1–§13.3, README "The key
 * ceremony"), run once, on an OFFLINE machine, with the trustees present.
 *
 * It generates the election's Paillier modulus from two safe primes, splits the decryption
 * exponent into one share per trustee (any k of l decrypt), proves the modulus well formed
 * (Π^mod, and Π^fac against each trustee's own parameters from `tallyboard trustee init`), and
 * writes:
 *   DIR/election-key.public.json   the public key with its proofs: `keys.election` of the
 *                                  manifest (give it to `tallyboard election create`)
 *   DIR/trustee-<i>.share.json     trustee i's share, encrypted under trustee i's passphrase
 *                                  (scrypt + AES-256-GCM, mode 0600), one per trustee
 * The primes and the whole decryption exponent exist only in this process's memory and are never
 * written; the process exits when the files are written.
 *
 * Why the passphrases are asked BEFORE the (slow) generation: the trustees are in the room at the
 * start, a typo is caught before minutes of work, and no share ever waits in memory for a person.
 * Each is asked twice on a terminal; two trustees may not use the same passphrase (that would
 * put two shares under one person's control). Scripts and tests give one `--passphrase-file` per
 * trustee, in trustee order.
 *
 * Why it never overwrites: a second ceremony's files next to the first's would be mixed up at the
 * hand-over, and an election created under one key cannot be tallied with the other's shares.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import { bitLength, toBytesBE } from '../src/crypto/bigint.js';
import { ringPedersenFromJson } from '../src/crypto/modulus-proofs.js';
import { runCeremony, type CeremonyProgress } from '../src/trustee/ceremony.js';
import { writeShareFile } from '../src/trustee/share-file.js';
import { readTrusteeParams } from '../src/trustee/trustee-params.js';
import { readJsonFile, writePublicFile, ensurePrivateDir } from '../src/node/data-dir.js';
import { action, holdEcho, promptHidden, UsageError } from './_common.js';

/** Shortest passphrase accepted for a share file (share-file.ts enforces the same bound). */
const MIN_PASSPHRASE = 12;

/** File names in the output directory. */
export const CEREMONY_FILES = {
  publicKey: 'election-key.public.json',
  share: (i: number) => `trustee-${i}.share.json`,
} as const;

interface CeremonyCliOptions {
  trustees: number;
  threshold: number;
  bits: number;
  out: string;
  trusteeParams?: string[];
  passphraseFile?: string[];
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 64) throw new InvalidArgumentError('Expected a whole number from 1 to 64');
  return n;
}

function parseBits(v: string): number {
  if (v !== '2048' && v !== '3072' && v !== '4096') throw new InvalidArgumentError('Expected 2048, 3072 or 4096');
  return Number(v);
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/**
 * One passphrase per trustee: from the files (one per trustee, in order), or asked on the
 * terminal twice each, handing the keyboard from trustee to trustee.
 * @throws UsageError when the number of files is not l; TallyError OUT_OF_RANGE for a short or repeated passphrase from a file
 */
async function passphrases(l: number, files: readonly string[] | undefined): Promise<string[]> {
  const out: string[] = [];
  if (files !== undefined && files.length > 0) {
    if (files.length !== l) throw new UsageError(`--passphrase-file: give one per trustee (${l}), in trustee order; got ${files.length}`);
    for (const [i, f] of files.entries()) {
      const p = readFileSync(f, 'utf8').replace(/\r?\n$/, '');
      if (p.length < MIN_PASSPHRASE) throw new TallyError('OUT_OF_RANGE', `passphrase of trustee ${i + 1} (${f}): use at least ${MIN_PASSPHRASE} characters`);
      if (out.includes(p)) throw new TallyError('OUT_OF_RANGE', `passphrase of trustee ${i + 1} (${f}) is the same as an earlier trustee's: each trustee needs their own`);
      out.push(p);
    }
    return out;
  }
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask the trustees for their passphrases: give one --passphrase-file per trustee');
  process.stderr.write(`Each trustee now types their own passphrase (at least ${MIN_PASSPHRASE} characters, not shown), twice. Only they should see the keyboard.\n`);
  for (let i = 1; i <= l; i++) {
    process.stderr.write(`\n--- Trustee ${i} of ${l} ---\n`);
    for (;;) {
      const p = await promptHidden(`Trustee ${i}, your passphrase: `);
      if (p.length < MIN_PASSPHRASE) {
        process.stderr.write(`That is ${p.length} character${p.length === 1 ? '' : 's'}; use at least ${MIN_PASSPHRASE}. Try again.\n`);
        continue;
      }
      if ((await promptHidden(`Trustee ${i}, repeat it: `)) !== p) {
        process.stderr.write('The two entries differ. Try again.\n');
        continue;
      }
      if (out.includes(p)) {
        process.stderr.write('Another trustee already chose this passphrase; each trustee needs their own. Try again.\n');
        continue;
      }
      out.push(p);
      break;
    }
  }
  process.stderr.write('\n');
  return out;
}

/** A progress line for a person (safe primes take tens of seconds each). */
function progressLine(t0: number): (p: CeremonyProgress) => void {
  const s = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  return (p) => {
    const log = (l: string) => process.stderr.write(`${l}\n`);
    switch (p.phase) {
      case 'modulus':
      case 'auxiliary': {
        const what = p.phase === 'modulus' ? 'election modulus' : "the dealer's own ring-Pedersen modulus";
        log(`  ${what}: safe prime ${p.prime.prime} (${p.prime.bits} bits) ${p.prime.state === 'searching' ? 'searching…' : `found (${s()})`}`);
        return;
      }
      case 'dealing':
        return log(`  dealing the shares (${s()})`);
      case 'modulus-proof':
        return log(`  proving the modulus is a Paillier–Blum modulus, Π^mod (${s()})`);
      case 'factor-proofs':
        return log(`  proving no small factor, Π^fac (${s()})`);
      case 'self-check':
        return log(`  checking the public key as every verifier will (${s()})`);
      case 'done':
        return log(`  done (${s()})`);
    }
  };
}

/** SHA-256 of n's canonical bytes, first 16 hex digits: read aloud at the ceremony and compared with the manifest. */
export function keySummary(n: bigint): string {
  const nLen = Math.ceil(bitLength(n) / 8);
  return `${bitLength(n)} bits, SHA-256(n) ${toHex(sha256(toBytesBE(n, nLen))).slice(0, 16)}`;
}

async function ceremony(opts: CeremonyCliOptions): Promise<void> {
  const { trustees: l, threshold: k } = opts;
  if (k > l) throw new UsageError(`--threshold ${k} is more than --trustees ${l}`);
  const publicPath = join(opts.out, CEREMONY_FILES.publicKey);
  const sharePaths = Array.from({ length: l }, (_, i) => join(opts.out, CEREMONY_FILES.share(i + 1)));
  for (const p of [publicPath, ...sharePaths]) {
    if (existsSync(p)) throw new TallyError('CONFLICT', `${p} already exists; refusing to overwrite the output of a ceremony (use a new, empty --out directory)`);
  }
  const params = (opts.trusteeParams ?? []).map((f) => readTrusteeParams(readJsonFile(f, 'trustee parameters', 1 << 20)));
  if (params.length > l) throw new UsageError(`--trustee-params: at most one file per trustee (${l}), got ${params.length}`);
  const release = holdEcho();
  const pass = await passphrases(l, opts.passphraseFile);
  release(); // Ctrl-C works again during the generation

  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`key ceremony: ${k}-of-${l}, ${opts.bits}-bit modulus from two safe primes (each usually takes tens of seconds; the time varies a lot)`);
  if (params.length === 0) {
    log('  no --trustee-params: this machine makes the no-small-factor proof\'s parameters itself, so that proof convinces only those who trust this machine.');
    log('  (For an election, each trustee runs `tallyboard trustee init` beforehand and brings the file.)');
  } else {
    for (const p of params) log(`  no-small-factor proof against the parameters of ${JSON.stringify(p.trustee)} (Π^prm verified)`);
  }
  const t0 = Date.now();
  const out = await runCeremony({
    bits: opts.bits,
    trustees: l,
    threshold: k,
    onProgress: progressLine(t0),
    ...(params.length > 0 ? { trusteeRingPedersen: params.map((p) => ringPedersenFromJson(p.ringPedersen)) } : {}),
  });

  ensurePrivateDir(opts.out);
  for (const [i, share] of out.shares.entries()) await writeShareFile(sharePaths[i]!, out.key.threshold, share, pass[i]!);
  pass.fill('');
  writePublicFile(publicPath, `${JSON.stringify(out.publicKey, null, 2)}\n`);

  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`Election key: ${k}-of-${l}, ${keySummary(out.key.threshold.n)}`);
  w(`  Read this line aloud; everyone present writes it down and later compares it with the published election.`);
  w('');
  w(`Public (give to the election officials; it goes into the manifest):`);
  w(`  ${publicPath}`);
  w(`    tallyboard election create --election-key ${publicPath} …`);
  w('');
  w('Secret, one per trustee (each encrypted under that trustee\'s passphrase):');
  for (const [i, p] of sharePaths.entries()) w(`  trustee ${i + 1}: ${p}`);
  w('    Copy each file to its own trustee\'s medium, in front of that trustee, and nowhere else.');
  w('    Each trustee keeps their file and passphrase apart, and runs at the close:');
  w('      tallyboard trustee serve --share FILE --server URL   (or `trustee decrypt` by hand)');
  w('');
  w(`What k = ${k} means: any ${k} trustees together can decrypt — the tally, and also any single ballot,`);
  w(`so privacy rests on fewer than ${k} of them colluding; and the result needs ${k} of the ${l} to take part,`);
  w(`so up to ${l - k} may be absent or lose their file.`);
  w('');
  w('Erasure: this machine knew the primes and the whole decryption key while the ceremony ran. They were');
  w('never written to disk and are gone when this command exits. Now: hand out the share files, then delete');
  w(`them and the whole ${opts.out} directory from this machine (keep only the public file, copied out), and`);
  w('power the machine off before it is connected to any network or used again.');
}

/** Register `tallyboard ceremony`. */
export function register(program: Command): void {
  program
    .command('ceremony')
    .description('the key ceremony (offline machine, trustees present): the election key and one encrypted share per trustee')
    .addOption(new Option('--trustees <l>', 'number of trustees (1–64)').argParser(parseCount).makeOptionMandatory())
    .addOption(new Option('--threshold <k>', 'how many trustees are needed to decrypt (1–l)').argParser(parseCount).makeOptionMandatory())
    .addOption(new Option('--bits <n>', 'modulus size in bits').argParser(parseBits).default(3072))
    .requiredOption('--out <dir>', 'output directory (new or empty)')
    .option('--trustee-params <file>', "a trustee's parameters from `tallyboard trustee init` (repeat, one per trustee who made them)", collect)
    .option('--passphrase-file <file>', "a trustee's passphrase, for scripts (repeat: one per trustee, in trustee order); else asked on the terminal", collect)
    .action(action(async (opts: CeremonyCliOptions) => ceremony(opts)));
}
