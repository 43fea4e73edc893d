/**
 * A web demo (issue #6): a real election on this machine that a PERSON votes in, in a browser.
 * Fresh keys (2048-bit Paillier from OpenSSL primes, with its key proof; the organization's RSA
 * key; the board key), a two-question manifest, a register of N voters with generated
 * passwords, and the three servers in one process on one origin with the web pages. It prints
 * the pages' addresses, the voters' logins and passwords, and the admin credential to close the
 * election early; it stops on SIGINT/SIGTERM.
 *
 * Run: `npm run demo:web -- [--voters N] [--minutes M] [--port P] [--host H]` (src/web/demo-main.ts).
 * `tallyboard demo --web` calls `startWebDemo` directly.
 *
 * The only shortcuts: stores in memory (the board is still downloadable as board.jsonl from
 * the results page) and a lighter scrypt for the demo passwords (N = 2^12).
 */
import { createServer } from 'node:net';
import { randomBytes } from '@noble/hashes/utils.js';
import { generateBlindRsaKey } from '../crypto/blind-rsa-keygen.js';
import { blindRsaPublicKeyOf, blindRsaPublicKeyToJson } from '../crypto/blind-rsa.js';
import { ed25519KeyPair } from '../crypto/ed25519.js';
import { SPEC_VERSION } from '../crypto/hash.js';
import { toHex } from '../wire.js';
import { runSingleServerCeremony } from '../trustee/ceremony.js';
import { parseManifest, type ManifestJson } from '../election/manifest.js';
import { MemoryBoardStore } from '../../bulletin/store/memory.js';
import { createMemoryRegister } from '../org/register-memory.js';
import { importVotersCsv } from '../org/csv-import.js';
import { buildElectionServers } from '../server/election-servers.js';
import { newCredential } from '../node/data-dir.js';
import type { WebPagesOptions } from './web-routes.js';
import { formatLocalTime } from '../client/local-time.js';

/** Options of the web demo. */
export interface WebDemoOptions {
  /** number of voters, 1 ≤ voters ≤ 1000 */
  readonly voters: number;
  /** minutes until the end of voting, 1 ≤ minutes ≤ 1440 */
  readonly minutes: number;
  readonly host: string;
  /** 0 for a free port */
  readonly port: number;
  /** progress lines for a person */
  readonly log: (line: string) => void;
  readonly web?: WebPagesOptions;
}

/** A running web demo. */
export interface WebDemo {
  readonly url: string;
  /** the election's fingerprint (auditors anchor to it) */
  readonly fingerprint: string;
  readonly voters: readonly { readonly login: string; readonly password: string }[];
  /** SECRET: bearer credential of POST /admin/close */
  readonly adminToken: string;
  stop(): Promise<void>;
}

const SCRYPT_DEMO = { N: 1 << 12, r: 8, p: 1 };

/**
 * Start the web demo.
 * @throws TallyError NOT_FOUND if the web pages were not built (`npm run build`)
 */
export async function startWebDemo(opts: WebDemoOptions): Promise<WebDemo> {
  if (!Number.isSafeInteger(opts.voters) || opts.voters < 1 || opts.voters > 1000) throw new RangeError('voters: a whole number from 1 to 1000');
  if (!Number.isSafeInteger(opts.minutes) || opts.minutes < 1 || opts.minutes > 1440) throw new RangeError('minutes: a whole number from 1 to 1440');
  // A taken port is found now, not after the keys (issue #9.11): the listen error, with its code
  // EADDRINUSE, reaches the command line, which names --port.
  await assertPortFree(opts.host, opts.port);
  opts.log('keys: a 2048-bit 1-of-1 election key from safe primes (with its well-formedness proofs; up to a minute), the organization’s RSA key, the board key…');
  const ceremony = await runSingleServerCeremony(2048);
  const paillier = ceremony.secretKey;
  const issuer = generateBlindRsaKey(3072);
  const board = ed25519KeyPair();
  const now = Date.now();
  const manifest: ManifestJson = {
    version: SPEC_VERSION,
    electionId: `web-demo-${new Date(now).toISOString().slice(0, 10)}`,
    title: 'Tallyboard web demo',
    questions: [
      {
        id: 'chair',
        title: 'Who should chair the committee?',
        options: [
          { id: 'lovelace', title: 'Ada Lovelace' },
          { id: 'hopper', title: 'Grace Hopper' },
          { id: 'turing', title: 'Alan Turing' },
          { id: 'johnson', title: 'Katherine Johnson' },
        ],
        min: 1,
        max: 1,
      },
      {
        id: 'projects',
        title: 'Which projects should be funded?',
        options: [
          { id: 'library', title: 'A longer-opening library' },
          { id: 'bikes', title: 'Safe bike lanes' },
          { id: 'garden', title: 'A community garden' },
        ],
        min: 0,
        max: 2,
      },
    ],
    schedule: { start: new Date(now - 60_000).toISOString(), end: new Date(now + opts.minutes * 60_000).toISOString() },
    maxVoters: Math.max(opts.voters, 2),
    revoting: true,
    keys: {
      election: ceremony.publicKey,
      tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(issuer)),
      board: toHex(board.publicKey),
    },
  };
  const election = parseManifest(manifest);
  const register = createMemoryRegister();
  const csv = ['first_name,last_name,email,login', ...Array.from({ length: opts.voters }, (_, i) => `Voter,${i + 1},voter${i + 1}@example.org,voter${i + 1}`)].join('\n');
  const { generated } = await importVotersCsv(register, csv, { scrypt: SCRYPT_DEMO });
  const credentials = { adminToken: newCredential(), serviceToken: newCredential() };
  const servers = await buildElectionServers(
    {
      election,
      boardStore: new MemoryBoardStore(),
      boardSecretKey: board.secretKey,
      register,
      issuerKey: issuer,
      issuanceSecret: randomBytes(32),
      scrypt: SCRYPT_DEMO,
      paillierKey: paillier,
      pollMs: 500,
    },
    { credentials, singleOrigin: true, web: opts.web ?? {} },
  );
  const url = await servers.ballot.listen({ host: opts.host, port: opts.port });
  await Promise.all([servers.org.ready(), servers.verifier.ready()]);
  opts.log(`election ${election.manifest.electionId}, fingerprint ${election.fingerprintHex}, voting ends ${formatLocalTime(manifest.schedule.end)}`);
  return { url, fingerprint: election.fingerprintHex, voters: generated.map((g) => ({ login: g.login, password: g.password })), adminToken: credentials.adminToken, stop: () => servers.close() };
}

/**
 * Fail at once if host:port cannot be listened on (port 0 always can).
 * @throws the listen error (code EADDRINUSE, EACCES, EADDRNOTAVAIL) with its port
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** What a person needs to use a running web demo: the pages, the voters, how to close and audit. */
export function describeWebDemo(demo: WebDemo): string[] {
  const lines: string[] = [];
  lines.push('');
  lines.push(`Vote:          ${demo.url}/`);
  lines.push(`Public board:  ${demo.url}/board`);
  lines.push(`Results:       ${demo.url}/results   (after voting ends, or after an early close)`);
  lines.push(`Audit check:   ${demo.url}/audit     (checks a cast-or-audit file, on another device)`);
  lines.push(`Fingerprint:   ${demo.fingerprint}`);
  lines.push('');
  lines.push('Voters (login / password):');
  for (const v of demo.voters) lines.push(`  ${v.login.padEnd(10)} ${v.password}`);
  lines.push('');
  lines.push('Close the election now (the count follows within seconds):');
  lines.push(`  curl -X POST -H "Authorization: Bearer ${demo.adminToken}" ${demo.url}/admin/close`);
  lines.push('Audit it afterwards:');
  lines.push(`  curl -o board.jsonl ${demo.url}/api/board/export && curl -o tallyboard-audit.mjs ${demo.url}/assets/tallyboard-audit.mjs`);
  lines.push(`  node tallyboard-audit.mjs verify --board board.jsonl --fingerprint ${demo.fingerprint}`);
  lines.push('');
  lines.push('Ctrl-C stops the demo (everything is in memory and is dropped).');
  return lines;
}
