/**
 * Board-level negative vectors (test/vectors/tallyboard-v2-boards.json, spec §10): complete
 * export files of small elections, honest and tampered, each with the report a conforming
 * verifier must produce — the status of each of the ten steps (pass, fail, not run) and, for
 * each failed step, its first failure (check id and height), as spec §10.4 defines them.
 *
 * Why it is built this way: the point of these vectors is that two verifiers agree on every
 * board, so every expectation is WRITTEN HERE by hand from the spec, never read back from the
 * auditor; `test/board-vectors.test.ts` then runs the project's auditor over each file and
 * requires exactly that report. Everything is deterministic (seeded tokens and ballots, fixed
 * timestamps, deterministic signatures), so `npm run vectors` reproduces the file byte for byte.
 *
 * Two kinds of tampering: an *operator* edits the plan of entries and re-chains and re-signs
 * with the board key (only the election checks can catch it); a *file editor* changes lines of
 * a finished export (the chain catches it).
 *
 * Adding a case for a new tallyboard/2 rule: append to `cases()` with a stable `id`, the spec
 * check it exercises, and the expected statuses (a 10-letter string, P pass, F fail, N not run)
 * and first failures. Then `npm run vectors`.
 */
import { signCosignature, type Cosignature } from '../../bulletin/cosignature.js';
import { encodeEntry, zeroHash, type Entry, type EntryType } from '../../bulletin/entry.js';
import { checkpointMessage, signCheckpoint, type Checkpoint } from '../../bulletin/checkpoint.js';
import { checkpointLine, entryLine, headerLine } from '../../bulletin/board-file.js';
import { MerkleFrontier } from '../../bulletin/merkle/index.js';
import { canonicalJson, type JsonValue } from '../../bulletin/value-encoding.js';
import { createBallot, parseBallot, ballotBody, ballotSigningMessage, ballotTracker, type Ballot, type VoterToken } from '../../src/election/ballot.js';
import { parseManifest, type Election, type ManifestJson } from '../../src/election/manifest.js';
import { ballotPayload, registerPayload, setupPayload, tokenIssuedPayload, type IssuedRef } from '../../src/election/records.js';
import { RegisterTree } from '../../src/election/register.js';
import { toHex } from '../../src/wire.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { appendTally, type PlannedEntry } from './election-board.js';
import { boardKeyFixture, fixtureToken, manifestJson, seededRng, witnessFixture, type ElectionSpec } from './fixtures.js';
import { ballotForKey } from './kat.js';
import { mixedOrderKeyAndSignature, signWithTorsionR, torsionPoint8 } from './ed25519-mixed.js';

/** A step's status in a report. */
export type StepStatus = 'pass' | 'fail' | 'not run';

/** One board vector. */
export interface BoardVector {
  /** stable name, `area/what` */
  readonly id: string;
  readonly description: string;
  /** the issue point it settles, if any (e.g. "11.7") */
  readonly settles?: string;
  /** the export file, one string per line, without the line feeds (every line ends with LF) */
  readonly lines: readonly string[];
  readonly expected: {
    readonly ok: boolean;
    /** steps 1 … 10 */
    readonly steps: readonly StepStatus[];
    /** the first failure of each failed step, in step order; height null when it has none */
    readonly failures: readonly { readonly step: number; readonly check: string; readonly height: number | null }[];
  };
}

export interface BoardVectorFile {
  readonly description: string;
  readonly vectors: readonly BoardVector[];
}

const DESCRIPTION =
  'Tallyboard spec tallyboard/2 board-level vectors (spec §10). Each vector is a complete board export (§9.7; join `lines` with LF and end with LF) ' +
  'and the report a conforming verifier must produce: `expected.steps` is the status of steps 1–10 (pass, fail, not run; §10.4 says which steps are not run), ' +
  'and `expected.failures` the first failure of every failed step (check id and entry height, null when the failure has none; §10.4 defines "first"). ' +
  'Election keys are the committed fixtures of test/fixtures; the board key is the Ed25519 seed 07 × 32.';

// --- the elections ----------------------------------------------------------------------------

const START = Date.parse('2026-01-01T00:00:00.000Z');
const END = Date.parse('2026-12-31T00:00:00.000Z');

/** A committed register over `refs` (in the given order; the tree sorts them). */
function registerOf(refs: Uint8Array[]) {
  const tree = new RegisterTree(refs);
  const item = (i: number): IssuedRef => ({ ref: refs[i]!, ...tree.proof(refs[i]!)! });
  return {
    refs,
    tree,
    payload: registerPayload({ voters: tree.size, root: tree.root }) as unknown as JsonValue,
    item,
    /** a token-issued payload for the voters numbered `which` (sorted by reference) */
    issued: (which: number[], count: number): JsonValue =>
      tokenIssuedPayload({ refs: which.map(item).sort((a, b) => Buffer.compare(a.ref, b.ref)), count }) as unknown as JsonValue,
  };
}

interface Base {
  election: Election;
  manifest: ManifestJson;
  tokens: VoterToken[];
  /** the plan; heights are positions */
  plan: PlannedEntry[];
  rng: (n: number) => Uint8Array;
  /** the committed register of the plan */
  register: ReturnType<typeof registerOf>;
}

/**
 * setup; the register (five voters); three token issuances; ballots of voters 0, 1, 2; (if revoting) voter 1 again; close;
 * encrypted tally; result. One question of two options, exactly one to choose.
 */
function base(seed: string, spec: ElectionSpec = {}): Base {
  const full: ElectionSpec = { electionId: 'board-vectors', revoting: true, maxVoters: 10, questions: [{ id: 'q', options: 2, min: 1, max: 1 }], ...spec };
  const manifest = manifestJson(full);
  const election = parseManifest(manifest);
  const rng = seededRng(`tallyboard/2 board vectors ${seed}`);
  const plan: PlannedEntry[] = [];
  let h = 0;
  const ts = () => START + 1000 * ++h;
  plan.push({ type: 'setup', payload: setupPayload(manifest) as unknown as JsonValue, timestamp: START + 1000 * h });
  // The committed register (spec §7.5): five voters, of whom the first three take a token.
  const register = registerOf(Array.from({ length: 5 }, () => rng(32)));
  plan.push({ type: 'register', payload: register.payload, timestamp: ts() });
  const tokens = [0, 1, 2].map((i) => {
    plan.push({ type: 'token-issued', payload: register.issued([i], i + 1), timestamp: ts() });
    return fixtureToken(election, rng);
  });
  const cast = (voter: number, choice: number) => {
    const b = createBallot(election, [[choice]], tokens[voter]!, rng);
    plan.push({ type: 'ballot', payload: ballotPayload(election, b.ballot, b.tracker) as unknown as JsonValue, timestamp: ts() });
  };
  cast(0, 0);
  cast(1, 1);
  cast(2, 1);
  if (full.revoting) cast(1, 0);
  appendTally(election, plan, END);
  return { election, manifest, tokens, plan, rng, register };
}

/** Remove close, encrypted tally and result, let `f` edit the ballots part, and tally again. */
function retally(b: Base, f: (plan: PlannedEntry[]) => void = () => undefined, closeAt = END): PlannedEntry[] {
  const plan = structuredClone(b.plan);
  const tail = plan.splice(plan.findIndex((p) => p.type === 'close'));
  f(plan);
  const n = plan.length;
  try {
    appendTally(b.election, plan, closeAt);
  } catch {
    // The edit made the product undecodable (an invalid ballot): the tally is never checked on
    // such a board (§10.4), so keep the honest tally entries after a correct close.
    plan.length = n;
    const ballots = plan.filter((p) => p.type === 'ballot').length;
    plan.push({ ...tail[0]!, payload: { reason: 'schedule', ballots }, timestamp: closeAt }, { ...tail[1]!, timestamp: closeAt + 1 }, { ...tail[2]!, timestamp: closeAt + 2 }, { ...tail[3]!, timestamp: closeAt + 3 });
  }
  return plan;
}

interface ChainOptions {
  headerElectionId?: string;
  headerKey?: Uint8Array;
  /** sign the checkpoint message with something else */
  signCheckpoint?: (message: Uint8Array) => Uint8Array;
  /** the witness cosignatures to put on the checkpoint record (§9.9.3) */
  cosign?: (cp: Checkpoint) => Cosignature[];
}

/** Chain and sign a plan into export lines, as an operator holding the board key would. */
function lines(election: Election, plan: readonly PlannedEntry[], o: ChainOptions = {}): string[] {
  const key = boardKeyFixture();
  const electionId = o.headerElectionId ?? election.manifest.electionId;
  const out = [headerLine({ electionId, boardPublicKey: o.headerKey ?? key.publicKey })];
  const frontier = new MerkleFrontier();
  let parent = zeroHash();
  plan.forEach((p, height) => {
    const entry: Entry = { height, parent, type: p.type as EntryType, timestamp: p.timestamp, payload: p.payload };
    const enc = encodeEntry(entry);
    frontier.append(enc.leafHash);
    out.push(entryLine(entry, enc.hash));
    parent = enc.hash;
  });
  const unsigned = { electionId, treeSize: plan.length, rootHash: frontier.root(), chainHead: parent, timestamp: plan[plan.length - 1]!.timestamp };
  let cp: Checkpoint = signCheckpoint(key.secretKey, unsigned);
  if (o.signCheckpoint) cp = { ...cp, signature: o.signCheckpoint(checkpointMessage(unsigned)) };
  out.push(checkpointLine(cp, o.cosign ? o.cosign(cp) : []));
  return out;
}

/** Line index (0-based, in `lines`) of the entry at height h. */
const lineOf = (h: number) => h + 1;

/** Re-sign a ballot with a token key after an edit; returns the payload with a fresh tracker. */
function resigned(election: Election, b: Ballot, sign: (m: Uint8Array) => Uint8Array): JsonValue {
  const body = ballotBody(election, b);
  const signature = sign(ballotSigningMessage(body));
  return ballotPayload(election, { ...b, signature }, ballotTracker(body, signature)) as unknown as JsonValue;
}

function ballotOf(election: Election, p: PlannedEntry): Ballot {
  return parseBallot(election, (p.payload as { ballot: unknown }).ballot);
}

// --- the expectations -------------------------------------------------------------------------

type Fail = [step: number, check: string, height: number | null];

function expect(statuses: string, ...failures: Fail[]): BoardVector['expected'] {
  if (statuses.length !== 10 || /[^PFN]/.test(statuses)) throw new Error(`bad statuses ${statuses}`);
  const steps = [...statuses].map((c): StepStatus => (c === 'P' ? 'pass' : c === 'F' ? 'fail' : 'not run'));
  const failed = steps.map((s, i) => (s === 'fail' ? i + 1 : 0)).filter((x) => x > 0);
  if (failed.join() !== failures.map((f) => f[0]).join()) throw new Error(`statuses ${statuses} do not match the failures listed`);
  return { ok: failures.length === 0, steps, failures: failures.map(([step, check, height]) => ({ step, check, height })) };
}

// --- the cases --------------------------------------------------------------------------------

/** Heights in the base plan (revoting). */
const H = { setup: 0, register: 1, issued: [2, 3, 4], ballot: [5, 6, 7, 8], close: 9, tally: 10, partial: 11, result: 12 } as const;

/** Every vector, in a fixed order. */
export function buildBoardVectors(): BoardVectorFile {
  const b = base('revoting');
  const e = b.election;
  const honest = lines(e, b.plan);
  const out: BoardVector[] = [];
  const add = (id: string, description: string, boardLines: string[], expected: BoardVector['expected'], settles?: string) =>
    out.push({ id, description, ...(settles ? { settles } : {}), lines: boardLines, expected });
  const editLine = (i: number, f: (j: any) => void) => {
    const l = [...honest];
    const j = JSON.parse(l[i]!);
    f(j);
    l[i] = canonicalJson(j, 17);
    return l;
  };
  const replan = (f: (plan: PlannedEntry[]) => void) => {
    const plan = structuredClone(b.plan);
    f(plan);
    return lines(e, plan);
  };
  const ALL = 'PPPPPPPPPP';

  // Honest boards.
  add('honest/revote', 'an honest board with a revote: every step passes', honest, expect(ALL));
  {
    // Same keys, another title: a new fingerprint, so tokens and ballots are made afresh.
    const m = { ...structuredClone(b.manifest), title: '\u{1F600}'.repeat(500) };
    const e2 = parseManifest(m);
    add('honest/emoji-title', 'a manifest title of 500 astral code points (1,000 UTF-16 units): "characters" are code points', lines(e2, rebuildFor(e2, m, 'emoji')), expect(ALL), '11.2');
  }

  // Steps 1–3: the chain. The first failing B-check is the only failure; everything later is not run.
  add('chain/whitespace', 'a space after a comma in an entry line', (() => { const l = [...honest]; l[lineOf(2)] = l[lineOf(2)]!.replace(',', ', '); return l; })(), expect('FNNNNNNNNN', [1, 'B1', null]));
  add('chain/float', 'the integer count of a token issuance written as 1.0 (a float is B1, not B3)', (() => { const l = [...honest]; l[lineOf(H.issued[0])] = l[lineOf(H.issued[0])]!.replace('"count":1,', '"count":1.0,'); return l; })(), expect('FNNNNNNNNN', [1, 'B1', null]), '11.8');
  {
    const A = ed25519.Point.fromBytes(boardKeyFixture().publicKey);
    const mixed = A.add(torsionPoint8()).toBytes();
    add('chain/header-key-mixed-order', 'the header names the board key A + T (T of order 8)', lines(e, b.plan, { headerKey: mixed }), expect('FNNNNNNNNN', [1, 'B2', null]), '10.5');
  }
  add('chain/removed-line', 'a ballot line removed: B4 at that position; step 3 and the semantic steps are not run', honest.filter((_, i) => i !== lineOf(H.ballot[1])), expect('PFNNNNNNNN', [2, 'B4', H.ballot[1]]), '11.7');
  add('chain/swapped-lines', 'two ballot lines swapped', (() => { const l = [...honest]; [l[lineOf(4)], l[lineOf(5)]] = [l[lineOf(5)]!, l[lineOf(4)]!]; return l; })(), expect('PFNNNNNNNN', [2, 'B4', 4]), '11.7');
  add('chain/edited-ciphertext', 'one digit of a ciphertext changed in the file', editLine(lineOf(H.ballot[0]), (j) => (j.payload.ballot.answers[0].c = flip(j.payload.ballot.answers[0].c, 40))), expect('PFNNNNNNNN', [2, 'B8', H.ballot[0]]));
  add('chain/edited-result-with-revotes', 'the counts of the result changed in the file, on a board with a revote: B8 at the result, and no step blames the untouched encrypted tally', editLine(lineOf(H.result), (j) => (j.payload.results[0].counts[0] += 1)), expect('PFNNNNNNNN', [2, 'B8', H.result]), '9.6');
  add('chain/dropped-last-entry', 'the last entry line dropped: the checkpoint no longer matches the size (B11, not "pass")', honest.filter((_, i) => i !== lineOf(H.result)), expect('PPFNNNNNNN', [3, 'B11', null]), '11.7');
  add('chain/forged-checkpoint', 'one bit of the checkpoint signature flipped', editLine(honest.length - 1, (j) => (j.signature = flip(j.signature, 10))), expect('PPFNNNNNNN', [3, 'B14', null]));
  add('chain/checkpoint-torsion-r', 'the checkpoint signed by the board key with R + T (T of order 8): accepted by the cofactored equation, refused by §7.3', lines(e, b.plan, { signCheckpoint: (m) => signWithTorsionR(boardKeyFixture().secretKey, m) }), expect('PPFNNNNNNN', [3, 'B14', null]), '10.5');
  add('chain/no-checkpoint', 'the checkpoint line removed', honest.slice(0, -1), expect('PPFNNNNNNN', [3, 'B9', null]));

  // Step 4.
  add('setup/header-election-id', "the header's (and checkpoint's) electionId is not the manifest's: 4c, and step 3 passes (B10 binds the checkpoint to the header)", lines(e, b.plan, { headerElectionId: 'another-election' }), expect('PPPFNNNNNN', [4, '4c', 0]), '11.5');
  add('setup/unknown-member', 'the manifest has an unknown member', replan((p) => ((p[0]!.payload as any).manifest.note = 'x')), expect('PPPFNNNNNN', [4, '2.1a', 0]), '11.11');
  add('setup/title-501-code-points', 'a manifest title of 501 astral code points', replan((p) => ((p[0]!.payload as any).manifest.title = '\u{1F600}'.repeat(501))), expect('PPPFNNNNNN', [4, '2.1b', 0]), '11.2');
  add('setup/manifest-board-key-mixed', 'the manifest names the board key A + T while the header names A: 7.3a comes before 4c', replan((p) => {
    const A = ed25519.Point.fromBytes(boardKeyFixture().publicKey);
    (p[0]!.payload as any).manifest.keys.board = toHex(A.add(torsionPoint8()).toBytes());
  }), expect('PPPFNNNNNN', [4, '7.3a', 0]), '10.5');
  add('setup/payload-member', 'the setup payload has a member besides manifest', replan((p) => ((p[0]!.payload as any).extra = 1)), expect('PPPFNNNNNN', [4, '4a', 0]));
  add('setup/second-setup', 'a second setup entry before the close', replan((p) => p.splice(H.ballot[3], 0, { ...p[0]!, timestamp: p[H.ballot[3] - 1]!.timestamp })), expect('PPPFNNNNNN', [4, '4b', H.ballot[3]]));

  // Step 5.
  add('issuance/repeated-ref', 'two issuances under the same reference: step 7 and the tally checks are not run', replan((p) => ((p[H.issued[2]]!.payload as any).refs = (p[H.issued[1]]!.payload as any).refs)), expect('PPPPFPNPNN', [5, '5c', H.issued[2]]));
  add('issuance/count-gap', 'issuance counts 1, 3, 4', replan((p) => ((p[H.issued[1]]!.payload as any).count = 3, (p[H.issued[2]]!.payload as any).count = 4)), expect('PPPPFPNPNN', [5, '5b', H.issued[1]]));
  add('issuance/unknown-member', 'an issuance payload with an unknown member', replan((p) => ((p[H.issued[0]]!.payload as any).login = 'alice')), expect('PPPPFPNPNN', [5, '5a', H.issued[0]]), '11.9');

  // Step 5: the committed register (spec §7.5; issue 10.2).
  add('honest/batched-issuance', 'the three issuances in one entry, references in ascending order (spec §7.4 batches): every step passes', replan((p) => {
    p.splice(H.issued[0], 3, { type: 'token-issued', payload: b.register.issued([0, 1, 2], 3), timestamp: p[H.issued[2]]!.timestamp });
  }), expect(ALL), '10.4');
  add('register/invented-ref', 'an issuance to an invented reference (not in the committed register), its proof copied from a member: 5e', replan((p) => {
    (p[H.issued[2]]!.payload as any).refs[0].ref = toHex(seededRng('invented reference')(32));
  }), expect('PPPPFPNPNN', [5, '5e', H.issued[2]]), '10.2');
  add('register/bad-proof', 'a member reference whose inclusion path has one hash flipped: 5e', replan((p) => {
    const item = (p[H.issued[1]]!.payload as any).refs[0];
    item.path[0] = flip(item.path[0], 5);
  }), expect('PPPPFPNPNN', [5, '5e', H.issued[1]]), '10.2');
  {
    // A register of two voters, and three tokens issued: the third reference cannot be a member.
    const two = registerOf(b.register.refs.slice(0, 2));
    add('register/more-issued-than-voters', 'the register commits two voters and three tokens are issued (count above N): the third fails 5e', replan((p) => {
      p[H.register]!.payload = two.payload;
      p[H.issued[0]]!.payload = two.issued([0], 1);
      p[H.issued[1]]!.payload = two.issued([1], 2);
    }), expect('PPPPFPNPNN', [5, '5e', H.issued[2]]), '10.2');
  }
  add('register/missing', 'no register entry: the first issuance has no committed register before it (5e)', replan((p) => p.splice(H.register, 1)), expect('PPPPFPNPNN', [5, '5e', H.issued[0] - 1]), '10.2');
  add('register/after-issuance', 'the register committed after the first issuance: that issuance fails 5e, the register 5f', replan((p) => {
    const [reg] = p.splice(H.register, 1);
    p.splice(H.issued[0], 0, { ...reg!, timestamp: p[H.issued[0] - 1]!.timestamp });
  }), expect('PPPPFPNPNN', [5, '5e', H.register]), '10.2');
  add('register/duplicate', 'a second register entry (the same commitment again) before the ballots: 5f', replan((p) => {
    p.splice(H.ballot[0], 0, { ...structuredClone(p[H.register]!), timestamp: p[H.ballot[0] - 1]!.timestamp });
  }), expect('PPPPFPNPNN', [5, '5f', H.ballot[0]]), '10.2');
  add('register/voters-above-max-voters', 'the register commits more voters than maxVoters (10): 5g', replan((p) => ((p[H.register]!.payload as any).voters = 11)), expect('PPPPFPNPNN', [5, '5g', H.register]), '10.2');
  add('register/unknown-member', 'a register payload with an unknown member', replan((p) => ((p[H.register]!.payload as any).logins = ['alice'])), expect('PPPPFPNPNN', [5, '5g', H.register]), '10.2');
  add('issuance/unsorted-batch', 'a batch whose references are not in ascending order: 5a', replan((p) => {
    p.splice(H.issued[0], 3, { type: 'token-issued', payload: b.register.issued([0, 1, 2], 3), timestamp: p[H.issued[2]]!.timestamp });
    (p[H.issued[0]]!.payload as any).refs.reverse();
  }), expect('PPPPFPNPNN', [5, '5a', H.issued[0]]), '10.4');

  // Step 6.
  add('ballot/stale-tracker', 'a ciphertext edited by the operator with the tracker left as it was: 6b (the tracker is checked before the signature)', lines(e, retally(b, (p) => {
    const j = p[H.ballot[0]]!.payload as any;
    j.ballot.answers[0].c = flip(j.ballot.answers[0].c, 40);
  })), expect('PPPPPFNPNN', [6, '6b', H.ballot[0]]), '11.3');
  add('ballot/unknown-member', 'a ballot with an unsigned member "voter":"alice"', replan((p) => ((p[H.ballot[2]]!.payload as any).ballot.voter = 'alice')), expect('PPPPPFNPNN', [6, '6.1a', H.ballot[2]]), '10.10');
  add('ballot/payload-member', 'a ballot payload with a member besides ballot and tracker', replan((p) => ((p[H.ballot[2]]!.payload as any).cast = 'web')), expect('PPPPPFNPNN', [6, '6a', H.ballot[2]]), '11.9');
  add('ballot/answers-count', 'a ballot with no answer (shape, 6.1a; not 6.5a)', replan((p) => ((p[H.ballot[2]]!.payload as any).ballot.answers = [])), expect('PPPPPFNPNN', [6, '6.1a', H.ballot[2]]), '11.10');
  add('ballot/torsion-r', "a voter's ballot signed with R + T (T of order 8), tracker recomputed: 6.5d", lines(e, retally(b, (p) => {
    p[H.ballot[2]]!.payload = resigned(e, ballotOf(e, p[H.ballot[2]]!), (m) => signWithTorsionR(b.tokens[2]!.secretKey, m));
  })), expect('PPPPPFNPNN', [6, '6.5d', H.ballot[2]]), '10.5');
  {
    const seed = b.rng(32);
    const key = mixedOrderKeyAndSignature(seed, new Uint8Array(0)).publicKey;
    const forged = ballotForKey(e, [[1]], key, (m) => mixedOrderKeyAndSignature(seed, m).signature, b.rng);
    add('ballot/token-key-mixed-order', 'a ballot under the token key A + T, with a real issuer signature and a signature both RFC 8032 equations accept: 6.5b', lines(e, retally(b, (p) => {
      const body = ballotBody(e, forged);
      p[H.ballot[2]]!.payload = ballotPayload(e, forged, ballotTracker(body, forged.signature)) as unknown as JsonValue;
    })), expect('PPPPPFNPNN', [6, '6.5b', H.ballot[2]]), '10.5');
  }
  add('ballot/before-start', 'the first ballots stamped before the opening (timestamps still ordered)', replan((p) => p.forEach((x, i) => (x.timestamp = i <= H.ballot[0] ? START - 10_000 + i : x.timestamp))), expect('PPPPPFNPNN', [6, '6d', H.ballot[0]]));

  // Step 7.
  add('counted/duplicate-ballot', 'the same ballot twice before the close', lines(e, retally(b, (p) => p.push({ ...p[H.ballot[0]]!, timestamp: p[p.length - 1]!.timestamp }))), expect('PPPPPPFPNN', [7, '7a', H.ballot[3] + 1]));
  {
    const nb = base('no-revoting', { revoting: false, electionId: 'board-vectors-nr' });
    const plan = retally(nb, (p) => {
      const again = createBallot(nb.election, [[0]], nb.tokens[1]!, nb.rng);
      p.push({ type: 'ballot', payload: ballotPayload(nb.election, again.ballot, again.tracker) as unknown as JsonValue, timestamp: p[p.length - 1]!.timestamp + 1 });
    });
    add('counted/second-ballot-no-revoting', 'revoting is off and a token casts a second ballot', lines(nb.election, plan), expect('PPPPPPFPNN', [7, '7b', H.ballot[3]]));
  }
  add('counted/ballot-before-issuance', 'the third issuance moved after the ballots (counts still 1, 2, 3): the third token votes before any issuance allows it — 7c at every prefix, not only at the end', lines(e, retally(b, (p) => {
    const [moved] = p.splice(H.issued[2], 1);
    p.push({ ...moved!, timestamp: p[p.length - 1]!.timestamp });
  })), expect('PPPPPPFPNN', [7, '7c', H.ballot[2] - 1]), '10.3');
  add('counted/more-ballots-than-tokens', 'only two issuances for three voting tokens', lines(e, retally(b, (p) => p.splice(H.issued[2], 1))), expect('PPPPPPFPNN', [7, '7c', H.ballot[2] - 1]), '10.3');

  // Step 8.
  add('close/missing-with-revotes', 'no close, no tally, no result, on a board with a revote: 8a (not reread), steps 9 and 10 not run', lines(e, b.plan.slice(0, H.close)), expect('PPPPPPPFNN', [8, '8a', null]), '10.13');
  add('close/malformed-with-revotes', 'a close payload with an unknown member, on a board with a revote', replan((p) => ((p[H.close]!.payload as any).by = 'admin')), expect('PPPPPPPFNN', [8, '8a', H.close]), '10.13');
  add('close/ballot-after-close', 'a ballot after the close', replan((p) => {
    const late = createBallot(e, [[1]], b.tokens[0]!, seededRng('late ballot'));
    p.splice(H.close + 1, 0, { type: 'ballot', payload: ballotPayload(e, late.ballot, late.tracker) as unknown as JsonValue, timestamp: p[H.close]!.timestamp });
  }), expect('PPPPPPPFNN', [8, '8b', H.close + 1]));
  add('close/tally-before-close', 'the encrypted tally and result placed before the close', replan((p) => {
    const [close] = p.splice(H.close, 1);
    p.push({ ...close!, timestamp: p[p.length - 1]!.timestamp });
  }), expect('PPPPPPPFNN', [8, '8c', H.close]), '11.4');
  {
    // Witnesses (§9.9, check 8e): the same election with two witnesses and a quorum of 2.
    const wb = base('witnessed', { electionId: 'board-vectors-w', witnesses: { count: 2, quorum: 2 } });
    const we = wb.election;
    const cos = (i: number, cp: Checkpoint, name = witnessFixture(i).name) => signCosignature(witnessFixture(i).secretKey, name, boardKeyFixture().publicKey, cp, END + 10_000);
    const both = (cp: Checkpoint) => [cos(0, cp), cos(1, cp)];
    add('honest/witnessed', 'an honest board whose final checkpoint carries the cosignatures of both witnesses the manifest names (quorum 2): every step passes', lines(we, wb.plan, { cosign: both }), expect(ALL), '14.3');
    add('witness/below-quorum', 'one of the two cosignatures required (8e; steps 9 and 10 not run)', lines(we, wb.plan, { cosign: (cp) => [cos(0, cp)] }), expect('PPPPPPPFNN', [8, '8e', null]), '14.3');
    add('witness/no-cosignature', 'the manifest names witnesses and the final checkpoint carries no cosignature', lines(we, wb.plan), expect('PPPPPPPFNN', [8, '8e', null]), '14.3');
    add('witness/unknown-key', 'a cosignature by a key the manifest does not name, under a name it does', lines(we, wb.plan, { cosign: (cp) => [cos(0, cp), cos(5, cp, witnessFixture(1).name)] }), expect('PPPPPPPFNN', [8, '8e', null]), '14.3');
    add('witness/bad-signature', "a cosignature whose signature is the witness's signature of another time", lines(we, wb.plan, { cosign: (cp) => [cos(0, cp), { ...cos(1, cp), signature: signCosignature(witnessFixture(1).secretKey, witnessFixture(1).name, boardKeyFixture().publicKey, cp, END).signature }] }), expect('PPPPPPPFNN', [8, '8e', null]), '14.3');
    add('witness/other-root', 'a valid cosignature of another checkpoint of the same size (a fork’s root)', lines(we, wb.plan, { cosign: (cp) => [cos(0, cp), cos(1, { ...cp, rootHash: new Uint8Array(32).fill(0xab) })] }), expect('PPPPPPPFNN', [8, '8e', null]), '14.3');
    add('witness/revote-reorder-fork', "the operator's re-signed fork that swaps voter 1's two ballots (the earlier choice counts): a valid board by itself, but the witnesses never cosign it", lines(we, retally(wb, (p) => {
      [p[H.ballot[1]]!.payload, p[H.ballot[3]]!.payload] = [p[H.ballot[3]]!.payload, p[H.ballot[1]]!.payload];
    })), expect('PPPPPPPFNN', [8, '8e', null]), '14.3');
  }
  add('close/early-schedule-close', 'closed "on schedule" before the end time', lines(e, retally(b, () => undefined, END - 1)), expect('PPPPPPPFNN', [8, '8d', H.close]));

  // Step 9.
  add('tally/ballots-counted', 'ballotsCounted counts the replaced ballot too', replan((p) => ((p[H.tally]!.payload as any).ballotsCounted = 4)), expect('PPPPPPPPFN', [9, '9b', H.tally]));
  add('tally/not-the-product', 'the published encrypted tally is another ciphertext', replan((p) => {
    const j = p[H.tally]!.payload as any;
    j.ciphertexts[0] = (p[H.ballot[0]]!.payload as any).ballot.answers[0].c;
  }), expect('PPPPPPPPFN', [9, '9c', H.tally]));
  add('tally/unknown-member', 'the encrypted tally payload has an unknown member', replan((p) => ((p[H.tally]!.payload as any).note = 'x')), expect('PPPPPPPPFN', [9, '9a', H.tally]));

  // Step 10.
  add('result/extra-result', 'one result too many: 8.4a in step 10, not 8c in step 8', replan((p) => {
    const j = p[H.result]!.payload as any;
    j.results.push(j.results[0]);
  }), expect('PPPPPPPPPF', [10, '8.4a', H.result]), '11.4');
  add('result/extra-member', 'a result with an extra member "note"', replan((p) => ((p[H.result]!.payload as any).results[0].note = 'recount')), expect('PPPPPPPPPF', [10, '8.4a', H.result]), '10.10');
  add('result/edited-count', 'a count edited by the operator', replan((p) => ((p[H.result]!.payload as any).results[0].counts[0] += 1)), expect('PPPPPPPPPF', [10, '8.4c', H.result]));
  add('result/wrong-c', "the result's c is not the verifier's product (8.4b, before the decryption proof)", replan((p) => {
    const j = p[H.result]!.payload as any;
    j.results[0].c = (p[H.ballot[0]]!.payload as any).ballot.answers[0].c;
  }), expect('PPPPPPPPPF', [10, '8.4b', H.result]), '11.15');
  add('result/wrong-t', 'a published T that is not the combination of the partial decryptions', replan((p) => {
    const j = p[H.result]!.payload as any;
    j.results[0].T = flip(j.results[0].T, j.results[0].T.length - 1);
  }), expect('PPPPPPPPPF', [10, '8.4f', H.result]));
  add('result/unknown-trustee', 'the result names a trustee without a partial decryption (fewer than k valid shares)', replan((p) => {
    (p.splice(H.partial, 1));
    (p[H.partial]!.payload as any).trustees = [1];
  }), expect('PPPPPPPPPF', [10, '13.4g', H.partial]));
  // Partial decryptions (spec §13.4): each failure names the entry's height.
  add('partial/forged-proof', 'a partial decryption whose challenge was changed: the audit names that entry', replan((p) => {
    const j = p[H.partial]!.payload as any;
    j.partials[0].e = flip(j.partials[0].e, j.partials[0].e.length - 1);
  }), expect('PPPPPPPPPF', [10, '13.4f', H.partial]));
  add('partial/wrong-share', 'c_i raised to another exponent (a wrong share), with the honest proof', replan((p) => {
    const j = p[H.partial]!.payload as any;
    j.partials[0].ci = j.partials[1] ? j.partials[1].ci : flip(j.partials[0].ci, j.partials[0].ci.length - 1);
  }), expect('PPPPPPPPPF', [10, '13.4f', H.partial]));
  add('partial/wrong-question', 'the partial decryptions of the two questions swapped', replan((p) => {
    const j = p[H.partial]!.payload as any;
    if (j.partials.length > 1) j.partials.reverse();
    else j.partials[0].ci = flip(j.partials[0].ci, 2);
  }), expect('PPPPPPPPPF', [10, '13.4f', H.partial]));
  add('partial/response-out-of-range', 'a response z at its largest encodable value, out of [0, 2^(R+1))', replan((p) => {
    const j = p[H.partial]!.payload as any;
    j.partials[0].z = 'ff'.repeat(j.partials[0].z.length / 2);
  }), expect('PPPPPPPPPF', [10, '13.4e', H.partial]));
  add('partial/trustee-out-of-range', 'a partial decryption of trustee 2 under a 1-of-1 key', replan((p) => ((p[H.partial]!.payload as any).trustee = 2)), expect('PPPPPPPPPF', [10, '13.4a', H.partial]));
  add('partial/before-tally', 'a partial decryption before the encrypted tally', replan((p) => {
    const [pd] = p.splice(H.partial, 1);
    p.splice(H.tally, 0, { ...pd!, timestamp: p[H.tally]!.timestamp });
  }), expect('PPPPPPPFNN', [8, '8c', H.tally]));
  return { description: DESCRIPTION, vectors: out };
}

/** The base plan, for another manifest with the same keys (fresh tokens and ballots). */
function rebuildFor(election: Election, manifest: ManifestJson, seed: string): PlannedEntry[] {
  const rng = seededRng(`tallyboard/2 board vectors ${seed}`);
  const plan: PlannedEntry[] = [{ type: 'setup', payload: setupPayload(manifest) as unknown as JsonValue, timestamp: START }];
  let h = 0;
  const ts = () => START + 1000 * ++h;
  const register = registerOf([rng(32), rng(32)]);
  plan.push({ type: 'register', payload: register.payload, timestamp: ts() });
  const tokens = [0, 1].map((i) => {
    plan.push({ type: 'token-issued', payload: register.issued([i], i + 1), timestamp: ts() });
    return fixtureToken(election, rng);
  });
  tokens.forEach((t, i) => {
    const b = createBallot(election, [[i]], t, rng);
    plan.push({ type: 'ballot', payload: ballotPayload(election, b.ballot, b.tracker) as unknown as JsonValue, timestamp: ts() });
  });
  appendTally(election, plan, END);
  return plan;
}

function flip(s: string, i: number): string {
  return s.slice(0, i) + (s[i] === '0' ? '1' : '0') + s.slice(i + 1);
}
