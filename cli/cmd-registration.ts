/**
 * `tallyboard registration check`: the voter's check of the committed register (spec §10.3,
 * issue 10.2). With their login and the reference salt they were given with their password,
 * a voter learns whether they are in the register committed on the board, and whether a token
 * was issued in their name, and at which height.
 *
 * Why a voter runs it: a voter who did NOT ask for a token and sees "a token was issued in your
 * name" has caught the organization issuing one for them (ballot stuffing for an abstainer,
 * SECURITY.md says what to do). Against a ballot server every "yes" is verified here (the
 * membership proof against the board's own root; the token-issued entry itself); against a
 * board export file the whole board is read.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { TallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import { parseSetup } from '../src/election/records.js';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { registerRef } from '../src/election/register.js';
import { checkRegistration, parseRefSalt, scanBoardForRef } from '../src/client/registration-check.js';
import { fileRecords } from '../auditor/source.js';
import { action } from './_common.js';

interface CheckOptions {
  board: string;
  org?: string;
  login: string;
  saltFile: string;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

function readSalt(file: string): Uint8Array {
  if (!existsSync(file)) throw new TallyError('NOT_FOUND', `reference salt file not found: ${file}`);
  const text = readFileSync(file, 'utf8');
  if (text.length > 1024) throw new TallyError('TOO_LARGE', `${file}: a reference salt is 64 hex digits`);
  return parseRefSalt(text);
}

async function fromServer(url: string, opts: CheckOptions, salt: Uint8Array): Promise<{ lines: string[]; stuffedOrIssued: boolean; inRegister: boolean }> {
  const base = url.replace(/\/+$/, '');
  const res = await fetch(`${base}/api/election`, { signal: AbortSignal.timeout(30_000) }).catch((cause: unknown) => {
    throw new TallyError('BOARD_UNAVAILABLE', `cannot reach ${base}`, { cause });
  });
  const info = (await res.json().catch(() => undefined)) as { manifest?: unknown } | undefined;
  const election: Election = parseManifest(info?.manifest);
  const c = await checkRegistration({ server: base, ...(opts.org ? { org: opts.org } : {}), election, login: opts.login, salt });
  const lines = [`election ${election.manifest.electionId}, fingerprint ${election.fingerprintHex}`, `your register reference: ${c.ref}`];
  if (!c.register) lines.push('REGISTER: no voter register is committed on the board yet');
  else lines.push(`${c.inRegister ? 'IN REGISTER' : 'NOT IN REGISTER'}: ${c.inRegister ? 'you are' : 'you are NOT'} in the register committed on the board at height ${c.register.height} (${c.register.voters} voters)`);
  lines.push(c.issuedAt !== undefined ? `TOKEN ISSUED: yes, a token was issued in your name (board entry at height ${c.issuedAt})` : 'TOKEN ISSUED: no, no token has been issued in your name');
  return { lines, stuffedOrIssued: c.issuedAt !== undefined, inRegister: c.inRegister };
}

async function fromFile(file: string, opts: CheckOptions, salt: Uint8Array): Promise<{ lines: string[]; stuffedOrIssued: boolean; inRegister: boolean }> {
  if (!existsSync(file)) throw new TallyError('NOT_FOUND', `board file not found: ${file}`);
  const entries: { type: string; height: number; payload: unknown }[] = [];
  let election: Election | undefined;
  for await (const rec of fileRecords(file)()) {
    if (rec.kind !== 'entry') continue;
    if (rec.entry.type === 'setup' && !election) election = parseSetup(rec.entry.payload);
    else if (rec.entry.type === 'register' || rec.entry.type === 'token-issued') entries.push(rec.entry);
  }
  if (!election) throw new TallyError('MALFORMED', `${file}: no setup entry`);
  const ref = registerRef(election.manifest.electionId, opts.login, salt);
  const s = scanBoardForRef(entries, ref, election.manifest.maxVoters);
  const lines = [`election ${election.manifest.electionId}, fingerprint ${election.fingerprintHex}`, `your register reference: ${toHex(ref)}`];
  lines.push(s.register ? `REGISTER: committed at height ${s.register.height} (${s.register.voters} voters); membership needs the organization's proof (check against the server)` : 'REGISTER: no voter register is committed on this board');
  lines.push(s.issuedAt !== undefined ? `TOKEN ISSUED: yes, a token was issued in your name (board entry at height ${s.issuedAt})` : 'TOKEN ISSUED: no, no token has been issued in your name on this board');
  return { lines, stuffedOrIssued: s.issuedAt !== undefined, inRegister: true };
}

/** Registers `registration check`. */
export function register(program: Command): void {
  const reg = program.command('registration').description('the committed voter register (spec §7.5, §10.3)');
  reg
    .command('check')
    .description('are you in the committed register, and was a token issued in your name? (against the ballot server, or a board export file)')
    .requiredOption('--board <url|file>', 'the base URL of the ballot server (http://…), or a board export file (board.jsonl)')
    .option('--org <url>', 'the organization server, for the membership proof (default: the ballot server’s origin)')
    .requiredOption('--login <login>', 'your login')
    .requiredOption('--salt-file <file>', 'a file holding your reference salt (the ref_salt given with your password, 64 hex digits)')
    .action(
      action(async (opts: CheckOptions) => {
        const salt = readSalt(opts.saltFile);
        const r = isUrl(opts.board) ? await fromServer(opts.board, opts, salt) : await fromFile(opts.board, opts, salt);
        for (const l of r.lines) process.stdout.write(`${l}\n`);
        process.stdout.write(
          r.stuffedOrIssued
            ? 'If you did not ask for a token yourself, someone obtained one in your name: report it to the election officials and the observers (SECURITY.md, "A token issued in your name").\n'
            : 'If you vote, a token will be issued in your name at that moment; if you abstain, it should stay "no" until the close.\n',
        );
        return r.inRegister ? 0 : 1;
      }),
    );
}
