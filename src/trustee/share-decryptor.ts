/**
 * A trustee's share file opened into a {@link TrusteeDecryptor}: the closure that holds the
 * secret share and is the only code that uses it (spec §13.3–§13.4).
 *
 * Why a closure: the share then lives in no object a logger, an error or `util.inspect` could
 * reach; the service (trustee-service.ts) can ask for a partial decryption only of ciphertexts it
 * has verified, and never sees the share. Why the share is checked on opening (13.3a, by the share
 * file reader): a corrupted or mismatched share would produce partial decryptions that every
 * verifier rejects — better to learn it at the trustee's desk than on the board.
 */
import type { Election } from '../election/manifest.js';
import { partialDecryptTally } from '../election/partial-decryption.js';
import { bitLength } from '../crypto/bigint.js';
import type { ThresholdPublicKey } from '../crypto/threshold-paillier.js';
import { readShareFile } from './share-file.js';
import type { TrusteeDecryptor } from './trustee-service.js';

/**
 * Why `election`'s key is not the threshold key `pk` (undefined when it is): same n, k, l and
 * verification keys.
 */
export function keyMismatch(pk: ThresholdPublicKey, election: Election): string | undefined {
  const ek = election.threshold;
  if (ek.n !== pk.n) return "the election's modulus n is not the share's";
  if (ek.k !== pk.k || ek.l !== pk.l) return `the election is ${ek.k}-of-${ek.l}, the share is from a ${pk.k}-of-${pk.l} ceremony`;
  if (ek.v0 !== pk.v0 || ek.vi.some((v, i) => v !== pk.vi[i])) return "the election's verification keys are not the share's";
  return undefined;
}

/**
 * Open a share file (the passphrase decrypts it; check 13.3a is run on the share).
 * @returns the decryptor and a one-line description for a person (no secret in it)
 * @throws TallyError BAD_KEY_FILE for a wrong passphrase or a corrupted file; BAD_PRIVATE_KEY for
 *   a share that fails 13.3a; MALFORMED / BAD_PUBLIC_KEY for a file of another shape
 */
export async function openShareFile(path: string, passphrase: string): Promise<{ decryptor: TrusteeDecryptor; describe: string }> {
  const { publicKey: pk, share } = await readShareFile(path, passphrase);
  const decryptor: TrusteeDecryptor = {
    index: share.index,
    mismatch: (election) => keyMismatch(pk, election),
    partial: (election, ciphertexts) => partialDecryptTally(pk, share, ciphertexts, election.fingerprint),
  };
  return { decryptor, describe: `trustee ${share.index} of ${pk.l} (threshold ${pk.k}), ${bitLength(pk.n)}-bit key` };
}
