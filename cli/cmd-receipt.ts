/**
 * `tallyboard receipt check RECEIPT --board URL|FILE`: is my ballot on the board? The voter's
 * check of spec/10-verification.md §10.3, against the board as it is NOW, not only as it was
 * when the receipt was issued.
 *
 * Both ways first check the receipt itself (src/ballot/receipt.ts `verifyReceipt`: the
 * election's fingerprint, the ballot verifies and holds the tracker, the receipt's checkpoint is
 * signed by the election's board key and includes the entry), then that the board today still
 * contains the board the receipt's checkpoint signed:
 *
 * - FILE (a board export): the election comes from the file's setup entry (line 2). The file is
 *   read once, as a stream: its hash chain and final checkpoint must verify (bulletin's
 *   ChainVerifier, audit steps 1–3) under the manifest's board key; the entry at the receipt's
 *   height must be the receipt's entry (same entry hash); and since the file has every entry,
 *   the Merkle root and chain head of its first `treeSize` entries are recomputed and must be
 *   the receipt checkpoint's. A board rewritten after the receipt was issued fails here.
 * - URL (a ballot server): the election from `GET /api/election`, the latest checkpoint, and a
 *   consistency proof from the receipt's tree size to the latest one, checked with
 *   `verifyCheckpointExtension` under the manifest's board key (spec §9.5.3).
 *
 * The manifest is never trusted on its own: the receipt's fingerprint, which the voter got when
 * casting, must be the fingerprint of the manifest found, and that binds the board key.
 *
 * Prints `YES: your ballot … is on the board at height H, included in the board of N entries
 * signed T`, then whether it is the ballot that counts — `COUNTS: …` or `REPLACED: …` when the
 * same token cast a later ballot (issue #9.3), the same in both ways — (exit 0), or
 * `NO: reason` (exit 1). A server that cannot be reached is an error (`error CODE: …`, exit 1),
 * not an answer.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { TallyError } from '../src/errors.js';
import { parseHex } from '../src/wire.js';
import { bytesEqual } from '../src/crypto/hash.js';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { parseSetup } from '../src/election/records.js';
import { verifyReceipt, type ReceiptJson } from '../src/ballot/receipt.js';
import { readJsonFile } from '../src/node/data-dir.js';
import { encodeEntry, entryFromJson } from '../bulletin/entry.js';
import type { Checkpoint } from '../bulletin/checkpoint.js';
import { cosignedCheckpointFromJson } from '../bulletin/cosignature.js';
import { ChainVerifier } from '../bulletin/verify.js';
import { MAX_LINE_BYTES } from '../bulletin/board-file.js';
import { fileRecords } from '../auditor/source.js';
import { printable } from '../auditor/report.js';
import { action, plural, Progress } from './_common.js';
import { isUrl, serverBase } from './_http.js';
import { BoardApi } from '../src/web/board-api.js';
import { checkReceiptOnBoard } from '../src/web/receipt-check.js';
import { ballotTokenKey, standingText, type Standing } from '../src/client/ballot-standing.js';
import { formatLocalTime } from '../src/client/local-time.js';

/** Largest receipt file read (a receipt holds one ballot entry, at most one board line). */
const MAX_RECEIPT_BYTES = MAX_LINE_BYTES + 64 * 1024;

/** The answer. */
type Answer =
  | { readonly yes: true; readonly tracker: string; readonly height: number; readonly size: number; readonly signedAt: number; readonly standing: Standing; readonly phase?: string; readonly revoting: boolean; readonly witnesses: string }
  | { readonly yes: false; readonly reason: string };

const no = (reason: string): Answer => ({ yes: false, reason });

/** The parts of a receipt `verifyReceipt` has accepted, decoded. */
interface CheckedReceipt {
  readonly tracker: string;
  readonly height: number;
  readonly checkpoint: Checkpoint;
  readonly entryHash: Uint8Array;
  readonly tokenKey: string;
  /** what the receipt's cosignatures say (spec §9.9), as a line */
  readonly witnesses: string;
}

/** The WITNESSES line: the receipt checkpoint's cosignatures, checked against the manifest. */
function witnessLine(election: Election, w: { valid: readonly string[]; invalid: readonly { name: string; reason: string }[]; quorum: number; hasQuorum: boolean }, size: number): string {
  if (election.witnesses.length === 0) return `the manifest names no witnesses; the receipt carries ${plural(w.valid.length + w.invalid.length, 'cosignature', 'cosignatures')}`;
  const bad = w.invalid.map((x) => `; INVALID cosignature by ${printable(x.name)}: ${printable(x.reason)}`).join('');
  const by = w.valid.length > 0 ? `cosigned by ${w.valid.map(printable).join(', ')}` : 'cosigned by no witness yet';
  const verdict = w.hasQuorum
    ? `the quorum of ${w.quorum} is reached: every board that carries a quorum contains your ballot's board`
    : `${w.valid.length} of the ${w.quorum} cosignatures required (witnesses cosign after the ballot server; a later receipt, GET /api/ballots/TRACKER, may carry more)`;
  return `your receipt's checkpoint (size ${size}) is ${by}: ${verdict}${bad}`;
}

/** verifyReceipt, then the parts the board checks need (it has validated their shapes). */
function checkReceipt(election: Election, json: unknown): CheckedReceipt | Answer {
  const v = verifyReceipt(election, json);
  if (!v.ok) return no(`the receipt does not verify: ${v.reason}`);
  const r = json as ReceiptJson;
  const { checkpoint } = cosignedCheckpointFromJson(r.checkpoint);
  if (checkpoint.electionId !== election.manifest.electionId) return no("the receipt's checkpoint is for another election");
  const entry = entryFromJson(r.entry);
  const entryHash = encodeEntry(entry).hash;
  let stated: Uint8Array;
  try {
    stated = parseHex(r.entryHash, 'receipt.entryHash', 32);
  } catch (e) {
    return no(`the receipt's entryHash is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!bytesEqual(stated, entryHash)) return no("the receipt's entryHash is not the hash of its entry");
  const tokenKey = ballotTokenKey(entry.type, entry.payload);
  if (tokenKey === undefined) return no("the receipt's entry is not a ballot");
  return { tracker: v.tracker, height: v.height, checkpoint, entryHash, tokenKey, witnesses: witnessLine(election, v.witnesses, checkpoint.treeSize) };
}

/** Against a board export file, read once. */
async function checkFile(receipt: unknown, path: string): Promise<Answer> {
  if (!existsSync(path)) throw new TallyError('NOT_FOUND', `no board file at ${path}`);
  const progress = new Progress('checking the board file: entries read');
  try {
    return await checkFileWith(receipt, path, progress);
  } finally {
    progress.end();
  }
}

async function checkFileWith(receipt: unknown, path: string, progress: Progress): Promise<Answer> {
  let chain: ChainVerifier | undefined;
  let boardKey: Uint8Array | undefined;
  let r: CheckedReceipt | undefined;
  let final: Checkpoint | undefined;
  let election: Election | undefined;
  let replacedAt: number | undefined;
  let closed = false;
  const where = (line: number | undefined, height?: number) => [height !== undefined ? `height ${height}` : '', line !== undefined ? `line ${line}` : ''].filter(Boolean).join(', ');
  for await (const rec of fileRecords(path)()) {
    if (rec.kind === 'invalid') return no(`the board file is not valid at ${where(rec.line)}: ${rec.check}: ${printable(rec.reason)}`);
    if (rec.kind === 'header') {
      chain = new ChainVerifier(rec.header);
      boardKey = rec.header.boardPublicKey;
      if (chain.failure) return no(`the board file's header is not valid: ${chain.failure.reason}`);
      continue;
    }
    if (!chain || !boardKey) return no('the board file has no header');
    if (rec.kind === 'checkpoint') {
      const f = chain.finish(rec.checkpoint);
      if (!f.ok) return no(`the board file's final checkpoint does not verify: ${f.check}: ${printable(f.reason)}`);
      final = rec.checkpoint;
      continue;
    }
    const { entry } = rec;
    const pushed = chain.push(entry, rec.hash);
    if (!pushed.ok) return no(`the board file's hash chain is broken at ${where(rec.line, entry.height)}: ${pushed.check}: ${printable(pushed.reason)}`);
    progress.update(entry.height + 1);
    if (entry.type === 'close') closed = true;
    if (entry.height === 0) {
      try {
        election = parseSetup(entry.payload);
      } catch (e) {
        return no(`the board file's setup entry is not a valid election: ${e instanceof Error ? printable(e.message) : String(e)}`);
      }
      if (!bytesEqual(boardKey, election!.boardKey)) return no("the board file's header key is not the manifest's board key");
      const c = checkReceipt(election!, receipt);
      if ('yes' in c) return c;
      r = c;
      continue;
    }
    if (!r) return no('the board file does not start with a setup entry');
    if (entry.height === r.height && !bytesEqual(pushed.encoded.hash, r.entryHash)) {
      return no(`the board holds a different entry at height ${r.height}: your ballot is not there`);
    }
    if (chain.size === r.checkpoint.treeSize) {
      if (!bytesEqual(chain.rootHash, r.checkpoint.rootHash) || !bytesEqual(chain.chainHead, r.checkpoint.chainHead)) {
        return no(`the first ${r.checkpoint.treeSize} entries of this board are not the board your receipt's checkpoint signed (history was rewritten, or it is another board)`);
      }
    }
    if (entry.height > r.height && ballotTokenKey(entry.type, entry.payload) === r.tokenKey) replacedAt = entry.height;
  }
  if (!r || !chain) return no('the board file has no setup entry');
  if (!final) return no('the board file has no final checkpoint');
  if (chain.size < r.checkpoint.treeSize) {
    return no(`the board file has ${chain.size} entries, fewer than the ${r.checkpoint.treeSize} your receipt's checkpoint signed`);
  }
  const standing: Standing = replacedAt === undefined ? { counts: true, asOf: final.treeSize } : { counts: false, replacedAt, asOf: final.treeSize };
  return { yes: true, tracker: r.tracker, height: r.height, size: final.treeSize, signedAt: final.timestamp, standing, phase: closed ? 'closed' : 'open', revoting: election!.manifest.revoting, witnesses: r.witnesses };
}

/**
 * Against a ballot server: the same check as the board page (src/web/receipt-check.ts): the
 * receipt, the latest checkpoint extending the receipt's, and the entries after the ballot up to
 * that checkpoint (whether the token cast again).
 */
async function checkServer(receipt: unknown, url: string): Promise<Answer> {
  const api = new BoardApi({ base: serverBase(url) });
  const info = await api.election();
  let election: Election;
  try {
    election = parseManifest(info.manifest);
  } catch (e) {
    return no(`the server's election manifest is not valid: ${e instanceof Error ? printable(e.message) : String(e)}`);
  }
  if (info.fingerprint !== election.fingerprintHex) return no('the server states another fingerprint than its manifest has');
  const progress = new Progress('checking the entries after your ballot');
  const a = await checkReceiptOnBoard(api, receipt, election, (done, total) => progress.update(done, total));
  progress.end();
  if (!a.yes) return a;
  const v = verifyReceipt(election, receipt);
  if (!v.ok) return no(`the receipt does not verify: ${v.reason}`);
  return { yes: true, tracker: a.tracker, height: a.height, size: a.boardSize, signedAt: a.signedAt, standing: a.standing, phase: info.status.phase, revoting: election.manifest.revoting, witnesses: witnessLine(election, v.witnesses, v.treeSize) };
}

/**
 * Registers `receipt check`.
 * @param program - the `tallyboard` program
 */
export function register(program: Command): void {
  const receipt = program.command('receipt').description('ballot receipts (spec §10.3, §12.4)');
  receipt
    .command('check')
    .argument('<receipt>', 'the receipt file saved when the ballot was cast (JSON)')
    .description('check that your ballot is on the board: against a board export file, or against the ballot server now')
    .requiredOption('--board <url|file>', 'a board export file (board.jsonl), or the base URL of the ballot server (http://…)')
    .action(
      action(async (file: string, opts: { board: string }) => {
        const json = readJsonFile(file, 'the receipt', MAX_RECEIPT_BYTES);
        process.stderr.write(`checking the receipt against ${isUrl(opts.board) ? `the ballot server ${opts.board}` : `the board file ${opts.board}`}…\n`);
        const a = isUrl(opts.board) ? await checkServer(json, opts.board) : await checkFile(json, opts.board);
        if (!a.yes) {
          process.stdout.write(`NO: ${a.reason}\n`);
          return 1;
        }
        process.stdout.write(`YES: your ballot ${a.tracker} is on the board at height ${a.height}, included in the board of ${plural(a.size, 'entry', 'entries')} signed ${formatLocalTime(a.signedAt)}\n`);
        process.stdout.write(`${a.standing.counts ? 'COUNTS' : 'REPLACED'}: ${standingText(a.standing, a.phase, a.revoting)}\n`);
        process.stdout.write(`WITNESSES: ${a.witnesses}\n`);
        return 0;
      }),
    );
}
