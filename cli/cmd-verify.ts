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
 */
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import { action, Progress } from './_common.js';
import { boardDownload, isUrl, serverBase } from './_http.js';

interface VerifyOptions {
  board: string;
  json?: string;
  workers?: number;
  /** false with --no-batch */
  batch: boolean;
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
  const src = isUrl(opts.board) ? urlSource(opts.board) : fileSource(opts.board);
  const progress = new Progress('verifying: entries read');
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
    };
    report = await audit(verifier ? verifier.prefetch(src.first) : src.first, options);
  } finally {
    progress.end();
    await pool?.close();
    src.cleanup();
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(formatReport(report, { board: opts.board }));
  const ballots = report.steps.find((s) => s.step === 6)?.counts['ballot entries'] ?? 0;
  process.stderr.write(
    `audited ${report.entries} entries (${ballots} ballots) in ${seconds.toFixed(1)} s, ` +
      `${seconds > 0 ? (ballots / seconds).toFixed(1) : '-'} ballots/s, ${workers === 0 ? 'in one thread' : `${workers} worker ${workers === 1 ? 'thread' : 'threads'}`}, ${opts.batch && (pool === undefined || pool.batch > 1) ? 'in batches' : 'proof by proof'}\n`,
  );
  if (opts.json !== undefined) {
    writeFileSync(opts.json, `${JSON.stringify(reportToJson(report, { board: opts.board }), null, 2)}\n`);
    process.stderr.write(`JSON report written to ${opts.json}\n`);
  }
  return report.ok ? 0 : 1;
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
    .option('--workers <n>', `worker threads verifying ballots; 0 verifies in this thread (default: one per CPU, here ${defaultWorkerCount()})`, parseWorkers)
    .action(action(async (opts: VerifyOptions) => verify(opts)));
}
