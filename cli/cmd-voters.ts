/**
 * `tallyboard voters import`: the voter register from a CSV file (src/org/csv-import.ts), into
 * the organization server's LevelDB register (DIR/register).
 *
 * All or nothing: a file with any error imports nothing, and EVERY error is printed with its
 * line number, so one pass over the file fixes it. Voters without a password in the file get a
 * generated one, written to a distribution file (default DIR/passwords.csv, mode 0600) — the
 * only copy, since the register keeps scrypt hashes. That is why an existing distribution file
 * is checked BEFORE importing: refusing afterwards would leave voters whose passwords nobody
 * has. The register is opened by one process at a time: stop the organization server first.
 */
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isTallyError, TallyError } from '../src/errors.js';
import { importVotersCsv, parseVoterCsv, CSV_LIMITS, type VoterCredential } from '../src/org/csv-import.js';
import { DEFAULT_SCRYPT_PARAMS, SCRYPT_BOUNDS } from '../src/org/password.js';
import { openLevelRegister } from '../src/org/register-level.js';
import { openPgRegister } from '../src/org/register-pg.js';
import { DATABASE_URL_ENV, isPostgresUrl, redactConnectionString } from '../src/node/pg-connect.js';
import { dataPaths, writeSecretFile } from '../src/node/data-dir.js';
import { action } from './_common.js';

interface ImportOptions {
  data: string;
  passwordsOut?: string;
  force?: boolean;
  scryptN?: number;
  /** SECRET (may hold a password): postgres:// URL of a shared register (spec/12-servers.md §12.6) */
  store?: string;
}

/** One CSV field, quoted (RFC 4180) when it holds a comma, a quote, a line break or edge spaces. */
function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The distribution file: `login,password,first_name,last_name,email,ref_salt`, one row per
 * imported voter, CRLF as RFC 4180 says. `password` is empty when the input file gave it;
 * `ref_salt` is the voter's reference salt (spec §7.5), with which they check on the board
 * whether a token was issued in their name. SECRET.
 */
export function passwordsCsv(credentials: readonly VoterCredential[]): string {
  const rows = [['login', 'password', 'first_name', 'last_name', 'email', 'ref_salt'], ...credentials.map((g) => [g.login, g.password ?? '', g.firstName, g.lastName, g.email, g.refSalt])];
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

async function importVoters(file: string, opts: ImportOptions): Promise<number> {
  const paths = dataPaths(opts.data);
  const passwordsOut = opts.passwordsOut ?? paths.passwords;
  if (!existsSync(file)) throw new TallyError('NOT_FOUND', `voter CSV not found at ${file}`);
  // Bounded before reading: importVotersCsv checks the size too, but only once it is in memory.
  if (statSync(file).size > CSV_LIMITS.maxBytes) throw new TallyError('TOO_LARGE', `${file}: more than ${CSV_LIMITS.maxBytes} bytes`);
  const input = readFileSync(file);
  // Passwords will be generated if a row has none: the distribution file must be writable first.
  // Every voter gets a reference salt (spec §7.5), so the file is always written.
  if (existsSync(passwordsOut) && !opts.force) {
    throw new TallyError('CONFLICT', `${passwordsOut} already exists (passwords of an earlier import?); distribute it first, then give --force, or choose --passwords-out`);
  }

  const dbUrl = opts.store ?? process.env[DATABASE_URL_ENV] ?? '';
  if (dbUrl !== '' && !isPostgresUrl(dbUrl)) throw new TallyError('MALFORMED', `--store / $${DATABASE_URL_ENV}: expected a postgres:// or postgresql:// URL`);
  const register = dbUrl !== '' ? await openPgRegister(dbUrl) : await openLevelRegister(paths.register);
  const where = dbUrl !== '' ? redactConnectionString(dbUrl) : paths.register;
  let result;
  try {
    const params = { ...DEFAULT_SCRYPT_PARAMS, ...(opts.scryptN !== undefined ? { N: opts.scryptN } : {}) };
    const rows = parseVoterCsv(input).rows.length;
    process.stderr.write(`voters import: checking and hashing the passwords of ${rows} ${rows === 1 ? 'voter' : 'voters'} (scrypt N = 2^${Math.log2(params.N)}, r = ${params.r}, p = ${params.p}): this takes a while for a large file\n`);
    // Progress (issue #9.10): voters hashed so far, at most one line every 5 s.
    const t0 = Date.now();
    let hashed = 0;
    const beat = setInterval(() => {
      const s = (Date.now() - t0) / 1000;
      process.stderr.write(`voters import: ${hashed}/${rows} hashed, ${s.toFixed(0)} s, ${(hashed / s).toFixed(1)} voters/s\n`);
    }, 5000);
    try {
      result = await importVotersCsv(register, input, {
        ...(opts.scryptN === undefined ? {} : { scrypt: { ...DEFAULT_SCRYPT_PARAMS, N: opts.scryptN } }),
        onProgress: (done) => void (hashed = done),
      });
    } finally {
      clearInterval(beat);
    }
    process.stderr.write(`voters import: ${result.imported} voters hashed and stored in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    if (!isTallyError(e, 'CSV_INVALID')) throw e;
    const d = e.details as { count: number; errors: { line: number; message: string }[] };
    process.stderr.write(`error CSV_INVALID: ${file}: ${d.count} error(s); nothing was imported\n`);
    for (const err of d.errors) process.stderr.write(`  line ${err.line}: ${err.message}\n`);
    if (d.count > d.errors.length) process.stderr.write(`  … and ${d.count - d.errors.length} more\n`);
    return 1;
  } finally {
    await register.close();
  }

  process.stdout.write(`imported ${result.imported} ${result.imported === 1 ? 'voter' : 'voters'} into ${where}\n`);
  if (opts.force && existsSync(passwordsOut)) unlinkSync(passwordsOut);
  writeSecretFile(passwordsOut, passwordsCsv(result.credentials));
  process.stdout.write(
    `${result.generated.length} generated ${result.generated.length === 1 ? 'password' : 'passwords'} and ${result.credentials.length} reference ${result.credentials.length === 1 ? 'salt' : 'salts'} written to ${passwordsOut} (mode 0600): give each voter their row, then delete the file\n`,
  );
  return 0;
}

function parseScryptN(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 2 || n > SCRYPT_BOUNDS.maxN || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError(`Expected a power of two in [2, ${SCRYPT_BOUNDS.maxN}]`);
  }
  return n;
}

/** Register `tallyboard voters import`. */
export function register(program: Command): void {
  const voters = program.command('voters').description('the voter register (organization server)');
  voters
    .command('import')
    .description('import voters from a CSV file (first_name,last_name,email,login[,password]); all or nothing')
    .argument('<file>', 'the CSV file')
    .requiredOption('--data <dir>', 'election data directory (register in DIR/register)')
    .option('--passwords-out <file>', 'where to write the generated passwords (default DIR/passwords.csv, mode 0600)')
    .option('--force', 'replace an existing passwords file')
    .option('--store <url>', `postgres://… : the register in PostgreSQL (else $${DATABASE_URL_ENV}, else LevelDB in --data)`)
    .addOption(new Option('--scrypt-n <n>', 'scrypt N of the password hashes (tests only)').argParser(parseScryptN).hideHelp())
    .action(action(async (file: string, opts: ImportOptions) => importVoters(file, opts)));
}
