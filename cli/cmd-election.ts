/**
 * `tallyboard election create`: the election manifest (spec/02-manifest.md) from flags or from
 * a JSON file, with every public key taken from the data directory.
 *
 * The keys are never typed in: the Paillier key comes from `keygen` (DIR/keys/paillier.public.json,
 * required), and the organization's blind-signing key, the issuance secret, the board's key and
 * the two server credentials belong to this election's servers, so they are created here when
 * absent and reused when present. A definition file that carries `keys` must carry these very
 * keys: a manifest naming other keys would describe an election no server here can run.
 *
 * The manifest is validated by parseManifest — the same function every server, voter and
 * auditor runs — BEFORE anything is written, so a refused definition (too many options for the
 * encoding, too large an allowed set: the message names the question) leaves no stray secrets.
 * Times accept `now`, `now+10m`, `now-1h`, … and ISO 8601 with a zone, and are normalized to
 * the one form the manifest admits (`YYYY-MM-DDTHH:mm:ss.sssZ`).
 */
import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TallyError } from '../src/errors.js';
import { toHex } from '../src/wire.js';
import { SPEC_VERSION } from '../src/crypto/hash.js';
import { MAX_MODULUS_BITS, MIN_MODULUS_BITS, blindRsaPublicKeyOf, blindRsaPublicKeyToJson } from '../src/crypto/blind-rsa.js';
import { LIMITS, parseManifest, type Election } from '../src/election/manifest.js';
import { allowedSetSize } from '../src/election/ballot-encoding.js';
import { modPow } from '../src/crypto/bigint.js';
import { formatLocalTime } from '../src/client/local-time.js';
import { dataPaths, readJsonFile, writePublicFile } from '../src/node/data-dir.js';
import { ISSUER_KEY_DEFAULT_BITS, loadPaillierPublic, prepareServerKeys, writePendingSecrets } from '../src/node/server-keys.js';
import { action } from './_common.js';

interface CreateOptions {
  data: string;
  out?: string;
  from?: string;
  id?: string;
  title?: string;
  question?: string[];
  option?: string[];
  min?: string[];
  max?: string[];
  start?: string;
  end?: string;
  maxVoters?: number;
  revoting?: boolean;
  rsaBits: number;
  force?: boolean;
  electionKey?: string;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RELATIVE_RE = /^now(?:([+-])(\d{1,9})([smhd]))?$/;
/** ISO 8601 date and time with an explicit zone; seconds and fractions optional. */
const ISO_IN_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Normalize a time to the manifest's form (spec §1.3): `now`, `now±N{s,m,h,d}` relative to
 * `nowMs`, or ISO 8601 with a zone (Z or ±hh:mm).
 * @throws TallyError BAD_MANIFEST naming `field` for anything else (a time without a zone is
 *   refused: it would mean different instants on different machines)
 */
export function normalizeTime(value: unknown, field: string, nowMs: number): string {
  if (typeof value !== 'string') throw new TallyError('BAD_MANIFEST', `${field}: expected a time`);
  const rel = RELATIVE_RE.exec(value);
  let ms: number;
  if (rel) {
    const [, sign, amount, unit] = rel;
    ms = nowMs + (sign === undefined ? 0 : (sign === '-' ? -1 : 1) * Number(amount) * UNITS[unit!]!);
  } else if (ISO_IN_RE.test(value)) {
    ms = Date.parse(value);
  } else {
    throw new TallyError('BAD_MANIFEST', `${field}: ${JSON.stringify(value.slice(0, 80))} is not a time: use ISO 8601 with a zone (2026-11-24T08:00:00Z) or now, now+10m, now+2h`);
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > 8.64e15) throw new TallyError('BAD_MANIFEST', `${field}: ${JSON.stringify(value)} is not a valid time`);
  return new Date(ms).toISOString();
}

/** Split `a:b[:rest]` at the first `parts − 1` colons (the last part, a title, may hold colons). */
function splitSpec(value: string, parts: number, flag: string, shape: string): string[] {
  const out: string[] = [];
  let rest = value;
  for (let i = 0; i < parts - 1; i++) {
    const k = rest.indexOf(':');
    if (k <= 0) throw new TallyError('BAD_MANIFEST', `${flag} ${JSON.stringify(value)}: expected ${shape}`);
    out.push(rest.slice(0, k));
    rest = rest.slice(k + 1);
  }
  if (rest === '') throw new TallyError('BAD_MANIFEST', `${flag} ${JSON.stringify(value)}: expected ${shape}`);
  out.push(rest);
  return out;
}

interface QuestionDraft {
  id: string;
  title: string;
  options: { id: string; title: string }[];
  min: number;
  max: number;
}

/** The questions given by --question/--option/--min/--max. */
function questionsFromFlags(opts: CreateOptions): QuestionDraft[] {
  const questions = new Map<string, QuestionDraft>();
  const find = (qid: string, flag: string, value: string): QuestionDraft => {
    const q = questions.get(qid);
    if (!q) throw new TallyError('BAD_MANIFEST', `${flag} ${JSON.stringify(value)}: no question ${JSON.stringify(qid)} (declare it with --question ${qid}:TITLE)`);
    return q;
  };
  for (const v of opts.question ?? []) {
    const [id, title] = splitSpec(v, 2, '--question', 'ID:TITLE') as [string, string];
    if (questions.has(id)) throw new TallyError('BAD_MANIFEST', `--question: question ${JSON.stringify(id)} is declared twice`);
    questions.set(id, { id, title, options: [], min: 1, max: 1 });
  }
  for (const v of opts.option ?? []) {
    const [qid, id, title] = splitSpec(v, 3, '--option', 'QUESTION:ID:TITLE') as [string, string, string];
    find(qid, '--option', v).options.push({ id, title });
  }
  for (const [flag, values] of [['--min', opts.min ?? []], ['--max', opts.max ?? []]] as const) {
    for (const v of values) {
      const [qid, n] = splitSpec(v, 2, flag, 'QUESTION:N') as [string, string];
      if (!/^\d{1,4}$/.test(n)) throw new TallyError('BAD_MANIFEST', `${flag} ${JSON.stringify(v)}: N must be a non-negative integer`);
      find(qid, flag, v)[flag === '--min' ? 'min' : 'max'] = Number(n);
    }
  }
  for (const q of questions.values()) {
    if (q.options.length === 0) throw new TallyError('BAD_MANIFEST', `question ${JSON.stringify(q.id)} has no options: add --option ${q.id}:ID:TITLE`);
  }
  return [...questions.values()];
}

/** The manifest fields other than `keys`, from --from and the flags (flags win). */
function definition(opts: CreateOptions, nowMs: number): Record<string, unknown> {
  let base: Record<string, unknown> = {};
  if (opts.from !== undefined) {
    const f = readJsonFile(opts.from, 'election definition', 1 << 20);
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new TallyError('BAD_MANIFEST', `${opts.from}: expected a JSON object`);
    base = { ...f }; // own properties only (a "__proto__" key stays a plain field)
  }
  const flagQuestions = [opts.question, opts.option, opts.min, opts.max].some((v) => v !== undefined);
  if (flagQuestions && base.questions !== undefined) {
    throw new TallyError('BAD_MANIFEST', `questions are given both in ${opts.from} and by flags: use one or the other`);
  }
  if (flagQuestions) base.questions = questionsFromFlags(opts);
  const sched = (typeof base.schedule === 'object' && base.schedule !== null ? base.schedule : {}) as Record<string, unknown>;
  const start = opts.start ?? sched.start;
  const end = opts.end ?? sched.end;
  const missing = (what: string, flag: string, field: string) =>
    new TallyError('BAD_MANIFEST', `missing ${what}: give ${flag}${opts.from !== undefined ? ` or "${field}" in ${opts.from}` : ''}`);
  if (opts.id !== undefined) base.electionId = opts.id;
  if (opts.title !== undefined) base.title = opts.title;
  if (opts.maxVoters !== undefined) base.maxVoters = opts.maxVoters;
  if (opts.revoting !== undefined) base.revoting = opts.revoting;
  base.revoting ??= false;
  base.version ??= SPEC_VERSION;
  if (base.electionId === undefined) throw missing('the election id', '--id', 'electionId');
  if (base.title === undefined) throw missing('the title', '--title', 'title');
  if (base.questions === undefined) throw missing('the questions', '--question ID:TITLE with --option ID:OPTION:TITLE', 'questions');
  if (start === undefined) throw missing('the start time', '--start', 'schedule.start');
  if (end === undefined) throw missing('the end time', '--end', 'schedule.end');
  if (base.maxVoters === undefined) throw missing('the number of voters', '--max-voters', 'maxVoters');
  base.schedule = { start: normalizeTime(start, 'schedule.start', nowMs), end: normalizeTime(end, 'schedule.end', nowMs) };
  return base;
}

/** The manifest's `keys` in a fixed field order, for comparison. */
function keysForm(k: unknown): string {
  const o = (k ?? {}) as { election?: unknown; tokenIssuer?: { n?: unknown; e?: unknown }; board?: unknown };
  return JSON.stringify([o.election, o.tokenIssuer?.n, o.tokenIssuer?.e, o.board]);
}

async function create(opts: CreateOptions): Promise<void> {
  const paths = dataPaths(opts.data);
  const out = opts.out ?? paths.manifest;
  if (existsSync(out) && !opts.force) throw new TallyError('CONFLICT', `${out} already exists; give --force to replace it (only before the election's servers have started)`);
  const def = definition(opts, Date.now());
  const paillier = loadPaillierPublic(paths, opts.electionKey);

  if (!existsSync(paths.issuerKey)) process.stderr.write(`generating the token issuer's ${opts.rsaBits}-bit RSA key\n`);
  const { keys, toWrite } = prepareServerKeys(paths, { rsaBits: opts.rsaBits });
  const manifestKeys = {
    election: paillier,
    tokenIssuer: blindRsaPublicKeyToJson(blindRsaPublicKeyOf(keys.issuerKey)),
    board: toHex(keys.boardPublicKey),
  };
  if (def.keys !== undefined && keysForm(def.keys) !== keysForm(manifestKeys)) {
    throw new TallyError('CONFLICT', `${opts.from}: its "keys" are not the keys in ${paths.keysDir}; remove "keys" from the file to use this directory's keys`);
  }
  const election = parseManifest({ ...def, keys: manifestKeys });

  writePendingSecrets(toWrite);
  writePublicFile(out, `${JSON.stringify(election.manifest, null, 2)}\n`);

  const m = election.manifest;
  const expMs = measureExponentiation(election);
  const lines = [
    `election ${m.electionId}: ${JSON.stringify(m.title)}`,
    `  ${formatLocalTime(m.schedule.start)} → ${formatLocalTime(m.schedule.end)}, at most ${m.maxVoters} voters, revoting ${m.revoting ? 'allowed' : 'not allowed'}`,
    ...m.questions.map((q, i) => {
      const a = Number(allowedSetSize(election.questions[i]!.shape));
      return `  question ${q.id}: ${q.options.length} options (${q.options.map((o) => o.id).join(', ')}), choose ${q.min} to ${q.max}: ${a} allowed ${a === 1 ? 'ballot' : 'ballots'}, ${costText(a, expMs)}`;
    }),
    ...warnings(election, Date.now(), expMs),
    ...toWrite.map((p) => `created ${p.path}: ${p.what}`),
    `manifest: ${out}`,
    `fingerprint: ${election.fingerprintHex}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Above this many allowed ballots in one question, `election create` warns of the cost. */
export const ALLOWED_SET_WARNING = 64;

/**
 * One exponentiation modulo n² on this machine, in ms (median of 5): the unit of every proof's
 * cost. Measured, not assumed, so that the figures printed fit the machine and the key size.
 */
function measureExponentiation(election: Election): number {
  const pk = election.paillier;
  const base = (pk.n2 - 12345n) % pk.n2;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    modPow(base + BigInt(i), pk.n, pk.n2);
    times.push(performance.now() - t0);
  }
  return times.sort((x, y) => x - y)[2]!;
}

const secs = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`);

/**
 * What an allowed set of `a` ballots costs (spec §5: a proof of |A| + 1 exponentiations, a
 * check of about 1.1·|A|), in exponentiations and in time on this machine.
 */
function costText(a: number, expMs: number): string {
  return `each voter's device proves with ${a + 1} exponentiations (about ${secs((a + 1) * expMs)} here), an auditor checks with about ${Math.ceil(1.1 * a)} per ballot (${secs(1.1 * a * expMs)})`;
}

/**
 * What the organizer should know before publishing (issue #9.15): a schedule already over, and
 * allowed sets whose proofs are costly for every voter and every auditor, with the figures.
 */
export function warnings(election: Election, nowMs: number, expMs: number): string[] {
  const out: string[] = [];
  const m = election.manifest;
  if (election.endMs <= nowMs) out.push(`warning: the whole schedule is in the past (it ended ${formatLocalTime(election.endMs)}): a ballot server started with this manifest closes at once, and no one can vote`);
  else if (election.startMs < nowMs - 60_000) out.push(`note: the start time is in the past (${formatLocalTime(election.startMs)}): voting opens as soon as the servers start`);
  let perBallot = 0;
  m.questions.forEach((q, i) => {
    const a = Number(allowedSetSize(election.questions[i]!.shape));
    perBallot += 1.1 * a;
    if (a > ALLOWED_SET_WARNING) {
      out.push(
        `warning: question ${q.id} allows ${a} different ballots (choose ${q.min} to ${q.max} of ${q.options.length}); ` +
          `every voter's device computes ${a + 1} exponentiations to prove a ballot (about ${secs((a + 1) * expMs)} on this machine, more on a phone), ` +
          `and every auditor about ${Math.ceil(1.1 * a)} per ballot. Fewer options or a smaller maximum make it cheaper.`,
      );
    }
  });
  if (m.questions.some((_, i) => Number(allowedSetSize(election.questions[i]!.shape)) > ALLOWED_SET_WARNING)) {
    out.push(`warning: an audit of ${m.maxVoters} ballots would cost about ${Math.round(perBallot * m.maxVoters).toLocaleString('en')} exponentiations, about ${secs(perBallot * m.maxVoters * expMs)} on one core of this machine`);
  }
  return out;
}

/** Repeatable flag (no default, so that help shows none). */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function positiveInt(max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > max) throw new InvalidArgumentError(`Expected an integer in [1, ${max}]`);
    return n;
  };
}

function parseRsaBits(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n % 2 !== 0 || n < MIN_MODULUS_BITS || n > MAX_MODULUS_BITS) {
    throw new InvalidArgumentError(`Expected an even number of bits in [${MIN_MODULUS_BITS}, ${MAX_MODULUS_BITS}]`);
  }
  return n;
}

/** Register `tallyboard election create`. */
export function register(program: Command): void {
  const election = program.command('election').description('define an election');
  election
    .command('create')
    .description('build, validate and write the election manifest; creates the servers\' keys in DIR when absent')
    .requiredOption('--data <dir>', 'election data directory (keys from `tallyboard keygen --out DIR`)')
    .option('--out <file>', 'where to write the manifest (default DIR/election.json)')
    .option('--election-key <file>', "the key ceremony's election-key.public.json (default: keygen's DIR/keys/paillier.public.json)")
    .option('--from <file>', 'a JSON definition (the manifest fields; "keys" may be omitted); flags override its fields')
    .option('--id <id>', 'election id')
    .option('--title <title>', 'election title')
    .option('--question <id:title>', 'a question (repeatable)', collect)
    .option('--option <question:id:title>', 'an option of a question, in ballot order (repeatable)', collect)
    .option('--min <question:n>', 'fewest options a ballot selects (default 1)', collect)
    .option('--max <question:n>', 'most options a ballot selects (default 1)', collect)
    .option('--start <time>', 'opening time: ISO 8601 with a zone, or now, now+10m, now+2h')
    .option('--end <time>', 'closing time (same forms)')
    .addOption(new Option('--max-voters <n>', 'most ballots that can be counted').argParser(positiveInt(LIMITS.maxVotersLimit)))
    .option('--revoting', 'a later ballot of the same token replaces the earlier')
    .option('--no-revoting', 'one ballot per token (the default)')
    .option('--force', 'replace an existing manifest file')
    .addOption(new Option('--rsa-bits <n>', 'size of a new token issuer key').argParser(parseRsaBits).default(ISSUER_KEY_DEFAULT_BITS).hideHelp())
    .action(action(async (opts: CreateOptions) => create(opts)));
}
