/**
 * Server lifecycle (issue #4): TLS when given a certificate and key, and a graceful shutdown
 * that lets an in-flight ballot finish and be acknowledged before the board closes.
 */
import { recordTestIssuance } from './helpers/register.js';
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { buildBallotServer } from '../src/server/election-servers.js';
import { ballotToJson, createBallot } from '../src/election/ballot.js';
import { boardKeyFixture, fixtureElection, fixtureToken } from './helpers/fixtures.js';

const credentials = { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' };
const election = fixtureElection({ electionId: 'lifecycle', start: '2026-01-01T00:00:00.000Z', end: '2099-01-01T00:00:00.000Z' });

t.test('TLS with a given certificate and key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  const { app } = await buildBallotServer(
    { election, boardStore: new MemoryBoardStore(), boardSecretKey: boardKeyFixture().secretKey },
    { credentials, https: { cert, key: readFileSync(join(dir, 'key.pem')) }, autoClose: false },
  );
  t.teardown(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.match(url, /^https:\/\/127\.0\.0\.1:/, 'listens with TLS');
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(`${url}/api/health`, { ca: cert }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve(b));
    });
    req.on('error', reject);
    req.end();
  });
  t.same(JSON.parse(body), { status: 'ok', phase: 'open' }, 'a client trusting the certificate gets an answer');
});

t.test('graceful shutdown: an in-flight ballot is finished and acknowledged', async (t) => {
  const store = new MemoryBoardStore();
  const { app, board, box } = await buildBallotServer({ election, boardStore: store, boardSecretKey: boardKeyFixture().secretKey }, { credentials, autoClose: false });
  await recordTestIssuance(box, new Uint8Array(32).fill(1)); // a new ballot needs an issuance before it (7c)
  // Close once the server has the request (no guessed delay: on a busy machine 20 ms may not
  // be enough for the request to arrive).
  let received!: () => void;
  const arrived = new Promise<void>((r) => (received = r));
  app.addHook('preHandler', async (req) => {
    if (req.url === '/api/ballots') received();
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const b = createBallot(election, [[1]], fixtureToken(election));
  const inFlight = fetch(`${url}/api/ballots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ballotToJson(election, b.ballot)) });
  await arrived; // the request is being verified
  const closing = app.close();
  const res = await inFlight;
  t.equal(res.status, 201, 'the ballot in flight is acknowledged');
  await closing;
  t.equal(board.size, 4, 'and it is on the board (setup + register + issuance + ballot)');
  await t.rejects(fetch(`${url}/api/health`), 'the server no longer listens');
});
