/**
 * Test fixtures: committed 2048-bit keys (so the fast suite never generates a Paillier key or
 * runs a ceremony: the election keys are 1-of-1 ceremony outputs on committed safe primes,
 * test/fixtures/election-key-2048-{a,b}.json, written by write-election-key-fixtures.ts),
 * a seeded deterministic byte source for known-answer vectors, and builders for elections and
 * tokens. Nothing here is used outside tests.
 */
import { readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import { PaillierSecretKey } from '../../src/crypto/paillier.js';
import { shareFromJson, type KeyShare } from '../../src/crypto/threshold-paillier.js';
import { parseElectionKey, type ElectionKeyJson } from '../../src/election/election-key.js';
import { blindRsaPublicKeyOf, blindRsaPublicKeyToJson, blindRsaSecretKeyFromJson, type BlindRsaSecretKey } from '../../src/crypto/blind-rsa.js';
import { ed25519KeyPair, type Ed25519KeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/wire.js';
import { parseManifest, type Election, type ManifestJson } from '../../src/election/manifest.js';
import { SPEC_VERSION } from '../../src/crypto/hash.js';
import { completeToken, issueBlindSignature, requestToken } from '../../src/election/token.js';
import type { VoterToken } from '../../src/election/ballot.js';

// Works from the TypeScript source (test/helpers) and from the compiled copy (dist/test/helpers).
const fixtureDir = new URL(import.meta.url.includes('/dist/test/') ? '../../../test/fixtures/' : '../fixtures/', import.meta.url);

function loadJson(name: string): { secretKey: unknown } {
  return JSON.parse(readFileSync(new URL(name, fixtureDir), 'utf8')) as { secretKey: unknown };
}

interface ElectionKeyFixture {
  electionKey: ElectionKeyJson;
  share: unknown;
  secretKey: unknown;
}

const electionKeyFiles = new Map<string, ElectionKeyFixture>();
function electionKeyFile(which: 'a' | 'b'): ElectionKeyFixture {
  let f = electionKeyFiles.get(which);
  if (!f) {
    f = JSON.parse(readFileSync(new URL(`election-key-2048-${which}.json`, fixtureDir), 'utf8')) as ElectionKeyFixture;
    electionKeyFiles.set(which, f);
  }
  return f;
}

/**
 * The whole secret key of a fixture election key ('a' is the default election key), rebuilt from
 * its committed primes: tests that decrypt directly use it. A real ceremony erases the primes.
 */
export function paillierFixture(which: 'a' | 'b' = 'a'): PaillierSecretKey {
  return PaillierSecretKey.fromJSON(electionKeyFile(which).secretKey);
}

/** The manifest's `keys.election` of a fixture key (1-of-1, spec §2.1). */
export function electionKeyFixture(which: 'a' | 'b' = 'a'): ElectionKeyJson {
  return electionKeyFile(which).electionKey;
}

/** The one share of a fixture key (trustee 1 of 1). */
export function shareFixture(which: 'a' | 'b' = 'a'): KeyShare {
  return shareFromJson(parseElectionKey(electionKeyFixture(which), { checkProofs: false }).threshold, electionKeyFile(which).share);
}

/** The committed 2048-bit RSA key of the token issuer. */
export function blindRsaFixture(): BlindRsaSecretKey {
  return blindRsaSecretKeyFromJson(loadJson('blind-rsa-2048.json').secretKey);
}

/** The board's Ed25519 key, from a fixed seed. */
export function boardKeyFixture(): Ed25519KeyPair {
  return ed25519KeyPair(new Uint8Array(32).fill(7));
}

/**
 * Deterministic byte source: SHA-256(seed ‖ counter) blocks. For known-answer vectors only,
 * never for real elections.
 */
export function seededRng(seed: string): (n: number) => Uint8Array {
  const base = new TextEncoder().encode(seed);
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n: number) => {
    while (pool.length < n) {
      const c = new Uint8Array(base.length + 4);
      c.set(base);
      new DataView(c.buffer).setUint32(base.length, counter++);
      const next = new Uint8Array(pool.length + 32);
      next.set(pool);
      next.set(sha256(c), pool.length);
      pool = next;
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
}

export interface QuestionSpec {
  id: string;
  options: number;
  min: number;
  max: number;
}

/** Options of a fixture election. */
export interface ElectionSpec {
  electionId?: string;
  questions?: QuestionSpec[];
  maxVoters?: number;
  revoting?: boolean;
  key?: 'a' | 'b';
  start?: string;
  end?: string;
  /** name the first `count` fixture witnesses (witnessFixture) in the manifest, with `quorum` */
  witnesses?: { count: number; quorum: number };
}

/** Fixture witness i (0-based): name `witness-i.example`, Ed25519 seed (0x50 + i) × 32. */
export function witnessFixture(i: number): { name: string; secretKey: Uint8Array; publicKey: Uint8Array } {
  const kp = ed25519KeyPair(new Uint8Array(32).fill(0x50 + i));
  return { name: `witness-${i}.example`, ...kp };
}

/** A manifest JSON for the fixture keys. */
export function manifestJson(spec: ElectionSpec = {}): ManifestJson {
  const which = spec.key ?? 'a';
  const questions = (spec.questions ?? [{ id: 'q1', options: 4, min: 1, max: 1 }]).map((q) => ({
    id: q.id,
    title: `Question ${q.id}`,
    options: Array.from({ length: q.options }, (_, j) => ({ id: `${q.id}-o${j}`, title: `Option ${j}` })),
    min: q.min,
    max: q.max,
  }));
  return {
    version: SPEC_VERSION,
    electionId: spec.electionId ?? 'test-election',
    title: 'Test election',
    questions,
    schedule: { start: spec.start ?? '2026-01-01T00:00:00.000Z', end: spec.end ?? '2026-12-31T00:00:00.000Z' },
    maxVoters: spec.maxVoters ?? 100,
    revoting: spec.revoting ?? false,
    keys: {
      election: electionKeyFixture(which),
      tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(blindRsaFixture())),
      board: toHex(boardKeyFixture().publicKey),
    },
    ...(spec.witnesses
      ? {
          witnesses: {
            quorum: spec.witnesses.quorum,
            members: Array.from({ length: spec.witnesses.count }, (_, i) => ({ name: witnessFixture(i).name, key: toHex(witnessFixture(i).publicKey) })),
          },
        }
      : {}),
  };
}

/** A validated fixture election. */
export function fixtureElection(spec: ElectionSpec = {}): Election {
  return parseManifest(manifestJson(spec));
}

/** Run the whole blind issuance for one voter against the fixture issuer key. */
export function fixtureToken(election: Election, rng?: (n: number) => Uint8Array): VoterToken {
  const pending = requestToken(election, rng);
  const blindSig = issueBlindSignature(blindRsaFixture(), pending.blindedMsg);
  return completeToken(election, pending, blindSig);
}
