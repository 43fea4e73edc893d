/**
 * `tallyboard close`: close the election now (POST /admin/close on the ballot server,
 * spec/12-servers.md §12.2), before its scheduled end.
 *
 * Closing appends the close entry to the board; after it no ballot is accepted, and the
 * verification server tallies (by itself, or with `tallyboard tally`). Closing is idempotent:
 * a second close answers with the height of the first close entry.
 */
import type { Command } from 'commander';
import { ENV } from '../src/node/data-dir.js';
import { action } from './_common.js';
import { adminToken, endpoint, requestJson } from './_admin-request.js';

interface CloseOptions {
  server: string;
  adminTokenFile?: string;
  data?: string;
}

async function close(opts: CloseOptions): Promise<void> {
  const token = adminToken(opts.adminTokenFile, opts.data);
  const r = (await requestJson('POST', endpoint(opts.server, '/admin/close'), { token, timeoutMs: 60_000 })) as { height: number; phase: string };
  process.stdout.write(`closed: close entry at height ${r.height}, phase ${r.phase}\n`);
}

/** Register `tallyboard close`. */
export function register(program: Command): void {
  program
    .command('close')
    .description('close the election now (POST /admin/close on the ballot server)')
    .requiredOption('--server <url>', 'base URL of the ballot server')
    .option('--admin-token-file <file>', `file holding the admin credential (else $${ENV.adminToken}, else --data)`)
    .option('--data <dir>', 'election data directory: the admin credential from DIR/credentials/admin.token')
    .action(action(async (opts: CloseOptions) => close(opts)));
}
