/**
 * `tallyboard tally`: ask the verification server to run the tally now (POST /admin/tally,
 * spec/12-servers.md §12.3) and print what happened.
 *
 * The verification server also tallies by itself once the election is closed; this command is
 * for an administrator who closed early or wants the outcome in a script. The exit code says
 * whether results exist: 0 for `tallied` and `already-tallied` (printed with the counts, read
 * from the server's published results), 1 for `not-closed`, for `refused` (the board failed
 * verification and nothing was decrypted; every reason is printed) and for any error.
 */
import type { Command } from 'commander';
import type { RefusalReason } from '../src/verifier/tally-service.js';
import type { ResultsView } from '../src/election/results-view.js';
import { ENV } from '../src/node/data-dir.js';
import { action } from './_common.js';
import { adminToken, endpoint, requestJson } from './_admin-request.js';

/** The tally re-verifies every ballot before it answers: allow a large election's time. */
const TALLY_TIMEOUT_MS = 60 * 60_000;

interface TallyOptions {
  server: string;
  adminTokenFile?: string;
  data?: string;
}

type Outcome =
  | { outcome: 'tallied'; ballotsCounted: number }
  | { outcome: 'already-tallied' }
  | { outcome: 'not-closed'; phase: string }
  | { outcome: 'refused'; failures: RefusalReason[] };

/** The counts, one line per question; a failure to read them is reported, not fatal. */
async function printResults(server: string): Promise<void> {
  try {
    const r = (await requestJson('GET', endpoint(server, '/api/verifier/results'), { timeoutMs: 60_000 })) as ResultsView;
    process.stdout.write(`results of ${r.electionId} (fingerprint ${r.fingerprint}), ${r.ballotsCounted} ballot(s) counted:\n`);
    for (const q of r.questions) process.stdout.write(`  ${q.id}: ${q.options.map((o) => `${o.id} ${o.count}`).join(', ')}\n`);
  } catch (e) {
    process.stderr.write(`(the results could not be read: ${e instanceof Error ? e.message : String(e)})\n`);
  }
}

async function tally(opts: TallyOptions): Promise<number> {
  const token = adminToken(opts.adminTokenFile, opts.data);
  const o = (await requestJson('POST', endpoint(opts.server, '/admin/tally'), { token, timeoutMs: TALLY_TIMEOUT_MS })) as Outcome;
  switch (o.outcome) {
    case 'tallied':
      process.stdout.write(`tallied: ${o.ballotsCounted} ballot(s) counted; the tally and its proof are on the board\n`);
      await printResults(opts.server);
      return 0;
    case 'already-tallied':
      process.stdout.write('already tallied: the board holds the tally\n');
      await printResults(opts.server);
      return 0;
    case 'not-closed':
      process.stdout.write(`not closed: the election is ${o.phase}; close it first (tallyboard close --server BALLOT_URL) or wait for the end time\n`);
      return 1;
    case 'refused':
      process.stdout.write(`refused: the board fails verification, nothing was decrypted (${o.failures.length} reason(s)):\n`);
      for (const f of o.failures) {
        const where = [f.step !== undefined ? `step ${f.step}${f.title ? ` (${f.title})` : ''}` : undefined, `check ${f.check}`, f.height !== undefined ? `entry ${f.height}` : undefined];
        process.stdout.write(`  ${where.filter((x) => x !== undefined).join(', ')}: ${f.reason}\n`);
      }
      return 1;
    default:
      process.stderr.write(`error: unexpected answer ${JSON.stringify(o).slice(0, 200)}\n`);
      return 1;
  }
}

/** Register `tallyboard tally`. */
export function register(program: Command): void {
  program
    .command('tally')
    .description('ask the verification server to tally now (POST /admin/tally); exit 0 once results exist')
    .requiredOption('--server <url>', 'base URL of the verification server')
    .option('--admin-token-file <file>', `file holding the admin credential (else $${ENV.adminToken}, else --data)`)
    .option('--data <dir>', 'election data directory: the admin credential from DIR/credentials/admin.token')
    .action(action(async (opts: TallyOptions) => tally(opts)));
}
