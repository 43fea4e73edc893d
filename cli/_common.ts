/**
 * What every command shares: turning errors into a message and an exit code, reading a
 * passphrase without echoing it, and a progress bar that only draws on a terminal.
 *
 * Exit codes: 0 success; 1 a failed check or refused operation (an audit that fails, a receipt
 * that does not verify, a typed error from the catalog); 2 a usage error (commander's own).
 */
import { readFileSync } from 'node:fs';
import { isTallyError } from '../src/errors.js';

/** Run a command action; print a TallyError as `error CODE: message` and exit 1. */
export function action<A extends unknown[]>(f: (...args: A) => Promise<void | number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await f(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      if (isTallyError(e)) {
        process.stderr.write(`error ${e.code}: ${e.message}\n`);
        const details = e.details as { errors?: { line: number; message: string }[] } | undefined;
        for (const d of details?.errors?.slice(0, 50) ?? []) process.stderr.write(`  line ${d.line}: ${d.message}\n`);
      } else {
        process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      }
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

/** Ask on the terminal without echoing what is typed. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
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
          reject(new Error('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
export class Progress {
  private last = 0;
  private readonly tty = process.stderr.isTTY === true;
  constructor(private readonly label: string, private readonly total?: number) {}
  update(done: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100 && done !== this.total) return;
    this.last = now;
    const width = 30;
    const bar = this.total ? '#'.repeat(Math.round((width * Math.min(done, this.total)) / this.total)).padEnd(width, '.') : '';
    process.stderr.write(`\r${this.label} ${bar} ${done}${this.total ? `/${this.total}` : ''}`);
  }
  end(): void {
    if (this.tty) process.stderr.write('\n');
  }
}
