/**
 * The servers under test of `npm run bench:load` (bench/load.ts), in their own process so that
 * their memory is theirs alone: all three servers of one election on one origin (`--role all`
 * as `serve` builds it, worker threads sized to the cores), on loopback, with `VOTERS` voters
 * registered at the production scrypt cost.
 *
 * Talks to the parent over IPC: sends `{ url, voters, manifest }` when listening; answers
 * `'memory'` with the process's peak and current resident set size.
 */
import { readFileSync } from 'node:fs';
import { PaillierSecretKey } from '../src/crypto/paillier.js';
import { blindRsaPublicKeyOf, blindRsaPublicKeyToJson, blindRsaSecretKeyFromJson } from '../src/crypto/blind-rsa.js';
import { ed25519KeyPair } from '../src/crypto/ed25519.js';
import { toHex } from '../src/wire.js';
import { parseManifest } from '../src/election/manifest.js';
import { SPEC_VERSION } from '../src/crypto/hash.js';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { newCredential } from '../src/node/data-dir.js';

const root = new URL('../../', import.meta.url); // dist/bench → repository root
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`test/fixtures/${name}`, root), 'utf8')).secretKey;
/** The manifest's keys.election of the fixture key (1-of-1, spec §2.1). */
const electionKeyJson = () => JSON.parse(readFileSync(new URL('test/fixtures/election-key-2048-a.json', root), 'utf8')).electionKey;

const VOTERS = Number(process.env.LOAD_VOTERS ?? 100);
const sk = PaillierSecretKey.fromJSON(fixture('election-key-2048-a.json'));
const rsa = blindRsaSecretKeyFromJson(fixture('blind-rsa-2048.json'));
const boardKey = ed25519KeyPair(new Uint8Array(32).fill(3));
const manifest = {
  version: SPEC_VERSION,
  electionId: 'bench-load',
  title: 'Load benchmark',
  questions: [{ id: 'q', title: 'Question', options: [0, 1, 2, 3].map((i) => ({ id: `o${i}`, title: `Option ${i}` })), min: 1, max: 1 }],
  schedule: { start: new Date(Date.now() - 60_000).toISOString(), end: new Date(Date.now() + 24 * 3600_000).toISOString() },
  maxVoters: VOTERS,
  revoting: false,
  keys: {
    election: electionKeyJson(),
    tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(rsa)),
    board: toHex(boardKey.publicKey),
  },
};
const election = parseManifest(manifest);
const register = createMemoryRegister();
const csv = ['first_name,last_name,email,login', ...Array.from({ length: VOTERS }, (_, i) => `V,${i},v${i}@example.org,voter${i}`)].join('\n');
const { generated } = await importVotersCsv(register, csv);
const credentials = { adminToken: newCredential(), orgToken: newCredential(), verifierToken: newCredential() };
const s = await buildElectionServers(
  { election, boardStore: new MemoryBoardStore(), boardSecretKey: boardKey.secretKey, register, issuerKey: rsa, issuanceSecret: new Uint8Array(32).fill(5), paillierKey: sk, pollMs: 1000 },
  // As behind a reverse proxy: each simulated voter has its own address (X-Forwarded-For), so
  // that the per-address login limits see voters, not the benchmark's one loopback address.
  { credentials, singleOrigin: true, autoClose: false, trustProxy: ['127.0.0.1'] },
);
const url = await s.ballot.listen({ host: '127.0.0.1', port: 0 });
await Promise.all([s.org.ready(), s.verifier.ready()]);
process.on('message', (m) => {
  if (m === 'memory') {
    process.send!({ peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024), rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) });
  } else if (m === 'stop') {
    void s.close().then(() => process.exit(0));
  }
});
process.send!({ url, manifest, adminToken: credentials.adminToken, voters: generated.map((g) => ({ login: g.login, password: g.password })) });
