/**
 * The verification server under load (issue 16.4, 16.11): the tally's ballot checks run on
 * worker threads, so the server keeps answering /health while it tallies; and the outcome of
 * a tally reaches the log.
 *
 * No timing is asserted (the latency of /health during a long tally is measured by
 * `npm run bench:load`); the test pins WHERE the work runs and that health is served while the
 * tally is in progress.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { buildVerifierServer } from '../src/server/election-servers.js';
import { buildVerifierApp } from '../src/verifier/app.js';
import { TallyService, type VerifierLogger } from '../src/verifier/tally-service.js';
import { scenario, type PlannedEntry } from './helpers/election-board.js';
import { paillierFixture } from './helpers/fixtures.js';
import { memoryBoardAccess } from './helpers/verifier-board.js';

const spec = { electionId: 'verifier-load', revoting: false, maxVoters: 20, questions: [{ id: 'q', options: 2, min: 1, max: 1 }] };
const VOTERS = 6;
const s = scenario(spec, Array.from({ length: VOTERS }, (_, i) => [[i % 2]]));
const closeAt = s.plan.findIndex((p) => p.type === 'close');
const closedPlan = (): PlannedEntry[] => structuredClone(s.plan.slice(0, closeAt + 1));

function captureLog(): { logger: VerifierLogger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push(JSON.stringify({ level, ...obj, msg }));
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

t.test('regression: tally runs its ballot checks on worker threads and /health answers during it', async (t) => {
  const board = memoryBoardAccess(s.election, closedPlan());
  const { logger } = captureLog();
  const svc = new TallyService({ secretKey: paillierFixture('a'), election: s.election, board, logger, workers: 2 });
  const app = buildVerifierApp({ service: svc, adminToken: 'admin-token-0123456789' });
  const tally = svc.tallyOnce();
  let answeredWhileTallying = 0;
  let notOk = 0;
  while (svc.state === 'tallying') {
    const h = await app.inject({ method: 'GET', url: '/api/verifier/health' });
    if (h.statusCode !== 200) notOk++;
    else if (h.json().tally === 'tallying') answeredWhileTallying++;
    await new Promise((r) => setTimeout(r, 20)); // a monitor's polling, not a busy loop
  }
  t.equal(notOk, 0, 'every health request answered 200');
  t.same(await tally, { outcome: 'tallied', ballotsCounted: VOTERS });
  t.ok(answeredWhileTallying >= 1, `health answered during the tally (${answeredWhileTallying} times)`);
  t.equal(svc.verificationsOnWorkers, VOTERS, 'every ballot was checked on a worker thread, none on the event loop');
  t.ok(svc.partialChecksOnWorkers >= 1, `the partial decryption was checked on a worker thread (${svc.partialChecksOnWorkers} checks)`);
  await app.close();
});

t.test('regression: tally is logged — the outcome reaches the verification server log', async (t) => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const board = memoryBoardAccess(s.election, closedPlan());
  const { app, service } = buildVerifierServer(
    { election: s.election, paillierKey: paillierFixture('a') },
    { credentials: { adminToken: 'admin-token-0123456789', serviceToken: 'service-token-0123456789' }, logger: { level: 'info', stream }, workers: 0 },
    board,
  );
  t.same(await service.tallyOnce(), { outcome: 'tallied', ballotsCounted: VOTERS });
  t.match(lines.join(''), /tally combined and published/, 'published: logged');

  // A refused board: forge one ballot's tracker.
  const forged = closedPlan();
  const h = forged.findIndex((p) => p.type === 'ballot');
  (forged[h]!.payload as { tracker: string }).tracker = '00'.repeat(32);
  const bad = buildVerifierServer(
    { election: s.election, paillierKey: paillierFixture('a') },
    { credentials: { adminToken: 'admin-token-0123456789', serviceToken: 'service-token-0123456789' }, logger: { level: 'info', stream }, workers: 0 },
    memoryBoardAccess(s.election, forged),
  );
  t.equal((await bad.service.tallyOnce()).outcome, 'refused');
  t.match(lines.join(''), /REFUSING TO DECRYPT/, 'refusal: logged');
  await app.close();
  await bad.app.close();
});
