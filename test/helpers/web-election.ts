/**
 * An election served with its web pages, for the web tests (issue #6): the fixture keys, two
 * questions with readable titles (a "choose one" and a "choose up to two, or none"), voters
 * imported from CSV with a fast scrypt, and the three servers in one process on one loopback
 * origin (`singleOrigin`, as `serve --role all` runs them), listening on a free port.
 *
 * Also `ensureWebBuilt`: the tests use the pages `npm run build` made (dist/web); when a test
 * file runs alone before any build, it builds them first, with the same script.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildElectionServers } from '../../src/server/election-servers.js';
import { createMemoryRegister } from '../../src/org/register-memory.js';
import { importVotersCsv } from '../../src/org/csv-import.js';
import { MemoryBoardStore } from '../../bulletin/store/memory.js';
import { parseManifest, type Election, type ManifestJson } from '../../src/election/manifest.js';
import { defaultWebDir } from '../../src/web/web-routes.js';
import { blindRsaFixture, boardKeyFixture, manifestJson, paillierFixture } from './fixtures.js';

export const WEB_CREDENTIALS = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };
const FAST_SCRYPT = { N: 1 << 10, r: 8, p: 1 }; // tests only

/** Build the pages if dist/web has none (a test file run on its own before `npm run build`). */
export function ensureWebBuilt(): string {
  const dir = defaultWebDir();
  if (!existsSync(join(dir, 'assets', 'tallyboard.js')) || !existsSync(join(dir, 'index.html'))) {
    execFileSync(process.execPath, [join(dir, '..', '..', 'web', 'build.mjs')], { stdio: 'inherit' });
  }
  return dir;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The web tests' manifest: fixture keys, readable questions, open from a minute ago for an hour. */
export function webManifest(opts: { electionId?: string; revoting?: boolean; start?: number; end?: number } = {}): ManifestJson {
  const now = Date.now();
  const base = manifestJson({
    electionId: opts.electionId ?? 'web-2026',
    revoting: opts.revoting ?? false,
    maxVoters: 20,
    start: iso(opts.start ?? now - 60_000),
    end: iso(opts.end ?? now + 3_600_000),
    questions: [
      { id: 'chair', options: 4, min: 1, max: 1 },
      { id: 'projects', options: 3, min: 0, max: 2 },
    ],
  });
  return {
    ...base,
    title: 'Neighbourhood council 2026',
    questions: [
      {
        id: 'chair',
        title: 'Who should chair the council?',
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
          { id: 'bikes', title: 'Safe bike lanes on Main Street' },
          { id: 'garden', title: 'A community garden' },
        ],
        min: 0,
        max: 2,
      },
    ],
  };
}

/** A running election with its web pages. */
export interface WebElection {
  readonly url: string;
  readonly election: Election;
  /** login → password */
  readonly passwords: ReadonlyMap<string, string>;
  /** login → reference salt, 64 hex digits (spec §7.5) */
  readonly salts: ReadonlyMap<string, string>;
  /** POST /admin/close */
  close(): Promise<void>;
  /** stop the servers */
  stop(): Promise<void>;
}

/**
 * Start an election with its web pages on 127.0.0.1 (a free port).
 * @param voters - number of voters (logins voter1 … voterN)
 */
export async function startWebElection(voters = 4, manifest: ManifestJson = webManifest()): Promise<WebElection> {
  const webDir = ensureWebBuilt();
  const election = parseManifest(manifest);
  const register = createMemoryRegister();
  const csv = ['first_name,last_name,email,login', ...Array.from({ length: voters }, (_, i) => `Voter,Number ${i + 1},voter${i + 1}@example.org,voter${i + 1}`)].join('\n');
  const { generated, credentials } = await importVotersCsv(register, csv, { scrypt: FAST_SCRYPT });
  const servers = await buildElectionServers(
    {
      election,
      boardStore: new MemoryBoardStore(),
      boardSecretKey: boardKeyFixture().secretKey,
      register,
      issuerKey: blindRsaFixture(),
      issuanceSecret: new Uint8Array(32).fill(7),
      scrypt: FAST_SCRYPT,
      paillierKey: paillierFixture('a'),
      pollMs: 200,
    },
    { credentials: WEB_CREDENTIALS, singleOrigin: true, web: { dir: webDir } },
  );
  const url = await servers.ballot.listen({ host: '127.0.0.1', port: 0 });
  await Promise.all([servers.org.ready(), servers.verifier.ready()]);
  return {
    url,
    election,
    passwords: new Map(generated.map((g) => [g.login, g.password])),
    salts: new Map(credentials.map((c) => [c.login, c.refSalt])),
    async close() {
      const res = await fetch(`${url}/admin/close`, { method: 'POST', headers: { authorization: `Bearer ${WEB_CREDENTIALS.adminToken}` } });
      if (res.status !== 200) throw new Error(`close refused: ${res.status} ${await res.text()}`);
    },
    stop: () => servers.close(),
  };
}
