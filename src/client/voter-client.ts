/**
 * The voter's side of the HTTP API (spec/12-servers.md), shared by the terminal client
 * (`tallyboard vote`), the demo's simulated voters and the browser booth.
 *
 * Everything secret stays here: the token key is generated locally and only its BLINDED
 * message goes to the organization; the ballot is encrypted and proven locally and only the
 * ciphertexts and proofs go to the ballot server. The election is fetched from the server but
 * fully re-validated (parseManifest checks every key and the key proof) before anything is
 * encrypted under it. Browser-safe: uses only `fetch`.
 */
import { TallyError, type ErrorCode, ERRORS } from '../errors.js';
import { parseHex, toHex } from '../wire.js';
import { parseManifest, type Election } from '../election/manifest.js';
import { completeToken, requestToken, type PendingToken } from '../election/token.js';
import { ed25519PublicKey } from '../crypto/ed25519.js';
import { bytesEqual } from '../crypto/hash.js';
import { ballotToJson, tokenSignatureLength, type Ballot, type VoterToken } from '../election/ballot.js';
import type { ReceiptJson } from '../ballot/receipt.js';

export interface ElectionStatus {
  readonly phase: 'scheduled' | 'open' | 'closed' | 'tallied';
  readonly boardSize: number;
  readonly ballots: number;
  readonly ballotsCounted: number;
  readonly tokensIssued: number;
  readonly serverTime: string;
}

export interface VoterClientOptions {
  /** base URL of the ballot server */
  readonly server: string;
  /** base URL of the organization server (default: the ballot server's origin, `serve --role all`) */
  readonly org?: string;
  readonly fetch?: typeof fetch;
  /** per-request timeout in ms (default 30 s) */
  readonly timeoutMs?: number;
}

export class VoterClient {
  private readonly server: string;
  private readonly org: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(opts: VoterClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.org = (opts.org ?? opts.server).replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private async call<T>(base: string, path: string, init: { method?: string; body?: unknown; session?: string } = {}): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${base}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          accept: 'application/json',
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(init.session ? { authorization: `Bearer ${init.session}` } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      throw new TallyError('BOARD_UNAVAILABLE', `cannot reach ${base}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined;
    if (!res.ok) {
      const code = body?.error?.code;
      const known = typeof code === 'string' && Object.hasOwn(ERRORS, code);
      throw new TallyError(known ? (code as ErrorCode) : 'BOARD_BAD_RESPONSE', body?.error?.message ?? `HTTP ${res.status} from ${path}`, body?.error?.details ? { details: body.error.details } : {});
    }
    if (body === undefined) throw new TallyError('BOARD_BAD_RESPONSE', `${path}: the answer is not JSON`);
    return body as T;
  }

  /**
   * The election, re-validated locally (keys, key proof, capacity), and its current status.
   * @throws TallyError from parseManifest if the server's manifest is invalid
   */
  async election(): Promise<{ election: Election; status: ElectionStatus }> {
    const r = await this.call<{ manifest: unknown; fingerprint: string; status: ElectionStatus }>(this.server, '/api/election');
    const election = parseManifest(r.manifest);
    if (election.fingerprintHex !== r.fingerprint) throw new TallyError('BOARD_BAD_RESPONSE', 'the server states another fingerprint than its manifest has');
    return { election, status: r.status };
  }

  /** Log in to the organization server. @returns the session credential (secret) */
  async login(login: string, password: string): Promise<string> {
    const r = await this.call<{ session: string }>(this.org, '/api/org/login', { method: 'POST', body: { login, password } });
    return r.session;
  }

  /**
   * The voter's public details and issuance state (GET /api/org/me): whether a token was
   * already issued for this account ('issued'), is being issued ('pending'), or not ('none').
   */
  async me(session: string): Promise<{ firstName?: string; lastName?: string; issuance?: 'none' | 'pending' | 'issued' }> {
    return this.call(this.org, '/api/org/me', { session });
  }

  /**
   * Obtain this voter's token blindly (spec §7.2): blind locally, have the organization sign
   * the blinded message, unblind and verify locally.
   */
  async obtainToken(election: Election, session: string, pending: PendingToken = requestToken(election)): Promise<VoterToken> {
    const r = await this.call<{ blindSig: string }>(this.org, '/api/org/token', { method: 'POST', body: { blindedMsg: toHex(pending.blindedMsg) }, session });
    return completeToken(election, pending, parseHex(r.blindSig, 'blindSig'));
  }

  /** Cast an encrypted ballot. @returns the receipt */
  async cast(election: Election, ballot: Ballot): Promise<ReceiptJson> {
    return this.call<ReceiptJson>(this.server, '/api/ballots', { method: 'POST', body: ballotToJson(election, ballot) });
  }

  /** The receipt of a cast ballot, against the latest checkpoint. */
  async receipt(tracker: string): Promise<ReceiptJson> {
    return this.call<ReceiptJson>(this.server, `/api/ballots/${encodeURIComponent(tracker)}`);
  }

  /** Published results (404 NOT_FOUND before the tally). */
  async results(): Promise<unknown> {
    return this.call(this.server, '/api/results');
  }
}

/** A token as saved by the terminal client, so that the voter can revote later. SECRET. */
export interface SavedToken {
  readonly format: 'tallyboard-token/1';
  readonly fingerprint: string;
  readonly secretKey: string;
  readonly publicKey: string;
  readonly prefix: string;
  readonly signature: string;
}

export function saveToken(election: Election, t: VoterToken): SavedToken {
  return {
    format: 'tallyboard-token/1',
    fingerprint: election.fingerprintHex,
    secretKey: toHex(t.secretKey),
    publicKey: toHex(t.credential.publicKey),
    prefix: toHex(t.credential.prefix),
    signature: toHex(t.credential.signature),
  };
}

export function loadToken(election: Election, x: unknown): VoterToken {
  const o = x as Partial<SavedToken> | null;
  if (typeof o !== 'object' || o === null || o.format !== 'tallyboard-token/1') throw new TallyError('MALFORMED', 'not a tallyboard-token/1 file');
  if (o.fingerprint !== election.fingerprintHex) throw new TallyError('WRONG_ELECTION', 'this token is for another election');
  return {
    secretKey: parseHex(o.secretKey, 'token.secretKey', 32),
    credential: {
      publicKey: parseHex(o.publicKey, 'token.publicKey', 32),
      prefix: parseHex(o.prefix, 'token.prefix', 32),
      signature: parseHex(o.signature, 'token.signature', tokenSignatureLength(election)),
    },
  };
}

/**
 * A token request saved before it is sent (issue 16.7, spec §7.4), so that a voter whose
 * request was cut off — the organization server died, the answer was lost, this program was
 * stopped — can send the SAME blinded message again: the organization answers it with the same
 * signature, whereas a new request would be refused as a second token. SECRET: it holds the token
 * key and the unblinding factor (which links the blinded message to the token).
 */
export interface SavedTokenRequest {
  readonly format: 'tallyboard-token-request/1';
  readonly fingerprint: string;
  readonly secretKey: string;
  readonly publicKey: string;
  readonly prefix: string;
  readonly inputMsg: string;
  readonly inv: string;
  readonly blindedMsg: string;
}

/** @returns the saved form of a pending token request (SECRET) */
export function saveTokenRequest(election: Election, p: PendingToken): SavedTokenRequest {
  return {
    format: 'tallyboard-token-request/1',
    fingerprint: election.fingerprintHex,
    secretKey: toHex(p.secretKey),
    publicKey: toHex(p.publicKey),
    prefix: toHex(p.prefix),
    inputMsg: toHex(p.inputMsg),
    inv: p.inv.toString(16),
    blindedMsg: toHex(p.blindedMsg),
  };
}

/**
 * Read a saved token request back, checking it belongs to this election and is well formed.
 * @throws TallyError MALFORMED for a bad file; WRONG_ELECTION for another election's
 */
export function loadTokenRequest(election: Election, x: unknown): PendingToken {
  const o = x as Partial<SavedTokenRequest> | null;
  if (typeof o !== 'object' || o === null || o.format !== 'tallyboard-token-request/1') throw new TallyError('MALFORMED', 'not a tallyboard-token-request/1 file');
  if (o.fingerprint !== election.fingerprintHex) throw new TallyError('WRONG_ELECTION', 'this token request is for another election');
  const modLen = tokenSignatureLength(election);
  const secretKey = parseHex(o.secretKey, 'request.secretKey', 32);
  const publicKey = parseHex(o.publicKey, 'request.publicKey', 32);
  if (!bytesEqual(ed25519PublicKey(secretKey), publicKey)) throw new TallyError('MALFORMED', 'request: the public key is not the secret key\'s');
  if (typeof o.inv !== 'string' || !/^[0-9a-f]{1,1024}$/.test(o.inv)) throw new TallyError('MALFORMED', 'request.inv: expected lowercase hex');
  const inv = BigInt(`0x${o.inv}`);
  if (inv <= 0n || inv >= election.tokenIssuer.n) throw new TallyError('MALFORMED', 'request.inv: out of range');
  return {
    secretKey,
    publicKey,
    prefix: parseHex(o.prefix, 'request.prefix', 32),
    inputMsg: parseHex(o.inputMsg, 'request.inputMsg'),
    inv,
    blindedMsg: parseHex(o.blindedMsg, 'request.blindedMsg', modLen),
  };
}
