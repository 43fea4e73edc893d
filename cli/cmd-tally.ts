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
import { action, plural } from './_common.js';
import { TallyError } from '../src/errors.js';
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
  | { outcome: 'awaiting-witnesses'; treeSize: number; cosigned: string[]; witnesses: string[]; quorum: number }
  | { outcome: 'awaiting-trustees'; have: number; need: number }
  | { outcome: 'refused'; failures: RefusalReason[] };

/** The counts, one line per question; a failure to read them is reported, not fatal. */
async function printResults(server: string): Promise<void> {
  try {
    const r = (await requestJson('GET', endpoint(server, '/api/verifier/results'), { timeoutMs: 60_000 })) as ResultsView;
    process.stdout.write(`results of ${r.electionId} (fingerprint ${r.fingerprint}), ${plural(r.ballotsCounted, 'ballot', 'ballots')} counted:\n`);
    for (const q of r.questions) {
      process.stdout.write(`  ${q.title}\n`);
      const width = Math.max(...q.options.map((o) => o.title.length));
      for (const o of q.options) process.stdout.write(`    ${o.title.padEnd(width)}  ${String(o.count).padStart(6)}\n`);
    }
  } catch (e) {
    process.stderr.write(`(the results could not be read: ${e instanceof Error ? e.message : String(e)})\n`);
  }
}

/**
 * While the tally request is pending, a line every HEARTBEAT_MS with the elapsed time and the
 * verification server's own state (GET /api/verifier/health), so that a long tally is not
 * silent (issue #9.10). The server does not report per-ballot progress; its state and the time
 * are what is known.
 */
const HEARTBEAT_MS = 5000;

function heartbeat(server: string): () => void {
  const t0 = Date.now();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    requestJson('GET', endpoint(server, '/api/verifier/health'), { timeoutMs: HEARTBEAT_MS })
      .then(
        (h) => (h as { tally?: string }).tally ?? 'unknown',
        () => 'not answering its health route',
      )
      .then((state) => {
        process.stderr.write(`tally: ${Math.round((Date.now() - t0) / 1000)} s, the verification server is ${state === 'tallying' ? 're-verifying the board and decrypting' : state}\n`);
        busy = false;
      });
  }, HEARTBEAT_MS);
  return () => clearInterval(timer);
}

async function tally(opts: TallyOptions): Promise<number> {
  const token = adminToken(opts.adminTokenFile, opts.data);
  process.stderr.write('tally: the verification server re-verifies every ballot on the board before it decrypts; for a large election this takes minutes\n');
  const stop = heartbeat(opts.server);
  let o: Outcome;
  try {
    o = (await requestJson('POST', endpoint(opts.server, '/admin/tally'), { token, timeoutMs: TALLY_TIMEOUT_MS })) as Outcome;
  } finally {
    stop();
  }
  switch (o.outcome) {
    case 'tallied':
      process.stdout.write(`tallied: ${plural(o.ballotsCounted, 'ballot', 'ballots')} counted; the tally and its proof are on the board\n`);
      await printResults(opts.server);
      return 0;
    case 'already-tallied':
      process.stdout.write('already tallied: the board holds the tally\n');
      await printResults(opts.server);
      return 0;
    case 'not-closed':
      process.stdout.write(`not closed: the election is ${o.phase}; close it first (tallyboard close --server BALLOT_URL) or wait for the end time\n`);
      return 1;
    case 'awaiting-witnesses':
      process.stdout.write(
        `waiting for the witnesses: the close checkpoint (size ${o.treeSize}) carries ${o.cosigned.length} of the ${o.quorum} cosignatures required; missing: ${o.witnesses.join(', ')}. Nothing is decrypted until the quorum is there; the server keeps polling\n`,
      );
      return 1;
    case 'awaiting-trustees':
      process.stdout.write(`awaiting trustees: the encrypted tally is on the board; ${o.have} of the ${o.need} partial decryptions needed are (trustees: tallyboard trustee decrypt)\n`);
      return 1;
    case 'refused':
      process.stdout.write(`refused: the board fails verification, nothing was decrypted (${plural(o.failures.length, 'reason', 'reasons')}):\n`);
      for (const f of o.failures) {
        const where = [f.step !== undefined ? `step ${f.step}${f.title ? ` (${f.title})` : ''}` : undefined, `check ${f.check}`, f.height !== undefined ? `entry ${f.height}` : undefined];
        process.stdout.write(`  ${where.filter((x) => x !== undefined).join(', ')}: ${f.reason}\n`);
      }
      return 1;
    default:
      throw new TallyError('BOARD_BAD_RESPONSE', `unexpected answer ${JSON.stringify(o).slice(0, 200)}`);
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
