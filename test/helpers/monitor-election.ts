/**
 * A live election for the monitor tests (test/monitor*.test.ts, issue 14.1): real ballot, org
 * and verification servers on loopback with a controlled clock, a replayable list of operations
 * (issuances, ballots, revotes, the close) so that a fork can repeat them byte for byte minus
 * one change, and the CLI run as a child process.
 */
import { recordTestIssuance, testRef } from './register.js';
import type { Test } from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { audit, type AuditReport } from '../../auditor/audit.js';
import { lineRecords } from '../../auditor/source.js';
import { exportLines } from '../../bulletin/export.js';
import { MemoryBoardStore } from '../../bulletin/store/memory.js';
import { ballotToJson, createBallot, type VoterToken } from '../../src/election/ballot.js';
import { encryptedTallyPayload, resultPayload } from '../../src/election/records.js';
import { decryptTally } from '../../src/election/tally.js';
import { createMemoryRegister } from '../../src/org/register-memory.js';
import { buildElectionServers } from '../../src/server/election-servers.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, fixtureToken, paillierFixture, seededRng, shareFixture } from './fixtures.js';

export const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url));
export const cli = join(root, 'dist', 'cli', 'tallyboard.js');
export const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };

export const election = fixtureElection({ electionId: 'monitor-2026', revoting: true, maxVoters: 40, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] });
export const T_START = election.startMs + 60_000;

export type Op = { readonly kind: 'issue'; readonly ref: Uint8Array } | { readonly kind: 'cast'; readonly ballot: unknown; readonly voter: number } | { readonly kind: 'close' };

/** Voter v: an issuance then a ballot; `revotes` voters cast again later. */
/** Register references are handed out once per test process, so two plans never share one. */
let nextRef = 1;

export function plan(voters: number, seed: string): { ops: Op[]; tokens: VoterToken[] } {
  const rng = seededRng(seed);
  const tokens: VoterToken[] = [];
  const ops: Op[] = [];
  for (let v = 0; v < voters; v++) {
    const token = fixtureToken(election, rng);
    tokens.push(token);
    ops.push({ kind: 'issue', ref: testRef(nextRef++) });
    ops.push({ kind: 'cast', voter: v, ballot: ballotToJson(election, createBallot(election, [[v % 3]], token).ballot) });
  }
  return { ops, tokens };
}

export function revote(tokens: VoterToken[], voter: number, choice: number): Op {
  return { kind: 'cast', voter, ballot: ballotToJson(election, createBallot(election, [[choice]], tokens[voter]!).ballot) };
}

export interface Running {
  readonly url: string;
  readonly servers: Awaited<ReturnType<typeof buildElectionServers>>;
  readonly clock: { now: number };
  /** ops applied so far */
  applied: number;
}

export async function start(t: Test): Promise<Running> {
  const clock = { now: T_START };
  const servers = await buildElectionServers(
    {
      election,
      boardStore: new MemoryBoardStore(),
      boardSecretKey: boardKeyFixture().secretKey,
      register: createMemoryRegister(),
      issuerKey: blindRsaFixture(),
      issuanceSecret: new Uint8Array(32).fill(3),
      paillierKey: paillierFixture('a'),
      pollMs: 50,
    },
    { credentials, now: () => clock.now, autoClose: false },
  );
  const url = await servers.ballot.listen({ host: '127.0.0.1', port: 0 });
  await Promise.all([servers.org.ready(), servers.verifier.ready()]);
  t.teardown(() => servers.close());
  return { url, servers, clock, applied: 0 };
}

/** Apply ops, one clock second apart (the same times on every replay). */
export async function apply(r: Running, ops: readonly Op[]): Promise<void> {
  for (const op of ops) {
    r.applied++;
    r.clock.now = T_START + r.applied * 1000;
    if (op.kind === 'issue') await recordTestIssuance(r.servers.box, op.ref);
    else if (op.kind === 'cast') {
      const res = await r.servers.ballot.inject({ method: 'POST', url: '/api/ballots', payload: op.ballot as object });
      if (res.statusCode !== 201) throw new Error(`cast refused: ${res.body}`);
    } else {
      const res = await r.servers.ballot.inject({ method: 'POST', url: '/admin/close', headers: { authorization: `Bearer ${credentials.adminToken}` } });
      if (res.statusCode !== 200) throw new Error(`close refused: ${res.body}`);
    }
  }
}

/** Close and wait for the verification server's tally (the board's phase becomes tallied). */
export async function closeAndTally(r: Running): Promise<void> {
  await apply(r, [{ kind: 'close' }]);
  await r.servers.service.tallyOnce().catch(() => undefined);
  while (r.servers.box.phase !== 'tallied') await new Promise((res) => setTimeout(res, 20));
}

/**
 * Close and publish the tally directly (a colluding key holder): the verification server
 * re-audits the board and rightly refuses to tally one that fails a step check.
 */
export async function closeAndForceTally(r: Running): Promise<void> {
  await apply(r, [{ kind: 'close' }]);
  const { ciphertexts, ballotsCounted } = r.servers.box.runningTally;
  const { partial, result } = decryptTally(election, shareFixture('a'), [...ciphertexts]);
  await r.servers.box.submitEncryptedTally(encryptedTallyPayload(election, { ciphertexts: [...ciphertexts], ballotsCounted }));
  await r.servers.box.submitPartialDecryption(partial);
  await r.servers.box.submitResult(resultPayload(election, result));
  while (r.servers.box.phase !== 'tallied') await new Promise((res) => setTimeout(res, 20));
}

export async function boardLines(r: Running): Promise<string[]> {
  const lines: string[] = [];
  for await (const l of exportLines(r.servers.box.board)) lines.push(l);
  return lines;
}

export async function fullAudit(lines: string[]): Promise<AuditReport> {
  const open = lineRecords(lines);
  return audit(open(), { reopen: open });
}

/** A report without the file's line numbers: what the monitor and the full audit must share. */
export function comparable(r: AuditReport | Record<string, unknown>): unknown {
  const x = r as AuditReport;
  return {
    ok: x.ok,
    firstFailure: x.firstFailure,
    entries: x.entries,
    fingerprint: x.fingerprint,
    results: x.results,
    steps: x.steps.map((s) => ({ step: s.step, status: s.status, counts: s.counts, failureCount: s.failureCount, failures: s.failures.map(({ line: _l, ...f }) => f) })),
  };
}

export function tempDir(t: Test, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A CLI child with its output collected; `waitFor` resolves when stderr/stdout match. */
export function runCli(args: string[]): { child: ChildProcessWithoutNullStreams; out: { stdout: string; stderr: string }; exited: Promise<number | null>; waitFor: (re: RegExp) => Promise<void> } {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, NO_COLOR: '1' } });
  const out = { stdout: '', stderr: '' };
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.re.test(out.stderr) || w.re.test(out.stdout)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', (d) => ((out.stdout += d), check()));
  child.stderr.on('data', (d) => ((out.stderr += d), check()));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  child.stdin.end();
  return {
    child,
    out,
    exited,
    waitFor: (re) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ re, resolve });
        exited.then(() => reject(new Error(`the command exited before ${re}: ${out.stderr}${out.stdout}`)), () => undefined);
        check();
      }),
  };
}

/** Entries the monitor says it read in one run (its last progress line). */
export function entriesRead(stderr: string): number {
  const all = [...stderr.matchAll(/(\d+) entries read in this run/g)];
  return all.length ? Number(all[all.length - 1]![1]) : 0;
}

