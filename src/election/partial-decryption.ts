/**
 * The `partial-decryption` board entry (spec §9, §13.4): one trustee's partial decryptions of
 * every question's encrypted tally, each with its proof, and the combination of k such entries
 * into the plaintext tallies.
 *
 * Why one entry per trustee (not per question): a trustee decrypts the whole tally at once, after
 * checking the board; one entry is one decision, and "at most one entry per trustee" is then a
 * simple rule for the board, the auditor and the decrypt-once journal (spec §8.5).
 *
 * Why the context is fingerprint ‖ U32(question): the proof then names its election and its
 * question, so a partial decryption cannot be replayed in another election or for another
 * question even if two ciphertexts coincide. The ciphertext and the trustee index are already in
 * the challenge (spec §13.4).
 *
 * Pure and browser-safe: the ballot server (at the door), the verification server, trustees, the
 * auditor and the web results check all call the same functions.
 */
import { TallyError } from '../errors.js';
import { canonical } from '../canonical.js';
import {
  combinePartials, partialDecrypt, partialFromJson, partialToJson, verifyPartial,
  type KeyShare, type PartialDecryption, type ThresholdPublicKey,
} from '../crypto/threshold-paillier.js';

type Rng = (n: number) => Uint8Array;

/** JSON of one question's partial decryption inside the entry: the §13.7 object without the index. */
export interface PartialJson {
  readonly ci: string;
  readonly e: string;
  readonly z: string;
}

/** Payload of a `partial-decryption` entry (spec §9.2): trustee i and one partial per question, in order. */
export interface PartialDecryptionPayload {
  readonly trustee: number;
  readonly partials: readonly PartialJson[];
}

/** A parsed `partial-decryption` payload (wire form checked; proofs not yet). */
export interface PartialDecryptionEntry {
  readonly trustee: number;
  /** one per question, each with index = trustee */
  readonly partials: readonly PartialDecryption[];
}

/** Outcome of checking one entry: ok, or the first failed check, with its question (−1: the entry as a whole). */
export type PartialEntryCheck =
  | { readonly ok: true; readonly entry: PartialDecryptionEntry }
  | { readonly ok: false; readonly check: string; readonly question: number; readonly reason: string };

/**
 * The context bytes of a partial decryption's proof (spec §13.4): fingerprint ‖ U32(question), 36 bytes.
 * @param fingerprint - the 32-byte election fingerprint
 * @param question - 0-based question index
 */
export function partialDecryptionContext(fingerprint: Uint8Array, question: number): Uint8Array {
  return canonical().fixed(fingerprint, 32).u32(question).finish();
}

/**
 * Trustee i's entry: a partial decryption with proof of every question's encrypted tally.
 * The caller MUST have verified the board (steps 1–8) and that `ciphertexts` are the ones it
 * recomputed itself, and MUST record that it decrypted (spec §8.5) before publishing.
 * @param ciphertexts - the encrypted tally, one per question, each in Z*_{n²}
 * @throws TallyError OUT_OF_RANGE for a ciphertext outside Z*_{n²} or a share index outside 1 … l
 */
export function partialDecryptTally(pk: ThresholdPublicKey, share: KeyShare, ciphertexts: readonly bigint[], fingerprint: Uint8Array, rng?: Rng): PartialDecryptionPayload {
  return {
    trustee: share.index,
    partials: ciphertexts.map((c, q) => {
      const { ci, e, z } = partialToJson(pk, partialDecrypt(pk, share, c, partialDecryptionContext(fingerprint, q), rng));
      return { ci, e, z };
    }),
  };
}

const PAYLOAD_MEMBERS = ['trustee', 'partials'] as const;
const PARTIAL_MEMBERS = ['ci', 'e', 'z'] as const;

function exactMembers(x: unknown, members: readonly string[], field: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new TallyError('MALFORMED', `${field}: expected an object`);
  const o = x as Record<string, unknown>;
  for (const k of members) if (!Object.hasOwn(o, k)) throw new TallyError('MALFORMED', `${field}: missing member ${JSON.stringify(k)}`);
  for (const k of Object.keys(o)) if (!members.includes(k)) throw new TallyError('MALFORMED', `${field}: unknown member ${JSON.stringify(k.slice(0, 64))}`);
  return o;
}

/**
 * Parse a `partial-decryption` payload: exact members, one partial per question, every value at
 * its fixed length (check 13.4p), and the trustee index in 1 … l (check 13.4a). Proofs are not
 * checked here.
 * @throws TallyError MALFORMED (details.check 13.4p) or BAD_PARTIAL_DECRYPTION (13.4a)
 */
export function parsePartialDecryptionPayload(pk: ThresholdPublicKey, questions: number, json: unknown): PartialDecryptionEntry {
  try {
    const o = exactMembers(json, PAYLOAD_MEMBERS, 'partial-decryption');
    if (!Number.isSafeInteger(o.trustee)) throw new TallyError('MALFORMED', 'partial-decryption.trustee: expected an integer');
    const trustee = o.trustee as number;
    if (trustee < 1 || trustee > pk.l) {
      throw new TallyError('BAD_PARTIAL_DECRYPTION', `partial-decryption.trustee: must be in [1, ${pk.l}], got ${trustee} (check 13.4a)`, { details: { check: '13.4a', question: -1 } });
    }
    if (!Array.isArray(o.partials) || o.partials.length !== questions) throw new TallyError('MALFORMED', `partial-decryption.partials: expected ${questions} entries, one per question`);
    const partials = o.partials.map((p: unknown, q: number) => {
      const po = exactMembers(p, PARTIAL_MEMBERS, `partial-decryption.partials[${q}]`);
      return partialFromJson(pk, { index: trustee, ci: po.ci, e: po.e, z: po.z });
    });
    return { trustee, partials };
  } catch (e) {
    if (e instanceof TallyError && e.code === 'MALFORMED') throw new TallyError('MALFORMED', e.message, { details: { check: '13.4p', question: -1 }, cause: e });
    throw e;
  }
}

/**
 * Check a `partial-decryption` payload against the encrypted tally the caller recomputed: shape
 * (13.4p), trustee (13.4a), then per question in order 13.4b–13.4f. Pure; never throws.
 * @param ciphertexts - the caller's own encrypted tally, one per question
 */
export function verifyPartialDecryptionEntry(pk: ThresholdPublicKey, fingerprint: Uint8Array, ciphertexts: readonly bigint[], json: unknown): PartialEntryCheck {
  let entry: PartialDecryptionEntry;
  try {
    entry = parsePartialDecryptionPayload(pk, ciphertexts.length, json);
  } catch (e) {
    const check = e instanceof TallyError ? String((e.details as { check?: unknown } | undefined)?.check ?? '13.4p') : '13.4p';
    return { ok: false, check, question: -1, reason: e instanceof Error ? e.message : String(e) };
  }
  for (let q = 0; q < ciphertexts.length; q++) {
    const r = verifyPartial(pk, ciphertexts[q]!, partialDecryptionContext(fingerprint, q), entry.partials[q]!);
    if (!r.ok) return { ok: false, check: r.check, question: q, reason: r.reason };
  }
  return { ok: true, entry };
}

/** The combination of k entries (spec §13.4): the set S and one plaintext T per question. */
export interface Combination {
  /** S: the k smallest trustee indices among the entries, ascending */
  readonly trustees: readonly number[];
  /** T per question: the combined plaintext */
  readonly plaintexts: readonly bigint[];
}

/**
 * Combine verified entries (from distinct trustees) into the plaintext of every question, using
 * the k smallest trustee indices (check 13.4g). Does NOT verify proofs: pass only entries that
 * passed {@link verifyPartialDecryptionEntry}.
 * @throws TallyError TOO_FEW_PARTIAL_DECRYPTIONS with fewer than k distinct trustees;
 *   BAD_PARTIAL_DECRYPTION (13.4g) on a repeated trustee or if c′ ≢ 1 (mod n), with details.question
 */
export function combineEntries(pk: ThresholdPublicKey, entries: readonly PartialDecryptionEntry[], questions: number): Combination {
  const seen = new Set<number>();
  for (const e of entries) {
    if (seen.has(e.trustee)) throw new TallyError('BAD_PARTIAL_DECRYPTION', `trustee ${e.trustee} has two partial-decryption entries (check 13.4g)`, { details: { check: '13.4g', question: -1 } });
    seen.add(e.trustee);
  }
  if (seen.size < pk.k) {
    throw new TallyError('TOO_FEW_PARTIAL_DECRYPTIONS', `need partial decryptions from ${pk.k} trustees, have ${seen.size} (check 13.4g)`, { details: { check: '13.4g', expected: pk.k, got: seen.size } });
  }
  const chosen = [...entries].sort((a, b) => a.trustee - b.trustee).slice(0, pk.k);
  const plaintexts: bigint[] = [];
  for (let q = 0; q < questions; q++) {
    try {
      plaintexts.push(combinePartials(pk, chosen.map((e) => e.partials[q]!)));
    } catch (err) {
      if (err instanceof TallyError) throw new TallyError(err.code, `question ${q}: ${err.message}`, { details: { ...(err.details ?? {}), question: q }, cause: err });
      throw err;
    }
  }
  return { trustees: chosen.map((e) => e.trustee), plaintexts };
}
