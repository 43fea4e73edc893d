/**
 * The fast hex conversions of integers (src/wire.ts: BigInt's own hex instead of a byte array)
 * against the byte path they replace, written from spec §1.3: the same string for every value
 * and length, the same integer for every wire string, the same refusals.
 */
import t from 'tap';
import { fromBytesBE, randomBelow, toBytesBE } from '../src/crypto/bigint.js';
import { hexToInt, intToHex, parseHex, toHex } from '../src/wire.js';

t.test('intToHex and hexToInt equal the byte path on random values (property)', async (t) => {
  for (let trial = 0; trial < 300; trial++) {
    const len = [1, 2, 31, 32, 256, 512][trial % 6]!;
    const bits = Number(randomBelow(BigInt(8 * len + 1)));
    const x = bits === 0 ? 0n : randomBelow(1n << BigInt(bits));
    const viaBytes = toHex(toBytesBE(x, len));
    if (intToHex(x, len) !== viaBytes) t.fail(`intToHex(${x}, ${len})`);
    if (hexToInt(viaBytes, len, 'x') !== fromBytesBE(parseHex(viaBytes, 'x', len))) t.fail(`hexToInt(${viaBytes})`);
  }
  t.pass('300 random values agree');
  t.equal(intToHex(0n, 3), '000000');
  t.equal(intToHex(255n, 1), 'ff');
  t.equal(hexToInt('', 0, 'x'), 0n, 'zero length');
  t.throws(() => intToHex(256n, 1), RangeError, 'too long for its length');
  t.throws(() => intToHex(-1n, 1), RangeError, 'negative');
  t.throws(() => hexToInt('0g', 1, 'x'), { code: 'MALFORMED' }, 'not hex');
  t.throws(() => hexToInt(' 0a', 1, 'x'), { code: 'MALFORMED' }, 'space');
});
