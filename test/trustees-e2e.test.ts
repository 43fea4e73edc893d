/**
 * A 3-of-5 election end to end with two trustees' machines off (issue 13, "Done when"), with the
 * real parts: the ballot, organization and verification servers on loopback (fastify, LevelDB),
 * voters through the HTTP API, the verification server as the coordinator holding NO share,
 * trustees 1 and 3 as `TrusteeService`s over the public HTTP board and trustee 5 as the compiled
 * `tallyboard trustee serve` in a child process with its encrypted share file, started before the
 * close (it waits, verifies, decrypts once and exits); trustees 2 and 4 never run. The key is a ceremony over the committed 2048-bit safe primes (no prime search).
 *
 *   - the coordinator publishes the encrypted tally and waits for 3 partial decryptions;
 *   - a forged partial decryption (trustee 2's proof for another ciphertext; a response out of
 *     range) is refused at the door (422 BAD_PARTIAL_DECRYPTION) and the board does not grow;
 *   - trustees 1, 3 and 5 each verify the board and post; an identical retry is `existing`;
 *   - the coordinator combines and publishes; the results are the votes; the exported board
 *     passes every audit step;
 *   - regression: a trustee refuses to decrypt a tampered board served over HTTP (the encrypted
 *     tally replaced by one voter's ballot, re-chained and re-signed with the board key), and
 *     posts nothing.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { randomBytes } from '@noble/hashes/utils.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { LevelBoardStore } from '../bulletin/store/level.js';
import { checkpointToJson } from '../bulletin/checkpoint.js';
import { consistencyProofToJson } from '../bulletin/proofs.js';
import { audit, type BoardRecord } from '../auditor/audit.js';
import { lineRecords } from '../auditor/source.js';
import { runCeremony } from '../src/trustee/ceremony.js';
import { writeShareFile } from '../src/trustee/share-file.js';
import { parseManifest, type ManifestJson } from '../src/election/manifest.js';
import { createBallot } from '../src/election/ballot.js';
import { encryptedTallyPayload } from '../src/election/records.js';
import { partialDecryptTally } from '../src/election/partial-decryption.js';
import { openLevelRegister } from '../src/org/register-level.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { VoterClient } from '../src/client/voter-client.js';
import { FileTallyJournal } from '../src/verifier/tally-journal-file.js';
import { MemoryTallyJournal } from '../src/verifier/tally-journal.js';
import { TrusteeService, type TrusteeDecryptor } from '../src/trustee/trustee-service.js';
import { httpTrusteeBoard } from '../src/trustee/trustee-board.js';
import { keyMismatch } from '../src/trustee/share-decryptor.js';
import type { KeyShare } from '../src/crypto/threshold-paillier.js';
import { blindRsaFixture, boardKeyFixture, manifestJson } from './helpers/fixtures.js';
import { buildBoard, type PlannedEntry } from './helpers/election-board.js';
import { exportText, leafHashes } from './helpers/verifier-board.js';
import { thresholdPrimes } from './helpers/threshold-kat.js';
import { buildConsistencyProof } from '../bulletin/merkle/proof-builder.js';
import { rootFromLeafHashes } from '../bulletin/merkle/frontier.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const CLI = join(repoRoot(), 'dist', 'cli', 'tallyboard.js');
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TALLYBOARD_')));
const SCRYPT_TEST = { N: 1 << 10, r: 8, p: 1 };

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const ceremony = await runCeremony({ bits: 2048, trustees: 5, threshold: 3, primes: { ...thresholdPrimes('safe2048'), aux: thresholdPrimes('aux2048') } });
const pk = ceremony.key.threshold;

function decryptorOf(share: KeyShare): TrusteeDecryptor {
  return { index: share.index, mismatch: (e) => keyMismatch(pk, e), partial: (e, cts) => partialDecryptTally(pk, share, cts, e.fingerprint) };
}

t.test('3 of 5 with two trustees off: the result is published and the board verifies', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-trustees-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const now = Date.now();
  const base = manifestJson({
    electionId: 'trustees-e2e',
    revoting: true,
    maxVoters: 10,
    questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }],
    start: new Date(now - 60_000).toISOString(),
    end: new Date(now + 7 * 24 * 3600_000).toISOString(),
  });
  const mj: ManifestJson = { ...base, keys: { ...base.keys, election: ceremony.publicKey } };
  const election = parseManifest(mj);

  const register = await openLevelRegister(join(dir, 'register'));
  const csv = ['first_name,last_name,email,login', ...Array.from({ length: 6 }, (_, i) => `V,${i},v${i}@example.org,v${i}`)].join('\n');
  const { generated } = await importVotersCsv(register, csv, { scrypt: SCRYPT_TEST });
  const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };
  const servers = await buildElectionServers(
    {
      election,
      boardStore: new LevelBoardStore(join(dir, 'board')),
      boardSecretKey: boardKeyFixture().secretKey,
      register,
      issuerKey: blindRsaFixture(),
      issuanceSecret: randomBytes(32),
      scrypt: SCRYPT_TEST,
      journal: new FileTallyJournal(join(dir, 'verifier')),
      pollMs: 60_000,
    },
    { credentials, singleOrigin: true },
  );
  t.teardown(() => servers.close());
  const url = await servers.ballot.listen({ host: '127.0.0.1', port: 0 });
  await Promise.all([servers.org.ready(), servers.verifier.ready()]);

  // Voters: 0,1,2,1,0,0 with voter 5 changing from 2 to 0.
  const client = new VoterClient({ server: url });
  const { election: seen } = await client.election();
  const votes = [0, 1, 2, 1, 0, 2];
  const expected = [0, 0, 0];
  let victimCiphertexts: bigint[] = [];
  for (const [i, v] of votes.entries()) {
    const session = await client.login(generated[i]!.login, generated[i]!.password);
    const token = await client.obtainToken(seen, session);
    const b = createBallot(seen, [[v]], token).ballot;
    if (i === 1) victimCiphertexts = b.answers.map((a) => a.c);
    await client.cast(seen, b);
    if (i === 5) {
      await client.cast(seen, createBallot(seen, [[0]], token).ballot);
      expected[0]!++;
    } else expected[v]!++;
  }
  // Trustee 5: `tallyboard trustee serve`, started before the close, decrypts on its own.
  const shareFile = join(dir, 'trustee-5.share.json');
  await writeShareFile(shareFile, pk, ceremony.shares[4]!, 'trustee five passphrase', { scrypt: SCRYPT_TEST });
  const passFile = join(dir, 'pass-5.txt');
  writeFileSync(passFile, 'trustee five passphrase\n');
  const serve = run(['trustee', 'serve', '--share', shareFile, '--server', url, '--passphrase-file', passFile, '--fingerprint', election.fingerprintHex, '--poll-seconds', '1']);

  const closed = await fetch(`${url}/admin/close`, { method: 'POST', headers: { authorization: `Bearer ${credentials.adminToken}` } });
  t.equal(closed.status, 200);

  // The coordinator publishes the encrypted tally and waits for k = 3 trustees.
  const first = await servers.service.tallyOnce();
  t.match(first, { outcome: 'awaiting-trustees', need: 3 });
  if (first.outcome === 'awaiting-trustees') t.ok(first.have < 3);
  const sizeAt = async () => ((await (await fetch(`${url}/api/election`)).json()) as { status: { boardSize: number } }).status.boardSize;

  // Forged partial decryptions are refused at the door; the board does not grow.
  const before = await sizeAt();
  const exported = async () => lineRecords((await (await fetch(`${url}/api/board/export`)).text()).trimEnd().split('\n'));
  let tally: bigint[] = [];
  for await (const rec of (await exported())()) if (rec.kind === 'entry' && rec.entry.type === 'encrypted-tally') tally = (rec.entry.payload as { ciphertexts: string[] }).ciphertexts.map((c) => BigInt('0x' + c));
  t.equal(tally.length, 1, 'the encrypted tally is on the board');
  const wrongC = partialDecryptTally(pk, ceremony.shares[1]!, [(tally[0]! * tally[0]!) % pk.n2], election.fingerprint);
  const forged = { trustee: 2, partials: wrongC.partials };
  const r1 = await fetch(`${url}/api/partial-decryptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(forged) });
  t.equal(r1.status, 422, 'a proof for another ciphertext is refused');
  t.match(await r1.json(), { error: { code: 'BAD_PARTIAL_DECRYPTION' } });
  const honest2 = partialDecryptTally(pk, ceremony.shares[1]!, tally, election.fingerprint);
  const outOfRange = { trustee: 2, partials: [{ ...honest2.partials[0]!, z: 'ff'.repeat(honest2.partials[0]!.z.length / 2) }] };
  const r2 = await fetch(`${url}/api/partial-decryptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(outOfRange) });
  t.equal(r2.status, 422, 'a response out of range is refused');
  t.equal(await sizeAt(), before, 'nothing was appended');

  // Trustees 1 and 3: the service over the public HTTP board.
  for (const i of [1, 3]) {
    const svc = new TrusteeService({ decryptor: decryptorOf(ceremony.shares[i - 1]!), board: httpTrusteeBoard({ baseUrl: url }), journal: new MemoryTallyJournal() });
    const o = await svc.decryptOnce();
    t.match(o, { outcome: 'posted', existing: false, ballotsCounted: 6 }, `trustee ${i} posted`);
    t.match(await svc.decryptOnce(), { outcome: 'posted', existing: true }, `trustee ${i}: a retry finds its entry`);
  }

  // Trustee 5's `serve` posts once the encrypted tally is on the board, and exits.
  const cli = await serve;
  t.equal(cli.code, 0, cli.code === 0 ? 'trustee serve decrypted once and exited 0' : cli.stderr);
  t.match(cli.stdout, /partial decryption posted: entry \d+ \(6 ballots in the tally\)/);
  t.ok(existsSync(join(dir, 'trustee-5.share.json.journal', 'decryption.json')), 'the trustee journaled its decryption beside its share file');

  // The coordinator combines and publishes (its own poller may have done it already).
  let last = await servers.service.tallyOnce();
  // The attempt joined may have read the board before the last post; one that starts after it sees it.
  if (last.outcome === 'awaiting-trustees') last = await servers.service.tallyOnce();
  t.ok(last.outcome === 'tallied' || last.outcome === 'already-tallied', `published: ${last.outcome}`);
  t.equal(servers.service.tallyAudits, 1, 'regression: the coordinator audited the board once, not again on every poll while it waited for the trustees');
  t.equal(servers.service.partialChecksOnWorkers, 3, 'each trustee entry was checked once, on a worker, however many polls saw it');
  const results = (await (await fetch(`${url}/api/results`)).json()) as { ballotsCounted: number; questions: { options: { count: number }[] }[] };
  t.equal(results.ballotsCounted, 6);
  t.same(results.questions[0]!.options.map((o) => o.count), expected, 'the results are the votes');

  // A trustee that comes late finds the result published and decrypts nothing.
  const late = new TrusteeService({ decryptor: decryptorOf(ceremony.shares[1]!), board: httpTrusteeBoard({ baseUrl: url }) });
  t.match(await late.decryptOnce(), { outcome: 'already-tallied' });

  // The whole board verifies.
  const records = await exported();
  const report = await audit(records(), { reopen: records });
  t.ok(report.ok, `audit: ${JSON.stringify(report.firstFailure)}`);
  t.same(Object.values(report.results?.[0]?.counts ?? {}), expected);

  // Regression: a tampered board served over HTTP — the encrypted tally replaced by one voter's
  // ballot (re-chained and re-signed with the board key) — is refused; nothing is posted.
  const plan: PlannedEntry[] = [];
  for await (const rec of records()) {
    if (rec.kind !== 'entry') continue;
    if (rec.entry.type === 'partial-decryption' || rec.entry.type === 'result') break;
    const payload = rec.entry.type === 'encrypted-tally' ? (encryptedTallyPayload(election, { ciphertexts: victimCiphertexts, ballotsCounted: 6 }) as unknown as JsonValue) : rec.entry.payload;
    plan.push({ type: rec.entry.type, payload, timestamp: rec.entry.timestamp });
  }
  const forgedBoard: BoardRecord[] = buildBoard(election, plan);
  const evil = Fastify({ forceCloseConnections: true });
  let posts = 0;
  evil.get('/api/election', async () => ({ status: { phase: 'closed', boardSize: plan.length } }));
  evil.get('/api/board/export', async (_q, reply) => reply.type('application/x-ndjson').send(Readable.from([exportText(forgedBoard)])));
  evil.get('/api/board/checkpoint', async () => {
    const last = forgedBoard[forgedBoard.length - 1]!;
    return last.kind === 'checkpoint' ? checkpointToJson(last.checkpoint) : {};
  });
  evil.get<{ Querystring: { size1: string; size2: string } }>('/api/board/proof/consistency', async (req) => {
    const [a, b] = [Number(req.query.size1), Number(req.query.size2)];
    const leaves = leafHashes(forgedBoard);
    return consistencyProofToJson({ size1: a, size2: b, hashes: await buildConsistencyProof(a, b, (x, y) => rootFromLeafHashes(leaves.slice(x, y))) });
  });
  evil.post('/api/partial-decryptions', async (_q, reply) => {
    posts++;
    return reply.code(201).send({ height: plan.length, hash: '00'.repeat(32) });
  });
  await evil.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => evil.close());
  const evilUrl = `http://127.0.0.1:${(evil.server.address() as AddressInfo).port}`;
  const refusedSvc = new TrusteeService({ decryptor: decryptorOf(ceremony.shares[3]!), board: httpTrusteeBoard({ baseUrl: evilUrl }) });
  const refused = await refusedSvc.decryptOnce();
  t.match(refused, { outcome: 'refused' });
  if (refused.outcome === 'refused') t.ok(refused.failures.some((f) => f.check === '8c'), `8c: ${JSON.stringify(refused.failures.map((f) => f.check))}`);
  t.equal(posts, 0, 'the trustee posted nothing to the tampered board');
  // The command line says so and exits 1.
  const share4 = join(dir, 'trustee-4.share.json');
  await writeShareFile(share4, pk, ceremony.shares[3]!, 'trustee four passphrase', { scrypt: SCRYPT_TEST });
  writeFileSync(join(dir, 'pass-4.txt'), 'trustee four passphrase\n');
  const cli4 = await run(['trustee', 'decrypt', '--share', share4, '--server', evilUrl, '--passphrase-file', join(dir, 'pass-4.txt')]);
  t.equal(cli4.code, 1);
  t.match(cli4.stderr, /REFUSED: this trustee does not decrypt this board/);
  t.match(cli4.stderr, /8c at entry \d+: /);
  t.match(cli4.stderr, /error BOARD_INVALID: /);
  t.equal(posts, 0);
});
