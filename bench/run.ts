/**
 * `npm run bench`: the cost of the cryptographic core at 2048 bits, for a single-choice
 * question with 4 options (|A| = 4), the reference ballot of the project's benchmarks; then,
 * at 2048 and 3072 bits, the client's time after the choice and per-proof vs batch
 * verification (in one thread, and the auditor over a whole board), side by side with the
 * ratio.
 *
 * Prints one line per figure, `bench <name> <value> <unit>`, each the MEDIAN of several runs,
 * so that later work can be compared line by line. Kept out of the test suite on purpose:
 * timings depend on the machine and never decide whether a test passes.
 */
import { readFileSync } from 'node:fs';
import { PaillierSecretKey } from '../src/crypto/paillier.js';
import { modPow, randomUnit } from '../src/crypto/bigint.js';
import { blindRsaPublicKeyOf, blindRsaPublicKeyToJson, blindRsaSecretKeyFromJson } from '../src/crypto/blind-rsa.js';
import { ed25519KeyPair, ed25519Sign, ed25519VerifyNative, ed25519VerifyPortable } from '../src/crypto/ed25519.js';
import { nativeCrypto, nativeSha256 } from '../src/crypto/native.js';
import { toHex } from '../src/wire.js';
import { parseManifest } from '../src/election/manifest.js';
import { SPEC_VERSION, sha256Portable } from '../src/crypto/hash.js';
import { completeToken, issueBlindSignature, requestToken } from '../src/election/token.js';
import { createBallot, precomputeBallot, verifyBallot } from '../src/election/ballot.js';
import { verifyBallots } from '../src/election/ballot-batch.js';
import { runSingleServerCeremony } from '../src/trustee/ceremony.js';
import { checkElectionKey, decodeElectionKey, type ElectionKeyJson } from '../src/election/election-key.js';
import { decryptTally, TallyAccumulator, verifyTally } from '../src/election/tally.js';
import { singleShareOf } from '../src/verifier/tally-service.js';
import { parsePartialDecryptionPayload, verifyPartialDecryptionEntry } from '../src/election/partial-decryption.js';
import { audit } from '../auditor/audit.js';
import { fileRecords } from '../auditor/source.js';
import { BallotVerifierPool, DEFAULT_BATCH, defaultWorkerCount } from '../auditor/workers.js';
import { buildAuditBoard, pooledPrecomputation, powerPool } from './audit-board.js';
import { benchThreshold } from './threshold.js';

const root = new URL('../../', import.meta.url); // dist/bench → repository root
/** Ballots on the auditor's benchmark board (BENCH_AUDIT_BALLOTS; 1000 by default). */
const AUDIT_BALLOTS = Number(process.env.BENCH_AUDIT_BALLOTS ?? 1000);
/**
 * Ballots on the board the per-proof auditor reads (BENCH_PER_PROOF_BALLOTS; default the same
 * board). A smaller board shortens a run on a slow machine; ballots/s is comparable either way.
 */
const PER_PROOF_BALLOTS = Number(process.env.BENCH_PER_PROOF_BALLOTS ?? AUDIT_BALLOTS);
/** Modulus sizes of the batch comparison (BENCH_BITS, comma-separated; default 2048,3072). */
const BENCH_BITS = (process.env.BENCH_BITS ?? '2048,3072').split(',').map(Number);
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`test/fixtures/${name}`, root), 'utf8')).secretKey;
/** The manifest's keys.election of the fixture key (1-of-1, spec §2.1). */
const electionKeyJson = () => JSON.parse(readFileSync(new URL('test/fixtures/election-key-2048-a.json', root), 'utf8')).electionKey;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function time(runs: number, f: () => void): number {
  f(); // warm-up
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

function line(name: string, value: number, unit: string): void {
  console.log(`bench ${name} ${value < 10 ? value.toFixed(2) : value.toFixed(1)} ${unit}`);
}

const sk = PaillierSecretKey.fromJSON(fixture('election-key-2048-a.json'));
const boardKey = ed25519KeyPair(new Uint8Array(32).fill(7));
const pk = sk.publicKey;
const rsa = blindRsaSecretKeyFromJson(fixture('blind-rsa-2048.json'));
const election = electionWith(electionKeyJson());

/** The benchmark election (one question, 4 options) under a Paillier key. */
function electionWith(key: unknown) {
  return parseManifest({
    version: SPEC_VERSION,
    electionId: 'bench',
    title: 'Benchmark',
    questions: [{ id: 'q', title: 'Q', options: ['a', 'b', 'c', 'd'].map((id) => ({ id, title: id })), min: 1, max: 1 }],
    schedule: { start: '2026-01-01T00:00:00.000Z', end: '2026-12-31T00:00:00.000Z' },
    maxVoters: Math.max(1000, AUDIT_BALLOTS),
    revoting: false,
    keys: {
      election: key as ElectionKeyJson,
      tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(rsa)),
      board: toHex(boardKey.publicKey),
    },
  });
}

const x = randomUnit(pk.n2);
line('modpow-n-mod-n2', time(20, () => modPow(x, pk.n, pk.n2)), 'ms');
line('paillier-encrypt', time(20, () => pk.encryptFresh(3n)), 'ms');
line('election-key-verify', time(1, () => checkElectionKey(decodeElectionKey(electionKeyJson()))), 'ms');

const token = (() => {
  const p = requestToken(election);
  return completeToken(election, p, issueBlindSignature(rsa, p.blindedMsg));
})();
line('token-issue-roundtrip', time(20, () => {
  const p = requestToken(election);
  completeToken(election, p, issueBlindSignature(rsa, p.blindedMsg));
}), 'ms');

const ballots = Array.from({ length: 12 }, (_, i) => createBallot(election, [[i % 4]], token));
line('client-encrypt-prove', time(12, () => createBallot(election, [[1]], token)), 'ms/ballot');
const verifyMs = time(12, () => {
  const r = verifyBallot(election, ballots[0]!.ballot);
  if (!r.ok) throw new Error('benchmark ballot rejected');
});
line('server-verify', 1000 / verifyMs, 'ballots/s');

const acc = new TallyAccumulator(election);
for (let i = 0; i < 1000; i++) acc.add(ballots[i % ballots.length]!.ballot.answers.map((a) => a.c));
const share = singleShareOf(election, sk);
line('tally-partial-decrypt-prove', time(5, () => decryptTally(election, share, acc.result())), 'ms');
const decrypted = decryptTally(election, share, acc.result());
const verifiedEntry = new Map([[1, parsePartialDecryptionPayload(election.threshold, election.questions.length, decrypted.partial)]]);
line('tally-verify', time(5, () => {
  if (!verifyPartialDecryptionEntry(election.threshold, election.fingerprint, acc.result(), decrypted.partial).ok) throw new Error('bench partial rejected');
  verifyTally(election, acc.result(), decrypted.result, verifiedEntry);
}), 'ms');
line('homomorphic-add-1000', time(5, () => {
  const a = new TallyAccumulator(election);
  for (let i = 0; i < 1000; i++) a.add(ballots[i % ballots.length]!.ballot.answers.map((b) => b.c));
}), 'ms');
// The tally of 10^5 ballots (issue 12): the homomorphic product of 10^5 ciphertexts, then one
// partial decryption with its proof and the verification and combination of a result. The
// benchmark election allows 1,000 voters (its counts are 10 bits wide), so the decryption is
// timed on the 1,000-ballot product: it costs the same exponentiations whatever the counts.
const accumulateMs = time(2, () => {
  const a = new TallyAccumulator(election);
  for (let i = 0; i < 100_000; i++) a.add(ballots[i % ballots.length]!.ballot.answers.map((b) => b.c));
});
line('tally-accumulate-100000', accumulateMs / 1000, 's');
line('tally-100000-ballots-accumulate-decrypt-verify', (accumulateMs + time(2, () => {
  const d = decryptTally(election, share, acc.result());
  if (!verifyPartialDecryptionEntry(election.threshold, election.fingerprint, acc.result(), d.partial).ok) throw new Error('bench partial rejected');
  verifyTally(election, acc.result(), d.result, new Map([[1, parsePartialDecryptionPayload(election.threshold, election.questions.length, d.partial)]]));
})) / 1000, 's');

// The two back ends of spec §1.4 and §7.3 (issue 12.3), side by side: Ed25519 verification of a
// signature under a key not seen before (the 7.3a check is cached per key, so every key is used
// once: 6 chunks of 50 per back end, the median chunk), and SHA-256 of a 20 kB ballot body.
{
  const n = 600;
  const cases = Array.from({ length: n }, (_, i) => {
    const kp = ed25519KeyPair();
    const msg = new TextEncoder().encode(`bench ballot body ${i} `.repeat(10));
    return { pk: kp.publicKey, msg, sig: ed25519Sign(msg, kp.secretKey) };
  });
  const perVerify = (from: number, verify: (c: (typeof cases)[number]) => boolean) => {
    const xs: number[] = [];
    for (let chunk = 0; chunk < 6; chunk++) {
      const t0 = performance.now();
      for (let i = from + chunk * 50; i < from + (chunk + 1) * 50; i++) if (!verify(cases[i]!)) throw new Error('bench: a valid signature was refused');
      xs.push((performance.now() - t0) / 50);
    }
    return median(xs);
  };
  const portableMs = perVerify(0, (c) => ed25519VerifyPortable(c.sig, c.msg, c.pk));
  line('ed25519-verify-portable', portableMs, 'ms');
  if (nativeCrypto) {
    const native = nativeCrypto;
    const nativeMs = perVerify(300, (c) => ed25519VerifyNative(native, c.sig, c.msg, c.pk));
    line('ed25519-verify-native', nativeMs, 'ms');
    line('ed25519-verify-native-speedup', portableMs / nativeMs, 'x');
    const body = new Uint8Array(20_000).fill(5);
    const shaPortable = time(200, () => sha256Portable(body));
    const shaNative = time(200, () => nativeSha256(native, [body]));
    line('sha256-20kB-native-speedup', shaPortable / shaNative, 'x');
  }
}

// Trustees (issue 13): ceremony at 2048 and 3072 bits (one run each), partial decryption, k-of-n combination.
await benchThreshold(root, line, time, (process.env.BENCH_CEREMONY_BITS ?? '2048,3072').split(',').filter(Boolean).map(Number));

// Batch vs per-proof verification (spec §5.7) and the client's time after the choice (§5.6),
// at every modulus size of BENCH_BITS (default "2048,3072"; the 3072-bit key is generated here).
for (const bits of BENCH_BITS) {
  const ceremony = bits === 2048 ? null : await runSingleServerCeremony(bits);
  const key = ceremony ? ceremony.secretKey : sk;
  const el = ceremony ? electionWith(ceremony.publicKey) : election;
  const tk = (() => {
    const p = requestToken(el);
    return completeToken(el, p, issueBlindSignature(rsa, p.blindedMsg));
  })();
  line(`client-precompute-${bits}`, time(8, () => precomputeBallot(el)), 'ms/question');
  const pres = Array.from({ length: 9 }, () => precomputeBallot(el));
  let next = 0;
  line(`client-after-choice-${bits}`, time(8, () => createBallot(el, [[2]], tk, undefined, undefined, pres[next++]!)), 'ms/question');

  // One thread, no pool: the verifiers alone.
  const pool = powerPool(el, 24);
  const sample = Array.from({ length: DEFAULT_BATCH }, (_, i) => createBallot(el, [[i % 4]], tk, undefined, undefined, pooledPrecomputation(el, pool)).ballot);
  const perProofMs = time(3, () => {
    for (const b of sample.slice(0, 8)) if (!verifyBallot(el, b).ok) throw new Error('benchmark ballot rejected');
  }) / 8;
  const batchMs = time(3, () => {
    if (!verifyBallots(el, sample).every((r) => r.ok)) throw new Error('benchmark batch rejected');
  }) / sample.length;
  line(`verify-one-thread-${bits}-per-proof`, 1000 / perProofMs, 'ballots/s');
  line(`verify-one-thread-${bits}-batch-${DEFAULT_BATCH}`, 1000 / batchMs, 'ballots/s');
  // One ballot alone, all its branches in one batch: what a ballot server checking each ballot
  // as it arrives would gain.
  const singleMs = time(5, () => {
    if (!verifyBallots(el, [sample[0]!])[0]!.ok) throw new Error('benchmark ballot rejected');
  });
  line(`verify-one-thread-${bits}-single-ballot-batch`, 1000 / singleMs, 'ballots/s');
  line(`verify-one-thread-${bits}-speedup`, perProofMs / batchMs, 'x');

  // The auditor over whole boards, verifying on every core (as `verify` does), both modes.
  const workers = defaultWorkerCount();
  const perProofBallots = Math.min(PER_PROOF_BALLOTS, AUDIT_BALLOTS);
  process.stderr.write(`building ${bits}-bit boards of ${AUDIT_BALLOTS}${perProofBallots !== AUDIT_BALLOTS ? ` and ${perProofBallots}` : ''} ballots for the auditor benchmark…\n`);
  const keys = { paillier: key, issuer: rsa, boardSecretKey: boardKey.secretKey };
  const progress = (k: number) => {
    if (k % 250 === 0) process.stderr.write(`  ${k}\n`);
  };
  const boardFile = await buildAuditBoard(el, keys, AUDIT_BALLOTS, progress, true);
  const perProofFile = perProofBallots === AUDIT_BALLOTS ? boardFile : await buildAuditBoard(el, keys, perProofBallots, progress, true);
  const perProofRate = await auditRate(perProofFile, perProofBallots, { workers, batch: 1 });
  const batchRate = await auditRate(boardFile, AUDIT_BALLOTS, { workers });
  line(`auditor-${bits}-per-proof-${perProofBallots}-board-${workers}workers`, perProofRate, 'ballots/s');
  line(`auditor-${bits}-batch-${AUDIT_BALLOTS}-board-${workers}workers`, batchRate, 'ballots/s');
  line(`auditor-${bits}-batch-speedup`, batchRate / perProofRate, 'x');
}

/** Audit a board file with a worker pool; ballots per second over the whole audit. */
async function auditRate(file: string, ballots: number, opts: { workers: number; batch?: number }): Promise<number> {
  const pool = new BallotVerifierPool(opts);
  const records = fileRecords(file);
  try {
    const t0 = performance.now();
    const report = await audit(pool.prefetch(records()), { reopen: records, verifyBallot: pool.verifyBallot });
    const seconds = (performance.now() - t0) / 1000;
    if (!report.ok) throw new Error('the benchmark board did not verify');
    return ballots / seconds;
  } finally {
    await pool.close();
  }
}
