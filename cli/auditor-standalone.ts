#!/usr/bin/env node
/**
 * `tallyboard-audit`: the auditor's commands alone, for people who have no clone of this
 * repository (issue #9.7). Built by cli/build-auditor.mjs into ONE file,
 * `tallyboard-audit.mjs`, that runs with plain `node` and needs nothing but Node's built-ins:
 * the board and results pages offer it for download next to `board.jsonl`, and the same file is
 * the whole of the installable package `tallyboard-auditor` (`npm install -g
 * tallyboard-auditor-VERSION.tgz`).
 *
 * The commands are the very ones of `tallyboard` (the same files, cli/cmd-verify.ts and
 * cli/cmd-receipt.ts, cli/cmd-audit.ts), so the verdicts cannot differ:
 *   verify --board FILE|URL [--fingerprint HEX] [--json F] [--workers N]
 *   receipt check RECEIPT --board FILE|URL
 *   audit check AUDIT-FILE --election FILE|URL
 *
 * The ballot-verifying worker threads start this same file (auditor/workers.ts resolves itself
 * from import.meta.url, which in the bundle is this file): in a worker, the module-level code of
 * workers.ts runs the verification loop, and the command line below must not run — hence the
 * isMainThread guard.
 */
import { isMainThread } from 'node:worker_threads';
import { Command } from 'commander';
import { printFailure } from './_common.js';
import { register as registerVerify } from './cmd-verify.js';
import { register as registerReceipt } from './cmd-receipt.js';
import { register as registerAudit } from './cmd-audit.js';

/** Set by the bundler (cli/build-auditor.mjs) to the package's version. */
const version = process.env.TALLYBOARD_AUDITOR_VERSION ?? 'dev';

if (isMainThread) {
  const program = new Command('tallyboard-audit')
    .description('The Tallyboard auditor: verify an election from its board file, check a receipt, check a cast-or-audit file')
    .version(version)
    .showHelpAfterError('(tallyboard-audit help COMMAND shows the options)')
    .configureOutput({ outputError: (str, write) => write(`error USAGE: ${str.replace(/^error: /, '')}`) })
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));
  registerVerify(program);
  registerReceipt(program);
  registerAudit(program);
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    printFailure(e);
    process.exitCode = 1;
  }
}
