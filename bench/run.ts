/**
 * `npm run bench`: the cost of the cryptographic core at 2048 bits, for a single-choice
 * question with 4 options (|A| = 4), the reference ballot of the project's benchmarks.
 *
 * Prints one line per figure, `bench <name> <value> <unit>`, each the MEDIAN of several runs,
 * so that later work can be compared line by line. Kept out of the test suite on purpose:
 * timings depend on the machine and never decide whether a test passes.
 */
import { readFileSync } from 'node:fs';
import { PaillierSecretKey, proveKey, verifyKeyProof } from '../src/crypto/paillier.js';
import { modPow, randomUnit } from '../src/crypto/bigint.js';
import { blindRsaPublicKeyOf, blindRsaPublicKeyToJson, blindRsaSecretKeyFromJson } from '../src/crypto/blind-rsa.js';
import { ed25519KeyPair } from '../src/crypto/ed25519.js';
import { intToHex, toHex } from '../src/wire.js';
import { parseManifest } from '../src/election/manifest.js';
import { SPEC_VERSION } from '../src/crypto/hash.js';
import { completeToken, issueBlindSignature, requestToken } from '../src/election/token.js';
import { createBallot, verifyBallot } from '../src/election/ballot.js';
import { decryptTally, TallyAccumulator, verifyTally } from '../src/election/tally.js';
import { audit } from '../auditor/audit.js';
import { fileRecords } from '../auditor/source.js';
import { BallotVerifierPool, defaultWorkerCount } from '../auditor/workers.js';
import { buildAuditBoard } from './audit-board.js';
import { benchThreshold } from './threshold.js';

const root = new URL('../../', import.meta.url); // dist/bench → repository root
/** Ballots on the auditor's benchmark board (BENCH_AUDIT_BALLOTS; 1000 by default). */
const AUDIT_BALLOTS = Number(process.env.BENCH_AUDIT_BALLOTS ?? 1000);
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`test/fixtures/${name}`, root), 'utf8')).secretKey;

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

const sk = PaillierSecretKey.fromJSON(fixture('paillier-2048-a.json'));
const boardKey = ed25519KeyPair(new Uint8Array(32).fill(7));
const pk = sk.publicKey;
const rsa = blindRsaSecretKeyFromJson(fixture('blind-rsa-2048.json'));
const election = parseManifest({
  version: SPEC_VERSION,
  electionId: 'bench',
  title: 'Benchmark',
  questions: [{ id: 'q', title: 'Q', options: ['a', 'b', 'c', 'd'].map((id) => ({ id, title: id })), min: 1, max: 1 }],
  schedule: { start: '2026-01-01T00:00:00.000Z', end: '2026-12-31T00:00:00.000Z' },
  maxVoters: Math.max(1000, AUDIT_BALLOTS),
  revoting: false,
  keys: {
    paillier: { ...pk.toJSON(), keyProof: proveKey(sk).map((x) => intToHex(x, pk.nLen)) },
    tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(rsa)),
    board: toHex(boardKey.publicKey),
  },
});

const x = randomUnit(pk.n2);
line('modpow-n-mod-n2', time(20, () => modPow(x, pk.n, pk.n2)), 'ms');
line('paillier-encrypt', time(20, () => pk.encryptFresh(3n)), 'ms');
line('key-proof-verify', time(5, () => verifyKeyProof(pk, election.keyProof)), 'ms');

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
line('tally-decrypt-prove', time(5, () => decryptTally(sk, election, acc.result())), 'ms');
const results = decryptTally(sk, election, acc.result());
line('tally-verify', time(5, () => verifyTally(election, acc.result(), results)), 'ms');
line('homomorphic-add-1000', time(5, () => {
  const a = new TallyAccumulator(election);
  for (let i = 0; i < 1000; i++) a.add(ballots[i % ballots.length]!.ballot.answers.map((b) => b.c));
}), 'ms');

// Trustees (issue 13): ceremony at 2048 and 3072 bits (one run each), partial decryption, k-of-n combination.
await benchThreshold(root, line, time, (process.env.BENCH_CEREMONY_BITS ?? '2048,3072').split(',').filter(Boolean).map(Number));

// The auditor over a board of AUDIT_BALLOTS ballots, verifying on every core (as `verify` does).
process.stderr.write(`building a ${AUDIT_BALLOTS}-ballot board for the auditor benchmark…\n`);
const boardFile = await buildAuditBoard(election, { paillier: sk, issuer: rsa, boardSecretKey: boardKey.secretKey }, AUDIT_BALLOTS, (n) => {
  if (n % 100 === 0) process.stderr.write(`  ${n}\n`);
});
const pool = new BallotVerifierPool({ workers: defaultWorkerCount() });
const records = fileRecords(boardFile);
const t0 = performance.now();
const report = await audit(pool.prefetch(records()), { reopen: records, verifyBallot: pool.verifyBallot });
const seconds = (performance.now() - t0) / 1000;
await pool.close();
if (!report.ok) throw new Error('the benchmark board did not verify');
line(`auditor-verify-${AUDIT_BALLOTS}-board-${defaultWorkerCount()}workers`, AUDIT_BALLOTS / seconds, "ballots/s");
