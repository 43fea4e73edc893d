/**
 * `tallyboard demo [--voters N] [--bits 2048|3072] [--data DIR]`: a complete election on this
 * machine with no setup (src/demo/run-demo.ts), then the results table, the audit verdict and
 * where the board file is. Exits 0 only if the audit passes.
 */
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { action, UsageError, withContext } from './_common.js';
import { DEMO_CANDIDATES, DEMO_QUESTION, defaultDemoDir, runDemo } from '../src/demo/run-demo.js';
import { formatReport } from '../auditor/report.js';
import { describeWebDemo, startWebDemo } from '../src/web/web-demo.js';

/** `demo --web`: the election stays open for people; Ctrl-C stops it. */
async function webDemo(opts: { voters?: string; minutes: string; port: string }): Promise<number> {
  const voters = webDemoVoters(opts.voters);
  const demo = await startWebDemo({ voters, minutes: Number(opts.minutes), port: Number(opts.port), host: '127.0.0.1', log: (l) => process.stdout.write(`  ${l}\n`) });
  for (const l of describeWebDemo(demo)) process.stdout.write(`${l}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await demo.stop();
  return 0;
}

/** Simulated voters of the batch demo when --voters is not given. */
export const DEMO_VOTERS = 50;
/** People's logins printed by the web demo when --voters is not given. */
export const WEB_DEMO_VOTERS = 5;

/**
 * The web demo's number of voters: the given --voters, else WEB_DEMO_VOTERS. (The two modes
 * have different defaults, so --voters has no commander default: a default of 50 could not be
 * told apart from a person typing 50.)
 */
export function webDemoVoters(given: string | undefined): number {
  return given === undefined ? WEB_DEMO_VOTERS : Number(given);
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run a complete election on loopback: keys, voters, servers, ballots, automatic tally, audit')
    .option('--voters <n>', `number of simulated voters (default ${DEMO_VOTERS}; with --web: voters given a login, default ${WEB_DEMO_VOTERS})`)
    .option('--bits <bits>', 'Paillier modulus size: 2048 or 3072', '2048')
    .option('--data <dir>', 'data directory (default: a new directory under the system temp dir)')
    .option('--web', 'instead: open an election for people to vote in a browser (voting booth, board, results pages)')
    .option('--minutes <m>', 'with --web: how long the election stays open', '30')
    .option('--port <port>', 'with --web: the port of the pages (0 picks a free one)', '8080')
    .action(
      action(async (opts: { voters?: string; bits: string; data?: string; web?: boolean; minutes: string; port: string }) => {
        if (opts.web) return webDemo(opts);
        const voters = opts.voters === undefined ? DEMO_VOTERS : Number(opts.voters);
        const bits = Number(opts.bits);
        if (!Number.isSafeInteger(voters) || voters < 1 || voters > 10_000) throw new UsageError('--voters: a whole number from 1 to 10000');
        if (bits !== 2048 && bits !== 3072) throw new UsageError('--bits: 2048 or 3072');
        const dir = resolve(opts.data ?? defaultDemoDir(tmpdir()));
        process.stdout.write(`data directory: ${dir}\n`);
        let r: Awaited<ReturnType<typeof runDemo>>;
        try {
          r = await runDemo({ voters, bits, dir, log: (l) => process.stdout.write(`  ${l}\n`) });
        } catch (e) {
          // Name the data directory with the failure: it holds the keys, register and board to inspect.
          throw withContext(e, `the demo failed; its data directory (kept, for inspection): ${dir}`);
        }
        const width = Math.max(...r.counts.map((c) => c.option.length));
        const total = r.counts.reduce((s, c) => s + Math.max(0, c.count), 0);
        process.stdout.write(`\nResults: ${DEMO_QUESTION.title}\n`);
        for (const c of r.counts) {
          const bar = '█'.repeat(total ? Math.round((30 * Math.max(0, c.count)) / total) : 0);
          process.stdout.write(`  ${c.option.padEnd(width)}  ${String(c.count).padStart(4)}  ${bar}\n`);
        }
        const matches = r.counts.every((c) => c.count === c.expected);
        process.stdout.write(`  (the counts ${matches ? 'match' : 'DO NOT match'} the simulated votes)\n\n`);
        const names = new Map([[DEMO_QUESTION.id, { title: DEMO_QUESTION.title, options: new Map(DEMO_CANDIDATES.map((c) => [c.id, c.title])) }]]);
        process.stdout.write(formatReport(r.report, { board: r.boardFile, names }));
        process.stdout.write(`\n${r.ok ? 'demo succeeded' : 'demo FAILED'} in ${r.seconds.toFixed(1)} s\ndata directory: ${dir}\nboard: ${r.boardFile}\naudit it yourself: npx tallyboard verify --board ${r.boardFile} --fingerprint ${r.report.fingerprint ?? ''}\n(outside this repository, install the auditor first: see "Auditing an election" in the README)\n`);
        return r.ok ? 0 : 1;
      }),
    );
}
