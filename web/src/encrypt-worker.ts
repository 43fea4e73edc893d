/**
 * Encrypting and proving a ballot off the page's main thread, in a Web Worker, so that the
 * page stays responsive and can show progress (a 2048-bit ballot costs ~150 ms per question
 * and more for questions with many allowed answers).
 *
 * Both halves of the protocol are here: `serveEncryption` runs inside the worker (the same
 * bundle, started as a worker: see main.ts), `encryptBallot` is what the booth calls. The
 * worker gets the manifest JSON, which the page has already validated in full, and re-parses
 * it without re-checking the key proof (same bytes, same origin). Ballots, tokens and bigints
 * cross the boundary by structured clone; nothing leaves the page. If a worker cannot be
 * started, the ballot is encrypted on the main thread with the same code.
 *
 * Work before the choice (spec §5.6, issue 12.5): `prepareEncryption` asks the worker to do
 * every exponentiation that does not depend on the voter's choice (r^n and the n-th powers of
 * the proofs) while the voter reads the ballot, so that pressing Cast costs milliseconds per
 * question. The worker keeps ONE precomputation per election and uses it for exactly one
 * ballot: reusing randomness across two ballots would reveal the votes.
 */
import { TallyError, type ErrorCode, ERRORS } from '../../src/errors.js';
import { createBallot, precomputeBallot, type AnswerPrecomputation, type EncryptedBallot, type VoterToken } from '../../src/election/ballot.js';
import { parseManifest, type Election, type ManifestJson } from '../../src/election/manifest.js';

/** Page → worker: encrypt a ballot, or (kind 'precompute') prepare the next one. */
type EncryptRequest =
  | {
      readonly kind?: 'encrypt';
      readonly id: number;
      readonly manifest: ManifestJson;
      readonly selections: readonly (readonly number[])[];
      /** SECRET: the voter's token */
      readonly token: VoterToken;
    }
  | { readonly kind: 'precompute'; readonly id: number; readonly manifest: ManifestJson };

/** Worker → page. */
type EncryptReply =
  | { readonly id: number; readonly kind: 'progress'; readonly done: number; readonly total: number }
  | { readonly id: number; readonly kind: 'done'; readonly result: EncryptedBallot }
  | { readonly id: number; readonly kind: 'error'; readonly code: string; readonly message: string };

/** The worker's side: answer encryption requests. Call only inside a worker. */
export function serveEncryption(scope: { onmessage: ((ev: MessageEvent) => void) | null; postMessage(msg: unknown): void }): void {
  const elections = new Map<string, Election>();
  /** SECRET: the precomputed randomness of the next ballot, per election; used once */
  const prepared = new Map<string, AnswerPrecomputation[]>();
  scope.onmessage = (ev: MessageEvent) => {
    const req = ev.data as EncryptRequest;
    try {
      const key = JSON.stringify(req.manifest);
      let election = elections.get(key);
      if (!election) {
        // The page validated this manifest in full (key proof included) before sending it.
        election = parseManifest(req.manifest, { checkKeyProof: false });
        elections.set(key, election);
      }
      if (req.kind === 'precompute') {
        if (!prepared.has(key)) prepared.set(key, precomputeBallot(election));
        return;
      }
      const pre = prepared.get(key);
      prepared.delete(key); // one ballot per precomputation, whatever happens next
      const result = createBallot(election, req.selections, req.token, undefined, (done, total) => scope.postMessage({ id: req.id, kind: 'progress', done, total } satisfies EncryptReply), pre);
      scope.postMessage({ id: req.id, kind: 'done', result } satisfies EncryptReply);
    } catch (e) {
      const code = e instanceof TallyError ? e.code : 'INTERNAL';
      scope.postMessage({ id: req.id, kind: 'error', code, message: e instanceof Error ? e.message : String(e) } satisfies EncryptReply);
    }
  };
}

let worker: Worker | undefined;
let workerFailed = false;
let nextId = 1;

/** The worker, started on first use; undefined where workers cannot run. */
function theWorker(scriptUrl: string): Worker | undefined {
  if (!worker && !workerFailed) {
    try {
      worker = new Worker(scriptUrl, { name: 'tallyboard-encrypt' });
    } catch {
      workerFailed = true;
    }
  }
  return worker;
}

/**
 * Start the choice-independent work of the next ballot in the worker (spec §5.6), while the voter
 * reads the ballot. Harmless to call more than once: the worker keeps one precomputation.
 * Without a worker nothing is done ahead (the main thread must stay free for the voter).
 * @param scriptUrl - URL of this bundle
 * @param election - the validated election
 */
export function prepareEncryption(scriptUrl: string, election: Election): void {
  theWorker(scriptUrl)?.postMessage({ kind: 'precompute', id: nextId++, manifest: election.manifest } satisfies EncryptRequest);
}

/**
 * Encrypt, prove and sign a ballot, in a worker when possible.
 * @param scriptUrl - URL of this bundle (the worker runs it)
 * @param election - the validated election
 * @param selections - per question, the option indices chosen (already checked against the rules)
 * @param token - the voter's token (SECRET)
 * @param onProgress - called after each question
 * @throws TallyError from createBallot (e.g. BAD_SELECTION)
 */
export async function encryptBallot(
  scriptUrl: string,
  election: Election,
  selections: readonly (readonly number[])[],
  token: VoterToken,
  onProgress: (done: number, total: number) => void,
): Promise<EncryptedBallot> {
  theWorker(scriptUrl);
  if (!worker) {
    // No worker: encrypt here, after letting the page paint its progress screen.
    await new Promise((r) => setTimeout(r, 50));
    return createBallot(election, selections, token, undefined, onProgress);
  }
  const w = worker;
  const id = nextId++;
  return new Promise<EncryptedBallot>((resolve, reject) => {
    const onMessage = (ev: MessageEvent) => {
      const r = ev.data as EncryptReply;
      if (r.id !== id) return;
      if (r.kind === 'progress') return onProgress(r.done, r.total);
      w.removeEventListener('message', onMessage);
      w.removeEventListener('error', onError);
      if (r.kind === 'done') resolve(r.result);
      else reject(new TallyError(Object.hasOwn(ERRORS, r.code) ? (r.code as ErrorCode) : 'INTERNAL', r.message));
    };
    const onError = (ev: ErrorEvent) => {
      w.removeEventListener('message', onMessage);
      w.removeEventListener('error', onError);
      ev.preventDefault();
      // The worker could not run (e.g. blocked): fall back to this thread.
      worker = undefined;
      workerFailed = true;
      setTimeout(() => {
        try {
          resolve(createBallot(election, selections, token, undefined, onProgress));
        } catch (e) {
          reject(e);
        }
      }, 50);
    };
    w.addEventListener('message', onMessage);
    w.addEventListener('error', onError);
    w.postMessage({ kind: 'encrypt', id, manifest: election.manifest, selections, token } satisfies EncryptRequest);
  });
}
