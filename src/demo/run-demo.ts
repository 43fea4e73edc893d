/**
 * `tallyboard demo`: a complete election on one machine with no setup (issue #5).
 *
 * It does what a real election does, with the real parts: a key ceremony for 3 trustees with
 * threshold 2 (OpenSSL safe primes, the well-formedness proofs), a validated manifest, a voter register on LevelDB, the three servers on loopback (one
 * origin), simulated voters who log in, obtain their token blindly, encrypt and prove on their
 * side and cast through the HTTP API (a few revote), the close, the threshold decryption — the
 * verification server (trustee 1) publishes the encrypted tally and its partial decryption,
 * trustee 2 verifies the board on its own and posts its partial decryption over the public API,
 * trustee 3 is absent, and 2 of 3 are enough to combine and publish — the board exported to DIR/board.jsonl, and the standalone auditor over that file.
 * It succeeds only if the audit passes and the published counts are the simulated votes.
 *
 * The schedule follows the work, never a guess of how long it takes (issue #9.1): the end time
 * is a week away, so it cannot bind however slow the machine; once the last simulated voter has
 * cast, the demo closes the election as an administrator may (POST /admin/close, reason
 * "admin", spec §12.2); the close wakes the verification server, which re-verifies the board and
 * tallies on its own; the demo then waits for that tally attempt itself — its outcome, not a
 * clock — so a refusal to decrypt ends the wait at once with the reasons.
 *
 * The only shortcut: voter passwords are hashed with a lighter scrypt (N = 2^12) so that 50
 * voters register in a second; everything else uses production parameters.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { generateBlindRsaKey } from '../crypto/blind-rsa-keygen.js';
import { blindRsaPublicKeyOf, blindRsaPublicKeyToJson } from '../crypto/blind-rsa.js';
import { ed25519KeyPair } from '../crypto/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { toHex } from '../wire.js';
import { runCeremony } from '../trustee/ceremony.js';
import { TrusteeService, type TrusteeOutcome } from '../trustee/trustee-service.js';
import { httpTrusteeBoard } from '../trustee/trustee-board.js';
import { keyMismatch } from '../trustee/share-decryptor.js';
import { partialDecryptTally } from '../election/partial-decryption.js';
import type { KeyShare } from '../crypto/threshold-paillier.js';
import { SPEC_VERSION } from '../crypto/hash.js';
import { parseManifest, type ManifestJson } from '../election/manifest.js';
import { createBallot } from '../election/ballot.js';
import { LevelBoardStore } from '../../bulletin/store/level.js';
import { openLevelRegister } from '../org/register-level.js';
import { importVotersCsv } from '../org/csv-import.js';
import { buildElectionServers } from '../server/election-servers.js';
import type { TallyOutcome, TallyService } from '../verifier/tally-service.js';
import { VoterClient } from '../client/voter-client.js';
import { audit, type AuditReport } from '../../auditor/audit.js';
import { BallotVerifierPool, defaultWorkerCount } from '../../auditor/workers.js';
import { fileRecords } from '../../auditor/source.js';
import { dataPaths, newCredential, writePublicFile } from '../node/data-dir.js';
import { TallyError } from '../errors.js';
import { formatLocalTime } from '../client/local-time.js';
import { FileTallyJournal } from '../verifier/tally-journal-file.js';
import { createWitnessKeyFile, witnessManifestMember } from '../witness/key-file.js';
import { WitnessCosigner } from '../witness/cosigner.js';
import { BoardHttp, WitnessFollower } from '../witness/follower.js';

export interface DemoOptions {
  readonly voters: number;
  readonly bits: number;
  readonly dir: string;
  /** progress lines for a person */
  readonly log: (line: string) => void;
  /** worker threads verifying ballots in the audit (default: one per core; 0 = this thread) */
  readonly workers?: number;
  /**
   * Called before each simulated voter logs in, with the voter's index (0-based). Tests use it
   * to slow a voter down: nothing in the demo may depend on how long a voter takes.
   */
  readonly beforeVoter?: (index: number) => Promise<void>;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly report: AuditReport;
  readonly counts: { readonly option: string; readonly count: number; readonly expected: number }[];
  readonly boardFile: string;
  readonly seconds: number;
}

/** The demo's one question (its options are DEMO_CANDIDATES). */
export const DEMO_QUESTION = { id: 'chair', title: 'Who should chair the committee?' } as const;
/** The demo's candidates. */
export const DEMO_CANDIDATES = [
  { id: 'lovelace', title: 'Ada Lovelace' },
  { id: 'hopper', title: 'Grace Hopper' },
  { id: 'turing', title: 'Alan Turing' },
  { id: 'johnson', title: 'Katherine Johnson' },
] as const;
const CANDIDATES = DEMO_CANDIDATES;
/** Simulated preferences: a clear winner, a close second, so the table means something. */
const WEIGHTS = [0.38, 0.3, 0.2, 0.12];
const SCRYPT_DEMO = { N: 1 << 12, r: 8, p: 1 };
/**
 * The end time's distance from the start. It only has to be out of reach: the demo closes the
 * election itself once every voter has voted, so no duration is estimated anywhere.
 */
export const DEMO_END_AFTER_MS = 7 * 24 * 3600_000;
/** The demo's ceremony: 3 trustees, any 2 decrypt; trustee 3 stays absent (issue 13). */
export const DEMO_TRUSTEES = 3;
export const DEMO_THRESHOLD = 2;
/** How often a line says the tally is still running (a sign of life, not a deadline). */
const HEARTBEAT_MS = 10_000;

function pickCandidate(): number {
  const x = randomBytes(2);
  let u = ((x[0]! << 8) | x[1]!) / 65536;
  for (let i = 0; i < WEIGHTS.length; i++) {
    if (u < WEIGHTS[i]!) return i;
    u -= WEIGHTS[i]!;
  }
  return WEIGHTS.length - 1;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const t0 = Date.now();
  const log = opts.log;
  const paths = dataPaths(opts.dir);
  mkdirSync(opts.dir, { recursive: true });

  log(`keys: a key ceremony for ${DEMO_TRUSTEES} trustees with threshold ${DEMO_THRESHOLD} (${opts.bits}-bit modulus from two safe primes), the organization's RSA key and the board key`);
  const ceremony = await runCeremony({
    bits: opts.bits,
    trustees: DEMO_TRUSTEES,
    threshold: DEMO_THRESHOLD,
    onProgress: (p) => {
      if ((p.phase === 'modulus' || p.phase === 'auxiliary') && p.prime.state === 'found') log(`  ${p.phase === 'modulus' ? 'election modulus' : 'no-small-factor parameters'}: safe prime ${p.prime.prime} found`);
      else if (p.phase === 'modulus-proof') log('  proving the modulus well formed (Π^mod, Π^fac)');
    },
  });
  const share = (i: number): KeyShare => ceremony.shares[i - 1]!;
  const issuer = generateBlindRsaKey(3072);
  const board = ed25519KeyPair();
  // Two witnesses (spec §9.9, §11.6), each with its key file and state directory under DIR.
  const witnessKeys = ['witness-1.demo', 'witness-2.demo'].map((name) => createWitnessKeyFile(join(opts.dir, 'witnesses', `${name}.key`), name));

  // The end time never binds (see the file header): the close is the demo's own, after the work.
  const start = Date.now() - 1000;
  const end = start + DEMO_END_AFTER_MS;
  const manifest: ManifestJson = {
    version: SPEC_VERSION,
    electionId: `demo-${new Date(start).toISOString().slice(0, 10)}`,
    title: 'Tallyboard demo election',
    questions: [{ ...DEMO_QUESTION, options: CANDIDATES.map((c) => ({ ...c })), min: 1, max: 1 }],
    schedule: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
    maxVoters: opts.voters,
    revoting: true,
    keys: {
      election: ceremony.publicKey,
      tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(issuer)),
      board: toHex(board.publicKey),
    },
    witnesses: { quorum: 2, members: witnessKeys.map(witnessManifestMember) },
  };
  const election = parseManifest(manifest);
  writePublicFile(paths.manifest, JSON.stringify(manifest, null, 2) + '\n');
  log(`election: ${election.manifest.electionId}, fingerprint ${election.fingerprintHex}`);
  log(`  end time ${formatLocalTime(manifest.schedule.end)}, a week away so that it never cuts a voter off on a slow machine; the demo closes the election itself once every voter has voted`);

  const register = await openLevelRegister(paths.register);
  const csv = ['first_name,last_name,email,login', ...Array.from({ length: opts.voters }, (_, i) => `Voter,${i + 1},voter${i + 1}@example.org,voter${i + 1}`)].join('\n');
  const { generated } = await importVotersCsv(register, csv, { scrypt: SCRYPT_DEMO });
  log(`voters: ${generated.length} registered`);

  const credentials = { adminToken: newCredential(), serviceToken: newCredential() };
  const servers = await buildElectionServers(
    {
      election,
      boardStore: new LevelBoardStore(paths.board),
      boardSecretKey: board.secretKey,
      register,
      issuerKey: issuer,
      issuanceSecret: randomBytes(32),
      scrypt: SCRYPT_DEMO,
      // Issuance batches (spec §7.4): the demo's voters get their tokens at once, ten to an entry,
      // so board order does not say whose ballot is whose. The window is the privacy wait of a
      // batch that does not fill (the last one), not a guess at how long anything takes.
      issuanceBatch: { size: Math.min(10, opts.voters), windowMs: 2000 },
      // The verification server is also trustee 1 (it could hold no share at all: it only
      // coordinates then). Its journal (spec §8.5) on disk, as `serve` keeps it.
      share: share(1),
      journal: new FileTallyJournal(paths.verifierJournal),
      pollMs: 500,
    },
    { credentials, singleOrigin: true },
  );
  try {
    const url = await servers.ballot.listen({ host: '127.0.0.1', port: 0 });
    await Promise.all([servers.org.ready(), servers.verifier.ready()]);
    log(`servers: listening on ${url}`);
    // The witnesses follow the board over HTTP, as a separate party would: each round verifies
    // the new entries with the auditor's checks and cosigns the latest checkpoint (W1–W5).
    const witnesses = witnessKeys.map((key) => {
      const cosigner = WitnessCosigner.open({ dir: join(opts.dir, 'witnesses', key.name), key, electionId: election.manifest.electionId, boardPublicKey: election.boardKey });
      return new WitnessFollower(new BoardHttp(url), election, key, cosigner);
    });
    const witnessRound = async (): Promise<number> => {
      let size = 0;
      for (const w of witnesses) {
        const r = await w.round();
        if (r.kind === 'alarm') throw new TallyError('CONFLICT', `a witness raised an alarm: ${r.reason}`);
        size = r.treeSize;
      }
      return size;
    };
    log(`witnesses: ${witnessKeys.map((k) => k.name).join(' and ')}, quorum 2 (each verifies the board and cosigns its checkpoints)`);
    // Trustee 2 runs as \`tallyboard trustee serve\` does, from before the end: it watches the
    // public board, and once the election is closed verifies it and decrypts on its own.
    // Trustee 3's machine is off: 2 of 3 suffice.
    const trustee2 = new TrusteeService({
      decryptor: {
        index: 2,
        mismatch: (e) => keyMismatch(ceremony.key.threshold, e),
        partial: (e, cts) => partialDecryptTally(ceremony.key.threshold, share(2), cts, e.fingerprint),
      },
      board: httpTrusteeBoard({ baseUrl: url }),
      journal: new FileTallyJournal(join(opts.dir, 'trustee-2')),
      pollMs: 500,
    });
    const trustee2Done = trustee2.run();
    trustee2Done.catch(() => undefined);
    log(`trustees: the verification server is trustee 1, trustee 2 watches the board on its own, trustee 3 is absent (its machine is off); any ${DEMO_THRESHOLD} of ${DEMO_TRUSTEES} decrypt`);
    const client = new VoterClient({ server: url });
    // Voters take the election from the server and re-validate it, as real clients do.
    const { election: seen } = await client.election();
    if (seen.fingerprintHex !== election.fingerprintHex) throw new Error('the server serves another election');
    const expected = new Array<number>(CANDIDATES.length).fill(0);
    const revoters = Math.max(1, Math.floor(opts.voters / 10));
    let revoted = 0;
    // Every voter logs in and obtains their token, all at once (the issuance batches fill).
    const tokens = await Promise.all(generated.map(async ({ login, password }) => client.obtainToken(seen, await client.login(login, password))));
    log(`tokens: ${tokens.length} issued, in batches of up to ${Math.min(10, opts.voters)} references per board entry`);
    for (let i = 0; i < generated.length; i++) {
      await opts.beforeVoter?.(i);
      const token = tokens[i]!;
      let choice = pickCandidate();
      await client.cast(seen, createBallot(seen, [[choice]], token).ballot);
      if (i % 10 === 9 && revoted < revoters) {
        // This voter changes their mind: the later ballot replaces the earlier one.
        choice = (choice + 1) % CANDIDATES.length;
        await client.cast(seen, createBallot(seen, [[choice]], token).ballot);
        revoted++;
      }
      expected[choice]!++;
      if ((i + 1) % 10 === 0 || i + 1 === generated.length) {
        log(`voting: ${i + 1}/${generated.length} cast (${revoted} revotes); witnesses cosigned the board at size ${await witnessRound()}`);
      }
    }

    // Every voter has voted: close now, as an administrator may (spec §12.2, reason "admin").
    const closed = await fetch(`${url}/admin/close`, { method: 'POST', headers: { authorization: `Bearer ${credentials.adminToken}` } });
    if (closed.status !== 200) throw new TallyError('INTERNAL', `the ballot server refused the close: HTTP ${closed.status} ${(await closed.text()).slice(0, 300)}`);
    const { height } = (await closed.json()) as { height: number };
    log(`close: the election is closed (entry ${height}); the verification server now re-verifies every ballot before it decrypts`);
    try {
      await waitForTally(servers.service, trustee2Done, log, witnessRound);
    } finally {
      await trustee2.stop();
    }
    log(`witnesses: cosigned the final board at size ${await witnessRound()}`);
    if ((await fetch(`${url}/api/results`)).status !== 200) throw new TallyError('INTERNAL', 'the verification server reports a tally, but the ballot server serves no results');
    log(`tally: published, combined from ${DEMO_THRESHOLD} trustees' partial decryptions, each with its proof`);

    const res = await fetch(`${url}/api/board/export`);
    const out = createWriteStream(paths.export);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) if (!out.write(chunk)) await once(out, 'drain');
    out.end();
    await once(out, 'finish');
    log(`board: exported to ${paths.export}`);

    // The standalone auditor over the exported file, verifying ballots on every core.
    const records = fileRecords(paths.export);
    const workers = opts.workers ?? defaultWorkerCount();
    const pool = workers > 0 ? new BallotVerifierPool({ workers }) : undefined;
    let report: AuditReport;
    try {
      report = await audit(pool ? pool.prefetch(records()) : records(), { reopen: records, ...(pool ? { verifyBallot: pool.verifyBallot, verifyPartialDecryption: pool.verifyPartialDecryption } : {}) });
    } finally {
      await pool?.close();
    }
    const audited = report.results?.[0]?.counts ?? {};
    const counts = CANDIDATES.map((c, i) => ({ option: c.title, count: audited[c.id] ?? -1, expected: expected[i]! }));
    const ok = report.ok && counts.every((c) => c.count === c.expected);
    return { ok, report, counts, boardFile: paths.export, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await servers.close();
  }
}

/**
 * Wait for the verification server's tally: join the attempt the close started (or start one)
 * and follow its outcome. While fewer than k trustees have decrypted ('awaiting-trustees'), wait
 * for trustee 2's own service to post — its outcome, not a clock — then try again. A sign of life
 * every HEARTBEAT_MS; no deadline, since re-verifying a large board on a slow machine takes as
 * long as it takes.
 * @throws TallyError CONFLICT if the verification server or the trustee refuses to decrypt (with
 *   the reasons), or the error that ended an attempt
 */
async function waitForTally(service: TallyService, trustee: Promise<TrusteeOutcome>, log: (line: string) => void, witnessRound: () => Promise<number>): Promise<void> {
  const t0 = Date.now();
  const beat = setInterval(() => log(`tally: still re-verifying the board (${Math.round((Date.now() - t0) / 1000)} s)`), HEARTBEAT_MS);
  const refused = (who: string, failures: readonly { check: string; height?: number; reason: string }[]) =>
    new TallyError('CONFLICT', `${who} refused to decrypt (the board fails verification): ${failures.map((f) => `${f.check}${f.height !== undefined ? ` at entry ${f.height}` : ''}: ${f.reason}`).join('; ')}`);
  let trusteeDone = false;
  let afterTrustee = 0;
  try {
    let witnessTries = 0;
    for (;;) {
      const outcome: TallyOutcome = await service.tallyOnce();
      if (outcome.outcome === 'refused') throw refused('the verification server', outcome.failures);
      if (outcome.outcome === 'not-closed') throw new TallyError('CONFLICT', `the verification server sees the election as ${outcome.phase}, not closed`);
      if (outcome.outcome === 'awaiting-witnesses') {
        // The verification server decrypts only a close checkpoint with the witnesses' quorum:
        // let the witnesses take their turn (a round each, driven by the demo, not by a clock),
        // then retry. A second try may join an attempt the poller began before they cosigned.
        if (witnessTries++ > 2) throw new TallyError('CONFLICT', `the witnesses cosigned, and the verification server still waits for ${outcome.witnesses.join(', ')}`);
        log(`tally: the verification server waits for the witnesses (${outcome.cosigned.length} of ${outcome.quorum} on the close checkpoint)`);
        log(`witnesses: cosigned the close checkpoint (size ${await witnessRound()})`);
        continue;
      }
      if (outcome.outcome !== 'awaiting-trustees') break;
      if (trusteeDone) {
        // The attempt joined first may have read the board before trustee 2's entry; one that
        // starts after it must see it.
        if (++afterTrustee < 2) continue;
        throw new TallyError('CONFLICT', `trustee 2 has decrypted, yet the verification server has ${outcome.have} of ${outcome.need} partial decryptions`);
      }
      log(`tally: encrypted tally published; ${outcome.have} of ${outcome.need} partial decryptions on the board, waiting for trustee 2`);
      const t = await trustee;
      trusteeDone = true;
      if (t.outcome === 'refused') throw refused('trustee 2', t.failures);
      if (t.outcome === 'posted') log(`tally: trustee 2 verified the board itself and posted its partial decryption (entry ${t.height})`);
    }
  } finally {
    clearInterval(beat);
  }
  log(`tally: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Root directory used when `--data` is not given. */
export function defaultDemoDir(base: string): string {
  return join(base, `tallyboard-demo-${Date.now()}`);
}
