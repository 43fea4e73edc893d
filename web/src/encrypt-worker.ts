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
 */
import { TallyError, type ErrorCode, ERRORS } from '../../src/errors.js';
import { createBallot, type EncryptedBallot, type VoterToken } from '../../src/election/ballot.js';
import { parseManifest, type Election, type ManifestJson } from '../../src/election/manifest.js';

/** Page → worker. */
interface EncryptRequest {
  readonly id: number;
  readonly manifest: ManifestJson;
  readonly selections: readonly (readonly number[])[];
  /** SECRET: the voter's token */
  readonly token: VoterToken;
}

/** Worker → page. */
type EncryptReply =
  | { readonly id: number; readonly kind: 'progress'; readonly done: number; readonly total: number }
  | { readonly id: number; readonly kind: 'done'; readonly result: EncryptedBallot }
  | { readonly id: number; readonly kind: 'error'; readonly code: string; readonly message: string };

/** The worker's side: answer encryption requests. Call only inside a worker. */
export function serveEncryption(scope: { onmessage: ((ev: MessageEvent) => void) | null; postMessage(msg: unknown): void }): void {
  const elections = new Map<string, Election>();
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
      const result = createBallot(election, req.selections, req.token, undefined, (done, total) => scope.postMessage({ id: req.id, kind: 'progress', done, total } satisfies EncryptReply));
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
  if (!worker && !workerFailed) {
    try {
      worker = new Worker(scriptUrl, { name: 'tallyboard-encrypt' });
    } catch {
      workerFailed = true;
    }
  }
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
    w.postMessage({ id, manifest: election.manifest, selections, token } satisfies EncryptRequest);
  });
}
