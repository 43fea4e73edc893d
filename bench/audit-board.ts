/**
 * Builds a complete election board of `ballots` real ballots (a token issuance and a ballot per
 * voter, the close, the encrypted tally and the result with its proof) for the auditor's
 * benchmark, writes its export to a file and returns the path. Ballots are appended straight
 * to the board (they are created valid), so building costs the voters' encryption only.
 *
 * With `pooled`, the ballots' choice-independent randomness (spec §5.6 precomputation) is built
 * from products of a small pool of random n-th powers instead of fresh exponentiations: the
 * ballots are valid and cost the verifier exactly as much, but their randomness is correlated,
 * which is fine for timing a verifier and NEVER acceptable for a real ballot. It makes a
 * 1,000-ballot board at 3072 bits affordable in a benchmark run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Board } from '../bulletin/board.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { exportBoardFile } from '../bulletin/export.js';
import type { JsonValue } from '../bulletin/value-encoding.js';
import type { Election } from '../src/election/manifest.js';
import type { PaillierSecretKey } from '../src/crypto/paillier.js';
import type { BlindRsaSecretKey } from '../src/crypto/blind-rsa.js';
import { createBallot, type AnswerPrecomputation } from '../src/election/ballot.js';
import { modPow, randomBelow, randomUnit } from '../src/crypto/bigint.js';
import { completeToken, issueBlindSignature, requestToken } from '../src/election/token.js';
import { ballotPayload, closePayload, encryptedTallyPayload, resultPayload, setupPayload, tokenIssuedPayload, registerPayload } from '../src/election/records.js';
import { RegisterTree } from '../src/election/register.js';
import { decryptTally, TallyAccumulator } from '../src/election/tally.js';
import { singleShareOf } from '../src/verifier/tally-service.js';

export async function buildAuditBoard(
  election: Election,
  keys: { paillier: PaillierSecretKey; issuer: BlindRsaSecretKey; boardSecretKey: Uint8Array },
  ballots: number,
  onProgress?: (done: number) => void,
  pooled = false,
): Promise<string> {
  const pool = pooled ? powerPool(election, 24) : undefined;
  let t = election.startMs;
  const board = await Board.open(new MemoryBoardStore(), { electionId: election.manifest.electionId, boardSecretKey: keys.boardSecretKey, now: () => (t += 1) });
  await board.append('setup', setupPayload(election.manifest) as unknown as JsonValue);
  const acc = new TallyAccumulator(election);
  // The committed register (spec §7.5) of exactly the voters who vote.
  const refOf = (i: number) => new Uint8Array(32).map((_, k) => (k < 4 ? (i >> (8 * k)) & 255 : 7));
  const register = new RegisterTree(Array.from({ length: ballots }, (_, i) => refOf(i)));
  await board.append('register', registerPayload({ voters: register.size, root: register.root }) as unknown as JsonValue);
  for (let i = 0; i < ballots; i++) {
    const p = requestToken(election);
    const token = completeToken(election, p, issueBlindSignature(keys.issuer, p.blindedMsg));
    const ref = refOf(i);
    await board.append('token-issued', tokenIssuedPayload({ refs: [{ ref, ...register.proof(ref)! }], count: i + 1 }) as unknown as JsonValue);
    const b = createBallot(election, [[i % 4]], token, undefined, undefined, pool ? pooledPrecomputation(election, pool) : undefined);
    await board.append('ballot', ballotPayload(election, b.ballot, b.tracker) as unknown as JsonValue);
    acc.add(b.ballot.answers.map((a) => a.c));
    onProgress?.(i + 1);
  }
  t = Math.max(t, election.endMs);
  await board.append('close', closePayload({ reason: 'schedule', ballots }) as unknown as JsonValue);
  await board.append('encrypted-tally', encryptedTallyPayload(election, { ciphertexts: acc.result(), ballotsCounted: ballots }));
  const { partial, result } = decryptTally(election, singleShareOf(election, keys.paillier), acc.result());
  await board.append('partial-decryption', partial as unknown as JsonValue);
  await board.append('result', resultPayload(election, result) as unknown as JsonValue);
  const path = join(mkdtempSync(join(tmpdir(), 'tallyboard-bench-')), 'board.jsonl');
  await exportBoardFile(board, path);
  await board.close();
  return path;
}

/** Pairs (w, w^n mod n²) for {@link pooledPrecomputation}. */
export function powerPool(election: Election, size: number): { w: bigint; wN: bigint }[] {
  const { n, n2 } = election.paillier;
  return Array.from({ length: size }, () => {
    const w = randomUnit(n);
    return { w, wN: modPow(w, n, n2) };
  });
}

/** BENCHMARK ONLY: a unit and its n-th power as the product of three pool members. */
function pooledUnit(election: Election, pool: readonly { w: bigint; wN: bigint }[]): { w: bigint; wN: bigint } {
  const { n, n2 } = election.paillier;
  let w = 1n;
  let wN = 1n;
  for (let k = 0; k < 3; k++) {
    const x = pool[Number(randomBelow(BigInt(pool.length)))]!;
    w = (w * x.w) % n;
    wN = (wN * x.wN) % n2;
  }
  return { w, wN };
}

/** BENCHMARK ONLY: a §5.6 precomputation from the pool (correlated randomness, see above). */
export function pooledPrecomputation(election: Election, pool: readonly { w: bigint; wN: bigint }[]): AnswerPrecomputation[] {
  return election.questions.map((q) => {
    const r = pooledUnit(election, pool);
    const rho = pooledUnit(election, pool);
    const ws = Array.from({ length: q.allowed.length - 1 }, () => pooledUnit(election, pool));
    return { r: r.w, rN: r.wN, proof: { size: q.allowed.length, rho: rho.w, rhoN: rho.wN, w: ws.map((x) => x.w), wN: ws.map((x) => x.wN) } };
  });
}
