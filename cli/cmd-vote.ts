/**
 * `tallyboard vote --server URL`: the terminal voting client (issue #5), the original project's
 * client done right.
 *
 * The voter logs in (password typed hidden), obtains their token blindly (the organization
 * never sees it), sees the ballot, chooses and confirms; the ballot is encrypted and proven on
 * this machine and only then sent; the receipt is saved and its tracker printed. The token is
 * saved (mode 0600) so the voter can vote again where the election allows revoting.
 *
 * `--audit` is a cast-or-audit check: the client encrypts the choice, shows the ciphertexts and
 * reveals their randomness so the voter (or any independent tool) can check that they encrypt
 * exactly the choice; that audited ballot is then discarded and the choice is encrypted afresh
 * before casting, because a ballot whose randomness was shown no longer hides the vote.
 *
 * Non-interactive use: `--login`, `--password-file`, `--choice` (one per question, in order:
 * option numbers or ids, comma-separated for several, `none` for a blank answer) and `--yes`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { action, promptHidden, readSecret } from './_common.js';
import { VoterClient, loadToken, saveToken } from '../src/client/voter-client.js';
import { createBallot, type VoterToken } from '../src/election/ballot.js';
import { encodeSelection } from '../src/election/ballot-encoding.js';
import type { Election } from '../src/election/manifest.js';
import { TallyError } from '../src/errors.js';
import { intToHex } from '../src/wire.js';
import { writeSecretFile, writePublicFile } from '../src/node/data-dir.js';

interface VoteOptions {
  server: string;
  org?: string;
  login?: string;
  passwordFile?: string;
  choice?: string[];
  yes?: boolean;
  audit?: boolean;
  receiptOut?: string;
  tokenFile?: string;
}

const out = (s: string) => process.stdout.write(s);

/**
 * Parse one question's answer: option numbers (1-based) or ids, comma-separated; `none` or an
 * empty answer for a blank ballot. Checked against the question's rules.
 * @throws TallyError BAD_SELECTION with a message the voter can act on
 */
export function parseAnswer(election: Election, q: number, text: string): number[] {
  const mq = election.manifest.questions[q]!;
  const t = text.trim();
  const parts = t === '' || t.toLowerCase() === 'none' ? [] : t.split(',').map((p) => p.trim());
  const picked = parts.map((p) => {
    const byId = mq.options.findIndex((o) => o.id === p);
    if (byId >= 0) return byId;
    const n = /^\d+$/.test(p) ? Number(p) : NaN;
    if (n >= 1 && n <= mq.options.length) return n - 1;
    throw new TallyError('BAD_SELECTION', `"${p}" is not an option of "${mq.title}": give a number from 1 to ${mq.options.length} or an option id`);
  });
  encodeSelection(picked, election.questions[q]!.shape, election.digitBits); // checks min, max, duplicates
  return picked;
}

/**
 * Questions on the terminal. Visible answers come through one line reader whose iterator
 * buffers (answers typed ahead or piped by a script are not lost). A hidden answer is read with
 * the line reader CLOSED, so that it cannot echo the keystrokes, then a new reader takes over.
 */
class Prompter {
  private rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
  private lines = this.rl[Symbol.asyncIterator]();

  async ask(q: string): Promise<string> {
    process.stderr.write(q);
    const r = await this.lines.next();
    if (r.done) throw new TallyError('MALFORMED', 'the input ended before the question was answered');
    return String(r.value).trim();
  }

  async hidden(q: string): Promise<string> {
    if (!process.stdin.isTTY) throw new TallyError('MALFORMED', 'no terminal to type the password on: use --password-file or TALLYBOARD_PASSWORD');
    this.rl.close();
    try {
      return await promptHidden(q);
    } finally {
      this.rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      this.lines = this.rl[Symbol.asyncIterator]();
    }
  }

  close(): void {
    this.rl.close();
  }
}

function rule(min: number, max: number): string {
  if (min === max) return min === 1 ? 'choose one' : `choose exactly ${min}`;
  return min === 0 ? `choose up to ${max} (or none, to leave it blank)` : `choose from ${min} to ${max}`;
}

export function register(program: Command): void {
  program
    .command('vote')
    .description('vote in an election from this terminal: log in, get a token blindly, encrypt locally, cast, keep the receipt')
    .requiredOption('--server <url>', 'base URL of the ballot server')
    .option('--org <url>', 'base URL of the organization server (default: the ballot server, as with `serve --role all`)')
    .option('--login <login>', 'your login (asked if absent)')
    .option('--password-file <file>', 'read the password from a file (otherwise TALLYBOARD_PASSWORD, or typed hidden)')
    .option('--choice <answer...>', 'answers, one per question in order: option numbers or ids, comma-separated; "none" for blank')
    .option('--yes', 'cast without asking for confirmation')
    .option('--audit', 'cast-or-audit: reveal and check one encryption of your choice, then encrypt afresh and cast')
    .option('--receipt-out <file>', 'where to save the receipt (default: receipt-<tracker>.json)')
    .option('--token-file <file>', 'where your token is kept, for revoting (default: token-<election>-<login>.json)')
    .action(
      action(async (opts: VoteOptions) => {
        const prompt = new Prompter();
        const ask = (q: string) => prompt.ask(q);
        try {
          const client = new VoterClient({ server: opts.server, ...(opts.org ? { org: opts.org } : {}) });
          const { election, status } = await client.election();
          const m = election.manifest;
          out(`${m.title}\n  election ${m.electionId}, fingerprint ${election.fingerprintHex}\n  open ${m.schedule.start} – ${m.schedule.end}; now ${status.phase}\n\n`);
          if (status.phase !== 'open') throw new TallyError(status.phase === 'scheduled' ? 'ELECTION_NOT_OPEN' : 'ELECTION_CLOSED', `the election is ${status.phase}`);

          const login = opts.login ?? (await ask('login: '));
          const tokenFile = opts.tokenFile ?? `token-${m.electionId}-${login}.json`;
          let token: VoterToken;
          if (existsSync(tokenFile)) {
            token = loadToken(election, JSON.parse(readFileSync(tokenFile, 'utf8')));
            out(`using your token from ${tokenFile} (a new ballot ${m.revoting ? 'replaces your earlier one' : 'will be refused: this election does not allow revoting'})\n`);
          } else {
            const password = opts.passwordFile || process.env.TALLYBOARD_PASSWORD ? await readSecret({ file: opts.passwordFile, env: 'TALLYBOARD_PASSWORD', prompt: 'password' }) : await prompt.hidden('password: ');
            const session = await client.login(login, password);
            out('logged in; obtaining your voting token blindly (the organization cannot link it to you)…\n');
            token = await client.obtainToken(election, session);
            writeSecretFile(tokenFile, JSON.stringify(saveToken(election, token), null, 2) + '\n');
            out(`token saved to ${tokenFile} (keep it private: it lets you vote again if revoting is allowed)\n`);
          }

          const selections: number[][] = [];
          for (let q = 0; q < m.questions.length; q++) {
            const mq = m.questions[q]!;
            out(`\n${q + 1}. ${mq.title} — ${rule(mq.min, mq.max)}\n`);
            mq.options.forEach((o, j) => out(`   ${j + 1}) ${o.title}\n`));
            if (opts.choice) {
              const given = opts.choice[q];
              if (given === undefined) throw new TallyError('BAD_SELECTION', `--choice: no answer for question ${q + 1}`);
              selections.push(parseAnswer(election, q, given));
              continue;
            }
            for (;;) {
              try {
                selections.push(parseAnswer(election, q, await ask('   your choice: ')));
                break;
              } catch (e) {
                out(`   ${e instanceof Error ? e.message : String(e)}; try again\n`);
              }
            }
          }
          out('\nYour ballot:\n');
          selections.forEach((sel, q) => {
            const mq = m.questions[q]!;
            out(`  ${mq.title}: ${sel.length === 0 ? '(blank)' : sel.map((j) => mq.options[j]!.title).join(', ')}\n`);
          });

          if (opts.audit) {
            out('\nAudit: encrypting your choice and revealing the randomness…\n');
            const audited = createBallot(election, selections, token);
            audited.ballot.answers.forEach((a, q) => {
              const r = audited.randomness[q]!;
              const mPlain = audited.plaintexts[q]!;
              const ok = election.paillier.encrypt(mPlain, r) === a.c;
              out(`  question ${q + 1}: plaintext ${mPlain} (your selection), randomness ${intToHex(r, election.paillier.nLen).slice(0, 32)}…\n`);
              out(`    Enc(plaintext; randomness) ${ok ? 'equals' : 'DOES NOT equal'} the ciphertext: ${ok ? 'the device encrypted your choice' : 'DO NOT CAST FROM THIS DEVICE'}\n`);
              if (!ok) throw new TallyError('INTERNAL', 'the audited encryption does not match the choice');
            });
            out('  this audited ballot is discarded; your vote is encrypted afresh below\n');
          }

          if (!opts.yes) {
            const answer = await ask('\nCast this ballot? [y/N] ');
            if (!/^y(es)?$/i.test(answer)) {
              out('not cast.\n');
              return 1;
            }
          }
          out('encrypting and proving on this machine…\n');
          const enc = createBallot(election, selections, token, undefined, (done, total) => out(`  question ${done}/${total} done\n`));
          const receipt = await client.cast(election, enc.ballot);
          const file = opts.receiptOut ?? `receipt-${receipt.tracker.slice(0, 16)}.json`;
          writePublicFile(file, JSON.stringify(receipt, null, 2) + '\n');
          out(`\nCast. Your tracker: ${receipt.tracker}\n  on the board at height ${receipt.height}${receipt.replaces !== undefined ? `, replacing your ballot at height ${receipt.replaces}` : ''}\n  receipt saved to ${file}\n  check it any time: tallyboard receipt check ${file} --board ${opts.server}\n`);
          return 0;
        } finally {
          prompt.close();
        }
      }),
    );
}
