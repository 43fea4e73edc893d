/**
 * What every command shares: the one error path (every failure prints `error CODE: message`
 * and exits 1), reading a secret without echoing it, and progress lines.
 *
 * Exit codes: 0 success; 1 any failure — a failed check or refused operation, a typed error
 * from the catalog, a usage error, a file or port the system refuses (README "Command line").
 *
 * Codes: those of the catalog (src/errors.ts) for the protocol's own failures, and a few that
 * only the command line has, for failures that come from the person or the machine rather than
 * the protocol (CLI_CODES).
 */
import { readFileSync } from 'node:fs';
import { isTallyError } from '../src/errors.js';

/** The command line's own codes, beyond the catalog. */
export const CLI_CODES = {
  USAGE: 'an option or argument is missing or malformed (the usage follows)',
  FILE_NOT_FOUND: 'a file or directory named on the command line does not exist',
  FILE_ACCESS: 'a file exists but cannot be read or written (permissions, a directory, …)',
  ADDRESS_IN_USE: 'the port is taken by another program',
  UNREACHABLE: 'a server cannot be reached at the URL given',
  CANCELLED: 'the person stopped the command at a prompt',
  FAILED: 'any other failure',
} as const;

/** An error in what the person typed: printed as `error USAGE: message`. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The person stopped at a prompt (Ctrl-C): printed as `error CANCELLED: …`. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
}

const notes = new WeakMap<object, string[]>();

/**
 * Attach a line to print under the error (e.g. where the data directory is), keeping the error.
 * @returns the same error (an Error wrapping it if it was not an object)
 */
export function withContext(e: unknown, note: string): unknown {
  const err = typeof e === 'object' && e !== null ? e : new Error(String(e));
  notes.set(err, [...(notes.get(err) ?? []), note]);
  return err;
}

/** A failure as the command line prints it. */
export interface CliFailure {
  readonly code: string;
  readonly message: string;
  /** further lines: per-line errors of a CSV, a hint what to do, context notes */
  readonly lines: readonly string[];
}

function errnoOf(e: unknown): NodeJS.ErrnoException | undefined {
  for (let x = e, depth = 0; typeof x === 'object' && x !== null && depth < 4; x = (x as { cause?: unknown }).cause, depth++) {
    if (typeof (x as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((x as NodeJS.ErrnoException).code!)) return x as NodeJS.ErrnoException;
  }
  return undefined;
}

/**
 * Turn any thrown value into a code, a message and further lines (the one error path).
 * @param e - what was thrown
 */
export function describeFailure(e: unknown): CliFailure {
  const extra = (typeof e === 'object' && e !== null ? notes.get(e) : undefined) ?? [];
  if (isTallyError(e)) {
    const details = e.details as { errors?: { line: number; message: string }[] } | undefined;
    const lines = (details?.errors?.slice(0, 50) ?? []).map((d) => `  line ${d.line}: ${d.message}`);
    return { code: e.code, message: e.message, lines: [...lines, ...extra] };
  }
  if (e instanceof UsageError) return { code: 'USAGE', message: e.message, lines: ['(tallyboard help COMMAND shows the options)', ...extra] };
  if (e instanceof CancelledError) return { code: 'CANCELLED', message: e.message, lines: extra };
  const errno = errnoOf(e);
  if (errno !== undefined) {
    const where = errno.path ?? (errno as { address?: string }).address ?? '';
    switch (errno.code) {
      case 'ENOENT':
        return { code: 'FILE_NOT_FOUND', message: `no such file or directory: ${where}`, lines: extra };
      case 'EACCES':
      case 'EPERM':
      case 'EISDIR':
      case 'ENOTDIR':
      case 'EROFS':
        return { code: 'FILE_ACCESS', message: `${errno.code === 'EISDIR' ? 'a directory, not a file' : errno.code === 'ENOTDIR' ? 'a path goes through a file, not a directory' : 'permission denied'}: ${where}`, lines: extra };
      case 'EADDRINUSE': {
        const port = (errno as { port?: number }).port;
        return {
          code: 'ADDRESS_IN_USE',
          message: `port ${port ?? '?'} on ${where || 'this host'} is already in use by another program`,
          lines: [`choose another port with --port P (--port 0 picks a free one), or stop the program using port ${port ?? '?'}`, ...extra],
        };
      }
      case 'EADDRNOTAVAIL':
        return { code: 'FILE_ACCESS', message: `cannot listen on ${where}: no such address on this machine (--host)`, lines: extra };
      case 'ECONNREFUSED':
      case 'ENOTFOUND':
      case 'EHOSTUNREACH':
      case 'ECONNRESET':
      case 'ETIMEDOUT':
        return { code: 'UNREACHABLE', message: `cannot reach ${where || 'the server'}: ${errno.code === 'ECONNREFUSED' ? 'connection refused (is the server running, and is the port right?)' : errno.code === 'ENOTFOUND' ? 'no such host' : errno.code}`, lines: extra };
      default:
        break;
    }
  }
  return { code: 'FAILED', message: e instanceof Error ? e.message : String(e), lines: extra };
}

/** Print a failure on stderr in the one format. */
export function printFailure(e: unknown): void {
  const f = describeFailure(e);
  process.stderr.write(`error ${f.code}: ${f.message}\n`);
  for (const l of f.lines) process.stderr.write(`${l}\n`);
}

/** Run a command action; print any failure as `error CODE: message` and exit 1. */
export function action<A extends unknown[]>(f: (...args: A) => Promise<void | number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await f(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      printFailure(e);
      process.exitCode = 1;
    }
  };
}

/**
 * A secret typed by a person or given by a file or the environment, in that order of
 * preference: `--*-file F`, then the environment variable, then a hidden prompt on a terminal.
 * @throws Error if none is available (no terminal to ask on)
 */
export async function readSecret(opts: { file?: string | undefined; env: string; prompt: string }): Promise<string> {
  if (opts.file) return readFileSync(opts.file, 'utf8').replace(/\r?\n$/, '');
  const fromEnv = process.env[opts.env];
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) throw new Error(`no ${opts.prompt.toLowerCase()}: give a file or set ${opts.env}`);
  return promptHidden(`${opts.prompt}: `);
}

/**
 * Stop the terminal from echoing what is typed from now on, until the process exits (issue
 * #9.14): a person who starts typing a passphrase before its prompt appears (the process is
 * still loading) would otherwise see it in clear, and leave it in the scrollback. Call it first
 * thing in a command that will ask for a secret; promptHidden keeps the terminal in this state.
 * What is typed before the process starts is echoed by the terminal itself; nothing here can
 * prevent that. No effect when stdin is not a terminal.
 * @returns release: echo on again (Ctrl-C works again); call it once the secrets are read
 */
export function holdEcho(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY || stdin.isRaw) return () => undefined;
  stdin.setRawMode(true);
  const release = (): void => {
    if (stdin.isTTY && stdin.isRaw) stdin.setRawMode(false);
  };
  process.once('exit', release);
  return release;
}

/** Ask on the terminal without echoing what is typed (the terminal's mode is restored after). */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    const wasRaw = stdin.isRaw === true;
    process.stderr.write(question);
    stdin.setRawMode?.(true);
    stdin.resume();
    let value = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new CancelledError('stopped at the prompt (Ctrl-C)'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

/**
 * Progress of a long step on stderr (issue #9.10): on a terminal a bar redrawn at most ten times
 * a second, with the rate; elsewhere (a log, a script) a line at most every LINE_EVERY_MS, so
 * nothing that lasts is silent. `end()` prints the total and the rate once.
 */
export class Progress {
  private lastDraw = 0;
  private lastLine: number;
  private done = 0;
  private readonly t0 = Date.now();
  private readonly tty = process.stderr.isTTY === true;
  static readonly LINE_EVERY_MS = 5000;
  /**
   * @param label - what is counted, e.g. "ballots verified"
   * @param total - how many there are, when known
   */
  constructor(private readonly label: string, private total?: number) {
    this.lastLine = this.t0;
  }
  /** @param done - how many so far; @param total - the total, if it became known */
  update(done: number, total?: number): void {
    this.done = done;
    if (total !== undefined) this.total = total;
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDraw < 100 && done !== this.total) return;
      this.lastDraw = now;
      const width = 30;
      const bar = this.total ? `${'#'.repeat(Math.round((width * Math.min(done, this.total)) / this.total)).padEnd(width, '.')} ` : '';
      process.stderr.write(`\r${this.label}: ${bar}${this.counts()}\x1b[K`);
    } else if (now - this.lastLine >= Progress.LINE_EVERY_MS) {
      this.lastLine = now;
      process.stderr.write(`${this.label}: ${this.counts()}\n`);
    }
  }
  private counts(): string {
    const s = (Date.now() - this.t0) / 1000;
    const rate = s > 0.5 ? `, ${(this.done / s).toFixed(this.done / s < 10 ? 1 : 0)}/s` : '';
    return `${this.done}${this.total !== undefined ? `/${this.total}` : ''} (${s.toFixed(0)} s${rate})`;
  }
  /** Finish: on a terminal, end the bar's line; the total is printed either way. */
  end(): void {
    if (this.tty) process.stderr.write(`\r${this.label}: ${this.counts()}\x1b[K\n`);
    else if (Date.now() - this.t0 >= 1000) process.stderr.write(`${this.label}: ${this.counts()}\n`);
  }
}

/** "1 entry", "2 entries": a count with its noun in the right number. */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
