/**
 * In-memory voter register, for tests and demonstrations; the contract twin of
 * register-level.ts (both pass test/helpers/register-contract.ts).
 *
 * Atomicity comes for free here: Node runs one thread, and every method does its check and
 * its write with no `await` in between, so no other request can observe or change the state
 * halfway. Nothing survives a restart, which is also why this register is not for production:
 * a restarted server would hand every voter a second token.
 */
import { TallyError } from '../errors.js';
import { aLogin, aVoter, type Voter } from './voter.js';
import {
  aDistinctBatch,
  aElectionId,
  aMillis,
  aReservation,
  completeTransition,
  loginsTaken,
  MAX_LEASE_MS,
  releaseTransition,
  reserveTransition,
  type IssuanceRecord,
  type RegisterStore,
  type ReserveOutcome,
} from './register-store.js';

/** A RegisterStore held in two Maps. */
export class MemoryRegisterStore implements RegisterStore {
  private readonly voters = new Map<string, Voter>();
  private readonly issuance = new Map<string, IssuanceRecord>();
  private closed = false;

  private open(): void {
    if (this.closed) throw new TallyError('INTERNAL', 'register: the store is closed');
  }

  /** `electionId` cannot contain a newline (aElectionId), so the key is unambiguous. */
  private key(electionId: string, login: string): string {
    return `${aElectionId(electionId)}\n${aLogin(login)}`;
  }

  /** {@inheritDoc RegisterStore.getVoter} */
  async getVoter(login: string): Promise<Voter | undefined> {
    this.open();
    return this.voters.get(aLogin(login));
  }

  /** {@inheritDoc RegisterStore.existingLogins} */
  async existingLogins(logins: readonly string[]): Promise<Set<string>> {
    this.open();
    aDistinctBatch(logins.map((l) => aLogin(l)));
    return new Set(logins.filter((l) => this.voters.has(l)));
  }

  /** {@inheritDoc RegisterStore.addVoters} */
  async addVoters(voters: readonly Voter[]): Promise<void> {
    this.open();
    const checked = voters.map((v) => aVoter(v));
    aDistinctBatch(checked.map((v) => v.login));
    const taken = checked.filter((v) => this.voters.has(v.login)).map((v) => v.login);
    if (taken.length > 0) throw loginsTaken(taken);
    for (const v of checked) this.voters.set(v.login, v);
  }

  /** {@inheritDoc RegisterStore.countVoters} */
  async countVoters(): Promise<number> {
    this.open();
    return this.voters.size;
  }

  /** {@inheritDoc RegisterStore.listRefSalts} */
  async listRefSalts(): Promise<{ login: string; refSalt: string }[]> {
    this.open();
    return [...this.voters.values()].map((v) => ({ login: v.login, refSalt: v.refSalt }));
  }

  /** {@inheritDoc RegisterStore.getIssuance} */
  async getIssuance(electionId: string, login: string): Promise<IssuanceRecord | undefined> {
    this.open();
    return this.issuance.get(this.key(electionId, login));
  }

  /** {@inheritDoc RegisterStore.reserveIssuance} */
  async reserveIssuance(electionId: string, login: string, reservation: string, now: number, leaseMs: number): Promise<ReserveOutcome> {
    this.open();
    const key = this.key(electionId, login);
    aReservation(reservation);
    aMillis(now, 'now');
    aMillis(leaseMs, 'leaseMs', 1, MAX_LEASE_MS);
    if (!this.voters.has(login)) throw new TallyError('NOT_FOUND', `register: no voter with login ${JSON.stringify(login)}`);
    const outcome = reserveTransition(this.issuance.get(key), reservation, now, leaseMs);
    if (outcome.ok) this.issuance.set(key, outcome.record);
    return outcome;
  }

  /** {@inheritDoc RegisterStore.completeIssuance} */
  async completeIssuance(electionId: string, login: string, reservation: string, now: number): Promise<boolean> {
    this.open();
    const key = this.key(electionId, login);
    aReservation(reservation);
    aMillis(now, 'now');
    const next = completeTransition(this.issuance.get(key), reservation, now);
    if (next === undefined) return false;
    this.issuance.set(key, next);
    return true;
  }

  /** {@inheritDoc RegisterStore.releaseIssuance} */
  async releaseIssuance(electionId: string, login: string, reservation: string): Promise<boolean> {
    this.open();
    const key = this.key(electionId, login);
    aReservation(reservation);
    if (!releaseTransition(this.issuance.get(key), reservation)) return false;
    this.issuance.delete(key);
    return true;
  }

  /** {@inheritDoc RegisterStore.clearReservation} */
  async clearReservation(electionId: string, login: string): Promise<boolean> {
    this.open();
    const key = this.key(electionId, login);
    const current = this.issuance.get(key);
    if (current === undefined || current.state !== 'reserved') return false;
    this.issuance.delete(key);
    return true;
  }

  /** {@inheritDoc RegisterStore.close} */
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A fresh, empty in-memory register. */
export function createMemoryRegister(): RegisterStore {
  return new MemoryRegisterStore();
}
