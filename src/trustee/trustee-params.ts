/**
 * A trustee's own ring-Pedersen parameters (N̂, s, t) with their proof Π^prm (spec §13.6), made
 * by the trustee BEFORE the ceremony (`tallyboard trustee init`) and handed to the ceremony
 * (`tallyboard ceremony --trustee-params FILE …`), which proves Π^fac against each.
 *
 * Why the trustee makes them: Π^fac (no small factor) is sound only if the dealer cannot open
 * ring-Pedersen commitments two ways, i.e. does not know the factorization of N̂. Parameters the
 * dealer made itself would prove nothing; with one honest trustee's parameters the statement
 * holds. Why nothing secret is kept: nobody ever needs the trapdoor λ or N̂'s primes (Π^prm is
 * proven here, once), so they are dropped as soon as the proof exists — the output file is
 * public and can travel to the ceremony on any medium.
 */
import { generateSafeModulus, type SafePrimeProgress } from '../crypto/safe-prime.js';
import { generateRingPedersen, ringPedersenFromJson, ringPedersenToJson, verifyRingPedersen } from '../crypto/modulus-proofs.js';
import { bitLength } from '../crypto/bigint.js';
import { TallyError } from '../errors.js';

/** The file format of a trustee's parameters (public). */
export const TRUSTEE_PARAMS_FORMAT = 'tallyboard-trustee-params/1';

/** A trustee's parameters file: the wire form of §13.7 ("ring-Pedersen + Π^prm") with a format and a label. */
export interface TrusteeParamsFile {
  readonly format: typeof TRUSTEE_PARAMS_FORMAT;
  /** who made them (free text, for the people at the ceremony; not part of any proof) */
  readonly trustee: string;
  readonly ringPedersen: ReturnType<typeof ringPedersenToJson>;
}

/**
 * Generate ring-Pedersen parameters from two fresh safe primes and prove them (Π^prm).
 * @param bits - size of N̂: 2048 ≤ bits ≤ 4096, even (or ≥ options.minBits in tests)
 * @param label - the trustee's name or role, 1–200 characters
 * @throws TallyError OUT_OF_RANGE for a bad size or label
 */
export async function generateTrusteeParams(
  bits: number,
  label: string,
  options: { onProgress?: (p: SafePrimeProgress) => void; minBits?: number } = {},
): Promise<TrusteeParamsFile> {
  if (typeof label !== 'string' || label.length < 1 || label.length > 200 || /[\u0000-\u001f\u007f]/.test(label)) {
    throw new TallyError('OUT_OF_RANGE', 'trustee label: 1 to 200 printable characters');
  }
  let m;
  try {
    m = await generateSafeModulus(bits, { ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.minBits !== undefined ? { minBits: options.minBits } : {}) });
  } catch (e) {
    throw new TallyError('OUT_OF_RANGE', e instanceof Error ? e.message : String(e));
  }
  const { params, proof } = generateRingPedersen(m.p, m.q);
  // Self-check before anyone relies on it (a fault here would make the ceremony fail later).
  const ok = verifyRingPedersen(params, proof, options.minBits !== undefined ? { minBits: options.minBits } : {});
  if (!ok.ok) throw new TallyError('INTERNAL', `the ring-Pedersen parameters do not verify (${ok.check})`);
  return { format: TRUSTEE_PARAMS_FORMAT, trustee: label, ringPedersen: ringPedersenToJson(params, proof) };
}

/**
 * Read a trustee's parameters file and verify Π^prm (checks 13.6a–13.6c).
 * @returns the label and the wire form, ready for the ceremony
 * @throws TallyError MALFORMED for a file of another shape; BAD_MODULUS_PROOF when Π^prm fails
 */
export function readTrusteeParams(json: unknown, options: { minBits?: number } = {}): TrusteeParamsFile {
  const o = json as Partial<TrusteeParamsFile> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o.format !== TRUSTEE_PARAMS_FORMAT) {
    throw new TallyError('MALFORMED', `trustee parameters: expected format ${TRUSTEE_PARAMS_FORMAT}`);
  }
  for (const k of Object.keys(o)) if (!['format', 'trustee', 'ringPedersen'].includes(k)) throw new TallyError('MALFORMED', `trustee parameters: unknown member ${JSON.stringify(k.slice(0, 64))}`);
  if (typeof o.trustee !== 'string' || o.trustee.length < 1 || o.trustee.length > 200) throw new TallyError('MALFORMED', 'trustee parameters: trustee must be 1 to 200 characters');
  const { params, proof } = ringPedersenFromJson(o.ringPedersen);
  const v = verifyRingPedersen(params, proof, options.minBits !== undefined ? { minBits: options.minBits } : {});
  if (!v.ok) throw new TallyError('BAD_MODULUS_PROOF', `trustee parameters of ${JSON.stringify(o.trustee)}: ${v.check} ${v.reason}`, { details: { check: v.check } });
  return { format: TRUSTEE_PARAMS_FORMAT, trustee: o.trustee, ringPedersen: ringPedersenToJson(params, proof) };
}

/** Short description for a person: size of N̂. */
export function describeTrusteeParams(f: TrusteeParamsFile): string {
  return `${f.trustee}: ring-Pedersen parameters, N̂ of ${bitLength(BigInt('0x' + f.ringPedersen.N))} bits, Π^prm verified`;
}
