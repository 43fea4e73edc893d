#!/usr/bin/env node
/**
 * `tallyboard`: the one command-line entry point (README "Command line").
 *
 * One file per command (`cli/cmd-<name>.ts`, each exporting `register(program)`), discovered
 * here from this file's directory in name order, so a command is added by adding its file and
 * no central list can drift from the files. Command names and flags are a contract: scripts and
 * tests outside the project call them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { printFailure } from './_common.js';

const here = dirname(fileURLToPath(import.meta.url));
const version = (JSON.parse(readFileSync(join(here, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

const program = new Command('tallyboard')
  .description('End-to-end verifiable voting on Paillier encryption: admin tools, voting client, auditor')
  .version(version)
  .showHelpAfterError('(tallyboard help COMMAND shows the options)')
  // One error path (cli/_common.ts): commander's own errors print as `error USAGE: …` and exit 1
  // like every other failure; help and --version exit 0.
  .configureOutput({ outputError: (str, write) => write(`error USAGE: ${str.replace(/^error: /, '')}`) })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

const modules = readdirSync(here)
  .filter((f) => /^cmd-[a-z-]+\.js$/.test(f))
  .sort();
for (const f of modules) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { register: (p: Command) => void };
  mod.register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // An error thrown outside an action (a command's own argument parser, say).
  printFailure(e);
  process.exitCode = 1;
}
