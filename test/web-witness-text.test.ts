/**
 * The board page's line on the witnesses (src/web/witness-text.ts, shown by web/src/board-page.ts):
 * cosignatures checked under the manifest's witness keys, the quorum stated, a forged
 * cosignature called out, and an election without witnesses said to have none.
 */
import t from 'tap';
import { signCheckpoint } from '../bulletin/checkpoint.js';
import { signCosignature } from '../bulletin/cosignature.js';
import { witnessText } from '../src/web/witness-text.js';
import { boardKeyFixture, fixtureElection, witnessFixture } from './helpers/fixtures.js';

const board = boardKeyFixture();
const withWitnesses = fixtureElection({ electionId: 'witness-text', witnesses: { count: 3, quorum: 2 } });
const cp = signCheckpoint(board.secretKey, { electionId: 'witness-text', treeSize: 7, rootHash: new Uint8Array(32).fill(1), chainHead: new Uint8Array(32).fill(2), timestamp: 1_704_067_200_000 });
const cosign = (i: number) => signCosignature(witnessFixture(i).secretKey, witnessFixture(i).name, board.publicKey, cp, 1_704_067_300);
const [a, b, c] = [witnessFixture(0).name, witnessFixture(1).name, witnessFixture(2).name];

t.test('no witnesses in the manifest', async (t) => {
  t.same(witnessText(fixtureElection({ electionId: 'witness-text' }), cp, []), { text: 'This election names no witnesses: only the board key vouches for this checkpoint.', kind: 'info' });
});

t.test('the quorum reached, short, and a forged cosignature', async (t) => {
  const quorum = witnessText(withWitnesses, cp, [cosign(0), cosign(1)]);
  t.equal(quorum.kind, 'ok');
  t.match(quorum.text, `✓ Cosigned by 2 of the 3 witnesses (${a}, ${b}); the manifest requires 2`);
  t.match(quorum.text, `Not (yet) cosigned by: ${c}.`);
  const short = witnessText(withWitnesses, cp, [cosign(2)]);
  t.equal(short.kind, 'info', 'one of two required: not an error (the newest checkpoint is cosigned later)');
  t.match(short.text, `Cosigned by 1 of the 3 witnesses (${c}); the manifest requires 2.`);
  const otherCp = signCheckpoint(board.secretKey, { ...cp, treeSize: 8 });
  const forged = { ...signCosignature(witnessFixture(1).secretKey, b, board.publicKey, otherCp, 1_704_067_300), treeSize: 7 };
  const withForged = witnessText(withWitnesses, cp, [cosign(0), forged]);
  t.equal(withForged.kind, 'error');
  t.match(withForged.text, `Cosigned by 1 of the 3 witnesses (${a})`);
  t.match(withForged.text, `✗ 1 cosignature did not verify (${b}).`);
  t.equal(witnessText(withWitnesses, cp, [cosign(0), cosign(0)]).text.startsWith('Cosigned by 1 of the 3'), true, 'a repeated cosignature counts once');
});
