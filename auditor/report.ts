/**
 * An audit report for people and for programs (spec/10-verification.md §10.2: "for each step
 * it reports pass or fail, the counts it saw, and the first failures with their entry heights
 * and check identifiers").
 *
 * Why a module of its own: `audit` returns a typed AuditReport and knows nothing about
 * terminals or files; the command line, the demo and any other front end render it the same
 * way from here. Two forms:
 * - {@link formatReport}: one line per numbered step, the first failures indented under a
 *   failed step, the results table, and a final verdict line that starts with `VERIFIED` or
 *   `NOT VERIFIED` (scripts may match on it).
 * - {@link reportToJson}: a stable JSON document (format `tallyboard-audit-report/1`, the spec
 *   version it checks against, every field always present, `null` when unknown, big integers
 *   as lowercase hex strings), for `tallyboard verify --json`.
 *
 * Everything printed that came from the board (reasons quote board content) passes through
 * {@link printable}: a hostile board must not be able to write terminal control sequences or
 * reorder text with bidirectional overrides.
 */
import { SPEC_VERSION } from '../src/crypto/hash.js';
import type { AuditReport, StepFailure, StepNumber, StepReport } from './audit.js';

/** The `format` of the JSON report. */
export const REPORT_FORMAT = 'tallyboard-audit-report/1';

/** Width of the dotted title column. */
const TITLE_WIDTH = 36;
/** Longest expected/computed value shown in text (hashes and counts fit; ciphertexts are cut). */
const MAX_VALUE_CHARS = 96;
/** Longest reason shown in text. */
const MAX_REASON_CHARS = 400;

/** One failure in the JSON report; absent facts are `null`. */
export interface FailureJson {
  readonly check: string;
  readonly height: number | null;
  readonly line: number | null;
  readonly reason: string;
  readonly expected: string | null;
  readonly computed: string | null;
}

/** One step in the JSON report. */
export interface StepJson {
  readonly step: StepNumber;
  readonly title: string;
  readonly status: StepReport['status'];
  readonly counts: Record<string, number>;
  /** all failures of the step, including those not listed */
  readonly failureCount: number;
  /** the first failures, in board order */
  readonly failures: FailureJson[];
}

/** The JSON report (`tallyboard verify --json REPORT`). */
export interface ReportJson {
  readonly format: typeof REPORT_FORMAT;
  /** the protocol version the auditor checks against (manifest `version`) */
  readonly specVersion: string;
  readonly ok: boolean;
  readonly verdict: 'VERIFIED' | 'NOT VERIFIED';
  /** the first step that failed, null when none did */
  readonly firstFailedStep: StepNumber | null;
  /** where the board was read from, as the user named it; null when not given */
  readonly board: string | null;
  readonly electionId: string | null;
  readonly fingerprint: string | null;
  /** entries read */
  readonly entries: number;
  readonly steps: StepJson[];
  /** decoded counts per question, when step 10 passed */
  readonly results: { readonly question: string; readonly counts: Record<string, number> }[] | null;
  /** stage 'tally' only: the recomputed encrypted tally, ciphertexts as hex */
  readonly tally: { readonly ciphertexts: string[]; readonly ballotsCounted: number } | null;
}

/**
 * The first step that failed.
 * @param report - an audit report
 * @returns the step number, or undefined if no step failed
 */
export function firstFailedStep(report: AuditReport): StepNumber | undefined {
  return report.steps.find((s) => s.status === 'fail')?.step;
}

/**
 * The final verdict line: `VERIFIED: every step passes` or `NOT VERIFIED: step N failed`.
 * @param report - an audit report
 * @returns one line, without a line feed
 */
export function verdictLine(report: AuditReport): string {
  if (report.ok) return 'VERIFIED: every step passes';
  const failed = report.steps.filter((s) => s.status === 'fail').map((s) => s.step);
  const first = failed[0];
  if (first === undefined) {
    const notRun = report.steps.filter((s) => s.status === 'not run').map((s) => s.step);
    if (notRun.length === 0) return 'NOT VERIFIED';
    return `NOT VERIFIED: ${notRun.length === 1 ? 'step' : 'steps'} ${notRun.join(', ')} not run`;
  }
  const also = failed.slice(1);
  return `NOT VERIFIED: step ${first} failed${also.length ? ` (also ${also.length === 1 ? 'step' : 'steps'} ${also.join(', ')})` : ''}`;
}

/**
 * The report as text, one line per numbered step, e.g.
 *
 *     step 6   ballot validity ..................... pass  (31 ballot entries, 31 valid ballots)
 *     step 2   hash chain and entries .............. FAIL  (7 entries)
 *              B8 at height 7 (line 9): the published hash is not the hash of the entry
 *                expected 5c1f…  computed 09ab…
 *
 * then the results table (when step 10 passed) and the verdict line.
 *
 * @param report - an audit report
 * @param options.board - where the board was read from, shown in the heading
 * @param options.names - the questions' and options' titles by id (from the manifest), shown in
 *   the results table next to the ids
 * @param options.expectedFingerprint - the fingerprint the auditor expects (`verify
 *   --fingerprint`); a board with another one gets a NOT VERIFIED verdict whatever its steps say
 * @returns the text, ending with a line feed
 */
export function formatReport(
  report: AuditReport,
  options: { readonly board?: string; readonly names?: ReadonlyMap<string, { readonly title: string; readonly options: ReadonlyMap<string, string> }>; readonly expectedFingerprint?: string } = {},
): string {
  const out: string[] = [];
  const heading = report.electionId !== undefined ? `election ${printable(report.electionId)}` : 'election unknown (no valid setup entry)';
  out.push(`Tallyboard audit (${SPEC_VERSION}): ${heading}`);
  const expected = options.expectedFingerprint;
  const mismatch = expected !== undefined && report.fingerprint !== expected;
  if (report.fingerprint !== undefined) out.push(`fingerprint ${report.fingerprint}${expected === undefined ? '' : mismatch ? '  DOES NOT MATCH the expected fingerprint' : '  (the expected one)'}`);
  if (mismatch) out.push(`expected    ${expected}: this board is ANOTHER election than the one you expect`);
  out.push(`board ${options.board !== undefined ? `${printable(options.board)}, ` : ''}${report.entries} ${report.entries === 1 ? 'entry' : 'entries'} read`);
  out.push('');
  for (const s of report.steps) {
    out.push(stepLine(s));
    for (const f of s.failures) out.push(...failureLines(f));
    const unlisted = s.failureCount - s.failures.length;
    if (unlisted > 0) out.push(`         … and ${unlisted} more ${unlisted === 1 ? 'failure' : 'failures'}`);
  }
  if (report.results) {
    out.push('', 'results', ...resultsTable(report.results, options.names));
  }
  out.push('', mismatch ? 'NOT VERIFIED: the board is another election than the one expected (--fingerprint)' : verdictLine(report));
  return `${out.join('\n')}\n`;
}

/**
 * The JSON report.
 * @param report - an audit report
 * @param options.board - where the board was read from
 * @returns a plain JSON value (no bigints, no undefined), stable field names
 */
export function reportToJson(report: AuditReport, options: { readonly board?: string } = {}): ReportJson {
  const first = firstFailedStep(report);
  return {
    format: REPORT_FORMAT,
    specVersion: SPEC_VERSION,
    ok: report.ok,
    verdict: report.ok ? 'VERIFIED' : 'NOT VERIFIED',
    firstFailedStep: first ?? null,
    board: options.board ?? null,
    electionId: report.electionId ?? null,
    fingerprint: report.fingerprint ?? null,
    entries: report.entries,
    steps: report.steps.map((s) => ({
      step: s.step,
      title: s.title,
      status: s.status,
      counts: { ...s.counts },
      failureCount: s.failureCount,
      failures: s.failures.map(failureJson),
    })),
    results: report.results ? report.results.map((r) => ({ question: r.question, counts: { ...r.counts } })) : null,
    tally: report.tally ? { ciphertexts: report.tally.ciphertexts.map(bigHex), ballotsCounted: report.tally.ballotsCounted } : null,
  };
}

/**
 * A string made safe to print on a terminal: C0/C1 control characters, DEL and bidirectional
 * formatting characters are replaced by `\u{…}` escapes.
 * @param s - any string (e.g. a reason quoting board content)
 * @returns the same text with those characters escaped
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

// --- text pieces ---------------------------------------------------------------------------------

function stepLine(s: StepReport): string {
  const status = s.status === 'pass' ? 'pass' : s.status === 'fail' ? 'FAIL' : 'not run';
  const title = `${s.title} `.padEnd(TITLE_WIDTH, '.');
  const counts = formatCounts(s.counts);
  return `step ${String(s.step).padEnd(2)}  ${title} ${status}${counts ? `  (${counts})` : ''}`;
}

/** `{ 'ballot entries': 31, 'tree size': 40 }` → `31 ballot entries, tree size 40`; `1 ballot entry`, not `1 ballot entries`. */
function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([k, v]) => (/\bsize$/.test(k) ? `${printable(k)} ${v}` : `${v} ${printable(v === 1 ? singular(k) : k)}`))
    .join(', ');
}

/** The count's noun in the singular: the first plural word of the key ("ballot entries" → "ballot entry"). */
function singular(key: string): string {
  return key.replace(/\b(\w+?)(ies|s)\b/, (word, stem: string, end: string) => (/^(is|was|has)$/.test(word) ? word : end === 'ies' ? `${stem}y` : stem));
}

function failureLines(f: StepFailure): string[] {
  const where = [f.height !== undefined ? `at height ${f.height}` : '', f.line !== undefined ? `(line ${f.line})` : ''].filter(Boolean).join(' ');
  const lines = [`         ${printable(f.check)}${where ? ` ${where}` : ''}: ${cut(printable(f.reason), MAX_REASON_CHARS)}`];
  if (f.expected !== undefined || f.computed !== undefined) {
    const parts = [];
    if (f.expected !== undefined) parts.push(`expected ${cut(printable(f.expected), MAX_VALUE_CHARS)}`);
    if (f.computed !== undefined) parts.push(`computed ${cut(printable(f.computed), MAX_VALUE_CHARS)}`);
    lines.push(`           ${parts.join('  ')}`);
  }
  return lines;
}

function resultsTable(results: NonNullable<AuditReport['results']>, names?: ReadonlyMap<string, { readonly title: string; readonly options: ReadonlyMap<string, string> }>): string[] {
  // The question is named on its first row only; titles (from the manifest) before the ids.
  const rows: [string, string, string][] = [['question', 'option', 'count']];
  for (const r of results) {
    const q = names?.get(r.question);
    const qName = q ? `${printable(q.title)} (${printable(r.question)})` : printable(r.question);
    Object.entries(r.counts).forEach(([option, count], j) => {
      const title = q?.options.get(option);
      rows.push([j === 0 ? qName : '', title !== undefined ? `${printable(title)} (${printable(option)})` : printable(option), String(count)]);
    });
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  return rows.map(([q, o, c]) => `  ${q.padEnd(w0)}  ${o.padEnd(w1)}  ${c.padStart(w2)}`.trimEnd());
}

function failureJson(f: StepFailure): FailureJson {
  return {
    check: f.check,
    height: f.height ?? null,
    line: f.line ?? null,
    reason: f.reason,
    expected: f.expected ?? null,
    computed: f.computed ?? null,
  };
}

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function bigHex(x: bigint): string {
  return x.toString(16);
}
