/**
 * The platform's own cryptography, when there is one: Node's built-in `node:crypto` (OpenSSL),
 * used for SHA-256, for Ed25519 signing (deterministic: the same signature as the portable
 * code) and for the Ed25519 equation where it gives exactly the verdicts of the portable code
 * (spec §1.4 and §7.3; issue 12.3). In a browser there is none and the portable code (@noble)
 * runs: one verifier, two back ends, one test suite.
 *
 * Why `process.getBuiltinModule` and not an import: this module is part of the page bundle, and
 * the bundler refuses every `node:*` import (web/build.mjs). `getBuiltinModule` (Node ≥ 20.16)
 * reaches the built-in at run time without a static import, so nothing Node-only enters the
 * bundle and nothing has to remember to install a back end.
 *
 * `TALLYBOARD_CRYPTO=portable` in the environment forces the portable code (to compare the two
 * back ends on a whole election, or to rule the native one out when diagnosing).
 */

/** The few members of `node:crypto` this project uses, typed here so the browser build needs no Node types. */
export interface NativeCrypto {
  createHash(algorithm: 'sha256'): NativeHash;
  createPublicKey(key: { key: { kty: 'OKP'; crv: 'Ed25519'; x: string }; format: 'jwk' }): unknown;
  createPrivateKey(key: { key: { kty: 'OKP'; crv: 'Ed25519'; x: string; d: string }; format: 'jwk' }): unknown;
  verify(algorithm: null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
  sign(algorithm: null, data: Uint8Array, key: unknown): Uint8Array;
}

/** An incremental hash of `node:crypto`. */
export interface NativeHash {
  update(data: Uint8Array): NativeHash;
  digest(): Uint8Array;
}

interface NodeProcess {
  getBuiltinModule?: (id: string) => unknown;
  env?: Record<string, string | undefined>;
}

function loadNative(): NativeCrypto | undefined {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (!proc || typeof proc.getBuiltinModule !== 'function') return undefined;
  if (proc.env?.['TALLYBOARD_CRYPTO'] === 'portable') return undefined;
  try {
    const mod = proc.getBuiltinModule('node:crypto') as Partial<NativeCrypto> | undefined;
    if (!mod || typeof mod.createHash !== 'function' || typeof mod.verify !== 'function' || typeof mod.createPublicKey !== 'function') return undefined;
    if (typeof mod.sign !== 'function' || typeof mod.createPrivateKey !== 'function') return undefined;
    return mod as NativeCrypto;
  } catch {
    return undefined;
  }
}

/** `node:crypto` on Node, undefined in a browser (or when forced portable). */
export const nativeCrypto: NativeCrypto | undefined = loadNative();

/**
 * SHA-256 of the concatenation of `parts` with `node:crypto`. The digest is copied into a plain
 * Uint8Array: a Buffer's `slice` is a view, not a copy, and callers treat digests as their own.
 */
export function nativeSha256(native: NativeCrypto, parts: readonly Uint8Array[]): Uint8Array {
  const h = native.createHash('sha256');
  for (const p of parts) h.update(p);
  return Uint8Array.from(h.digest());
}
