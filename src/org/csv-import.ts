/**
 * Import of the voter register from a CSV file: all or nothing, with every error reported.
 *
 * Format: UTF-8 (an optional byte-order mark is ignored), RFC 4180 quoting, CRLF or LF line
 * ends, and a header that is exactly
 *
 *     first_name,last_name,email,login            or
 *     first_name,last_name,email,login,password
 *
 * Why all or nothing: a register half-imported from a file with a typo would give some voters
 * accounts and not others, and a second run would then fail on the duplicates. So the whole
 * file is checked first and EVERY problem (bad header, wrong column count, empty field,
 * invalid e-mail/login/name, too-short password, duplicate login within the file or with an
 * existing voter, malformed quoting, invalid UTF-8) is collected with its line number; if there
 * is any, nothing is written and one CSV_INVALID error lists them all. Otherwise the voters are
 * added in one atomic batch (`RegisterStore.addVoters`).
 *
 * Passwords: a password in the file must have at least 10 characters. A voter without one (no
 * password column, or an empty cell) gets a generated one (password.ts, 100 bits), returned
 * in the result so that the caller (a CLI) can write the distribution file; it is stored only
 * as its scrypt hash. Hashing runs after all checks, since at production cost it takes about
 * 0.1 s per voter; it runs in parallel on the thread pool and reports progress (`onProgress`).
 *
 * Sizes are bounded before any decoding: 50 MB and 1 000 000 lines by default.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { TallyError } from '../errors.js';
import { parseCsv } from './_csv-parse.js';
import { generatePassword as defaultGeneratePassword, hashPassword, normalizePassword, PASSWORD_LIMITS, type ScryptParams } from './password.js';
import type { RegisterStore } from './register-store.js';
import { aEmail, aLogin, aName, type Voter } from './voter.js';

/** Size limits of an import. */
export const CSV_LIMITS = {
  maxBytes: 50 * 1024 * 1024,
  /** physical lines, header included */
  maxLines: 1_000_000,
  /** errors listed in the CSV_INVALID details (the count is always exact) */
  maxReportedErrors: 10_000,
} as const;

/**
 * Hashes run at once by default: one per thread of libuv's pool (UV_THREADPOOL_SIZE, default
 * 4), at most one per CPU.
 */
export function defaultHashParallelism(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  return Math.max(1, Math.min(Number.isSafeInteger(pool) && pool > 0 ? pool : 4, availableParallelism()));
}

/** The required header, without and with the password column. */
export const CSV_HEADER = 'first_name,last_name,email,login';
export const CSV_HEADER_WITH_PASSWORD = 'first_name,last_name,email,login,password';

/** A problem with one line of the file (line 1 is the header). */
export interface CsvLineError {
  readonly line: number;
  readonly message: string;
}

/** A checked data row. `password` is absent when one must be generated. */
export interface CsvVoterRow {
  readonly line: number;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string;
  readonly login: string;
  readonly password?: string;
}

/** A generated password to distribute, with the voter's reference salt. SECRET. */
export interface GeneratedCredential {
  readonly login: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string;
  readonly password: string;
  /** the voter's reference salt, 64 hex digits (spec §7.5) */
  readonly refSalt: string;
}

/**
 * What each voter is given (spec §7.5): the password when it was generated, and always the
 * reference salt, from which the voter computes their public register reference. CONFIDENTIAL:
 * the salt links the voter's reference to their login.
 */
export interface VoterCredential {
  readonly login: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string;
  /** the generated password; absent when the file gave one */
  readonly password?: string;
  readonly refSalt: string;
}

/** Result of a successful import. */
export interface CsvImportResult {
  /** number of voters added */
  readonly imported: number;
  /** generated passwords, in file order (SECRET: write to the distribution file, then drop) */
  readonly generated: GeneratedCredential[];
  /** every voter's credential (reference salt, and password if generated), in file order (CONFIDENTIAL) */
  readonly credentials: VoterCredential[];
}

/** Options of parseVoterCsv and importVotersCsv. */
export interface CsvImportOptions {
  /** scrypt parameters for the new hashes (default: production; tests pass a small N) */
  readonly scrypt?: ScryptParams;
  /** byte limit, at most CSV_LIMITS.maxBytes */
  readonly maxBytes?: number;
  /** line limit (header included), at most CSV_LIMITS.maxLines */
  readonly maxLines?: number;
  /** password generator (tests); default password.ts generatePassword */
  readonly generatePassword?: () => string;
  /** hashes computed at once, 1–64 (default {@link defaultHashParallelism}) */
  readonly parallel?: number;
  /** called after each password is hashed, with the count done and the total */
  readonly onProgress?: (done: number, total: number) => void;
}

function limit(x: number | undefined, max: number, field: string): number {
  const v = x ?? max;
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new TallyError('OUT_OF_RANGE', `${field}: expected an integer in [1, ${max}], got ${v}`);
  return v;
}

/** Bytes → text, bounding size and line count first. @throws TallyError TOO_LARGE */
function decode(input: Uint8Array | string, maxBytes: number, maxLines: number): { text: string } | { error: CsvLineError } {
  if (typeof input === 'string') {
    // UTF-8 needs at least one byte per UTF-16 unit: this bounds the allocation.
    if (input.length > maxBytes) throw new TallyError('TOO_LARGE', `voter CSV: more than ${maxBytes} bytes`);
    const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
    let lines = 1;
    for (let k = text.indexOf('\n'); k !== -1; k = text.indexOf('\n', k + 1)) lines++;
    if (lines > maxLines) throw new TallyError('TOO_LARGE', `voter CSV: more than ${maxLines} lines`);
    if (!text.isWellFormed()) return { error: { line: 1, message: 'the text is not well-formed Unicode' } };
    return { text };
  }
  if (!(input instanceof Uint8Array)) throw new TallyError('MALFORMED', 'voter CSV: expected bytes or a string');
  if (input.length > maxBytes) throw new TallyError('TOO_LARGE', `voter CSV: ${input.length} bytes exceeds the limit of ${maxBytes}`);
  let lines = 1;
  for (let k = input.indexOf(0x0a); k !== -1; k = input.indexOf(0x0a, k + 1)) lines++;
  if (lines > maxLines) throw new TallyError('TOO_LARGE', `voter CSV: ${lines} lines exceeds the limit of ${maxLines}`);
  try {
    // fatal: invalid UTF-8 is an error, not U+FFFD; the decoder drops a leading BOM.
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(input) };
  } catch {
    const loose = new TextDecoder('utf-8').decode(input);
    const at = loose.indexOf('\uFFFD');
    const line = at === -1 ? 1 : loose.slice(0, at).split('\n').length;
    return { error: { line, message: 'invalid UTF-8 (the file must be saved as UTF-8)' } };
  }
}

/** Run a field checker; on failure record its message for `line`. */
function check<T>(errors: CsvLineError[], line: number, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    errors.push({ line, message: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/**
 * Read and check a voter CSV file without touching any register (no duplicate check against
 * existing voters: importVotersCsv adds that).
 * @param input - the file's bytes (or text)
 * @param options - size limits
 * @returns the checked rows and every error found, in line order
 * @throws TallyError TOO_LARGE beyond the byte or line limit (checked before decoding)
 */
export function parseVoterCsv(input: Uint8Array | string, options: CsvImportOptions = {}): { rows: CsvVoterRow[]; errors: CsvLineError[] } {
  const maxBytes = limit(options.maxBytes, CSV_LIMITS.maxBytes, 'maxBytes');
  const maxLines = limit(options.maxLines, CSV_LIMITS.maxLines, 'maxLines');
  const decoded = decode(input, maxBytes, maxLines);
  if ('error' in decoded) return { rows: [], errors: [decoded.error] };

  const { records, errors: syntax } = parseCsv(decoded.text, 64);
  const errors: CsvLineError[] = [...syntax];
  const first = records[0];
  if (first === undefined || first.line !== 1) {
    // Either no records at all, or line 1 itself was malformed (already in `syntax`) or empty.
    if (!syntax.some((e) => e.line === 1)) errors.unshift({ line: 1, message: `missing header: expected ${CSV_HEADER}[,password]` });
    return { rows: [], errors };
  }
  const header = first.fields.join(',');
  if (header !== CSV_HEADER && header !== CSV_HEADER_WITH_PASSWORD) {
    errors.unshift({ line: 1, message: `bad header ${JSON.stringify(header.slice(0, 200))}: expected exactly ${CSV_HEADER} or ${CSV_HEADER_WITH_PASSWORD}` });
    return { rows: [], errors };
  }
  const columns = first.fields.length;

  const rows: CsvVoterRow[] = [];
  const firstSeen = new Map<string, number>();
  for (const { line, fields } of records.slice(1)) {
    if (fields.length !== columns) {
      errors.push({ line, message: `expected ${columns} fields, got ${fields.length}` });
      continue;
    }
    const before = errors.length;
    const [fn, ln, em, lg, pw] = fields as [string, string, string, string, string | undefined];
    const empties = (['first_name', 'last_name', 'email', 'login'] as const).filter((_, k) => fields[k] === '');
    for (const col of empties) errors.push({ line, message: `${col}: empty field` });
    const firstName = fn === '' ? undefined : check(errors, line, () => aName(fn, 'first_name'));
    const lastName = ln === '' ? undefined : check(errors, line, () => aName(ln, 'last_name'));
    const email = em === '' ? undefined : check(errors, line, () => aEmail(em, 'email'));
    const login = lg === '' ? undefined : check(errors, line, () => aLogin(lg, 'login'));
    const password = pw === undefined || pw === '' ? undefined : check(errors, line, () => normalizePassword(pw, PASSWORD_LIMITS.minLength));
    if (login !== undefined) {
      const seen = firstSeen.get(login);
      if (seen !== undefined) errors.push({ line, message: `login ${JSON.stringify(login)} already appears on line ${seen}` });
      else firstSeen.set(login, line);
    }
    if (errors.length === before && firstName !== undefined && lastName !== undefined && email !== undefined && login !== undefined) {
      rows.push(password === undefined ? { line, firstName, lastName, email, login } : { line, firstName, lastName, email, login, password });
    }
  }
  errors.sort((a, b) => a.line - b.line);
  return { rows, errors };
}

function invalid(errors: CsvLineError[]): TallyError {
  const shown = errors.slice(0, CSV_LIMITS.maxReportedErrors);
  const preview = errors.slice(0, 3).map((e) => `line ${e.line}: ${e.message}`).join('; ');
  return new TallyError('CSV_INVALID', `voter CSV: ${errors.length} error(s), nothing was imported: ${preview}${errors.length > 3 ? '; …' : ''}`, {
    details: { count: errors.length, errors: shown },
  });
}

/**
 * Import voters from a CSV file into the register, all or nothing.
 * @param store - the register
 * @param input - the file's bytes (or text)
 * @param options - scrypt parameters, limits, password generator
 * @returns the number imported and the generated passwords (SECRET)
 * @throws TallyError CSV_INVALID listing every error with its line (details.errors, details.count);
 *   nothing is written
 * @throws TallyError TOO_LARGE beyond the byte or line limit
 * @throws TallyError CONFLICT if another import added one of the logins meanwhile (nothing written)
 */
export async function importVotersCsv(store: RegisterStore, input: Uint8Array | string, options: CsvImportOptions = {}): Promise<CsvImportResult> {
  const { rows, errors } = parseVoterCsv(input, options);
  // Duplicates with the register, for the rows that are otherwise valid.
  if (rows.length > 0) {
    const existing = await store.existingLogins(rows.map((r) => r.login));
    for (const r of rows) if (existing.has(r.login)) errors.push({ line: r.line, message: `login ${JSON.stringify(r.login)} is already registered` });
  }
  if (errors.length > 0) {
    errors.sort((a, b) => a.line - b.line);
    throw invalid(errors);
  }
  if (rows.length === 0) throw invalid([{ line: 2, message: 'no voters: the file has a header but no data rows' }]);

  const gen = options.generatePassword ?? defaultGeneratePassword;
  const salts = rows.map(() => randomBytes(32).toString('hex'));
  const hashOptions = options.scrypt === undefined ? {} : { params: options.scrypt };
  const generated: GeneratedCredential[] = [];
  const credentials: VoterCredential[] = [];
  const passwords = rows.map((r, i) => {
    const who = { login: r.login, firstName: r.firstName, lastName: r.lastName, email: r.email };
    if (r.password !== undefined) {
      credentials.push({ ...who, refSalt: salts[i]! });
      return r.password;
    }
    const password = gen();
    generated.push({ ...who, password, refSalt: salts[i]! });
    credentials.push({ ...who, password, refSalt: salts[i]! });
    return password;
  });
  // Hash in parallel on the thread pool (issue 9.9): `parallel` hashes at a time, so memory
  // stays at parallel × 128·N·r bytes whatever the file's size; results keep the file's order.
  const parallel = options.parallel ?? defaultHashParallelism();
  if (!Number.isSafeInteger(parallel) || parallel < 1 || parallel > 64) throw new TallyError('OUT_OF_RANGE', `parallel: expected an integer in [1, 64], got ${String(parallel)}`);
  const hashes: string[] = new Array<string>(rows.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length) {
      const i = next++;
      hashes[i] = await hashPassword(passwords[i]!, hashOptions);
      done++;
      options.onProgress?.(done, rows.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, rows.length) }, worker));
  const voters: Voter[] = rows.map((r, i) => ({ login: r.login, firstName: r.firstName, lastName: r.lastName, email: r.email, passwordHash: hashes[i]!, refSalt: salts[i]! }));
  await store.addVoters(voters);
  return { imported: voters.length, generated, credentials };
}
