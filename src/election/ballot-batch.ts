/**
 * Batch verification of ballots (spec §5.7, §6.5): the same verdicts and the same reports as
 * calling `verifyBallot` on each ballot, at a fraction of the cost.
 *
 * How the work is split, and why the reports are identical:
 * 1. Per ballot, every check that is cheap runs as in `verifyBallot` (6.5a–6.5d, then
 *    5.4a–5.4f of each question) except the coprimality parts of 5.4b–5.4d. A ballot failing
 *    any of them is handed WHOLE to `verifyBallot`, which reports its first failure.
 * 2. Coprimality of all remaining values with n at once: their product mod n is coprime to n
 *    iff each is. If not, each ballot's own product is tested and the culprits go to
 *    `verifyBallot`.
 * 3. Check 5.4g of all remaining ballots in one random linear combination
 *    (crypto/batch-membership.ts); a failed batch is bisected and each culprit goes to
 *    `verifyBallot`.
 * So every rejected ballot's report comes from the per-proof verifier itself, and a ballot is
 * accepted only if it passes every check the per-proof verifier makes — 5.4g through the batch,
 * which agrees with it except with the probability bounded in spec §5.7.
 *
 * Pure: no I/O; its only other input is the source of the batch's random exponents.
 */
import { gcd } from '../crypto/bigint.js';
import { batchFailingGroups, type BatchProof } from '../crypto/batch-membership.js';
import { checkMembershipStructure, type ProofCheck, type MembershipProof, type ProofContext } from '../crypto/membership-proof.js';
import type { PaillierPublicKey } from '../crypto/paillier.js';
import { verifyBallot, type Ballot, type BallotCheck } from './ballot.js';
import type { Election } from './manifest.js';

/** Checks 5.4a–5.4f without the coprimality parts: step 1 of the batch. */
const structureOnly = (pk: PaillierPublicKey, c: bigint, proof: MembershipProof, allowed: readonly bigint[], ctx: ProofContext): ProofCheck =>
  checkMembershipStructure(pk, c, proof, allowed, ctx, false);

/** The product mod n of every c, a and z of a ballot. */
function unitProduct(n: bigint, b: Ballot): bigint {
  let p = 1n;
  for (const a of b.answers) {
    p = (p * (a.c % n)) % n;
    for (const br of a.proof) p = (((p * (br.a % n)) % n) * br.z) % n;
  }
  return p;
}

/**
 * Verify many ballots of one election at once.
 * @param election - validated election
 * @param ballots - parsed ballots (a chunk: memory and one failed batch's bisection grow with it)
 * @param rng - source of the batch's random exponents (default: the platform CSPRNG; never
 *   derived from the ballots)
 * @returns one result per ballot, in order, each what `verifyBallot(election, ballot)` returns
 *   (except with the probability of spec §5.7 that a ballot failing 5.4g is accepted)
 */
export function verifyBallots(election: Election, ballots: readonly Ballot[], rng?: (n: number) => Uint8Array): BallotCheck[] {
  const pk = election.paillier;
  const results: (BallotCheck | undefined)[] = new Array(ballots.length);
  // 1. cheap checks per ballot
  let pending: number[] = [];
  ballots.forEach((b, i) => {
    const r = verifyBallot(election, b, structureOnly);
    if (r.ok) {
      results[i] = r;
      pending.push(i);
    } else {
      results[i] = verifyBallot(election, b);
    }
  });
  // 2. coprimality, all at once
  let all = 1n;
  const products = pending.map((i) => unitProduct(pk.n, ballots[i]!));
  for (const p of products) all = (all * p) % pk.n;
  if (gcd(all, pk.n) !== 1n) {
    pending = pending.filter((i, k) => {
      if (gcd(products[k]!, pk.n) === 1n) return true;
      results[i] = verifyBallot(election, ballots[i]!);
      return false;
    });
  }
  // 3. the 5.4g equations, in one batch, bisected on failure
  const groups = pending.map((i): BatchProof[] =>
    ballots[i]!.answers.map((a, q) => ({ c: a.c, proof: a.proof, allowed: election.questions[q]!.allowed })),
  );
  for (const k of batchFailingGroups(pk, groups, rng)) {
    const i = pending[k]!;
    results[i] = verifyBallot(election, ballots[i]!);
  }
  return results as BallotCheck[];
}
