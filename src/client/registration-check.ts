/**
 * The voter's registration check (spec §10.3, issue 10.2): from their login and reference salt
 * (given with their password), a voter computes their public register reference and learns
 * from the board — not from the organization's word — whether they are in the committed
 * register and whether a token was issued in their name, and where.
 *
 * What is checked locally: the reference (computed here); the membership proof (fetched from
 * the organization, verified against the root the BOARD publishes); and, when the board says
 * "issued", the token-issued entry itself (fetched, its reference list searched, its proof
 * verified against the same root). A server that answers "not issued" while the board holds
 * an issuance is caught by an auditor's full read of the board (the answer names the board
 * size it was given at), or by `scanBoardForRef` over an export file.
 *
 * Pure apart from the injected fetch; no secret leaves the device except the reference itself
 * (which is public on the board once issued).
 */
import { TallyError } from '../errors.js';
import { parseHex, toHex } from '../wire.js';
import { registerRef, verifyRegisterMembership } from '../election/register.js';
import { parseRegister, parseTokenIssued } from '../election/records.js';
import type { Election } from '../election/manifest.js';

/** The outcome of a registration check. */
export interface RegistrationCheck {
  /** the voter's register reference, hex */
  readonly ref: string;
  /** the committed register, as the board publishes it; undefined if none is committed yet */
  readonly register?: { readonly height: number; readonly voters: number; readonly root: string };
  /** the reference is a member of the committed register (proof verified against the board's root) */
  readonly inRegister: boolean;
  /** a token was issued in the voter's name: the height of the token-issued entry (verified) */
  readonly issuedAt?: number;
}

/**
 * Parse a reference salt as the voter holds it (64 hex digits; spaces and upper case allowed).
 * @throws TallyError MALFORMED
 */
export function parseRefSalt(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '').toLowerCase();
  return parseHex(clean, 'reference salt', 32);
}

/**
 * Run the check against a ballot server (board routes) and an organization server (the proof).
 * @param o.server - base URL of the ballot server
 * @param o.org - base URL of the organization server (default: the same origin)
 * @param o.election - the election (its id is part of the reference)
 * @param o.login - the voter's login
 * @param o.salt - the voter's reference salt, 32 bytes
 * @throws TallyError BOARD_UNAVAILABLE / BOARD_BAD_RESPONSE when a server cannot be reached or
 *   answers something that does not verify (e.g. an "issued" with no matching entry)
 */
export async function checkRegistration(o: {
  server: string;
  org?: string;
  election: Election;
  login: string;
  salt: Uint8Array;
  fetch?: typeof fetch;
}): Promise<RegistrationCheck> {
  const f = o.fetch ?? globalThis.fetch.bind(globalThis);
  const server = o.server.replace(/\/+$/, '');
  const org = (o.org ?? o.server).replace(/\/+$/, '');
  const ref = registerRef(o.election.manifest.electionId, o.login, o.salt);
  const refHex = toHex(ref);
  const get = async (url: string): Promise<{ status: number; body: any }> => {
    let res: Response;
    try {
      res = await f(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
    } catch (cause) {
      throw new TallyError('BOARD_UNAVAILABLE', `cannot reach ${url}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };

  const reg = await get(`${server}/api/board/register`);
  if (reg.status === 404) return { ref: refHex, inRegister: false };
  if (reg.status !== 200) throw new TallyError('BOARD_BAD_RESPONSE', `register: HTTP ${reg.status}`);
  const record = parseRegister({ voters: reg.body?.voters, root: reg.body?.root }, o.election.manifest.maxVoters);
  const register = { height: Number(reg.body.height), voters: record.voters, root: toHex(record.root) };

  // Membership: the organization's proof, checked against the BOARD's root.
  const proof = await get(`${org}/api/org/register/proof/${refHex}`);
  let inRegister = false;
  if (proof.status === 200) {
    const path = Array.isArray(proof.body?.path) ? (proof.body.path as unknown[]).map((h, i) => parseHex(h, `path[${i}]`, 32)) : [];
    inRegister = verifyRegisterMembership(ref, { index: Number(proof.body?.index), path }, record.voters, record.root);
  } else if (proof.status !== 404) {
    throw new TallyError('BOARD_BAD_RESPONSE', `register proof: HTTP ${proof.status}`);
  }

  // Issuance: the board's index, then the entry itself.
  const iss = await get(`${server}/api/board/issuance/${refHex}`);
  if (iss.status !== 200) throw new TallyError('BOARD_BAD_RESPONSE', `issuance: HTTP ${iss.status}`);
  if (iss.body?.issued !== true) return { ref: refHex, register, inRegister };
  const height = Number(iss.body.height);
  const page = await get(`${server}/api/board/entries?from=${height}&limit=1`);
  const entry = page.body?.entries?.[0];
  if (page.status !== 200 || entry?.type !== 'token-issued' || entry?.height !== height) throw new TallyError('BOARD_BAD_RESPONSE', `the board names height ${height} but serves no token-issued entry there`);
  const t = parseTokenIssued(entry.payload);
  const mine = t.refs.find((r) => toHex(r.ref) === refHex);
  if (!mine || !verifyRegisterMembership(ref, mine, record.voters, record.root)) throw new TallyError('BOARD_BAD_RESPONSE', `the entry at height ${height} does not hold this reference with a valid proof`);
  return { ref: refHex, register, inRegister, issuedAt: height };
}

/**
 * The same check over a board's entries (an export file read by the caller), trusting nothing
 * but the entries: the first register entry, and every token-issued entry holding `ref`.
 * @param entries - the board's entries in order (type, height, payload)
 * @returns the register, whether `ref` was issued (height), or undefined fields when absent
 */
export function scanBoardForRef(entries: Iterable<{ type: string; height: number; payload: unknown }>, ref: Uint8Array, maxVoters: number): { register?: { height: number; voters: number; root: string }; issuedAt?: number } {
  const refHex = toHex(ref);
  let register: { height: number; voters: number; root: string } | undefined;
  let issuedAt: number | undefined;
  for (const e of entries) {
    if (e.type === 'register' && register === undefined) {
      const r = parseRegister(e.payload, maxVoters);
      register = { height: e.height, voters: r.voters, root: toHex(r.root) };
    } else if (e.type === 'token-issued' && issuedAt === undefined) {
      try {
        if (parseTokenIssued(e.payload).refs.some((r) => toHex(r.ref) === refHex)) issuedAt = e.height;
      } catch {
        // a malformed entry is the auditor's finding (5a); it issues nothing to anyone here
      }
    }
  }
  return { ...(register ? { register } : {}), ...(issuedAt !== undefined ? { issuedAt } : {}) };
}
