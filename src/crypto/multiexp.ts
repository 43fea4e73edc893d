/**
 * Multi-exponentiation ∏ b_i^(x_i) mod m by the bucket method (Pippenger), for the batch
 * verification of membership proofs (spec §5.7).
 *
 * Why: a batch check over N proof branches multiplies N bases raised to short random exponents
 * (128 bits) or to the slightly longer c-exponents (~390 bits). Computed one by one, each
 * power costs ~1.2·bits multiplications; the bucket method shares the squarings and, per
 * window of w exponent bits, costs one multiplication per base plus ~2^(w+1) for the buckets,
 * so with w ≈ log2(N) − 2 the cost per base falls to about bits/w multiplications. The exact
 * reference (one modPow per base) lives in the tests and is compared against this on random
 * inputs.
 *
 * Browser-safe, no `node:` imports. Not constant-time (it only ever handles public values).
 */
import { modPow } from './bigint.js';

/**
 * Window width for N bases and exponents of `bits` bits: the w minimizing
 * ceil(bits/w)·(N + 2^(w+1)) + bits (the squarings), found by trying every w (it is cheap).
 */
export function multiExpWindow(count: number, bits: number): number {
  let best = 1;
  let bestCost = Infinity;
  for (let w = 1; w <= 16; w++) {
    const cost = Math.ceil(bits / w) * (count + 2 ** (w + 1)) + bits;
    if (cost < bestCost) {
      best = w;
      bestCost = cost;
    }
  }
  return best;
}

/**
 * ∏ bases[i]^(exps[i]) mod m.
 * @param bases - integers, each reduced mod m first (any values)
 * @param exps - exponents, exps[i] ≥ 0, same length as bases
 * @param m - modulus, m ≥ 2
 * @returns the product, 0 ≤ result < m (1 for an empty product)
 * @throws RangeError if the lengths differ, an exponent is negative or m < 2
 */
export function multiExp(bases: readonly bigint[], exps: readonly bigint[], m: bigint): bigint {
  if (bases.length !== exps.length) throw new RangeError('multiExp: bases and exponents differ in length');
  if (m < 2n) throw new RangeError('multiExp: modulus must be >= 2');
  let maxBits = 0;
  // Exponents as little-endian 16-bit digits (plain numbers), so window digits are read
  // without BigInt shifts in the inner loop.
  const digits: Uint16Array[] = new Array(exps.length);
  for (let i = 0; i < exps.length; i++) {
    const x = exps[i]!;
    if (x < 0n) throw new RangeError('multiExp: exponents must be >= 0');
    const hex = x.toString(16);
    const limbs = Math.ceil(hex.length / 4);
    const d = new Uint16Array(limbs + 1); // one spare limb: a window may read past the top
    for (let k = 0; k < limbs; k++) {
      const end = hex.length - 4 * k;
      d[k] = parseInt(hex.slice(Math.max(0, end - 4), end), 16);
    }
    digits[i] = d;
    const bits = x === 0n ? 0 : hex.length * 4 - Math.clz32(parseInt(hex[0]!, 16)) + 28;
    if (bits > maxBits) maxBits = bits;
  }
  if (maxBits === 0) return 1n % m;
  if (bases.length === 1) return modPow(bases[0]!, exps[0]!, m);
  const reduced = bases.map((b) => {
    const r = b % m;
    return r < 0n ? r + m : r;
  });
  const w = multiExpWindow(bases.length, maxBits);
  const windows = Math.ceil(maxBits / w);
  const mask = (1 << w) - 1;
  let result = 1n;
  let started = false;
  const buckets: (bigint | undefined)[] = new Array(1 << w);
  for (let win = windows - 1; win >= 0; win--) {
    if (started) for (let s = 0; s < w; s++) result = (result * result) % m;
    buckets.fill(undefined);
    const bit = win * w;
    const limb = bit >>> 4;
    const shift = bit & 15;
    for (let i = 0; i < reduced.length; i++) {
      const d = digits[i]!;
      if (limb >= d.length) continue;
      // w ≤ 16, so the digit spans at most two 16-bit limbs.
      const v = ((d[limb]! | ((d[limb + 1] ?? 0) << 16)) >>> shift) & mask;
      if (v === 0) continue;
      const cur = buckets[v];
      buckets[v] = cur === undefined ? reduced[i]! : (cur * reduced[i]!) % m;
    }
    // Σ_v v·bucket_v in multiplicative form: running product from the top, accumulated.
    let running: bigint | undefined;
    let acc: bigint | undefined;
    for (let v = mask; v >= 1; v--) {
      const bv = buckets[v];
      if (bv !== undefined) running = running === undefined ? bv : (running * bv) % m;
      if (running !== undefined) acc = acc === undefined ? running : (acc * running) % m;
    }
    if (acc !== undefined) {
      result = started ? (result * acc) % m : acc;
      started = true;
    }
  }
  return started ? result : 1n % m;
}
