/**
 * The whole audit of an election in the browser (issue 12.6), in a Web Worker so the page stays
 * responsive: the project's auditor (auditor/audit.ts, the same `audit()` the command line
 * runs), with batch verification of the ballots' proofs (auditor/inline-batch.ts, spec §5.7),
 * over the board the ballot server streams from GET /api/board/export.
 *
 * Why this shape:
 * - The worker fetches the export itself and reads the response body chunk by chunk through the
 *   auditor's own browser-safe record reader (auditor/records.ts → bulletin/line-reader.ts: one
 *   line in memory at a time, each capped at 8 MiB before decoding), so the browser judges the
 *   same bytes with the same code and the same verdicts as `tallyboard verify`.
 * - A board with revotes needs a second read (the auditor divides the replaced ballots out of
 *   the product): the worker simply fetches the export again; the auditor re-verifies that
 *   second read's chain up to the close entry it already verified, so a server cannot serve a
 *   different board the second time.
 * - The report is rendered by auditor/report.ts, exactly the text the command line prints, and
 *   posted with the structured report, so the page can show both a summary and the full text.
 * - No timeout on the download: the audit reads as fast as it verifies (back-pressure), so any
 *   fixed limit would guess how long verification takes on this device.
 *
 * Both halves are here, as in encrypt-worker.ts: `serveAudit` runs inside the worker (the same
 * bundle, started under the worker name {@link AUDIT_WORKER_NAME}: see main.ts), `auditInBrowser`
 * is what the results page calls.
 */
import { audit, type AuditReport, type BoardRecord } from '../../auditor/audit.js';
import { boardRecords } from '../../auditor/records.js';
import { InlineBatchVerifier } from '../../auditor/inline-batch.js';
import { formatReport } from '../../auditor/report.js';

/** The name the audit worker is started with; main.ts serves audits in a worker of this name. */
export const AUDIT_WORKER_NAME = 'tallyboard-audit';

/** Ballots verified together in one batch (the command line's default chunk). */
const BATCH = 256;

/** Page → worker. */
interface AuditRequest {
  readonly kind: 'audit';
  /** absolute URL of the board export */
  readonly exportUrl: string;
  /** the fingerprint of the election the page shows: another board fails the verdict */
  readonly fingerprint: string;
}

/** Progress of a running audit. */
export interface AuditProgress {
  /** entries read and checked so far */
  readonly entries: number;
  /** ballot entries read so far */
  readonly ballots: number;
  /** milliseconds since the audit started */
  readonly elapsedMs: number;
}

/** The outcome of an audit in the browser. */
export interface BrowserAudit {
  readonly report: AuditReport;
  /** the report as the command line prints it */
  readonly text: string;
  /** the board is another election than the page's (it has a setup, with another fingerprint) */
  readonly otherElection: boolean;
  readonly ballots: number;
  readonly elapsedMs: number;
}

/** Worker → page. */
type AuditReply = ({ readonly kind: 'progress' } & AuditProgress) | ({ readonly kind: 'done' } & BrowserAudit) | { readonly kind: 'error'; readonly message: string };

/** The bytes of the board export, streamed from the server. */
async function* exportChunks(url: string): AsyncGenerator<Uint8Array, void, undefined> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/x-ndjson' }, cache: 'no-store' });
  } catch (e) {
    throw new Error(`cannot reach the ballot server: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!res.ok || res.body === null) throw new Error(`the ballot server answered HTTP ${res.status} for the board export`);
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Stopping early (a chain failure ends the audit) must not leave the download running.
    await reader.cancel().catch(() => undefined);
  }
}

/** Question and option titles from the setup entry, for the report's results table. */
function namesOf(rec: BoardRecord, names: Map<string, { title: string; options: Map<string, string> }>): void {
  if (rec.kind !== 'entry' || rec.entry.type !== 'setup' || names.size > 0) return;
  const qs = ((rec.entry.payload as { manifest?: { questions?: unknown } } | null)?.manifest?.questions ?? []) as unknown[];
  if (!Array.isArray(qs)) return;
  for (const q of qs as { id?: unknown; title?: unknown; options?: unknown }[]) {
    if (typeof q?.id !== 'string' || !Array.isArray(q.options)) continue;
    const options = new Map<string, string>();
    for (const o of q.options as { id?: unknown; title?: unknown }[]) if (typeof o?.id === 'string') options.set(o.id, typeof o.title === 'string' ? o.title : o.id);
    names.set(q.id, { title: typeof q.title === 'string' ? q.title : q.id, options });
  }
}

/**
 * Run the audit of the board at `req.exportUrl`, reporting progress.
 * @returns the report, its text and the counts; never throws for bad board content (that is
 *   in the report), only when the board cannot be read at all
 */
async function runAudit(req: AuditRequest, onProgress: (p: AuditProgress) => void): Promise<BrowserAudit> {
  const started = performance.now();
  const names = new Map<string, { title: string; options: Map<string, string> }>();
  let ballots = 0;
  const verifier = new InlineBatchVerifier(BATCH);
  const first = async function* (): AsyncGenerator<BoardRecord, void, undefined> {
    for await (const rec of boardRecords(exportChunks(req.exportUrl))) {
      namesOf(rec, names);
      if (rec.kind === 'entry' && rec.entry.type === 'ballot') ballots++;
      yield rec;
    }
  };
  const report = await audit(verifier.prefetch(first()), {
    reopen: () => boardRecords(exportChunks(req.exportUrl)),
    verifyBallot: verifier.verifyBallot,
    onProgress: (entries) => onProgress({ entries, ballots, elapsedMs: performance.now() - started }),
  });
  const text = formatReport(report, { board: req.exportUrl, names, expectedFingerprint: req.fingerprint });
  // A board that failed before its setup was read has no fingerprint: that is a failed step, not
  // another election, and the page reports the step.
  return { report, text, otherElection: report.fingerprint !== undefined && report.fingerprint !== req.fingerprint, ballots, elapsedMs: performance.now() - started };
}

/** The worker's side: answer audit requests. Call only inside a worker. */
export function serveAudit(scope: { onmessage: ((ev: MessageEvent) => void) | null; postMessage(msg: unknown): void }): void {
  scope.onmessage = (ev: MessageEvent) => {
    const req = ev.data as AuditRequest;
    if (req?.kind !== 'audit') return;
    // Progress is posted at most once per entry; the page draws it on its own frames.
    runAudit(req, (p) => scope.postMessage({ kind: 'progress', ...p } satisfies AuditReply)).then(
      (r) => scope.postMessage({ kind: 'done', ...r } satisfies AuditReply),
      (e: unknown) => scope.postMessage({ kind: 'error', message: e instanceof Error ? e.message : String(e) } satisfies AuditReply),
    );
  };
}

/**
 * Audit the whole election in a Web Worker (this bundle, started as the audit worker).
 * @param scriptUrl - URL of this bundle
 * @param exportUrl - URL of the board export (GET /api/board/export)
 * @param fingerprint - the fingerprint of the election the page shows
 * @param onProgress - called as entries are checked
 * @throws Error if no worker can be started or the board cannot be read
 */
export function auditInBrowser(scriptUrl: string, exportUrl: string, fingerprint: string, onProgress: (p: AuditProgress) => void): Promise<BrowserAudit> {
  return new Promise((resolve, reject) => {
    // One worker per audit, ended when it answers: nothing keeps running after the report.
    const worker = new Worker(scriptUrl, { name: AUDIT_WORKER_NAME });
    const end = () => worker.terminate();
    worker.onerror = (ev) => {
      end();
      reject(new Error(`the audit stopped: ${ev.message || 'the worker failed'}`));
    };
    worker.onmessage = (ev: MessageEvent) => {
      const m = ev.data as AuditReply;
      if (m.kind === 'progress') onProgress(m);
      else if (m.kind === 'done') {
        end();
        resolve(m);
      } else {
        end();
        reject(new Error(m.message));
      }
    };
    worker.postMessage({ kind: 'audit', exportUrl, fingerprint } satisfies AuditRequest);
  });
}
