/**
 * The election key of the manifest, `keys.election` (spec §2.1, §13.2, §13.5–§13.7): the public
 * threshold key of the ceremony together with the proofs that its modulus is well formed.
 *
 * Why one object: the key and the evidence that it is safe to encrypt under it are published,
 * fingerprinted and checked together (step 4), so no verifier can accept the key without them.
 * A 1-of-1 key (`tallyboard keygen`) is the same object with threshold = trustees = 1.
 *
 * Verification costs seconds at 2048 bits (Π^mod and Π^prm are 128 modular exponentiations each),
 * and one process may parse the same manifest many times (a composition root with several
 * servers, a test suite). A successful verification is therefore remembered, in this process
 * only, under the SHA-256 of the exact canonical bytes that were verified; a failure is never
 * remembered. The memo holds public data only.
 *
 * Browser-safe (no `node:` imports): the auditor and the web results check use it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { TallyError } from '../errors.js';
import { canonical, type CanonicalWriter } from '../canonical.js';
import { byteLength, fromBytesBE } from '../crypto/bigint.js';
import {
  encodeThresholdKey, thresholdPublicKey, thresholdKeyToJson, MAX_TRUSTEES,
  type SizeOptions, type ThresholdKeyValues, type ThresholdPublicKey, type ThresholdPublicKeyJson,
} from '../crypto/threshold-paillier.js';
import { PAILLIER_MAX_BITS } from '../crypto/paillier.js';
import {
  factorProofFromJson, factorProofLengths, factorProofToJson, modulusProofFromJson, modulusProofToJson, ringPedersenFromJson, ringPedersenToJson,
  verifyModulusProof, verifyNoSmallFactor, verifyRingPedersen,
  type FactorProof, type ModulusProof, type RingPedersen, type RingPedersenProof,
} from '../crypto/modulus-proofs.js';
import { hexToInt, parseHex, toHex } from '../wire.js';

/** Ring-Pedersen parameters of one party (normally a trustee), Π^prm, and the dealer's Π^fac against them. */
export interface AuxiliaryProof {
  readonly ringPedersen: RingPedersen;
  readonly prmProof: RingPedersenProof;
  readonly factorProof: FactorProof;
}

/** The validated election key: the threshold key and its well-formedness proofs (spec §13.2, §13.5, §13.6). */
export interface ElectionKey {
  readonly threshold: ThresholdPublicKey;
  readonly modulusProof: ModulusProof;
  /** 1 … l entries (spec §2.1): one per party that supplied ring-Pedersen parameters */
  readonly auxiliary: readonly AuxiliaryProof[];
}

/** JSON of `keys.election` (spec §2.1, §13.7). */
export interface ElectionKeyJson extends ThresholdPublicKeyJson {
  readonly modulusProof: ReturnType<typeof modulusProofToJson>;
  readonly auxiliary: readonly {
    readonly ringPedersen: ReturnType<typeof ringPedersenToJson>;
    readonly factorProof: ReturnType<typeof factorProofToJson>;
  }[];
}

/** Members of `keys.election`, in order (unknown members are refused, check 2.1a). */
export const ELECTION_KEY_MEMBERS = ['n', 'threshold', 'trustees', 'verificationKeys', 'v0', 'rho', 'modulusProof', 'auxiliary'] as const;

/** Wire form of an election key. */
export function electionKeyToJson(key: ElectionKey): ElectionKeyJson {
  const n = key.threshold.n;
  return {
    ...thresholdKeyToJson(key.threshold),
    modulusProof: modulusProofToJson(n, key.modulusProof),
    auxiliary: key.auxiliary.map((a) => ({
      ringPedersen: ringPedersenToJson(a.ringPedersen, a.prmProof),
      factorProof: factorProofToJson(n, a.ringPedersen.N, a.factorProof),
    })),
  };
}

/**
 * Canonical bytes of the election key, for the manifest fingerprint (spec §2.2, §13.7):
 * ThresholdKeyBytes ‖ ModulusProofBytes ‖ LIST(AuxiliaryBytes).
 */
export function encodeElectionKey<W extends CanonicalWriter>(w: W, key: ElectionKey): W {
  const pk = key.threshold;
  encodeThresholdKey(w, pk);
  w.int(key.modulusProof.w, pk.nLen).list(key.modulusProof.rounds, (w2, r) => w2.int(r.x, pk.nLen).u32(r.a).u32(r.b).int(r.z, pk.nLen));
  w.list(key.auxiliary, (w2, a) => {
    const L = byteLength(a.ringPedersen.N);
    const len = factorProofLengths(pk.n, a.ringPedersen.N);
    const f = a.factorProof;
    w2.u32(L).int(a.ringPedersen.N, L).int(a.ringPedersen.s, L).int(a.ringPedersen.t, L);
    w2.list(a.prmProof.A, (w3, x) => w3.int(x, L)).list(a.prmProof.z, (w3, x) => w3.int(x, L));
    w2.int(f.P, len.elem).int(f.Q, len.elem).int(f.A, len.elem).int(f.B, len.elem).int(f.T, len.elem);
    w2.int(f.sigma, len.sigma).int(f.e, len.e).int(f.z1, len.z).int(f.z2, len.z).int(f.w1, len.w).int(f.w2, len.w).int(f.v, len.v);
  });
  return w;
}

function keyError(code: 'BAD_PUBLIC_KEY' | 'BAD_MODULUS_PROOF' | 'MALFORMED', message: string, check: string): TallyError {
  return new TallyError(code, message, { details: { check } });
}

/** Re-label a parser's error with the check id it stands for (wire forms are check 2.1b). */
function labelled<T>(check: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TallyError) {
      const own = (e.details as { check?: unknown } | undefined)?.check;
      throw new TallyError(e.code, e.message, { details: { ...(e.details ?? {}), check: typeof own === 'string' ? own : check }, cause: e });
    }
    throw e;
  }
}

const verifiedMemo = new Set<string>();

/** An election key whose wire forms are decoded (check 2.1b) but whose values are not yet checked. */
export interface DecodedElectionKey {
  readonly values: ThresholdKeyValues;
  readonly modulusProof: ModulusProof;
  readonly auxiliary: readonly AuxiliaryProof[];
}

/**
 * Decode `keys.election`: every string at its fixed length (spec §13.7), counts bounded before
 * allocation; no algebraic check (check 2.1b). The caller has checked the structure (2.1a).
 * @throws TallyError MALFORMED with details.check 2.1a or 2.1b
 */
export function decodeElectionKey(json: unknown): DecodedElectionKey {
  return labelled('2.1b', () => {
    const o = json as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw keyError('MALFORMED', 'keys.election: expected an object', '2.1a');
    for (const k of Object.keys(o)) if (!(ELECTION_KEY_MEMBERS as readonly string[]).includes(k)) throw keyError('MALFORMED', `keys.election: unknown member ${JSON.stringify(k.slice(0, 64))}`, '2.1a');
    const nBytes = parseHex(o.n, 'keys.election.n', undefined, PAILLIER_MAX_BITS / 8);
    if (nBytes.length === 0 || nBytes[0] === 0) throw keyError('MALFORMED', 'keys.election.n: must be minimal big-endian (no leading zero byte)', '2.1b');
    const n = fromBytesBE(nBytes);
    const nLen = nBytes.length;
    const n2Len = byteLength(n * n);
    if (!Number.isSafeInteger(o.threshold) || !Number.isSafeInteger(o.trustees)) throw keyError('MALFORMED', 'keys.election: threshold and trustees must be integers', '2.1b');
    const l = o.trustees as number;
    const vk = o.verificationKeys;
    if (!Array.isArray(vk) || vk.length > MAX_TRUSTEES || vk.length !== l) throw keyError('MALFORMED', `keys.election.verificationKeys: expected one per trustee (${l})`, '2.1b');
    const vi = vk.map((x: unknown, i: number) => hexToInt(x, n2Len, `keys.election.verificationKeys[${i}]`));
    const v0 = hexToInt(o.v0, n2Len, 'keys.election.v0');
    const rho = hexToInt(o.rho, nLen, 'keys.election.rho');
    const modulusProof = modulusProofFromJson(n, o.modulusProof);
    const auxJson = o.auxiliary;
    if (!Array.isArray(auxJson) || auxJson.length < 1 || auxJson.length > Math.max(1, Math.min(l, MAX_TRUSTEES))) {
      throw keyError('MALFORMED', `keys.election.auxiliary: expected 1 to ${l} entries`, '2.1b');
    }
    const auxiliary = auxJson.map((a: unknown, i: number): AuxiliaryProof => {
      const ao = a as Record<string, unknown> | null;
      if (typeof ao !== 'object' || ao === null || Array.isArray(ao)) throw keyError('MALFORMED', `keys.election.auxiliary[${i}]: expected an object`, '2.1a');
      for (const k of Object.keys(ao)) if (k !== 'ringPedersen' && k !== 'factorProof') throw keyError('MALFORMED', `keys.election.auxiliary[${i}]: unknown member ${JSON.stringify(k.slice(0, 64))}`, '2.1a');
      const rp = ringPedersenFromJson(ao.ringPedersen);
      return { ringPedersen: rp.params, prmProof: rp.proof, factorProof: factorProofFromJson(n, rp.params.N, ao.factorProof) };
    });
    return { values: { n, k: o.threshold as number, l, vi, v0, rho }, modulusProof, auxiliary };
  });
}

/**
 * The key checks of step 4 on a decoded election key, in order: 13.2a–13.2e, Π^mod
 * (13.5a–13.5e), then per auxiliary entry Π^prm (13.6a–13.6c) and Π^fac (13.6d–13.6g). The
 * caller has checked n against 3.2a–3.2d.
 * @param options.minBits - smallest accepted size of n and N̂ (tests and vectors only)
 * @param options.checkProofs - run 13.5 and 13.6 (default true); false only where the same bytes
 *   were verified before (the auditor's workers re-parse a manifest its main thread checked)
 * @throws TallyError BAD_PUBLIC_KEY (13.2x) or BAD_MODULUS_PROOF (13.5x, 13.6x), with details.check
 */
export function checkElectionKey(decoded: DecodedElectionKey, options: SizeOptions & { checkProofs?: boolean } = {}): ElectionKey {
  const threshold = thresholdPublicKey(decoded.values, options);
  const { modulusProof, auxiliary } = decoded;
  const n = threshold.n;
  const key: ElectionKey = { threshold, modulusProof, auxiliary };
  if (options.checkProofs === false) return key;
  const memoKey = toHex(sha256(encodeElectionKey(canonical(), key).finish())) + `/${options.minBits ?? 0}`;
  if (verifiedMemo.has(memoKey)) return key;
  const mod = verifyModulusProof(n, modulusProof);
  if (!mod.ok) throw keyError('BAD_MODULUS_PROOF', `keys.election.modulusProof: ${mod.reason} (check ${mod.check})`, mod.check);
  auxiliary.forEach((a, i) => {
    const prm = verifyRingPedersen(a.ringPedersen, a.prmProof, options.minBits === undefined ? {} : { minBits: options.minBits });
    if (!prm.ok) throw keyError('BAD_MODULUS_PROOF', `keys.election.auxiliary[${i}].ringPedersen: ${prm.reason} (check ${prm.check})`, prm.check);
    const fac = verifyNoSmallFactor(n, a.ringPedersen, a.factorProof);
    if (!fac.ok) throw keyError('BAD_MODULUS_PROOF', `keys.election.auxiliary[${i}].factorProof: ${fac.reason} (check ${fac.check})`, fac.check);
  });
  verifiedMemo.add(memoKey);
  return key;
}

/**
 * Decode and check `keys.election` (2.1b, then the checks of {@link checkElectionKey}).
 * @throws as decodeElectionKey and checkElectionKey
 */
export function parseElectionKey(json: unknown, options: SizeOptions & { checkProofs?: boolean } = {}): ElectionKey {
  return checkElectionKey(decodeElectionKey(json), options);
}
