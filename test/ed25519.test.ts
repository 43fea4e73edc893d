/**
 * Ed25519 verification policy of spec §7.3 (checks 7.3a and 7.3b): keys and the signature's R
 * must lie in the prime-order subgroup, and the one equation is the cofactorless
 * [S]B = R + [k]A. Regression tests for issue 10.5 / 11.1: mixed-order values that the
 * cofactored verifier of tallyboard/1 accepted are refused.
 */
import t from 'tap';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ed25519KeyPair, ed25519Sign, ed25519Verify, isValidEd25519PublicKey } from '../src/crypto/ed25519.js';
import { cofactoredVerify, mixedOrderKeyAndSignature, signWithTorsionR, torsionPoint8 } from './helpers/ed25519-mixed.js';
import { parseHex } from '../src/wire.js';

const fromHex = (h: string) => parseHex(h, 'test', h.length / 2);

const seed = new Uint8Array(32).fill(3);
const msg = new TextEncoder().encode('tallyboard ed25519 policy');

t.test('RFC 8032 §7.1 test 1 and an honest signature verify', async (t) => {
  // RFC 8032 §7.1, TEST 1 (empty message).
  const sk = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const pk = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig = fromHex('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b');
  t.same(ed25519Sign(new Uint8Array(0), sk), sig, 'signature as in the RFC');
  t.ok(ed25519Verify(sig, new Uint8Array(0), pk));
  const kp = ed25519KeyPair(seed);
  t.ok(ed25519Verify(ed25519Sign(msg, kp.secretKey), msg, kp.publicKey));
});

t.test('regression: a signature whose R has a torsion component is refused (7.3b)', async (t) => {
  const kp = ed25519KeyPair(seed);
  const sig = signWithTorsionR(seed, msg);
  t.ok(cofactoredVerify(sig, msg, kp.publicKey), 'the cofactored equation (tallyboard/1) accepts it');
  t.notOk(ed25519Verify(sig, msg, kp.publicKey), 'tallyboard/2 refuses it');
});

t.test('regression: a key with a torsion component is refused (7.3a)', async (t) => {
  const { publicKey, signature } = mixedOrderKeyAndSignature(seed, msg);
  t.ok(cofactoredVerify(signature, msg, publicKey), 'the cofactored equation (tallyboard/1) accepts it');
  t.notOk(isValidEd25519PublicKey(publicKey), 'the key fails 7.3a');
  t.notOk(ed25519Verify(signature, msg, publicKey), 'and so does the signature');
});

t.test('small-order keys and R, non-canonical encodings and S ≥ L are refused', async (t) => {
  const T = torsionPoint8().toBytes();
  t.notOk(isValidEd25519PublicKey(T), 'a point of order 8');
  t.notOk(isValidEd25519PublicKey(ed25519.Point.ZERO.toBytes()), 'the identity');
  const kp = ed25519KeyPair(seed);
  const sig = ed25519Sign(msg, kp.secretKey);
  const zeroR = sig.slice();
  zeroR.set(ed25519.Point.ZERO.toBytes(), 0);
  t.notOk(ed25519Verify(zeroR, msg, kp.publicKey), 'R = identity');
  const bigS = sig.slice();
  const Lle = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
  const s = ed25519.Point.CURVE().n;
  // S + L: the same point equation, a second byte form; refused by S < L.
  let x = 0n;
  for (let i = 63; i >= 32; i--) x = (x << 8n) | BigInt(sig[i]!);
  x += s;
  for (let i = 32; i < 64; i++) {
    bigS[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  t.equal(Lle.length, 32);
  t.notOk(ed25519Verify(bigS, msg, kp.publicKey), 'S + L');
  const nonCanonical = new Uint8Array(32).fill(0xff);
  nonCanonical[31] = 0x7f; // y = 2^255 − 1 ≥ p
  t.notOk(isValidEd25519PublicKey(nonCanonical), 'y ≥ p');
});
