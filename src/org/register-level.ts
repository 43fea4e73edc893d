/**
 * The embedded voter register on LevelDB (`level`): the production default of the
 * organization server; the contract twin of register-memory.ts.
 *
 * Layout (string keys, JSON values):
 *
 *     meta!format                     "tallyboard-register/1"
 *     v!<login>                       Voter
 *     i!<electionId>!<login>          IssuanceRecord
 *
 * Neither a login nor an election id can contain '!', so keys are unambiguous and all voters
 * sort together (the range v! … v" counts them).
 *
 * Atomicity. LevelDB offers atomic batches but no compare-and-set, so each read-modify-write
 * (reserve, complete, release, add voters) runs under an in-process lock on its key
 * (_keyed-lock.ts) and ends in one `put` or `batch`. That is sufficient because LevelDB takes
 * an exclusive lock on its directory: a second process cannot open the same register, so
 * this process is the only writer. Several servers sharing one register would need a database
 * with transactions behind the same interface.
 *
 * Durability: LevelDB writes go to its log before the call resolves; `sync: true` is passed on
 * the issuance writes so that an `issued` mark survives a power loss, which is what makes "a
 * token is returned only after it is marked" hold across crashes (see issuance.ts).
 */
import { Level } from 'level';
import { TallyError, isTallyError } from '../errors.js';
import { KeyedLock } from './_keyed-lock.js';
import { ensurePrivateDir } from '../node/data-dir.js';
import { aLogin, aVoter, type Voter } from './voter.js';
import {
  aDistinctBatch,
  aElectionId,
  aMillis,
  aReservation,
  aStoredIssuance,
  completeTransition,
  loginsTaken,
  MAX_LEASE_MS,
  releaseTransition,
  reserveTransition,
  type IssuanceRecord,
  type RegisterStore,
  type ReserveOutcome,
} from './register-store.js';

/** Format marker written on creation and checked on open. */
export const REGISTER_FORMAT = 'tallyboard-register/1';

const FORMAT_KEY = 'meta!format';
const VOTERS_LOCK = 'voters';
/** getMany chunk: bounds the memory of one read. */
const CHUNK = 10_000;

function voterKey(login: string): string {
  return `v!${login}`;
}

function issuanceKey(electionId: string, login: string): string {
  return `i!${aElectionId(electionId)}!${aLogin(login)}`;
}

/** A RegisterStore on a LevelDB directory. Create with `openLevelRegister`. */
export class LevelRegisterStore implements RegisterStore {
  private readonly lock = new KeyedLock();

  /** Use `openLevelRegister`: the database must be open and its format checked. */
  constructor(private readonly db: Level<string, unknown>) {}

  private readVoter(value: unknown): Voter {
    try {
      return aVoter(value);
    } catch (cause) {
      throw new TallyError('INTERNAL', 'register: a stored voter record is corrupt', { cause });
    }
  }

  private async readIssuance(key: string): Promise<IssuanceRecord | undefined> {
    const value = await this.db.get(key);
    return value === undefined ? undefined : aStoredIssuance(value);
  }

  /** {@inheritDoc RegisterStore.getVoter} */
  async getVoter(login: string): Promise<Voter | undefined> {
    const value = await this.db.get(voterKey(aLogin(login)));
    return value === undefined ? undefined : this.readVoter(value);
  }

  /** {@inheritDoc RegisterStore.existingLogins} */
  async existingLogins(logins: readonly string[]): Promise<Set<string>> {
    aDistinctBatch(logins.map((l) => aLogin(l)));
    const found = new Set<string>();
    for (let i = 0; i < logins.length; i += CHUNK) {
      const chunk = logins.slice(i, i + CHUNK);
      const values = await this.db.getMany(chunk.map(voterKey));
      values.forEach((v, j) => {
        if (v !== undefined) found.add(chunk[j]!);
      });
    }
    return found;
  }

  /** {@inheritDoc RegisterStore.addVoters} */
  async addVoters(voters: readonly Voter[]): Promise<void> {
    const checked = voters.map((v) => aVoter(v));
    const logins = checked.map((v) => v.login);
    aDistinctBatch(logins);
    await this.lock.run(VOTERS_LOCK, async () => {
      const taken = await this.existingLogins(logins);
      if (taken.size > 0) throw loginsTaken(logins.filter((l) => taken.has(l)));
      await this.db.batch(
        checked.map((v) => ({ type: 'put' as const, key: voterKey(v.login), value: { ...v } })),
        { sync: true },
      );
    });
  }

  /** {@inheritDoc RegisterStore.countVoters} */
  async countVoters(): Promise<number> {
    let n = 0;
    for await (const _ of this.db.keys({ gte: 'v!', lt: 'v"' })) n++;
    return n;
  }

  /** {@inheritDoc RegisterStore.listRefSalts} */
  async listRefSalts(): Promise<{ login: string; refSalt: string }[]> {
    const out: { login: string; refSalt: string }[] = [];
    for await (const value of this.db.values({ gte: 'v!', lt: 'v"' })) {
      const v = this.readVoter(value);
      out.push({ login: v.login, refSalt: v.refSalt });
    }
    return out;
  }

  /** {@inheritDoc RegisterStore.getIssuance} */
  async getIssuance(electionId: string, login: string): Promise<IssuanceRecord | undefined> {
    return this.readIssuance(issuanceKey(electionId, login));
  }

  /** {@inheritDoc RegisterStore.reserveIssuance} */
  async reserveIssuance(electionId: string, login: string, reservation: string, now: number, leaseMs: number): Promise<ReserveOutcome> {
    const key = issuanceKey(electionId, login);
    aReservation(reservation);
    aMillis(now, 'now');
    aMillis(leaseMs, 'leaseMs', 1, MAX_LEASE_MS);
    return this.lock.run(key, async () => {
      if ((await this.db.get(voterKey(login))) === undefined) {
        throw new TallyError('NOT_FOUND', `register: no voter with login ${JSON.stringify(login)}`);
      }
      const outcome = reserveTransition(await this.readIssuance(key), reservation, now, leaseMs);
      if (outcome.ok) await this.db.put(key, { ...outcome.record }, { sync: true });
      return outcome;
    });
  }

  /** {@inheritDoc RegisterStore.completeIssuance} */
  async completeIssuance(electionId: string, login: string, reservation: string, now: number): Promise<boolean> {
    const key = issuanceKey(electionId, login);
    aReservation(reservation);
    aMillis(now, 'now');
    return this.lock.run(key, async () => {
      const next = completeTransition(await this.readIssuance(key), reservation, now);
      if (next === undefined) return false;
      await this.db.put(key, { ...next }, { sync: true });
      return true;
    });
  }

  /** {@inheritDoc RegisterStore.releaseIssuance} */
  async releaseIssuance(electionId: string, login: string, reservation: string): Promise<boolean> {
    const key = issuanceKey(electionId, login);
    aReservation(reservation);
    return this.lock.run(key, async () => {
      if (!releaseTransition(await this.readIssuance(key), reservation)) return false;
      await this.db.del(key, { sync: true });
      return true;
    });
  }

  /** {@inheritDoc RegisterStore.clearReservation} */
  async clearReservation(electionId: string, login: string): Promise<boolean> {
    const key = issuanceKey(electionId, login);
    return this.lock.run(key, async () => {
      const current = await this.readIssuance(key);
      if (current === undefined || current.state !== 'reserved') return false;
      await this.db.del(key, { sync: true });
      return true;
    });
  }

  /** {@inheritDoc RegisterStore.close} */
  async close(): Promise<void> {
    await this.db.close();
  }
}

/**
 * Open (creating if needed) a register in a LevelDB directory.
 * @param location - directory path; only one process may hold it open
 * @returns the open store
 * @throws TallyError INTERNAL if the directory cannot be opened (e.g. held by another
 *   process) or holds something other than a register of format REGISTER_FORMAT
 */
export async function openLevelRegister(location: string): Promise<LevelRegisterStore> {
  if (typeof location !== 'string' || location.length === 0) throw new TallyError('MALFORMED', 'register location: expected a path');
  // Password hashes, names, e-mails: the directory is 0700 whatever the umask (issue 16.8).
  ensurePrivateDir(location);
  const db = new Level<string, unknown>(location, { valueEncoding: 'json' });
  try {
    await db.open();
  } catch (cause) {
    throw new TallyError('INTERNAL', `register: cannot open ${location} (is another process using it?)`, { cause });
  }
  try {
    const format = await db.get(FORMAT_KEY);
    if (format === undefined) {
      let empty = true;
      for await (const _ of db.keys({ limit: 1 })) empty = false;
      if (!empty) throw new TallyError('INTERNAL', `register: ${location} is not empty and has no format marker`);
      await db.put(FORMAT_KEY, REGISTER_FORMAT, { sync: true });
    } else if (format !== REGISTER_FORMAT) {
      throw new TallyError('INTERNAL', `register: ${location} has format ${JSON.stringify(format)}, expected ${REGISTER_FORMAT}`);
    }
  } catch (err) {
    await db.close();
    throw isTallyError(err) ? err : new TallyError('INTERNAL', `register: cannot read ${location}`, { cause: err });
  }
  return new LevelRegisterStore(db);
}
