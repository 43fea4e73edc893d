/**
 * Regression (issue 16.7): a voter whose token request was cut off is not stranded.
 *
 * Before, the terminal client made a fresh blinded message on every run. When the organization
 * server signed but its answer never arrived (it died, the connection broke), the voter's next
 * run asked with a NEW blinded message and was refused with TOKEN_ALREADY_ISSUED, for good. Now
 * the client saves its request before sending it and resends the SAME blinded message, which the
 * organization answers with the same signature (spec §7.4).
 *
 * The cut is real: a loopback proxy in front of the servers forwards the first token request,
 * lets the organization sign and record it, and then drops the connection instead of answering.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryBoardStore } from '../bulletin/store/memory.js';
import { buildElectionServers } from '../src/server/election-servers.js';
import { createMemoryRegister } from '../src/org/register-memory.js';
import { importVotersCsv } from '../src/org/csv-import.js';
import { verifyReceipt } from '../src/ballot/receipt.js';
import { blindRsaFixture, boardKeyFixture, fixtureElection, paillierFixture } from './helpers/fixtures.js';

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'tallyboard.js');

function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end('');
  });
}

const fast = { N: 1 << 10, r: 8, p: 1 };
const election = fixtureElection({
  electionId: 'cli-recovery',
  start: '2026-01-01T00:00:00.000Z',
  end: '2099-01-01T00:00:00.000Z',
  questions: [{ id: 'mayor', options: 3, min: 1, max: 1 }],
});

t.test('regression: a token request cut off after the organization signed is resent, and the voter votes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tallyboard-recovery-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const register = createMemoryRegister();
  const { generated } = await importVotersCsv(register, 'first_name,last_name,email,login\nAda,L,ada@example.org,ada\n', { scrypt: fast });
  const pwFile = join(dir, 'ada.pw');
  writeFileSync(pwFile, generated[0]!.password + '\n');
  const s = await buildElectionServers(
    { election, boardStore: new MemoryBoardStore(), boardSecretKey: boardKeyFixture().secretKey, register, issuerKey: blindRsaFixture(), issuanceSecret: new Uint8Array(32).fill(1), scrypt: fast, paillierKey: paillierFixture('a') },
    { credentials: { adminToken: 'admin-credential-0123456789', serviceToken: 'service-credential-0123456789' }, singleOrigin: true, autoClose: false, workers: 0 },
  );
  t.teardown(() => s.close());
  const target = new URL(await s.ballot.listen({ host: '127.0.0.1', port: 0 }));

  // The fault: the first token request reaches the organization, which signs and records it;
  // its answer is then thrown away and the connection cut.
  let cut = 0;
  const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    const dropAnswer = req.method === 'POST' && req.url === '/api/org/token' && cut === 0;
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (dropAnswer) {
        cut++;
        answer.resume();
        answer.on('end', () => res.socket?.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => proxy.close(() => r())));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  const args = ['vote', '--server', url, '--login', 'ada', '--password-file', pwFile, '--choice', '2', '--yes', '--receipt-out', 'r.json'];
  const first = await run(args, dir);
  t.equal(cut, 1, 'the organization signed, and its answer was lost');
  t.equal(first.code, 1, 'the first run fails');
  t.match(first.stderr, /token request is saved in .*run tallyboard vote again/, 'and says how to finish: run again');
  const requestFile = join(dir, 'token-cli-recovery-ada.json.request');
  t.ok(existsSync(requestFile), 'the request is saved');
  t.notOk(existsSync(join(dir, 'token-cli-recovery-ada.json')), 'no token yet');

  const second = await run(args, dir);
  t.equal(second.code, 0, `the second run votes (${second.stderr})`);
  t.match(second.stdout, /resending your interrupted token request/);
  t.ok(existsSync(join(dir, 'token-cli-recovery-ada.json')), 'the token is saved');
  t.notOk(existsSync(requestFile), 'and the request file removed');
  t.ok(verifyReceipt(election, JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))).ok, 'the receipt verifies');
  t.equal(s.box.status.tokensIssued, 1, 'still one token issued: once-only issuance holds');
});
