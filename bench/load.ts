/**
 * `npm run bench:load`: the three servers under load (issue 16). Prints, side by side for
 * concurrency 1, 8 and 32: login, token and cast throughput with p50/p99 latency, and the
 * servers' peak memory; then the latency of honest casts while eight connections replay
 * ballots from the public board, and the latency of /health during a tally.
 *
 * Each request comes as from its own client behind a trusted reverse proxy (X-Forwarded-For).
 * The servers run in a child process (bench/load-server.ts) so that their memory is measured
 * alone; voters' client work (blinding, encryption and proofs) is done BEFORE each timed phase,
 * so the figures are the servers'. Not part of the test suite: timings decide nothing there.
 *
 *   LOAD_PER_PHASE (default 128) voters per concurrency level; the election has 3 × that + 16.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseManifest, type Election } from '../src/election/manifest.js';
import { completeToken, requestToken } from '../src/election/token.js';
import { ballotToJson, createBallot } from '../src/election/ballot.js';
import { parseHex, toHex } from '../src/wire.js';

const PER_PHASE = Number(process.env.LOAD_PER_PHASE ?? 128);
const LEVELS = [1, 8, 32];
const REPLAY_VOTERS = 8;
const TOTAL = PER_PHASE * LEVELS.length + REPLAY_VOTERS * 3;

interface Ready {
  url: string;
  manifest: unknown;
  adminToken: string;
  voters: { login: string; password: string }[];
}

const child = fork(new URL('./load-server.js', import.meta.url), [], { env: { ...process.env, LOAD_VOTERS: String(TOTAL) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const ready = await new Promise<Ready>((resolve, reject) => {
  child.once('message', (m) => resolve(m as Ready));
  child.once('exit', (code) => reject(new Error(`the server process exited (${code})`)));
});
const memory = (): Promise<{ peakRssMB: number; rssMB: number }> =>
  new Promise((resolve) => {
    child.once('message', (m) => resolve(m as { peakRssMB: number; rssMB: number }));
    child.send('memory');
  });
const election: Election = parseManifest(ready.manifest);
const base = ready.url;

let clients = 0;
async function post(path: string, body: unknown, auth?: string): Promise<{ status: number; json: any }> {
  // Each request as from its own client behind the trusted proxy (see load-server.ts).
  const n = ++clients;
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(auth ? { authorization: `Bearer ${auth}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json().catch(() => undefined) };
}

/** Run `jobs` with `concurrency` in flight; latency of each in ms; wall time of the whole. */
async function run<T>(jobs: (() => Promise<T>)[], concurrency: number): Promise<{ lat: number[]; wallMs: number; results: T[] }> {
  const lat: number[] = [];
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) {
        const i = next++;
        const s = performance.now();
        results[i] = await jobs[i]!();
        lat.push(performance.now() - s);
      }
    }),
  );
  return { lat, wallMs: performance.now() - t0, results };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (r: { lat: number[]; wallMs: number }) => `${((r.lat.length * 1000) / r.wallMs).toFixed(1).padStart(6)}/s p50 ${pct(r.lat, 50).toFixed(0).padStart(6)} ms p99 ${pct(r.lat, 99).toFixed(0).padStart(6)} ms`;

console.log(`bench:load — ${availableParallelism()} CPUs, ${PER_PHASE} voters per level, 2048-bit keys, production scrypt, servers in one process (--role all)`);
const rows: string[] = [];
let voterIndex = 0;
const receipts: unknown[] = [];
for (const c of LEVELS) {
  const voters = ready.voters.slice(voterIndex, voterIndex + PER_PHASE);
  voterIndex += PER_PHASE;
  const login = await run(voters.map((v) => async () => {
    const r = await post('/api/org/login', { login: v.login, password: v.password });
    if (r.status !== 200) throw new Error(`login ${r.status} ${JSON.stringify(r.json)}`);
    return r.json.session as string;
  }), c);
  const pendings = voters.map(() => requestToken(election));
  const token = await run(voters.map((_, i) => async () => {
    const r = await post('/api/org/token', { blindedMsg: toHex(pendings[i]!.blindedMsg) }, login.results[i]);
    if (r.status !== 200) throw new Error(`token ${r.status} ${JSON.stringify(r.json)}`);
    return completeToken(election, pendings[i]!, parseHex(r.json.blindSig, 'blindSig'));
  }), c);
  const ballots = token.results.map((tok, i) => ballotToJson(election, createBallot(election, [[i % 4]], tok).ballot));
  const cast = await run(ballots.map((b) => async () => {
    const r = await post('/api/ballots', b);
    if (r.status !== 201) throw new Error(`cast ${r.status} ${JSON.stringify(r.json)}`);
    receipts.push(b);
    return r.status;
  }), c);
  const mem = await memory();
  rows.push(`c=${String(c).padStart(2)} | login ${fmt(login)} | token ${fmt(token)} | cast ${fmt(cast)} | peak RSS ${mem.peakRssMB} MB`);
  console.log(rows[rows.length - 1]);
}

// Replay flood: honest casts, alone and with 8 connections replaying board ballots.
async function honestCasts(n: number): Promise<number[]> {
  const voters = ready.voters.slice(voterIndex, voterIndex + n);
  voterIndex += n;
  const ballots = [];
  for (const v of voters) {
    const session = (await post('/api/org/login', { login: v.login, password: v.password })).json.session;
    const p = requestToken(election);
    const sig = (await post('/api/org/token', { blindedMsg: toHex(p.blindedMsg) }, session)).json.blindSig;
    ballots.push(ballotToJson(election, createBallot(election, [[0]], completeToken(election, p, parseHex(sig, 'sig'))).ballot));
  }
  const lat: number[] = [];
  for (const b of ballots) {
    const s = performance.now();
    const r = await post('/api/ballots', b);
    if (r.status !== 201) throw new Error(`honest cast ${r.status}`);
    lat.push(performance.now() - s);
  }
  return lat;
}
const alone = await honestCasts(REPLAY_VOTERS);
/** Honest casts while 8 connections replay board ballots, each waiting `paceMs` between replays. */
async function underReplayFlood(paceMs: number): Promise<void> {
  let flooding = true;
  let replays = 0;
  const flood = Array.from({ length: 8 }, async (_, k) => {
    while (flooding) {
      const r = await post('/api/ballots', receipts[(replays + k) % receipts.length]);
      if (r.status !== 409) throw new Error(`a replay got ${r.status}`);
      replays++;
      if (paceMs > 0) await new Promise((res) => setTimeout(res, paceMs));
    }
  });
  const t0 = performance.now();
  const lat = await honestCasts(REPLAY_VOTERS);
  const seconds = (performance.now() - t0) / 1000;
  flooding = false;
  await Promise.all(flood);
  console.log(
    `replay flood (${paceMs > 0 ? `paced, ${paceMs} ms between replays per connection` : 'unpaced'}): honest cast p50 ${pct(alone, 50).toFixed(0)} ms alone, ` +
      `${pct(lat, 50).toFixed(0)} ms (p99 ${pct(lat, 99).toFixed(0)} ms) under 8 replaying connections (${(replays / seconds).toFixed(1)} replays/s, all 409): ratio ${(pct(lat, 50) / pct(alone, 50)).toFixed(2)}`,
  );
}
// The issue's flood: 8 connections at 3.4 replays/s in all (each replay then cost a proof check).
await underReplayFlood(Math.round((8 / 3.4) * 1000));
// As fast as the connections can go: now a flood of requests, not of proof checks.
await underReplayFlood(0);

// /health during the tally.
const healthLat: number[] = [];
const closed = await post('/admin/close', undefined, ready.adminToken);
if (closed.status !== 200) throw new Error(`close ${closed.status}`);
const tallyStart = performance.now();
for (;;) {
  const s = performance.now();
  const h = (await (await fetch(`${base}/api/verifier/health`)).json()) as { tally: string };
  healthLat.push(performance.now() - s);
  if (h.tally === 'tallied' || h.tally === 'refused' || h.tally === 'failed') {
    console.log(`tally: ${h.tally} in ${((performance.now() - tallyStart) / 1000).toFixed(1)} s; /health answered ${healthLat.length} times, max ${Math.max(...healthLat).toFixed(0)} ms, p99 ${pct(healthLat, 99).toFixed(0)} ms`);
    break;
  }
  await new Promise((r) => setTimeout(r, 50));
}
const mem = await memory();
console.log(`servers' peak RSS over the whole run: ${mem.peakRssMB} MB`);
child.send('stop');
