/**
 * Ballots crafted by a malicious voter (or key holder) for the batch-verification tests: a
 * reference prover written straight from spec §5.6 (every value drawn directly, no
 * precomputation) with a hook that multiplies a commitment by a chosen group element BEFORE the
 * Fiat–Shamir challenge, so the proof is consistent except for an equation error of exactly
 * that element; and elements of small order built from the test key's factors.
 * Tests only.
 */
import { modInv, modPow, randomBelow, randomUnit } from '../../src/crypto/bigint.js';
import { CHALLENGE_BITS, membershipChallenge, type MembershipProof, type ProofContext } from '../../src/crypto/membership-proof.js';
import type { PaillierPublicKey } from '../../src/crypto/paillier.js';
import { readFileSync } from 'node:fs';
import { ed25519Sign } from '../../src/crypto/ed25519.js';
import { ballotBody, ballotSigningMessage, proofContext, type Answer, type Ballot, type VoterToken } from '../../src/election/ballot.js';
import { encodeSelection } from '../../src/election/ballot-encoding.js';
import type { Election } from '../../src/election/manifest.js';

const TWO_T = 1n << BigInt(CHALLENGE_BITS);

/** Multiply commitment `branch` by `factor` before hashing (an equation error of `factor`). */
export interface Tweak {
  readonly branch: number;
  readonly factor: bigint;
}

/**
 * The §5.6 prover, literally: simulated branches a_k = z_k^n · u_k^(−e_k), real branch ρ^n.
 * With a tweak, the tweaked branch's equation is off by exactly `factor`.
 */
export function referenceProve(
  pk: PaillierPublicKey,
  c: bigint,
  r: bigint,
  allowed: readonly bigint[],
  index: number,
  ctx: ProofContext,
  tweak?: Tweak,
): MembershipProof {
  const { n, n2 } = pk;
  const cInv = modInv(c, n2);
  const a: bigint[] = [];
  const e: bigint[] = [];
  const z: bigint[] = [];
  for (let k = 0; k < allowed.length; k++) {
    if (k === index) continue;
    e[k] = randomBelow(TWO_T);
    z[k] = randomUnit(n);
    const uInv = (cInv * (1n + allowed[k]! * n)) % n2;
    a[k] = (modPow(z[k]!, n, n2) * modPow(uInv, e[k]!, n2)) % n2;
  }
  const rho = randomUnit(n);
  a[index] = modPow(rho, n, n2);
  if (tweak) a[tweak.branch] = (a[tweak.branch]! * tweak.factor) % n2;
  const chal = membershipChallenge(pk, c, a, ctx);
  let rest = 0n;
  for (let k = 0; k < allowed.length; k++) if (k !== index) rest += e[k]!;
  e[index] = (((chal - rest) % TWO_T) + TWO_T) % TWO_T;
  z[index] = (rho * modPow(r, e[index]!, n)) % n;
  return a.map((ak, k) => ({ a: ak, e: e[k]!, z: z[k]! }));
}

/** Sign a (possibly altered) ballot with the token's own key, as its voter could. */
export function resign(election: Election, b: Ballot, secretKey: Uint8Array): Ballot {
  const body = ballotBody(election, b);
  return { ...b, signature: ed25519Sign(ballotSigningMessage(body), secretKey) };
}

/**
 * A ballot proven by {@link referenceProve}, question `question` tweaked.
 * @param selections - per question, the selected options
 */
export function craftBallot(
  election: Election,
  token: VoterToken,
  selections: readonly (readonly number[])[],
  tweak?: Tweak & { readonly question: number },
): Ballot {
  const pk = election.paillier;
  const answers: Answer[] = election.questions.map((q, i) => {
    const m = encodeSelection(selections[i]!, q.shape, election.digitBits);
    const { c, r } = pk.encryptFresh(m);
    const ctx = proofContext(election, i, token.credential.publicKey);
    const proof = referenceProve(pk, c, r, q.allowed, q.allowed.indexOf(m), ctx, tweak?.question === i ? tweak : undefined);
    return { c, proof };
  });
  return resign(election, { election: election.fingerprint, token: token.credential, answers, signature: new Uint8Array(64) }, token.secretKey);
}

/** The factors of a committed fixture key (test/fixtures/paillier-2048-*.json). */
export interface Factors {
  readonly p: bigint;
  readonly q: bigint;
}

/** The factors of fixture key 'a' or 'b'. */
export function fixtureFactors(which: 'a' | 'b' = 'a'): Factors {
  const dir = new URL(import.meta.url.includes('/dist/test/') ? '../../../test/fixtures/' : '../fixtures/', import.meta.url);
  // The fixture election key's committed primes (test/fixtures/election-key-2048-*.json).
  const sk = (JSON.parse(readFileSync(new URL(`election-key-2048-${which}.json`, dir), 'utf8')) as { secretKey: { p: string; q: string } }).secretKey;
  return { p: BigInt('0x' + sk.p), q: BigInt('0x' + sk.q) };
}

/** x with x ≡ xp (mod p²), x ≡ xq (mod q²). */
function crt(sk: Factors, xp: bigint, xq: bigint): bigint {
  const p2 = sk.p * sk.p;
  const q2 = sk.q * sk.q;
  const h = (((xq - xp) % q2) + q2) % q2 * modInv(p2, q2) % q2;
  return xp + p2 * h;
}

/** ω: a square root of 1 mod n² other than ±1 (≡ 1 mod p², ≡ −1 mod q²); it factors n. */
export function omega(sk: Factors): bigint {
  return crt(sk, 1n, sk.q * sk.q - 1n);
}

/**
 * An element of order exactly 3 mod n² (≡ 1 mod p²), or undefined if 3 ∤ q − 1.
 * Only the key holder can build it.
 */
export function orderThree(sk: Factors): bigint | undefined {
  const q = sk.q;
  if ((q - 1n) % 3n !== 0n) return undefined;
  const q2 = q * q;
  for (let x = 2n; x < 1000n; x++) {
    const y = modPow(x, (q * (q - 1n)) / 3n, q2);
    if (y !== 1n) return crt(sk, 1n, y);
  }
  return undefined;
}
