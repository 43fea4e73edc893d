/**
 * A full election across the three servers (issue #4).
 *
 * 1. Thirty voters imported from CSV log in, get their token blindly and vote through the real
 *    HTTP routes (app.inject). Along the way: one voter revotes; one tries to vote twice (a
 *    second token, and the same ballot again); one uses a forged token; one casts after the end
 *    time; one sends a malformed proof. All three servers are restarted from their LevelDB
 *    stores in the middle of the voting. The admin closes; the verification server is woken by
 *    the close and tallies; the results are the plaintext counts; the exported board passes
 *    every audit step; no rejected ballot is on it.
 * 2. Over real loopback sockets, with the real clock: the end time passes, the ballot server
 *    closes and the verification server tallies with no admin action.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelBoardStore } from '../bulletin/store/level.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { openLevelRegister } from '../src/org/register-level.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { completeToken, requestToken } from '../src/election/token.js';
import { ballotBody, ballotSigningMessage, ballotToJson, createBallot, type VoterToken } from '../src/election/ballot.js';
import { ed25519KeyPair, ed25519Sign } from '../src/crypto/ed25519.js';
import { parseHex, toHex } from '../src/wire.js';
import { audit } from '../auditor/audit.js';
import { lineRecords } from '../auditor/source.js';
import { verifyReceipt } from '../src/ballot/receipt.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, paillierFixture, seededRng } from './helpers/fixtures.js';
import type { FastifyInstance } from 'fastify';
import type { Election } from '../src/election/manifest.js';

const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };
const fastScrypt = { N: 1 << 10, r: 8, p: 1 }; // tests only

interface Servers {
  org: FastifyInstance;
  ballot: FastifyInstance;
  verifier: FastifyInstance;
  close(): Promise<void>;
}

/** Log in, request a token blindly, unblind it. */
async function getToken(org: FastifyInstance, election: Election, login: string, password: string): Promise<VoterToken> {
  const session = (await org.inject({ method: 'POST', url: '/api/org/login', payload: { login, password } })).json().session as string;
  const pending = requestToken(election);
  const res = await org.inject({ method: 'POST', url: '/api/org/token', headers: { authorization: `Bearer ${session}` }, payload: { blindedMsg: toHex(pending.blindedMsg) } });
  if (res.statusCode !== 200) throw new Error(`token refused: ${res.body}`);
  return completeToken(election, pending, parseHex(res.json().blindSig, 'blindSig'));
}

t.test('thirty voters, three servers, one restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-election-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const OPTIONS = 3;
  const election = fixtureElection({ electionId: 'city-2026', revoting: true, maxVoters: 40, questions: [{ id: 'mayor', options: OPTIONS, min: 1, max: 1 }] });
  const clock = { now: election.startMs + 60_000 };
  const open = async (): Promise<Servers & { box: { board: { size: number } } }> => {
    const s = await buildElectionServers(
      {
        election,
        boardStore: new LevelBoardStore(join(dir, 'board')),
        boardSecretKey: boardKeyFixture().secretKey,
        register: await openLevelRegister(join(dir, 'register')),
        issuerKey: blindRsaFixture(),
        issuanceSecret: new Uint8Array(32).fill(5),
        scrypt: fastScrypt,
        paillierKey: paillierFixture('a'),
        pollMs: 50,
      },
      { credentials, now: () => clock.now, autoClose: false },
    );
    await Promise.all([s.org.ready(), s.ballot.ready(), s.verifier.ready()]);
    return s;
  };

  // Voters from CSV; the register generates their passwords.
  const csv = ['first_name,last_name,email,login', ...Array.from({ length: 30 }, (_, i) => `Voter,Number ${i},voter${i}@example.org,voter${i}`)].join('\n');
  const reg = await openLevelRegister(join(dir, 'register'));
  const imported = await importVotersCsv(reg, csv, { scrypt: fastScrypt });
  await reg.close();
  t.equal(imported.imported, 30, 'thirty voters imported');
  const passwords = new Map(imported.generated.map((g) => [g.login, g.password]));

  let s = await open();
  const pick = seededRng('thirty voters');
  const expected = new Array<number>(OPTIONS).fill(0);
  const counted = new Map<number, number>(); // voter → option that counts
  const tokens = new Map<number, VoterToken>();
  const cast = (app: FastifyInstance, body: unknown) => app.inject({ method: 'POST', url: '/api/ballots', payload: body as object });

  for (let v = 0; v < 30; v++) {
    if (v === 15) {
      // Restart everything in the middle of the voting.
      const sizeBefore = s.box.board.size;
      await s.close();
      s = await open();
      t.equal(s.box.board.size, sizeBefore, 'restart: the board is intact');
    }
    const token = await getToken(s.org, election, `voter${v}`, passwords.get(`voter${v}`)!);
    tokens.set(v, token);
    const choice = pick(1)[0]! % OPTIONS;
    const b = createBallot(election, [[choice]], token);
    const res = await cast(s.ballot, ballotToJson(election, b.ballot));
    t.equal(res.statusCode, 201, `voter ${v} cast`);
    t.ok(verifyReceipt(election, res.json()).ok, `voter ${v}: receipt verifies`);
    counted.set(v, choice);
  }

  // Voter 3 revotes (the latest ballot counts).
  const revote = createBallot(election, [[(counted.get(3)! + 1) % OPTIONS]], tokens.get(3)!);
  const rv = await cast(s.ballot, ballotToJson(election, revote.ballot));
  t.equal(rv.statusCode, 201, 'a revote is accepted');
  t.ok(rv.json().replaces > 0, 'and names the ballot it replaces');
  counted.set(3, (counted.get(3)! + 1) % OPTIONS);

  // Voter 7 tries to vote twice: a second token, then the same ballot again.
  const again = await s.org.inject({ method: 'POST', url: '/api/org/login', payload: { login: 'voter7', password: passwords.get('voter7') } });
  const second = await s.org.inject({
    method: 'POST',
    url: '/api/org/token',
    headers: { authorization: `Bearer ${again.json().session}` },
    payload: { blindedMsg: toHex(requestToken(election).blindedMsg) },
  });
  t.same([second.statusCode, second.json().error.code], [409, 'TOKEN_ALREADY_ISSUED'], 'no second token');
  const dup = createBallot(election, [[0]], tokens.get(7)!);
  await cast(s.ballot, ballotToJson(election, dup.ballot));
  counted.set(7, 0);
  const dupAgain = await cast(s.ballot, ballotToJson(election, dup.ballot));
  t.same([dupAgain.statusCode, dupAgain.json().error.code], [409, 'TOKEN_USED'], 'the same ballot twice is refused');

  // A forged token: a key pair the organization never signed.
  const forgedKey = ed25519KeyPair();
  const forged = createBallot(election, [[1]], { secretKey: forgedKey.secretKey, credential: { publicKey: forgedKey.publicKey, prefix: new Uint8Array(32), signature: parseHex(ballotToJson(election, dup.ballot).token.signature, 's') } });
  const fr = await cast(s.ballot, ballotToJson(election, forged.ballot));
  t.same([fr.statusCode, fr.json().error.code], [403, 'BAD_TOKEN'], 'a forged token is refused');

  // A malformed proof, re-signed by its voter (a malicious client).
  const good = createBallot(election, [[2]], tokens.get(9)!).ballot;
  const broken = { ...good, answers: [{ ...good.answers[0]!, proof: good.answers[0]!.proof.map((b, k) => (k === 1 ? { ...b, z: b.z ^ (1n << 40n) } : b)) }] };
  const resigned = { ...broken, signature: ed25519Sign(ballotSigningMessage(ballotBody(election, broken)), tokens.get(9)!.secretKey) };
  const mr = await cast(s.ballot, ballotToJson(election, resigned));
  t.equal(mr.statusCode, 422, 'a broken proof is refused');
  t.same([mr.json().error.code, mr.json().error.details.question], ['INVALID_PROOF', 0]);

  // After the end time.
  const sizeAtEnd = s.box.board.size;
  clock.now = election.endMs + 1;
  const late = await cast(s.ballot, ballotToJson(election, createBallot(election, [[0]], tokens.get(11)!).ballot));
  t.same([late.statusCode, late.json().error.code], [410, 'ELECTION_CLOSED'], 'a ballot after the end time is refused');
  t.equal(s.box.board.size, sizeAtEnd, 'no rejected ballot reached the board');

  // The admin closes; the verification server is woken by the close and tallies.
  const closed = await s.ballot.inject({ method: 'POST', url: '/admin/close', headers: { authorization: `Bearer ${credentials.adminToken}` } });
  t.equal(closed.statusCode, 200);
  let results;
  for (let i = 0; i < 600; i++) {
    const r = await s.ballot.inject({ method: 'GET', url: '/api/results' });
    if (r.statusCode === 200) {
      results = r.json();
      break;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  for (const c of counted.values()) expected[c]!++;
  t.ok(results, 'results published without an admin tally');
  t.same(results.questions[0].options.map((o: { count: number }) => o.count), expected, 'the counts are the plaintext counts (revotes applied)');
  t.equal(results.ballotsCounted, 30);
  const vres = await s.verifier.inject({ method: 'GET', url: '/api/verifier/results' });
  t.equal(vres.statusCode, 200, 'the verification server serves the same results');

  const exp = await s.ballot.inject({ method: 'GET', url: '/api/board/export' });
  const lines = exp.body.trimEnd().split('\n');
  const recs = lineRecords(lines);
  const report = await audit(recs(), { reopen: recs });
  t.ok(report.ok, 'the board passes every audit step');
  t.equal(report.steps[5]!.counts['ballot entries'], 32, '30 ballots, one revote and voter 7’s second ballot, nothing else');
  t.equal(report.steps[4]!.counts['tokens issued'], 30, 'thirty tokens issued, publicly counted');
  await s.close();
});

/**
 * One run of the automatic-close scenario with the end `endInMs` after the start of the run;
 * returns how long the setup and the three casts took, and whether every cast was accepted.
 */
async function autoCloseRun(endInMs: number, electionId: string) {
  const t0 = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const election = fixtureElection({ electionId, start: iso(t0 - 60_000), end: iso(t0 + endInMs), maxVoters: 10, questions: [{ id: 'q', options: 2, min: 1, max: 1 }] });
  const register = createMemoryRegister();
  const { generated } = await importVotersCsv(register, 'first_name,last_name,email,login\nAda,L,ada@example.org,ada\nBob,M,bob@example.org,bob\nCyd,N,cyd@example.org,cyd\n', { scrypt: fastScrypt });
  const s = await buildElectionServers(
    {
      election,
      boardStore: new MemoryBoardStore(),
      boardSecretKey: boardKeyFixture().secretKey,
      register,
      issuerKey: blindRsaFixture(),
      issuanceSecret: new Uint8Array(32).fill(6),
      scrypt: fastScrypt,
      paillierKey: paillierFixture('a'),
      pollMs: 200,
    },
    { credentials, workers: 0 },
  );
  const orgUrl = await s.org.listen({ host: '127.0.0.1', port: 0 });
  const ballotUrl = await s.ballot.listen({ host: '127.0.0.1', port: 0 });
  const verifierUrl = await s.verifier.listen({ host: '127.0.0.1', port: 0 });
  const json = { 'content-type': 'application/json' };
  const statuses: number[] = [];
  for (const [i, choice] of [0, 1, 1].entries()) {
    const { login, password } = generated[i]!;
    const { session } = (await (await fetch(`${orgUrl}/api/org/login`, { method: 'POST', headers: json, body: JSON.stringify({ login, password }) })).json()) as { session: string };
    const pending = requestToken(election);
    const tok = await fetch(`${orgUrl}/api/org/token`, { method: 'POST', headers: { ...json, authorization: `Bearer ${session}` }, body: JSON.stringify({ blindedMsg: toHex(pending.blindedMsg) }) });
    const token = completeToken(election, pending, parseHex(((await tok.json()) as { blindSig: string }).blindSig, 'blindSig'));
    const b = createBallot(election, [[choice]], token);
    const res = await fetch(`${ballotUrl}/api/ballots`, { method: 'POST', headers: json, body: JSON.stringify(ballotToJson(election, b.ballot)) });
    statuses.push(res.status);
  }
  return { s, ballotUrl, verifierUrl, statuses, tookMs: Date.now() - t0 };
}

t.test('the automatic close and tally need no admin action (real clock, loopback sockets)', async (t) => {
  // The end time must come after the casts. It follows the work instead of guessing it: a
  // first run with a distant end measures how long setup and casts take on this machine (busy
  // or not), and the real run ends three times that after its start.
  const calibration = await autoCloseRun(3_600_000, 'auto-close-calibration');
  await calibration.s.close();
  t.same(calibration.statuses, [201, 201, 201], 'calibration: the three casts are accepted');
  const { s, ballotUrl, verifierUrl, statuses } = await autoCloseRun(3 * calibration.tookMs + 500, 'auto-close');
  t.teardown(() => s.close());
  t.match(ballotUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'binds to loopback');
  for (const [i, st] of statuses.entries()) t.equal(st, 201, `voter ${i} cast over real sockets`);
  let body: { questions: { options: { count: number }[] }[] } | undefined;
  for (let i = 0; !body; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const r = await fetch(`${verifierUrl}/api/verifier/results`);
    if (r.status === 200) body = (await r.json()) as typeof body;
    if (i > 100_000) break;
  }
  t.ok(body, 'the tally appeared with no admin action');
  t.same(body?.questions[0]!.options.map((o) => o.count), [1, 2]);
  const health = await (await fetch(`${ballotUrl}/api/health`)).json();
  t.same(health, { status: 'ok', phase: 'tallied' });
});
