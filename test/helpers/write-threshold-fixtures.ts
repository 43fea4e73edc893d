/**
 * Writes test/fixtures/threshold-moduli.json: the primes of the threshold tests, generated once
 * so that the default suite never searches for a safe prime (a 1024-bit safe prime takes from
 * seconds to minutes). Run it only to replace the fixtures:
 * `npm run build && node dist/test/helpers/write-threshold-fixtures.js`.
 *
 * Contents (hex): two 512-bit moduli from 256-bit safe primes (`small`, the ceremony of the
 * known-answer vectors, and `smallAux`, its ring-Pedersen modulus), two 2048-bit moduli from
 * 1024-bit safe primes (`safe2048` and `safe2048b`, the election keys of test/fixtures/election-key-2048-{a,b}.json; `aux2048`, their ring-Pedersen modulus), a
 * 2048-bit modulus with a 200-bit factor (`smallFactor`, must fail Π^fac) and a 512-bit modulus
 * of two primes ≡ 1 (mod 4) (`nonBlum`, must fail Π^mod).
 */
import { writeFileSync } from 'node:fs';
import { generatePrime } from 'node:crypto';
import { generateSafeModulus } from '../../src/crypto/safe-prime.js';

const hex = (x: bigint) => x.toString(16);
const prime = (bits: number, opts: { add?: bigint; rem?: bigint } = {}) =>
  new Promise<bigint>((res, rej) => generatePrime(bits, { bigint: true, ...opts }, (e, p) => (e ? rej(e) : res(p))));

const progress = (name: string) => (p: { prime: number; state: string }) => process.stderr.write(`${name}: prime ${p.prime} ${p.state}\n`);
const pair = async (name: string, bits: number) => {
  const m = await generateSafeModulus(bits, { minBits: 32, onProgress: progress(name) });
  return { p: hex(m.p), q: hex(m.q) };
};

const out: Record<string, { p: string; q: string }> = {};
out.small = await pair('small', 512);
out.smallAux = await pair('smallAux', 512);
out.safe2048 = await pair('safe2048', 2048);
out.aux2048 = await pair('aux2048', 2048);
out.safe2048b = await pair('safe2048b', 2048);
out.smallFactor = { p: hex(await prime(200)), q: hex(await prime(1848)) };
out.nonBlum = { p: hex(await prime(256, { add: 4n, rem: 1n })), q: hex(await prime(256, { add: 4n, rem: 1n })) };
const file = new URL(import.meta.url.includes('/dist/test/') ? '../../../test/fixtures/threshold-moduli.json' : '../fixtures/threshold-moduli.json', import.meta.url);
writeFileSync(file, JSON.stringify(out, null, 1) + '\n');
console.log('threshold fixtures written');
