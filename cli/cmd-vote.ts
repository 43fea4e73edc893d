/**
 * `tallyboard vote --server URL`: the terminal voting client (issue #5), the original project's
 * client done right.
 *
 * The voter logs in (password typed hidden, asked again when wrong), sees the ballot, chooses
 * and confirms; only THEN is the token obtained blindly (the organization never sees it), the
 * ballot encrypted and proven on this machine and sent; the receipt is saved and its tracker
 * printed. The token is obtained at cast time, as the web booth does (issue #9.4): each voter
 * gets one token, and a voter who stops at the choice (Ctrl-C, a closed terminal) must not have
 * spent it. Once obtained it is saved at once (mode 0600) and the path printed, so that if
 * anything fails before the ballot is cast, running the client again from the same folder, or
 * loading the file in the web booth, casts with it; it also serves to revote.
 *
 * `--audit` is a cast-or-audit check: the client encrypts the choice, shows the ciphertexts and
 * reveals their randomness so the voter (or any independent tool) can check that they encrypt
 * exactly the choice; that audited ballot is then discarded and the choice is encrypted afresh
 * before casting, because a ballot whose randomness was shown no longer hides the vote.
 *
 * Non-interactive use: `--login`, `--password-file`, `--choice` (one per question, in order:
 * option numbers or ids, comma-separated for several, `none` for a blank answer) and `--yes`.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { action, promptHidden, readSecret } from './_common.js';
import { serverUrlOption } from './_http.js';
import { VoterClient, loadToken, loadTokenRequest, saveToken, saveTokenRequest } from '../src/client/voter-client.js';
import { requestToken, type PendingToken } from '../src/election/token.js';
import { lastBallotOfToken } from '../src/client/ballot-standing.js';
import { formatLocalTime } from '../src/client/local-time.js';
import { BoardApi } from '../src/web/board-api.js';
import { formatDuration } from '../src/web/countdown.js';
import { auditBallot } from '../src/web/ballot-audit.js';
import { createBallot, precomputeBallot, tokenSignatureLength, type VoterToken } from '../src/election/ballot.js';
import { decodeSelection, encodeSelection } from '../src/election/ballot-encoding.js';
import type { Election } from '../src/election/manifest.js';
import { ed25519KeyPair } from '../src/crypto/ed25519.js';
import { TallyError, isTallyError } from '../src/errors.js';
import { intToHex, toHex } from '../src/wire.js';
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

/** Where the token is kept by default: the folder the client runs from, named by election and login. */
export function defaultTokenFile(electionId: string, login: string): string {
  return `token-${electionId}-${login.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}

/** A token key pair with no issuer signature: signs a cast-or-audit ballot that is never sent. */
function throwawayToken(election: Election): VoterToken {
  const kp = ed25519KeyPair();
  return { secretKey: kp.secretKey, credential: { publicKey: kp.publicKey, prefix: new Uint8Array(32), signature: new Uint8Array(tokenSignatureLength(election)) } };
}

/** The ballot server's listing: the last ballot cast with this token, if any (informational). */
async function earlierBallot(server: string, token: VoterToken): Promise<number | undefined> {
  const api = new BoardApi({ base: server });
  const { status } = await api.election();
  return lastBallotOfToken(async (from, limit) => (await api.entries(from, limit)).entries, status.boardSize, toHex(token.credential.publicKey));
}

/** Wrong passwords asked again on a terminal (up to MAX_PASSWORD_TRIES); a file or variable is used once. */
const MAX_PASSWORD_TRIES = 3;

async function readPassword(prompt: Prompter, opts: VoteOptions): Promise<{ password: string; typed: boolean }> {
  if (opts.passwordFile || process.env.TALLYBOARD_PASSWORD) return { password: await readSecret({ file: opts.passwordFile, env: 'TALLYBOARD_PASSWORD', prompt: 'password' }), typed: false };
  return { password: await prompt.hidden('password (not shown as you type): '), typed: true };
}

/** Log in; a wrong password typed on the terminal is asked again; a missing --org is explained. */
async function logIn(client: VoterClient, prompt: Prompter, login: string, opts: VoteOptions): Promise<{ id: string; password?: string }> {
  for (let attempt = 1; ; attempt++) {
    const { password, typed } = await readPassword(prompt, opts);
    try {
      return { id: await client.login(login, password), ...(typed ? { password } : {}) };
    } catch (e) {
      if (isTallyError(e, 'NOT_FOUND')) {
        throw new TallyError('NOT_FOUND', `${opts.org ?? opts.server} does not answer logins: it is a ballot server alone. Give the organization server too, with --org URL (with serve --role all, one URL serves both)`);
      }
      if (isTallyError(e, 'UNAUTHORIZED') && typed && attempt < MAX_PASSWORD_TRIES) {
        out('the login or the password is not correct; try again.\n');
        continue;
      }
      if (isTallyError(e, 'UNAUTHORIZED')) throw new TallyError('UNAUTHORIZED', 'the login or the password is not correct');
      throw e;
    }
  }
}

/** Errors after which the organization may have signed, or may sign, the request already sent. */
const INTERRUPTED: readonly string[] = ['BOARD_UNAVAILABLE', 'BOARD_BAD_RESPONSE', 'ISSUANCE_PENDING', 'ISSUANCE_NOT_RECORDED', 'SERVER_BUSY', 'INTERNAL'];

/**
 * Obtain the token at cast time. The request (token key and blinded message) is saved to
 * `requestFile` BEFORE it is sent and kept until the token is saved: if the answer never comes —
 * the organization server died, the connection broke, this program was stopped — the next run
 * sends the SAME blinded message, which the organization answers with the same signature
 * (spec §7.4, issue 16.7), instead of a new one it would refuse as a second token. An expired
 * session (the voter took long, or the organization restarted) logs in again and resends it.
 */
async function obtainToken(
  client: VoterClient,
  election: Election,
  prompt: Prompter,
  login: string,
  session: { id: string; password?: string },
  opts: VoteOptions,
  requestFile: string,
): Promise<VoterToken> {
  let pending: PendingToken;
  if (existsSync(requestFile)) {
    pending = loadTokenRequest(election, JSON.parse(readFileSync(requestFile, 'utf8')));
    out(`resending your interrupted token request from ${requestFile}…\n`);
  } else {
    pending = requestToken(election);
    writeSecretFile(requestFile, JSON.stringify(saveTokenRequest(election, pending), null, 2) + '\n');
  }
  try {
    try {
      return await client.obtainToken(election, session.id, pending);
    } catch (e) {
      if (!isTallyError(e, 'UNAUTHORIZED')) throw e;
      out('your session expired (or the organization server restarted); log in again to cast.\n');
      const again = session.password !== undefined ? { id: await client.login(login, session.password) } : await logIn(client, prompt, login, opts);
      return await client.obtainToken(election, again.id, pending);
    }
  } catch (e) {
    if (isTallyError(e, 'TOKEN_ALREADY_ISSUED')) throw alreadyIssued(election, login);
    if (isTallyError(e) && INTERRUPTED.includes(e.code)) {
      throw new TallyError(e.code, `${e.message}. Your token request is saved in ${requestFile}: run tallyboard vote again (from this folder) to resend it; the organization answers the same request with the same signature, so your vote is not lost`, { cause: e });
    }
    throw e;
  }
}

/** A second device, or an earlier run: the token exists somewhere; say where it may be. */
function alreadyIssued(election: Election, login: string): TallyError {
  return new TallyError(
    'TOKEN_ALREADY_ISSUED',
    `the voting token of ${login} was already issued (each voter gets one), on another device or in an earlier run. If you have its token file (${defaultTokenFile(election.manifest.electionId, login)} in the folder where the client ran, or the file the web booth saved), run again with --token-file FILE; nothing was cast now`,
  );
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
        const server = serverUrlOption('--server', opts.server);
        const org = opts.org !== undefined ? serverUrlOption('--org', opts.org) : undefined;
        const prompt = new Prompter();
        const ask = (q: string) => prompt.ask(q);
        try {
          const client = new VoterClient({ server, ...(org ? { org } : {}) });
          const { election, status } = await client.election();
          const m = election.manifest;
          out(`${m.title}\n  election ${m.electionId}, fingerprint ${election.fingerprintHex}\n  (compare the fingerprint with the one the organizers published)\n  voting from ${formatLocalTime(m.schedule.start)} to ${formatLocalTime(m.schedule.end)}; now ${status.phase}\n\n`);
          if (status.phase === 'scheduled') {
            throw new TallyError('ELECTION_NOT_OPEN', `voting has not opened yet: it opens ${formatLocalTime(m.schedule.start)} (in ${formatDuration(election.startMs - Date.parse(status.serverTime))}); come back then`);
          }
          if (status.phase !== 'open') throw new TallyError('ELECTION_CLOSED', `voting has closed (${status.phase === 'tallied' ? 'the results are published' : 'the votes are being counted'})`);

          const login = opts.login ?? (await ask('login: '));
          const tokenFile = opts.tokenFile ?? defaultTokenFile(m.electionId, login);
          let token: VoterToken | undefined;
          let session: { id: string; password?: string } | undefined;
          if (existsSync(tokenFile)) {
            token = loadToken(election, JSON.parse(readFileSync(tokenFile, 'utf8')));
            const earlier = await earlierBallot(server, token);
            out(`using your saved token from ${tokenFile}: no password is needed.\n`);
            if (earlier === undefined) out('  this token has not cast a ballot yet: the ballot you cast now is your first.\n');
            else if (m.revoting) out(`  this token cast a ballot at height ${earlier}: the ballot you cast now replaces it.\n`);
            else throw new TallyError('TOKEN_USED', `this token already cast a ballot (height ${earlier}) and this election does not let a voter change their vote`);
          } else {
            session = await logIn(client, prompt, login, opts);
            // Say it now, not after the voter has chosen (issue #9.12): a token issued elsewhere.
            const me = await client.me(session.id);
            // A token issued elsewhere — unless it was issued to THIS program's interrupted
            // request, saved beside the token file: that one is resent below (spec §7.4).
            if (me.issuance === 'issued' && !existsSync(`${tokenFile}.request`)) throw alreadyIssued(election, login);
            out(`logged in as ${login}. Your voting token is obtained only when you cast, so stopping before that costs you nothing.\n`);
          }

          // The work that does not depend on the choice (spec §5.6), done before the voter
          // chooses, so that encrypting after the choice costs milliseconds per question. Used
          // for exactly one ballot: the cast one (an audited ballot is encrypted afresh).
          const pre = precomputeBallot(election);
          const selections: number[][] = [];
          for (let q = 0; q < m.questions.length; q++) {
            const mq = m.questions[q]!;
            out(`\n${q + 1}. ${mq.title} — ${rule(mq.min, mq.max)}\n`);
            if (mq.max > 1 && !opts.choice) out('   (type the numbers of your choices separated by commas, e.g. 1,3; "none" or Enter for a blank answer)\n');
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
            // A cast-or-audit check needs a token to sign the throwaway ballot: a fresh local
            // key pair with no signature is enough, since the audited ballot is never sent.
            const audited = createBallot(election, selections, token ?? throwawayToken(election));
            audited.ballot.answers.forEach((a, q) => {
              const r = audited.randomness[q]!;
              const mPlain = audited.plaintexts[q]!;
              const ok = election.paillier.encrypt(mPlain, r) === a.c;
              const mq = m.questions[q]!;
              let words: string;
              try {
                const held = decodeSelection(mPlain, mq.options.length, election.digitBits);
                words = held.length === 0 ? '(blank)' : held.map((j) => mq.options[j]!.title).join(', ');
              } catch {
                words = '(NOT a valid selection)';
              }
              out(`  question ${q + 1}, ${mq.title}: the ciphertext holds ${words}\n    plaintext ${mPlain}, randomness ${intToHex(r, election.paillier.nLen).slice(0, 32)}…\n`);
              out(`    Enc(plaintext; randomness) ${ok ? 'equals' : 'DOES NOT equal'} the ciphertext: ${ok ? 'the device encrypted your choice' : 'DO NOT CAST FROM THIS DEVICE'}\n`);
              if (!ok) throw new TallyError('INTERNAL', 'the audited encryption does not match the choice');
            });
            const auditFile = `audit-${toHex(audited.tracker).slice(0, 16)}.json`;
            writePublicFile(auditFile, JSON.stringify(auditBallot(election, audited, selections).record, null, 2) + '\n');
            out(`  this audited ballot is discarded; your vote is encrypted afresh below\n  audit file saved to ${auditFile}: check it independently with tallyboard audit check ${auditFile} --election ${server}\n`);
          }

          if (!opts.yes) {
            const answer = await ask('\nCast this ballot? [y/N] ');
            if (!/^y(es)?$/i.test(answer)) {
              out('not cast.\n');
              return 1;
            }
          }
          if (token === undefined) {
            out('obtaining your voting token blindly (the organization cannot link it to you)…\n');
            const requestFile = `${tokenFile}.request`;
            token = await obtainToken(client, election, prompt, login, session!, opts, requestFile);
            writeSecretFile(tokenFile, JSON.stringify(saveToken(election, token), null, 2) + '\n');
            rmSync(requestFile, { force: true }); // the token is saved: the request has served
            out(`token saved to ${tokenFile} (keep it private). If anything fails before your ballot is cast, run tallyboard vote again from this folder, or load this file in the web booth: your vote is not lost.${m.revoting ? ' It also lets you change your vote later.' : ''}\n`);
          }
          out('encrypting and proving on this machine…\n');
          const enc = createBallot(election, selections, token, undefined, (done, total) => out(`  question ${done}/${total} done\n`), pre);
          const receipt = await client.cast(election, enc.ballot);
          const file = opts.receiptOut ?? `receipt-${receipt.tracker.slice(0, 16)}.json`;
          writePublicFile(file, JSON.stringify(receipt, null, 2) + '\n');
          out(`\nCast. Your tracker: ${receipt.tracker}\n  on the board at height ${receipt.height}${receipt.replaces !== undefined ? `, replacing your ballot at height ${receipt.replaces}` : ''}\n  receipt saved to ${file}\n  check it any time: tallyboard receipt check ${file} --board ${server}\n`);
          return 0;
        } finally {
          prompt.close();
        }
      }),
    );
}
