/**
 * An independent check of a cast-or-audit file, format `tallyboard-audit/1` (issue #9.8).
 *
 * The booth (and `tallyboard vote --audit`) opens an encrypted ballot it will not cast: for
 * each question, the plaintext m, the randomness r and the ciphertext c. The device that
 * encrypted should not be the one that says "this device encrypted honestly" — a cheating
 * device would simply say so. This module is the second opinion: written from the spec alone
 * (spec/03-paillier.md §3.2, spec/04-ballot-encoding.md §4.1, §4.3), it shares NO code with the
 * encryption path of the booth and the client (src/crypto/paillier.ts, src/crypto/bigint.ts,
 * src/election/ballot.ts, src/election/ballot-encoding.ts, src/web/ballot-audit.ts): its own
 * square-and-multiply, its own Enc(m; r) = (1 + m·n) · r^n mod n², its own digit decoding. It
 * takes the election's public parameters (n, b, the questions) from a manifest the caller has
 * validated, and the fingerprint binds the file to that election.
 *
 * It answers, per question: does c open to (m, r); which options does m select, in words; is
 * that a ballot the question allows (between min and max selections, each digit 0 or 1); does
 * it say the same as the option names the device wrote into the file. Pure; browser-safe.
 */

/** The election's public parameters the check needs (from a validated manifest). */
export interface AuditElection {
  readonly electionId: string;
  readonly fingerprint: string;
  /** the Paillier modulus n */
  readonly n: bigint;
  /** b = bitlen(maxVoters): each option is one base-2^b digit (§4.1) */
  readonly digitBits: number;
  readonly questions: readonly { readonly id: string; readonly title: string; readonly options: readonly { readonly id: string; readonly title: string }[]; readonly min: number; readonly max: number }[];
}

/** The verdict on one question of the file. */
export interface AuditedQuestion {
  readonly id: string;
  readonly title: string;
  /** c = Enc(m; r) recomputed here */
  readonly opens: boolean;
  /** the options m selects, by title; undefined if m is not a selection vector */
  readonly selects?: readonly string[];
  /** m is a ballot the question allows (digits 0/1, min ≤ count ≤ max) */
  readonly allowed: boolean;
  /** the option names written in the file are those m selects */
  readonly namesAgree: boolean;
  /** what is wrong, in words, if anything */
  readonly problems: readonly string[];
}

/** The verdict on the whole file. */
export type AuditFileVerdict =
  | { readonly ok: boolean; readonly tracker: string; readonly questions: readonly AuditedQuestion[] }
  | { readonly ok: false; readonly reason: string };

/** Largest file text accepted (a file of 32 questions at 4096 bits is far below). */
export const MAX_AUDIT_FILE_CHARS = 1 << 20;

/** x^e mod m by left-to-right square-and-multiply (0 ≤ x < m, e ≥ 0, m > 1). */
function powMod(x: bigint, e: bigint, m: bigint): bigint {
  let result = 1n;
  for (let i = e.toString(2), k = 0; k < i.length; k++) {
    result = (result * result) % m;
    if (i[k] === '1') result = (result * x) % m;
  }
  return result;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

const HEX = /^[0-9a-f]+$/;

function hexInt(v: unknown): bigint | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= 4096 && HEX.test(v) ? BigInt(`0x${v}`) : undefined;
}

/**
 * Check an audit file against the election.
 * @param election - the election's public parameters, from a validated manifest
 * @param json - the parsed file (untrusted)
 * @returns the verdict; `ok` only if every question opens, is allowed and agrees with its names
 */
export function checkAuditFile(election: AuditElection, json: unknown): AuditFileVerdict {
  const bad = (reason: string): AuditFileVerdict => ({ ok: false, reason });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return bad('not an audit file: expected a JSON object');
  const f = json as Record<string, unknown>;
  if (f.format !== 'tallyboard-audit/1') return bad(`not a tallyboard-audit/1 file (format ${JSON.stringify(f.format)})`);
  if (f.fingerprint !== election.fingerprint) return bad(`the file is for another election: fingerprint ${String(f.fingerprint).slice(0, 80)}, this election's is ${election.fingerprint}`);
  if (f.electionId !== election.electionId) return bad(`the file names election ${JSON.stringify(f.electionId)}, not ${JSON.stringify(election.electionId)}`);
  if (typeof f.tracker !== 'string' || !/^[0-9a-f]{64}$/.test(f.tracker)) return bad('the file has no valid tracker');
  const answers = f.answers;
  if (!Array.isArray(answers) || answers.length !== election.questions.length) return bad(`the file has ${Array.isArray(answers) ? answers.length : 'no'} answers; the election has ${election.questions.length} questions`);

  const n = election.n;
  const n2 = n * n;
  const B = 1n << BigInt(election.digitBits);
  const questions: AuditedQuestion[] = election.questions.map((q, i) => {
    const a = answers[i] as Record<string, unknown> | null;
    const problems: string[] = [];
    if (typeof a !== 'object' || a === null) return { id: q.id, title: q.title, opens: false, allowed: false, namesAgree: false, problems: ['no answer for this question'] };
    if (a.question !== q.id) problems.push(`the answer is for question ${JSON.stringify(a.question)}, expected ${JSON.stringify(q.id)}`);
    const c = hexInt(a.c);
    const r = hexInt(a.r);
    const m = typeof a.m === 'string' && /^(0|[1-9][0-9]{0,1300})$/.test(a.m) ? BigInt(a.m) : undefined;
    let opens = false;
    if (c === undefined || r === undefined || m === undefined) {
      problems.push('c, m or r is missing or malformed (c and r hexadecimal, m decimal)');
    } else if (!(m >= 0n && m < n)) {
      problems.push('m is not a plaintext of this election (0 ≤ m < n)');
    } else if (!(r > 0n && r < n && gcd(r, n) === 1n)) {
      problems.push('r is not a valid randomness (0 < r < n, coprime to n)');
    } else if (!(c > 0n && c < n2)) {
      problems.push('c is not a ciphertext of this election (0 < c < n²)');
    } else {
      opens = ((1n + m * n) % n2) * powMod(r, n, n2) % n2 === c;
      if (!opens) problems.push('Enc(m; r) is NOT the ciphertext: the device did not encrypt what it reveals');
    }
    // The digits of m, base B = 2^b, one per option (§4.1); every digit must be 0 or 1.
    let selects: string[] | undefined;
    let allowed = false;
    if (m !== undefined) {
      const picked: number[] = [];
      let rest = m;
      let valid = true;
      for (let j = 0; j < q.options.length; j++) {
        const digit = rest % B;
        rest /= B;
        if (digit === 1n) picked.push(j);
        else if (digit !== 0n) valid = false;
      }
      if (rest !== 0n) valid = false;
      if (valid) {
        selects = picked.map((j) => q.options[j]!.title);
        allowed = picked.length >= q.min && picked.length <= q.max;
        if (!allowed) problems.push(`it selects ${picked.length} options; the question allows ${q.min} to ${q.max}`);
      } else {
        problems.push('m is not a selection: a digit is neither 0 nor 1, or it reaches past the last option');
      }
    }
    const claimed = Array.isArray(a.options) ? a.options.filter((x): x is string => typeof x === 'string') : [];
    const namesAgree = selects !== undefined && claimed.length === selects.length && claimed.every((x, k) => x === selects![k]);
    if (selects !== undefined && !namesAgree) problems.push(`the file names ${JSON.stringify(claimed)}, but m selects ${JSON.stringify(selects)}`);
    return { id: q.id, title: q.title, opens, ...(selects !== undefined ? { selects } : {}), allowed, namesAgree, problems };
  });
  return { ok: questions.every((q) => q.opens && q.allowed && q.namesAgree && q.problems.length === 0), tracker: f.tracker, questions };
}
