/**
 * A trustee's decryption service (src/trustee/trustee-service.ts, spec §13.12) over boards in
 * memory, chained and signed as a (possibly malicious) operator holding the board key would.
 *
 * Regression tests, each named after the attack it guards against; on code that decrypted what
 * the board served (no own audit, no product check, no journal), each would see a partial
 * decryption posted:
 *   - a coordinator posting an encrypted tally that is ONE victim's ballot (k such partials
 *     would reveal the vote): refused by check 8c, nothing decrypted;
 *   - a board with a ballot whose proof fails, re-signed: refused by the ballot checks;
 *   - a fork served after the trustee watched the real board: refused by RFC 9162 consistency,
 *     an alarm, and never a decryption afterwards;
 *   - a re-run after posting: only the recorded payload is re-posted, nothing new is decrypted;
 *   - a board of another election (another key): refused before anything is decrypted.
 */
import { testRef, TestRegister } from './helpers/register.js';
import t from 'tap';
import type { JsonValue } from '../bulletin/value-encoding.js';
import { runCeremony } from '../src/trustee/ceremony.js';
import { parseManifest, type Election, type ManifestJson } from '../src/election/manifest.js';
import { createBallot, type VoterToken } from '../src/election/ballot.js';
import { ballotPayload, closePayload, encryptedTallyPayload, setupPayload } from '../src/election/records.js';
import { TallyAccumulator } from '../src/election/tally.js';
import { partialDecryptTally, verifyPartialDecryptionEntry } from '../src/election/partial-decryption.js';
import type { KeyShare, ThresholdPublicKey } from '../src/crypto/threshold-paillier.js';
import { TrusteeService, type TrusteeDecryptor } from '../src/trustee/trustee-service.js';
import type { TrusteeBoard } from '../src/trustee/trustee-board.js';
import { keyMismatch } from '../src/trustee/share-decryptor.js';
import { MemoryTallyJournal } from '../src/verifier/tally-journal.js';
import { manifestJson, fixtureToken } from './helpers/fixtures.js';
import { T0, type PlannedEntry } from './helpers/election-board.js';
import { memoryBoardAccess, type MemoryBoard } from './helpers/verifier-board.js';
import { resign } from './helpers/crafted-ballot.js';
import { thresholdPrimes } from './helpers/threshold-kat.js';

const big = (k: 'safe2048' | 'aux2048') => thresholdPrimes(k);

/** A 3-of-5 key from the committed 2048-bit safe primes (no prime search). */
const ceremony = await runCeremony({ bits: 2048, trustees: 5, threshold: 3, primes: { ...big('safe2048'), aux: big('aux2048') } });
const pk: ThresholdPublicKey = ceremony.key.threshold;

function electionJson(id: string, key = ceremony.publicKey): ManifestJson {
  const m = manifestJson({ electionId: id, revoting: false, maxVoters: 10, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] });
  return { ...m, keys: { ...m.keys, election: key } } as ManifestJson;
}

/** An honest board up to its close (setup, issuances, ballots, close), and its election. */
function honestOpen(id: string, votes: number[]): { election: Election; plan: PlannedEntry[]; tokens: VoterToken[]; ciphertexts: bigint[][] } {
  const mj = electionJson(id);
  const election = parseManifest(mj);
  let ts = T0;
  const at = () => (ts += 1000);
  const register = new TestRegister(Math.min(election.manifest.maxVoters, 255));
  const plan: PlannedEntry[] = [
    { type: 'setup', payload: setupPayload(mj) as unknown as JsonValue, timestamp: at() },
    { type: 'register', payload: register.payload(), timestamp: at() },
  ];
  const tokens = votes.map((_, i) => {
    plan.push({ type: 'token-issued', payload: register.issued([testRef(i + 1)], i + 1), timestamp: at() });
    return fixtureToken(election);
  });
  const ciphertexts: bigint[][] = [];
  votes.forEach((v, i) => {
    const b = createBallot(election, [[v]], tokens[i]!);
    ciphertexts.push(b.ballot.answers.map((a) => a.c));
    plan.push({ type: 'ballot', payload: ballotPayload(election, b.ballot, b.tracker) as unknown as JsonValue, timestamp: at() });
  });
  return { election, plan, tokens, ciphertexts };
}

function close(election: Election, plan: PlannedEntry[]): void {
  plan.push({ type: 'close', payload: closePayload({ reason: 'schedule', ballots: plan.filter((p) => p.type === 'ballot').length }) as unknown as JsonValue, timestamp: election.endMs });
}

function encryptedTally(election: Election, plan: PlannedEntry[], ciphertexts: readonly bigint[], ballotsCounted: number): void {
  plan.push({ type: 'encrypted-tally', payload: encryptedTallyPayload(election, { ciphertexts, ballotsCounted }) as unknown as JsonValue, timestamp: election.endMs + 1 });
}

/** The product of every ballot (no revotes here). */
function product(election: Election, cts: readonly bigint[][]): bigint[] {
  const acc = new TallyAccumulator(election);
  for (const c of cts) acc.add(c);
  return acc.result();
}

/** Trustee i's decryptor around its share, counting what it decrypts. */
function decryptor(share: KeyShare) {
  const spy = { decryptions: 0 };
  const d: TrusteeDecryptor = {
    index: share.index,
    mismatch: (election) => keyMismatch(pk, election),
    partial: (election, cts) => (spy.decryptions++, partialDecryptTally(pk, share, cts, election.fingerprint)),
  };
  return { d, spy };
}

/** The memory board, with the public post route: appends the entry as the ballot server would. */
function trusteeBoard(mem: MemoryBoard) {
  const posts: unknown[] = [];
  const board: TrusteeBoard = {
    status: () => mem.status(),
    records: () => mem.records(),
    checkpoint: () => mem.checkpoint(),
    consistency: (a, b) => mem.consistency(a, b),
    async postPartial(payload) {
      posts.push(payload);
      const existing = mem.plan.findIndex((p) => p.type === 'partial-decryption' && JSON.stringify(p.payload) === JSON.stringify(payload));
      if (existing >= 0) return { height: existing, hash: '00'.repeat(32), existing: true };
      mem.plan.push({ type: 'partial-decryption', payload: structuredClone(payload) as JsonValue, timestamp: mem.plan[mem.plan.length - 1]!.timestamp + 1 });
      return { height: mem.plan.length - 1, hash: '00'.repeat(32), existing: false };
    },
  };
  return { board, posts };
}

t.test('an honest board: the trustee posts a partial decryption that verifies, once', async (t) => {
  const s = honestOpen('trustee-honest', [0, 1, 2, 1]);
  close(s.election, s.plan);
  const mem = memoryBoardAccess(s.election, s.plan);
  const { board, posts } = trusteeBoard(mem);
  const { d, spy } = decryptor(ceremony.shares[1]!);
  const journal = new MemoryTallyJournal();
  const svc = new TrusteeService({ decryptor: d, board, journal });

  t.match(await svc.decryptOnce(), { outcome: 'waiting' }, 'closed, no encrypted tally yet: the trustee waits');
  t.equal(spy.decryptions, 0);
  const tally = product(s.election, s.ciphertexts);
  encryptedTally(s.election, s.plan, tally, 4);

  const o = await svc.decryptOnce();
  t.match(o, { outcome: 'posted', existing: false, ballotsCounted: 4 });
  t.equal(spy.decryptions, 1);
  t.equal(posts.length, 1);
  const v = verifyPartialDecryptionEntry(pk, s.election.fingerprint, tally, JSON.parse(JSON.stringify(posts[0])));
  t.ok(v.ok, 'the posted entry verifies against the product');

  // Run again (a restart, a retry): the recorded payload is re-posted, nothing new is decrypted.
  const again = await svc.decryptOnce();
  t.match(again, { outcome: 'posted', existing: true });
  t.equal(spy.decryptions, 1, 'no second decryption');
  t.same(posts[1], posts[0], 'the very payload recorded');
});

t.test('regression: a trustee refuses to decrypt an encrypted tally that is one victim’s ballot', async (t) => {
  const s = honestOpen('trustee-victim', [0, 1, 2, 1]);
  close(s.election, s.plan);
  // The coordinator posts the victim's ciphertexts as "the tally" (ballotsCounted as claimed).
  encryptedTally(s.election, s.plan, s.ciphertexts[2]!, 4);
  const mem = memoryBoardAccess(s.election, s.plan);
  const { board, posts } = trusteeBoard(mem);
  const { d, spy } = decryptor(ceremony.shares[0]!);
  const journal = new MemoryTallyJournal();
  const o = await new TrusteeService({ decryptor: d, board, journal }).decryptOnce();
  t.match(o, { outcome: 'refused' });
  if (o.outcome === 'refused') t.ok(o.failures.some((f) => f.check === '8c'), `8c named: ${JSON.stringify(o.failures)}`);
  t.equal(spy.decryptions, 0, 'nothing decrypted');
  t.equal(posts.length, 0, 'nothing posted');
  t.equal(await journal.decryption(), undefined, 'no intent recorded');
});

t.test('regression: a trustee refuses a re-signed board with a ballot whose proof fails', async (t) => {
  const s = honestOpen('trustee-tampered', [0, 1, 2]);
  // Replace ballot 1 by the same ballot with a broken proof response, re-signed by its token.
  const at = s.plan.findIndex((p) => p.type === 'ballot');
  const b = createBallot(s.election, [[1]], s.tokens[0]!).ballot;
  const bad = resign(s.election, { ...b, answers: [{ c: b.answers[0]!.c, proof: b.answers[0]!.proof.map((br, k) => (k === 0 ? { ...br, z: (br.z * 5n) % s.election.paillier.n } : br)) }] }, s.tokens[0]!.secretKey);
  const tracker = (s.plan[at]!.payload as { tracker: string }).tracker;
  s.plan[at] = { ...s.plan[at]!, payload: ballotPayload(s.election, bad, Buffer.from(tracker, 'hex')) as unknown as JsonValue };
  close(s.election, s.plan);
  encryptedTally(s.election, s.plan, product(s.election, [bad.answers.map((a) => a.c), ...s.ciphertexts.slice(1)]), 3);
  const mem = memoryBoardAccess(s.election, s.plan);
  const { board, posts } = trusteeBoard(mem);
  const { d, spy } = decryptor(ceremony.shares[0]!);
  const o = await new TrusteeService({ decryptor: d, board }).decryptOnce();
  t.match(o, { outcome: 'refused' });
  if (o.outcome === 'refused') t.ok(o.failures.some((f) => f.step === 6), `a ballot check of step 6 named: ${JSON.stringify(o.failures.map((f) => f.check))}`);
  t.equal(spy.decryptions, 0);
  t.equal(posts.length, 0);
});

t.test('regression: a trustee that watched the board refuses a fork, raises an alarm, and never decrypts again', async (t) => {
  const s = honestOpen('trustee-fork', [0, 1, 2, 1]);
  const real = memoryBoardAccess(s.election, s.plan, { now: () => s.election.endMs - 1 });
  const { d, spy } = decryptor(ceremony.shares[2]!);
  const journal = new MemoryTallyJournal();
  const watch = new TrusteeService({ decryptor: d, board: trusteeBoard(real).board, journal });
  t.match(await watch.decryptOnce(), { outcome: 'not-closed', phase: 'open' });
  t.equal(await journal.checkpointCount(), 1, 'the open board’s checkpoint is recorded');

  // The fork: the setup, the register, one issuance and only the victim's ballot, closed, with an encrypted tally that IS its product.
  const fork: PlannedEntry[] = [structuredClone(s.plan[0]!), structuredClone(s.plan[1]!), structuredClone(s.plan[2]!), structuredClone(s.plan.find((p) => p.type === 'ballot')!)];
  close(s.election, fork);
  encryptedTally(s.election, fork, s.ciphertexts[0]!, 1);
  const forked = trusteeBoard(memoryBoardAccess(s.election, fork));
  const svc = new TrusteeService({ decryptor: d, board: forked.board, journal });
  const o = await svc.decryptOnce();
  t.match(o, { outcome: 'refused' });
  if (o.outcome === 'refused') t.equal(o.failures[0]!.check, 'consistency');
  t.ok(await journal.alarm(), 'alarm recorded');
  // Even the honest board is refused from now on.
  close(s.election, s.plan);
  encryptedTally(s.election, s.plan, product(s.election, s.ciphertexts), 4);
  const after = await new TrusteeService({ decryptor: d, board: trusteeBoard(memoryBoardAccess(s.election, s.plan)).board, journal }).decryptOnce();
  t.match(after, { outcome: 'refused', failures: [{ check: 'journal' }] });
  t.equal(spy.decryptions, 0);
  t.equal(forked.posts.length, 0);
});

t.test('a board of another election key is refused before anything is decrypted', async (t) => {
  // The fixture manifest's own key (another modulus), as a board of another election would carry.
  const mj = manifestJson({ electionId: 'trustee-other', maxVoters: 10, questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }] });
  const election = parseManifest(mj);
  const plan: PlannedEntry[] = [{ type: 'setup', payload: setupPayload(mj) as unknown as JsonValue, timestamp: T0 }];
  close(election, plan);
  encryptedTally(election, plan, [1n], 0);
  const { board, posts } = trusteeBoard(memoryBoardAccess(election, plan));
  const { d, spy } = decryptor(ceremony.shares[0]!);
  const o = await new TrusteeService({ decryptor: d, board }).decryptOnce();
  t.match(o, { outcome: 'refused', failures: [{ check: 'election' }] });
  t.equal(spy.decryptions, 0);
  t.equal(posts.length, 0);
});
