/**
 * `tallyboard trustee …`: what a trustee runs (spec/13-trustees.md, README "Trustees").
 *
 *   trustee init     before the ceremony: the trustee's own ring-Pedersen parameters with Π^prm
 *                    (a public file handed to `ceremony --trustee-params`), so that the dealer's
 *                    no-small-factor proof is checked against parameters the dealer did not make.
 *   trustee decrypt  after the close: verify the board (audit steps 1–8, the encrypted tally is
 *                    the trustee's own product), then post this trustee's partial decryption.
 *   trustee serve    the same without anyone at the keyboard: waits for the end time, polls the
 *                    public board, decrypts once and exits — so the result is published when the
 *                    election ends without an administrator.
 *
 * A trustee never decrypts twice: what it decrypted and posted is journaled in a state directory
 * (default: next to the share file) BEFORE it posts, and afterwards only re-posted (spec §8.5).
 * The passphrase is read as for `keygen` (file, environment, or hidden prompt) and never printed.
 */
import { existsSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TallyError } from '../src/errors.js';
import { ENV, writePublicFile } from '../src/node/data-dir.js';
import { FileTallyJournal } from '../src/verifier/tally-journal-file.js';
import { generateTrusteeParams, describeTrusteeParams } from '../src/trustee/trustee-params.js';
import { httpTrusteeBoard } from '../src/trustee/trustee-board.js';
import { TrusteeService, type TrusteeOutcome } from '../src/trustee/trustee-service.js';
import { openShareFile } from '../src/trustee/share-decryptor.js';
import { formatLocalTime } from '../src/client/local-time.js';
import { action, holdEcho, readSecret } from './_common.js';

interface InitOptions {
  out: string;
  name: string;
  bits: number;
}

interface DecryptOptions {
  share: string;
  server: string;
  state?: string;
  fingerprint?: string;
  passphraseFile?: string;
  timeout: number;
  workers: number;
}

interface ServeOptions extends DecryptOptions {
  pollSeconds: number;
}

function parseInteger(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}`);
    return n;
  };
}

function parseBits(v: string): number {
  if (v !== '2048' && v !== '3072' && v !== '4096') throw new InvalidArgumentError('Expected 2048, 3072 or 4096');
  return Number(v);
}

function parseFingerprint(v: string): string {
  if (!/^[0-9a-f]{64}$/.test(v)) throw new InvalidArgumentError('Expected 64 lowercase hex digits (the fingerprint `election create` printed)');
  return v;
}

async function init(opts: InitOptions): Promise<void> {
  if (existsSync(opts.out)) throw new TallyError('CONFLICT', `${opts.out} already exists; refusing to overwrite`);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  log(`generating ring-Pedersen parameters (${opts.bits} bits: two safe primes, usually tens of seconds each)`);
  const t0 = Date.now();
  const f = await generateTrusteeParams(opts.bits, opts.name, {
    onProgress: (p) => log(`  safe prime ${p.prime} (${p.bits} bits): ${p.state === 'searching' ? 'searching…' : `found (${((Date.now() - t0) / 1000).toFixed(0)} s)`}`),
  });
  writePublicFile(opts.out, `${JSON.stringify(f, null, 2)}\n`);
  process.stdout.write(
    `${describeTrusteeParams(f)}\n` +
      `  written to ${opts.out} (public: it holds no secret; the primes were never stored)\n` +
      `  bring it to the ceremony: tallyboard ceremony --trustee-params ${opts.out} …\n`,
  );
}

/** The journal directory: --state, else `<share file>.journal` beside it. */
function stateDir(opts: DecryptOptions): string {
  return resolve(opts.state ?? join(dirname(opts.share), `${basename(opts.share)}.journal`));
}

async function service(opts: DecryptOptions, pollMs?: number): Promise<{ svc: TrusteeService; describe: string; state: string }> {
  const release = holdEcho();
  const passphrase = await readSecret({ file: opts.passphraseFile, env: ENV.passphrase, prompt: 'Passphrase of the share file' });
  release();
  const share = await openShareFile(opts.share, passphrase);
  const state = stateDir(opts);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  let lastEntries = 0;
  const svc = new TrusteeService({
    decryptor: share.decryptor,
    board: httpTrusteeBoard({ baseUrl: opts.server, timeoutMs: opts.timeout * 1000 }),
    journal: new FileTallyJournal(state),
    workers: opts.workers,
    ...(pollMs !== undefined ? { pollMs } : {}),
    ...(opts.fingerprint !== undefined ? { fingerprint: opts.fingerprint } : {}),
    onProgress: (n) => {
      if (n - lastEntries >= 1000) {
        lastEntries = n;
        log(`  verifying the board: ${n} entries`);
      }
    },
    logger: {
      info: (_o, msg) => log(`  ${msg}`),
      warn: (o, msg) => log(`  ${msg}${(o.err as { message?: string } | undefined)?.message ? `: ${(o.err as { message: string }).message}` : ''}`),
      error: (_o, msg) => log(`  ${msg}`),
    },
  });
  return { svc, describe: share.describe, state };
}

/**
 * Print an outcome for a person.
 * @returns the exit code: 0 when this trustee's part is done (posted, or the result is out)
 * @throws TallyError BOARD_INVALID for a refused board (exit 1, the reasons listed)
 */
function report(o: TrusteeOutcome, svc: TrusteeService): number {
  const out = (l: string) => process.stdout.write(`${l}\n`);
  switch (o.outcome) {
    case 'posted':
      out(o.existing ? `this trustee's partial decryption is already on the board (entry ${o.height}); nothing new was decrypted` : `partial decryption posted: entry ${o.height} (${o.ballotsCounted} ballots in the tally)`);
      return 0;
    case 'already-tallied':
      out('the result is already published: nothing to decrypt (enough trustees decrypted)');
      return 0;
    case 'not-closed': {
      const end = svc.election?.manifest.schedule.end;
      out(`the election is ${o.phase}${end ? ` until ${formatLocalTime(end)}` : ''}: nothing was decrypted. Run this again after the close, or leave \`tallyboard trustee serve\` running.`);
      return 1;
    }
    case 'waiting':
      out('the election is closed, but the verification server has not posted the encrypted tally yet: nothing was decrypted. Run this again shortly, or use `tallyboard trustee serve`.');
      return 1;
    case 'refused': {
      process.stderr.write('REFUSED: this trustee does not decrypt this board. Nothing was decrypted or posted.\n');
      for (const f of o.failures) process.stderr.write(`  ${f.check}${f.height !== undefined ? ` at entry ${f.height}` : ''}: ${f.reason}\n`);
      throw new TallyError('BOARD_INVALID', 'the board fails verification or contradicts what this trustee saw before; report it to the election officials');
    }
  }
}

async function decrypt(opts: DecryptOptions): Promise<number> {
  const { svc, describe, state } = await service(opts);
  process.stderr.write(`${describe}\n  journal: ${state}\n  board: ${opts.server}\n`);
  return report(await svc.decryptOnce(), svc);
}

async function serve(opts: ServeOptions): Promise<number> {
  const { svc, describe, state } = await service(opts, opts.pollSeconds * 1000);
  process.stderr.write(`${describe}\n  journal: ${state}\n  board: ${opts.server}\n  waiting for the close; this trustee decrypts once, then exits (Ctrl-C stops it)\n`);
  const stop = () => void svc.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return report(await svc.run(), svc);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function decryptOptions(c: Command): Command {
  return c
    .requiredOption('--share <file>', "this trustee's share file (from `tallyboard ceremony`)")
    .requiredOption('--server <url>', 'the ballot server, e.g. https://vote.example.org')
    .option('--state <dir>', "this trustee's journal (what it saw and decrypted; keep it: default <share>.journal beside the share file)")
    .addOption(new Option('--fingerprint <hex>', "the election's fingerprint, to refuse any other election").argParser(parseFingerprint))
    .option('--passphrase-file <file>', `file holding the share file's passphrase (else $${ENV.passphrase}, else asked)`)
    .addOption(new Option('--timeout <s>', 'network timeout in seconds (it measures the network only, never the verification)').argParser(parseInteger(1, 600)).default(30))
    .addOption(new Option('--workers <n>', 'worker threads verifying ballots').argParser(parseInteger(0, 256)).default(0));
}

/** Register `tallyboard trustee`. */
export function register(program: Command): void {
  const trustee = program.command('trustee').description("a trustee's commands: parameters before the ceremony, decryption after the close");
  trustee
    .command('init')
    .description("generate this trustee's ring-Pedersen parameters (public) for the ceremony's no-small-factor proof")
    .requiredOption('--out <file>', 'where to write the parameters (public JSON)')
    .requiredOption('--name <name>', "the trustee's name or role, as the ceremony will list it")
    .addOption(new Option('--bits <n>', 'size of N̂').argParser(parseBits).default(2048))
    .action(action(async (opts: InitOptions) => init(opts)));
  decryptOptions(trustee.command('decrypt').description("verify the closed election's board and post this trustee's partial decryption")).action(
    action(async (opts: DecryptOptions) => decrypt(opts)),
  );
  decryptOptions(trustee.command('serve').description('wait for the end of the election, then verify and decrypt automatically (once)'))
    .addOption(new Option('--poll-seconds <s>', 'how often the board is polled').argParser(parseInteger(1, 3600)).default(10))
    .action(action(async (opts: ServeOptions) => serve(opts)));
}
