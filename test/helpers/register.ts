/**
 * A synthetic committed register for tests that build boards or drive a ballot box directly
 * (spec §7.5): references `ref(i)` = 32 bytes of the value i (1 ≤ i ≤ 255, as the older tests
 * used), the tree over them, and the payloads/calls that publish them.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { RegisterTree } from '../../src/election/register.js';
import { registerPayload, tokenIssuedPayload, type IssuedRef } from '../../src/election/records.js';
import type { BallotBox } from '../../src/ballot/ballot-box.js';
import type { JsonValue } from '../../bulletin/value-encoding.js';

/** The synthetic reference number i, 1 ≤ i ≤ 255. */
export function testRef(i: number): Uint8Array {
  if (!Number.isInteger(i) || i < 1 || i > 255) throw new RangeError(`testRef: 1 ≤ i ≤ 255, got ${i}`);
  return new Uint8Array(32).fill(i);
}

/** The register of references testRef(1) … testRef(n). */
export class TestRegister {
  readonly tree: RegisterTree;
  constructor(readonly n: number) {
    this.tree = new RegisterTree(Array.from({ length: n }, (_, i) => testRef(i + 1)));
  }

  /** The `register` entry payload. */
  payload(): JsonValue {
    return registerPayload({ voters: this.tree.size, root: this.tree.root }) as unknown as JsonValue;
  }

  /** A reference with its proof; `ref` must be in the register. */
  item(ref: Uint8Array): IssuedRef {
    const p = this.tree.proof(ref);
    if (!p) throw new RangeError('TestRegister.item: not a member');
    return { ref, index: p.index, path: p.path };
  }

  /** A `token-issued` payload for these references (sorted here), ending at `count`. */
  issued(refs: readonly Uint8Array[], count: number): JsonValue {
    const items = refs.map((r) => this.item(r)).sort((a, b) => Buffer.compare(a.ref, b.ref));
    return tokenIssuedPayload({ refs: items, count }) as unknown as JsonValue;
  }
}

const boxRegisters = new WeakMap<BallotBox, TestRegister>();

/**
 * Record the issuance of `ref` (a testRef) on a ballot box, committing first, once per box, a
 * register of testRef(1) … testRef(min(maxVoters, 255)).
 */
export async function recordTestIssuance(box: BallotBox, ref: Uint8Array): Promise<{ height: number; count: number; existing: boolean }> {
  let reg = boxRegisters.get(box);
  if (!reg) {
    reg = new TestRegister(Math.min(box.election.manifest.maxVoters, 255));
    await box.commitRegister({ voters: reg.tree.size, root: reg.tree.root });
    boxRegisters.set(box, reg);
  }
  return box.recordIssuance([reg.item(ref)]);
}

/** A deterministic reference salt for a test voter (64 hex digits). */
export function testSalt(login: string): string {
  return Buffer.from(sha256(new TextEncoder().encode(`test salt ${login}`))).toString('hex');
}
