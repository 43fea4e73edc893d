/**
 * Mutations for negative tests: one place for the small edits that turn a valid record into an
 * invalid one.
 */

/** Replace the hex digit at position `i` by a different one. */
export function flipHexDigit(s: string, i: number): string {
  const c = s[i] === '0' ? '1' : '0';
  return s.slice(0, i) + c + s.slice(i + 1);
}
