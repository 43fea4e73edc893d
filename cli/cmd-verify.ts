/**
 * `tallyboard verify --board URL|FILE [--json REPORT] [--workers N]`: the auditor. Runs the ten
 * verification steps of spec/10-verification.md over a whole board and prints one line per
 * step, the first failures, the results and a verdict. Exit code 0 if and only if every step
 * passes (1 otherwise, and for errors such as an unreachable server).
 *
 * Where the board comes from:
 * - FILE, a board export (`board.jsonl`): streamed; the revote pass re-reads the file.
 * - URL, the base URL of a ballot server: `GET {URL}/api/board/export`, streamed through the
 *   audit AND into a private temporary file at the same time. A board with revotes needs a
 *   second pass over the ballots it replaced (auditor/audit.ts); it re-reads that temporary
 *   file instead of downloading again, so the server is asked once, memory stays bounded, and
 *   both passes read the very same bytes (audit re-checks the second read's chain against the
 *   first anyway). The file is deleted at the end, whatever the outcome.
 *
 * Ballots are verified by a pool of worker threads (auditor/workers.ts), one per CPU by default,
 * in batches (spec §5.7); `--no-batch` checks every proof alone (the reference mode, same
 * reports); `--workers 0` verifies in this thread (in batches too, unless `--no-batch`).
 *
 * `--fingerprint HEX` anchors the audit to the election the auditor expects (issue #10.7): a
 * whole substitute election — other keys, other ballots, all consistent — verifies on its own,
 * so without an anchor an audit only says "this board is self-consistent". The fingerprint is
 * the one voters see on their receipts and on the pages; a board whose setup has another one
 * fails, whatever the steps say. Without the flag the fingerprint is printed with a reminder to
 * compare it.
 *
 * Progress (issue #9.10): entries read out of the board's size (the final checkpoint's tree size
 * for a file, the server's board size for a URL), with the rate.
 */
import { closeSync, createReadStream, createWriteStream, existsSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { audit, type AuditOptions, type AuditReport, type BoardRecord } from '../auditor/audit.js';
import { boardRecords, fileRecords } from '../auditor/source.js';
import { formatReport, reportToJson } from '../auditor/report.js';
import { BallotVerifierPool, MAX_WORKERS, defaultWorkerCount } from '../auditor/workers.js';
import { InlineBatchVerifier } from '../auditor/inline-batch.js';
import { TallyError } from '../src/errors.js';
import { action, plural, Progress, UsageError } from './_common.js';
import { verifySince, type SinceResult } from '../src/monitor/since.js';
import { alarmLine } from '../src/monitor/alarm.js';
import { boardDownload, httpGet, isUrl, serverBase } from './_http.js';

interface VerifyOptions {
  board: string;
  json?: string;
  workers?: number;
  /** false with --no-batch */
  batch: boolean;
  fingerprint?: string;
  /** a saved state (spec §10.7): verify only what the file adds to it */
  since?: string;
  /** save the state after the file's entries */
  save?: string;
}

function parseFingerprint(v: string): string {
  const x = v.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(x)) throw new InvalidArgumentError('expected the election fingerprint: 64 hexadecimal digits (as on a receipt or the board page)');
  return x;
}

/** The board's size from a file's last line (its final checkpoint), if it can be read cheaply. */
function fileSize(path: string): number | undefined {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      const last = buf.toString('utf8').trimEnd().split('\n').pop() ?? '';
      const n = (JSON.parse(last) as { treeSize?: unknown }).treeSize;
      return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined; // only a progress total: the audit itself reports a bad file
  }
}

/** The board's size now and the election's phase, from the server (for the progress total). */
async function serverStatus(url: string): Promise<{ size?: number; phase?: string }> {
  try {
    const r = (await (await httpGet(`${serverBase(url)}/api/election`, 'election')).json()) as { status?: { boardSize?: unknown; phase?: unknown } };
    return {
      ...(typeof r.status?.boardSize === 'number' ? { size: r.status.boardSize } : {}),
      ...(typeof r.status?.phase === 'string' ? { phase: r.status.phase } : {}),
    };
  } catch {
    return {}; // the download itself reports an unreachable server
  }
}

/** Option titles by question and option id, from the setup entry as it streams past (for the results table). */
function namesTap(names: Map<string, { title: string; options: Map<string, string> }>) {
  return (rec: BoardRecord): void => {
    if (rec.kind !== 'entry' || rec.entry.type !== 'setup' || names.size > 0) return;
    const qs = (rec.entry.payload as { manifest?: { questions?: unknown } } | null)?.manifest?.questions;
    if (!Array.isArray(qs)) return;
    for (const q of qs as { id?: unknown; title?: unknown; options?: { id?: unknown; title?: unknown }[] }[]) {
      if (typeof q?.id !== 'string' || !Array.isArray(q.options)) continue;
      const options = new Map<string, string>();
      for (const o of q.options) if (typeof o?.id === 'string' && typeof o.title === 'string') options.set(o.id, o.title);
      names.set(q.id, { title: typeof q.title === 'string' ? q.title : q.id, options });
    }
  };
}

async function* tee(src: AsyncIterable<BoardRecord>, tap: (rec: BoardRecord) => void): AsyncGenerator<BoardRecord, void, undefined> {
  for await (const rec of src) {
    tap(rec);
    yield rec;
  }
}

function parseWorkers(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > MAX_WORKERS) throw new InvalidArgumentError(`a whole number from 0 to ${MAX_WORKERS}`);
  return n;
}

/** The records of the board, and how to read them again, plus cleanup. */
interface BoardSource {
  readonly first: AsyncIterable<BoardRecord>;
  readonly reopen: () => AsyncIterable<BoardRecord>;
  readonly cleanup: () => void;
}

function fileSource(path: string): BoardSource {
  if (!existsSync(path)) throw new TallyError('NOT_FOUND', `no board file at ${path}`);
  const open = fileRecords(path);
  return { first: open(), reopen: open, cleanup: () => undefined };
}

/**
 * The download, teed into a temporary file as the audit reads it; the second read is that file,
 * once it is completely written and closed.
 */
function urlSource(url: string): BoardSource {
  const base = serverBase(url);
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-verify-'));
  const file = join(dir, 'board.jsonl');
  const out = createWriteStream(file, { mode: 0o600 });
  const written = finished(out);
  written.catch(() => undefined); // awaited by reopen; a failure surfaces there
  const tee = async function* (): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      for await (const chunk of boardDownload(base)) {
        if (!out.write(chunk)) await once(out, 'drain');
        yield chunk;
      }
    } finally {
      out.end();
    }
  };
  return {
    first: boardRecords(tee()),
    reopen: () =>
      (async function* (): AsyncGenerator<BoardRecord, void, undefined> {
        await written;
        yield* boardRecords(createReadStream(file));
      })(),
    cleanup: () => {
      out.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function verify(opts: VerifyOptions): Promise<number> {
  const workers = opts.workers ?? defaultWorkerCount();
  const fromUrl = isUrl(opts.board);
  if (opts.since !== undefined || opts.save !== undefined) {
    if (fromUrl) throw new UsageError('--since and --save read a board FILE; to follow a live board use `tallyboard monitor --board URL --state DIR`');
    return verifyIncremental(opts, workers);
  }
  const local = fromUrl ? undefined : fileSize(opts.board);
  const status: { size?: number; phase?: string } = fromUrl ? await serverStatus(opts.board) : local !== undefined ? { size: local } : {};
  const src = fromUrl ? urlSource(opts.board) : fileSource(opts.board);
  const names = new Map<string, { title: string; options: Map<string, string> }>();
  process.stderr.write(`verifying ${fromUrl ? 'the board of' : 'the board file'} ${opts.board}${status.size !== undefined ? ` (${plural(status.size, 'entry', 'entries')})` : ''} with ${workers === 0 ? 'this thread' : plural(workers, 'worker thread', 'worker threads')}…\n`);
  const progress = new Progress('verifying: entries read', status.size);
  const started = performance.now();
  let pool: BallotVerifierPool | undefined;
  let report: AuditReport;
  try {
    if (workers > 0) pool = new BallotVerifierPool({ workers, ...(opts.batch ? {} : { batch: 1 }) });
    const inline = workers === 0 && opts.batch ? new InlineBatchVerifier() : undefined;
    const verifier = pool ?? inline;
    const options: AuditOptions = {
      reopen: src.reopen,
      onProgress: (n) => progress.update(n),
      ...(verifier ? { verifyBallot: verifier.verifyBallot } : {}),
      ...(pool ? { verifyPartialDecryption: pool.verifyPartialDecryption } : {}),
    };
    const first = tee(src.first, namesTap(names));
    report = await audit(verifier ? verifier.prefetch(first) : first, options);
  } finally {
    progress.end();
    await pool?.close();
    src.cleanup();
  }
  const seconds = (performance.now() - started) / 1000;
  const mismatch = opts.fingerprint !== undefined && report.fingerprint !== opts.fingerprint;
  process.stdout.write(formatReport(report, { board: opts.board, names, ...(opts.fingerprint !== undefined ? { expectedFingerprint: opts.fingerprint } : {}) }));
  if (opts.fingerprint === undefined && report.fingerprint !== undefined) {
    process.stdout.write(`note: no --fingerprint given: this says the board is consistent, not that it is YOUR election; compare the fingerprint above with the one on your receipt or the election's official page, or pass --fingerprint\n`);
  }
  const step8 = report.steps.find((s) => s.step === 8);
  if (step8?.failures.some((f) => f.check === '8a' && /never closed/.test(f.reason))) {
    const open = status.phase === 'open' || status.phase === 'scheduled';
    process.stdout.write(
      open
        ? `note: the election is not closed yet (the server says: ${status.phase}); steps 8 to 10 can pass only after the close and the tally. Audit again then.\n`
        : 'note: this board has no close entry: if it was exported while voting was still open, that is expected; audit the board again after the close and the tally.\n',
    );
  }
  const ballots = report.steps.find((s) => s.step === 6)?.counts['ballot entries'] ?? 0;
  process.stderr.write(
    `audited ${plural(report.entries, 'entry', 'entries')} (${plural(ballots, 'ballot', 'ballots')}) in ${seconds.toFixed(1)} s, ` +
      `${seconds > 0 ? (ballots / seconds).toFixed(1) : '-'} ballots/s, ${workers === 0 ? 'in one thread' : `${workers} worker ${workers === 1 ? 'thread' : 'threads'}`}, ${opts.batch && (pool === undefined || pool.batch > 1) ? 'in batches' : 'proof by proof'}\n`,
  );
  if (opts.json !== undefined) {
    writeFileSync(opts.json, `${JSON.stringify(reportToJson(report, { board: opts.board }), null, 2)}\n`);
    process.stderr.write(`JSON report written to ${opts.json}\n`);
  }
  return report.ok && !mismatch ? 0 : 1;
}

/**
 * `verify --board FILE --since DIR [--save DIR]` (and `--save` alone): the incremental mode of
 * spec §10.7 over a file. The file must extend the saved state (M2), or nothing is verified and
 * the exit code is 2; otherwise only the new entries are verified and the report is the full
 * audit's.
 */
async function verifyIncremental(opts: VerifyOptions, workers: number): Promise<number> {
  const path = opts.board;
  if (!existsSync(path)) throw new TallyError('NOT_FOUND', `no board file at ${path}`);
  const names = new Map<string, { title: string; options: Map<string, string> }>();
  const progress = new Progress('verifying: entries read', fileSize(path));
  const started = performance.now();
  let pool: BallotVerifierPool | undefined;
  let result: SinceResult;
  try {
    if (workers > 0) pool = new BallotVerifierPool({ workers, ...(opts.batch ? {} : { batch: 1 }) });
    const inline = workers === 0 && opts.batch ? new InlineBatchVerifier() : undefined;
    const verifier = pool ?? inline;
    result = await verifySince({
      records: tee(fileRecords(path)(), namesTap(names)),
      source: path,
      ...(opts.since !== undefined ? { since: opts.since } : {}),
      ...(opts.save !== undefined ? { save: opts.save } : {}),
      ...(verifier ? { verifyBallot: verifier.verifyBallot, prefetch: (src: AsyncIterable<BoardRecord>) => verifier.prefetch(src) } : {}),
      onProgress: (n) => progress.update(n),
    });
  } finally {
    progress.end();
    await pool?.close();
  }
  if (!result.ok) {
    process.stdout.write(`${alarmLine(result.refused)}\n`);
    process.stderr.write(`the file ${path} does not extend the saved state ${opts.since ?? ''}: nothing was verified\n`);
    return 2;
  }
  const report = result.report;
  const seconds = (performance.now() - started) / 1000;
  const mismatch = opts.fingerprint !== undefined && report.fingerprint !== opts.fingerprint;
  process.stdout.write(formatReport(report, { board: path, names, ...(opts.fingerprint !== undefined ? { expectedFingerprint: opts.fingerprint } : {}) }));
  process.stderr.write(`verified ${plural(result.newEntries, 'new entry', 'new entries')} in ${seconds.toFixed(1)} s${opts.since !== undefined ? ` (resumed from ${opts.since})` : ''}${opts.save !== undefined ? `; state saved to ${opts.save}` : ''}\n`);
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(reportToJson(report, { board: path }), null, 2)}\n`);
  return report.ok && !mismatch ? 0 : 1;
}

/**
 * Registers `verify`.
 * @param program - the `tallyboard` program
 */
export function register(program: Command): void {
  program
    .command('verify')
    .description('audit an election: run every verification step of spec §10 over a board file or a ballot server\'s board; exit 0 only if all pass')
    .requiredOption('--board <url|file>', 'a board export file (board.jsonl), or the base URL of a ballot server (http://…)')
    .option('--json <report>', 'also write the report as JSON to this file')
    .option('--no-batch', 'verify every proof alone instead of in batches (spec §5.7); slower, same report')
    .option('--fingerprint <hex>', "the election you expect: its fingerprint (64 hex digits, as on receipts and the board page); a board of another election fails", parseFingerprint)
    .option('--since <dir>', 'a saved state (of `monitor` or `verify --save`): verify only the entries the FILE adds to it, after checking the file extends it (spec §10.7)')
    .option('--save <dir>', 'save the state after the FILE\'s entries, to resume with --since or `monitor` (may equal --since)')
    .option('--workers <n>', `worker threads verifying ballots; 0 verifies in this thread (default: one per CPU, here ${defaultWorkerCount()})`, parseWorkers)
    .action(action(async (opts: VerifyOptions) => verify(opts)));
}
