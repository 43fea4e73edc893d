/**
 * Regression tests of issue 10.2 and 10.4 (spec §7.4–7.5, §11.1): ballot stuffing by the
 * organization, and linking logins to ballots by board order.
 *
 * Before the fix: the organization's issuance reference was an HMAC under its own secret, the
 * register's size was not public, and every issuance was its own entry right before the voter's
 * ballot. So (a) it could record invented references up to maxVoters and cast ballots with them,
 * and the audit passed; (b) it could sign a token for an abstainer and vote with it, and the
 * abstainer had no way to notice; (c) pairing each ballot with the latest unpaired issuance
 * linked 8 of 8 logins to their ballots. Each test below is named after what it guards.
 *
 * Real parts: the three servers of buildElectionServers over a LevelDB board and a memory
 * register, voters imported from CSV, real blind signatures; the attacker holds the
 * organization's keys and credential (and, where stated, the board key).
 */
import t, { type Test } from 'tap';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { Board } from '../bulletin/board.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { completeToken, issueBlindSignature, requestToken } from '../src/election/token.js';
import { ballotToJson, createBallot, type VoterToken } from '../src/election/ballot.js';
import { parseHex, toHex } from '../src/wire.js';
import { registerRef } from '../src/election/register.js';
import { registerPayload, setupPayload, tokenIssuedPayload, ballotPayload } from '../src/election/records.js';
import { checkRegistration, scanBoardForRef } from '../src/client/registration-check.js';
import { audit } from '../auditor/audit.js';
import { lineRecords } from '../auditor/source.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, paillierFixture } from './helpers/fixtures.js';
import type { FastifyInstance } from 'fastify';
import type { Election } from '../src/election/manifest.js';
import type { IssuanceBatchOptions } from '../src/org/issuance.js';
import { exportLines } from '../bulletin/export.js';

const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };
const fastScrypt = { N: 1 << 10, r: 8, p: 1 };

async function election8(t: Test, batch: IssuanceBatchOptions, voters = 8) {
  const election = fixtureElection({ electionId: 'stuffing-2026', revoting: false, maxVoters: 20, questions: [{ id: 'q', options: 2, min: 1, max: 1 }] });
  const register = createMemoryRegister();
  const csv = ['first_name,last_name,email,login', ...Array.from({ length: voters }, (_, i) => `V,N${i},v${i}@example.org,voter${i}`)].join('\n');
  const { credentials: creds } = await importVotersCsv(register, csv, { scrypt: fastScrypt });
  const s = await buildElectionServers(
    {
      election,
      boardStore: new MemoryBoardStore(),
      boardSecretKey: boardKeyFixture().secretKey,
      register,
      issuerKey: blindRsaFixture(),
      issuanceSecret: new Uint8Array(32).fill(5),
      issuanceBatch: batch,
      scrypt: fastScrypt,
      paillierKey: paillierFixture('a'),
      pollMs: 50,
    },
    { credentials, now: () => election.startMs + 60_000, autoClose: false, singleOrigin: true },
  );
  await Promise.all([s.org.ready(), s.ballot.ready(), s.verifier.ready()]);
  t.teardown(() => s.close());
  return { election, s, creds };
}

/** The normal flow of one voter: log in, obtain a token blindly, cast. */
async function voteAs(org: FastifyInstance, ballot: FastifyInstance, election: Election, login: string, password: string, choice: number): Promise<string> {
  const session = (await org.inject({ method: 'POST', url: '/api/org/login', payload: { login, password } })).json().session as string;
  const pending = requestToken(election);
  const res = await org.inject({ method: 'POST', url: '/api/org/token', headers: { authorization: `Bearer ${session}` }, payload: { blindedMsg: toHex(pending.blindedMsg) } });
  if (res.statusCode !== 200) throw new Error(`token refused: ${res.body}`);
  const token = completeToken(election, pending, parseHex(res.json().blindSig, 'blindSig'));
  const cast = await ballot.inject({ method: 'POST', url: '/api/ballots', payload: ballotToJson(election, createBallot(election, [[choice]], token).ballot) as object });
  if (cast.statusCode !== 201) throw new Error(`ballot refused: ${cast.body}`);
  return cast.json().tracker as string;
}

/** A token the organization signs for itself (it holds the issuer key). */
function selfIssuedToken(election: Election): VoterToken {
  const pending = requestToken(election);
  return completeToken(election, pending, issueBlindSignature(blindRsaFixture(), pending.blindedMsg));
}

async function exported(board: Board): Promise<string[]> {
  const lines: string[] = [];
  for await (const l of exportLines(board)) lines.push(l);
  return lines;
}

t.test('regression 10.2: an issuance to an invented reference fails the audit (and the honest board refuses it)', async (t) => {
  const { election, s, creds } = await election8(t, { size: 1, windowMs: 0 }, 3);
  await voteAs(s.org, s.ballot, election, creds[0]!.login, creds[0]!.password!, 0);
  // The organization pads "issued" with an invented reference, with the proof of a real member.
  const member = registerRef(election.manifest.electionId, creds[1]!.login, parseHex(creds[1]!.refSalt, 'salt', 32));
  const proof = (await s.ballot.inject({ method: 'GET', url: `/api/org/register/proof/${toHex(member)}` })).json();
  const invented = { refs: [{ ref: 'ee'.repeat(32), index: proof.index, path: proof.path }] };
  const res = await s.ballot.inject({ method: 'POST', url: '/internal/token-issued', headers: { authorization: `Bearer ${credentials.serviceToken}` }, payload: invented });
  t.same([res.statusCode, res.json().error.code], [422, 'NOT_IN_REGISTER'], 'the ballot server refuses a reference outside the committed register');

  // The organization and the board operator collude: the board key signs whatever they append.
  // The invented issuance and a stuffed ballot go on a board that is otherwise this election's.
  const board = await Board.open(new MemoryBoardStore(), { electionId: election.manifest.electionId, boardSecretKey: boardKeyFixture().secretKey, now: () => election.startMs + 1 });
  await board.append('setup', setupPayload(election.manifest) as unknown as JsonValue);
  const reg = (await s.ballot.inject({ method: 'GET', url: '/api/board/register' })).json();
  await board.append('register', registerPayload({ voters: reg.voters, root: parseHex(reg.root, 'root', 32) }) as unknown as JsonValue);
  await board.append('token-issued', tokenIssuedPayload({ refs: [{ ref: parseHex('ee'.repeat(32), 'ref', 32), index: proof.index, path: proof.path.map((h: string) => parseHex(h, 'h', 32)) }], count: 1 }) as unknown as JsonValue);
  const stuffed = createBallot(election, [[1]], selfIssuedToken(election));
  await board.append('ballot', ballotPayload(election, stuffed.ballot, stuffed.tracker) as unknown as JsonValue);
  const lines = await exported(board);
  await board.close();
  const report = await audit(lineRecords(lines)(), { stage: 'tally' });
  t.notOk(report.ok, 'the audit fails');
  t.same(report.firstFailure, { step: 5, check: '5e', height: 2 }, 'step 5, check 5e (membership), at the invented issuance');
});

t.test('regression 10.2: a token issued for an abstainer shows in the abstainer’s own check', async (t) => {
  const { election, s, creds } = await election8(t, { size: 1, windowMs: 0 }, 3);
  const [alice, bob, carol] = creds as [(typeof creds)[0], (typeof creds)[0], (typeof creds)[0]];
  await voteAs(s.org, s.ballot, election, alice.login, alice.password!, 0);

  // The organization knows every voter's salt: it records an issuance in carol's name (she
  // abstains), signs a token for itself and votes with it. The honest ballot server accepts it.
  const carolRef = registerRef(election.manifest.electionId, carol.login, parseHex(carol.refSalt, 'salt', 32));
  const proof = (await s.ballot.inject({ method: 'GET', url: `/api/org/register/proof/${toHex(carolRef)}` })).json();
  const rec = await s.ballot.inject({ method: 'POST', url: '/internal/token-issued', headers: { authorization: `Bearer ${credentials.serviceToken}` }, payload: { refs: [{ ref: toHex(carolRef), index: proof.index, path: proof.path }] } });
  t.equal(rec.statusCode, 200, 'the stuffing issuance is accepted (it is a real member)');
  const stuffed = createBallot(election, [[1]], selfIssuedToken(election));
  t.equal((await s.ballot.inject({ method: 'POST', url: '/api/ballots', payload: ballotToJson(election, stuffed.ballot) as object })).statusCode, 201, 'and the stuffed ballot is cast');

  // Each voter checks with only their login and salt, through the same origin as the booth.
  const url = await s.ballot.listen({ host: '127.0.0.1', port: 0 });
  const check = (v: typeof alice) => checkRegistration({ server: url, election, login: v.login, salt: parseHex(v.refSalt, 'salt', 32) });
  const [ca, cb, cc] = await Promise.all([check(alice), check(bob), check(carol)]);
  t.ok(ca.inRegister && ca.issuedAt !== undefined, 'alice (who voted): in the register, a token issued in her name');
  t.ok(cb.inRegister && cb.issuedAt === undefined, 'bob (abstained): in the register, no token issued in his name');
  t.ok(cc.inRegister, 'carol is in the register');
  t.equal(cc.issuedAt, rec.json().height, 'carol (abstained) sees a token issued in her name, at the height of the stuffing entry: she has detected it');

  // The same from the board export alone.
  const lines: string[] = [];
  for await (const l of exportLines(s.box.board)) lines.push(l);
  const entries = lines.map((l) => JSON.parse(l)).filter((j) => j.kind === 'entry');
  t.equal(scanBoardForRef(entries, carolRef, election.manifest.maxVoters).issuedAt, rec.json().height, 'and from the export file');
  t.ok((await audit(lineRecords(lines)(), { stage: 'tally' })).steps.slice(0, 7).every((st) => st.status === 'pass'), 'steps 1–7 pass: the audit cannot see it, only the abstainer can (spec §11.1 says so)');
});

/**
 * The pairing attack of issue 10.4: walk the board; each token-issued entry pushes its
 * references (in listed order); each ballot is paired with the latest unpaired reference.
 * @returns how many ballots it pairs with the right login
 */
function pairingAttack(entries: { type: string; payload: any }[], truth: Map<string, string>): number {
  const unpaired: string[] = [];
  let right = 0;
  for (const e of entries) {
    if (e.type === 'token-issued') for (const r of e.payload.refs) unpaired.push(r.ref);
    if (e.type === 'ballot') {
      const guess = unpaired.pop();
      if (guess !== undefined && truth.get(e.payload.tracker) === guess) right++;
    }
  }
  return right;
}

async function normalFlow(t: Test, batch: IssuanceBatchOptions) {
  const { election, s, creds } = await election8(t, batch, 8);
  const truth = new Map<string, string>(); // tracker → the voter's register reference
  await Promise.all(
    creds.map(async (v, i) => {
      const tracker = await voteAs(s.org, s.ballot, election, v.login, v.password!, i % 2);
      truth.set(tracker, toHex(registerRef(election.manifest.electionId, v.login, parseHex(v.refSalt, 'salt', 32))));
    }),
  );
  const entries: { type: string; payload: any }[] = [];
  for await (const { entry } of s.box.board.entries()) entries.push(entry as { type: string; payload: any });
  return { entries, truth };
}

t.test('regression 10.4: board order no longer pairs logins with ballots in the normal flow', async (t) => {
  // Control: one issuance per entry (tallyboard/1's behaviour), voters one after the other.
  {
    const seq = await (async () => {
      const { election, s, creds } = await election8(t, { size: 1, windowMs: 0 }, 8);
      const truth = new Map<string, string>();
      for (const [i, v] of creds.entries()) {
        const tracker = await voteAs(s.org, s.ballot, election, v.login, v.password!, i % 2);
        truth.set(tracker, toHex(registerRef(election.manifest.electionId, v.login, parseHex(v.refSalt, 'salt', 32))));
      }
      const entries: { type: string; payload: any }[] = [];
      for await (const { entry } of s.box.board.entries()) entries.push(entry as { type: string; payload: any });
      return pairingAttack(entries, truth);
    })();
    t.equal(seq, 8, 'control: without batches, the attack pairs 8 of 8 logins with their ballots (the issue’s finding)');
  }

  // The fix: issuances in batches of 8 (the window never expires here: the batch fills).
  const { entries, truth } = await normalFlow(t, { size: 8, windowMs: 600_000 });
  const issued = entries.filter((e) => e.type === 'token-issued');
  t.equal(issued.length, 1, 'one issuance entry for the eight voters');
  const refs = issued[0]!.payload.refs.map((r: { ref: string }) => r.ref);
  t.same(refs, [...refs].sort(), 'its references in ascending order, not in the order of the requests');
  const firstBallot = entries.findIndex((e) => e.type === 'ballot');
  t.ok(firstBallot > entries.indexOf(issued[0]!), 'every ballot comes after the whole batch');
  // So board order is consistent with every one of the 8! pairings: each ballot's candidates
  // are all eight references. (The naive attack then guesses; no assertion on its luck.)
  t.same(new Set(truth.values()), new Set(refs), 'the batch holds exactly the eight voters’ references');
  t.comment(`the naive pairing attack now pairs ${pairingAttack(entries, truth)} of 8 (chance)`);
});
