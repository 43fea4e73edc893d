/**
 * Assertion helpers for typed errors: a test names the catalog code (and optionally the spec
 * check in the message) it expects, and any other outcome fails.
 */
import type { Test } from 'tap';
import { isTallyError, type ErrorCode } from '../../src/errors.js';

/** Assert that `fn` throws a TallyError with `code` (and, if given, a message containing `needle`). */
export function throwsCode(t: Test, fn: () => unknown, code: ErrorCode, msg: string, needle?: string): void {
  try {
    fn();
  } catch (e) {
    const ok = isTallyError(e, code) && (needle === undefined || e.message.includes(needle));
    t.ok(ok, `${msg}: throws ${code}${needle ? ` (${needle})` : ''}`, ok ? {} : { got: e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : e });
    return;
  }
  t.fail(`${msg}: expected ${code}, nothing was thrown`);
}

/** Assert that the promise rejects with a TallyError with `code`. */
export async function rejectsCode(t: Test, p: Promise<unknown>, code: ErrorCode, msg: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    t.ok(isTallyError(e, code), `${msg}: rejects with ${code}`, isTallyError(e, code) ? {} : { got: e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : e });
    return;
  }
  t.fail(`${msg}: expected ${code}, the promise resolved`);
}
