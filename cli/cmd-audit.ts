/**
 * `tallyboard audit check AUDIT-FILE --election URL|FILE`: the independent check of a
 * cast-or-audit file (`tallyboard-audit/1`, saved by the booth's "Download the audit file" or by
 * `tallyboard vote --audit`), issue #9.8.
 *
 * The check is src/client/audit-file-check.ts, which shares no code with the encryption of the
 * booth or the client; run it on ANOTHER device than the one that encrypted, since a cheating
 * device would also cheat in its own check. It prints, per question, whether the ciphertext
 * opens to the revealed plaintext and randomness and which options that plaintext selects, in
 * words, for the voter to compare with what they chose. Exit 0 only if every question opens to
 * an allowed selection that matches the names in the file.
 *
 * The election (n, b, the questions) comes from `--election`: the ballot server's URL (GET
 * /api/election), a board export (its setup entry), or a manifest file (election.json). It is
 * validated in full, and the file's fingerprint must be its fingerprint.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { TallyError } from '../src/errors.js';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { readJsonFile } from '../src/node/data-dir.js';
import { checkAuditFile, MAX_AUDIT_FILE_CHARS, type AuditElection } from '../src/client/audit-file-check.js';
import { BoardApi } from '../src/web/board-api.js';
import { printable } from '../auditor/report.js';
import { action } from './_common.js';
import { isUrl, serverBase } from './_http.js';

/** The manifest of a board export: the setup entry on line 2 (line 1 is the header). */
async function manifestOfBoardFile(path: string): Promise<unknown> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let i = 0;
  for await (const line of lines) {
    if (++i === 2) {
      lines.close();
      return (JSON.parse(line) as { payload?: { manifest?: unknown } }).payload?.manifest;
    }
  }
  throw new TallyError('MALFORMED', `${path}: not a board export (no setup entry on line 2)`);
}

/** The election named by --election, validated. */
async function electionFrom(source: string): Promise<Election> {
  let manifest: unknown;
  if (isUrl(source)) {
    manifest = (await new BoardApi({ base: serverBase(source) }).election()).manifest;
  } else {
    if (!existsSync(source)) throw new TallyError('NOT_FOUND', `--election: no file at ${source}`);
    if (source.endsWith('.jsonl')) manifest = await manifestOfBoardFile(source);
    else {
      const json = readJsonFile(source, 'the election', 16 << 20) as { manifest?: unknown };
      manifest = json.manifest ?? json; // GET /api/election saved to a file, or a manifest
    }
  }
  return parseManifest(manifest);
}

/** The public parameters the independent check needs. */
export function auditElection(e: Election): AuditElection {
  const m = e.manifest;
  return { electionId: m.electionId, fingerprint: e.fingerprintHex, n: e.paillier.n, digitBits: e.digitBits, questions: m.questions };
}

async function check(file: string, opts: { election: string }): Promise<number> {
  const json = readJsonFile(file, 'the audit file', MAX_AUDIT_FILE_CHARS);
  const election = await electionFrom(opts.election);
  const v = checkAuditFile(auditElection(election), json);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  if (!('questions' in v)) {
    out(`NOT CHECKED: ${printable(v.reason)}`);
    return 1;
  }
  out(`audit file ${file}: ballot ${v.tracker} of election ${election.manifest.electionId}`);
  out(`(checked here, independently of the device that encrypted: Enc(m; r) recomputed from the spec)`);
  v.questions.forEach((q, i) => {
    const words = q.selects === undefined ? '(not a valid selection)' : q.selects.length === 0 ? '(blank)' : q.selects.join(', ');
    out(`${i + 1}. ${printable(q.title)}`);
    out(`   the encrypted ballot holds: ${printable(words)}`);
    out(`   ciphertext opens to it: ${q.opens ? 'yes' : 'NO'}; an allowed answer: ${q.allowed ? 'yes' : 'NO'}; same as the names in the file: ${q.namesAgree ? 'yes' : 'NO'}`);
    for (const p of q.problems) out(`   problem: ${printable(p)}`);
  });
  out(
    v.ok
      ? 'OK: the audited ballot holds exactly the choices above. Compare them with what you chose: if they differ, the device that encrypted did not encrypt your choice.'
      : 'FAILED: the audited ballot does not hold what the device revealed. Do not vote from that device; tell the organizers and keep this file.',
  );
  return v.ok ? 0 : 1;
}

/**
 * Registers `audit check`.
 * @param program - the `tallyboard` program
 */
export function register(program: Command): void {
  program
    .command('audit')
    .description('cast-or-audit files (spec §10.4)')
    .command('check')
    .argument('<audit-file>', 'the audit file saved by the booth or by tallyboard vote --audit (audit-….json)')
    .description('check a cast-or-audit file independently: does each ciphertext open to the revealed choice, and which options is it, in words')
    .requiredOption('--election <url|file>', 'the election: the ballot server URL (http://…), a board export (board.jsonl) or a manifest (election.json)')
    .action(action(async (file: string, opts: { election: string }) => check(file, opts)));
}
