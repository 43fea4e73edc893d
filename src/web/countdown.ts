/**
 * Times on the web pages: the schedule in the voter's own time zone, and a countdown to the
 * end of voting that follows the SERVER's clock (a voter's device clock may be minutes off;
 * the ballot server decides whether a ballot is on time, spec §12.2).
 *
 * Pure functions, so the wording is tested without a browser.
 */

/**
 * The offset to add to this device's clock to get the server's.
 * @param serverTime - the status's `serverTime` (ISO 8601)
 * @param deviceNow - Date.now() when the status was received
 * @returns ms; 0 if serverTime is not a date
 */
export function clockOffset(serverTime: string, deviceNow: number): number {
  const t = Date.parse(serverTime);
  return Number.isFinite(t) ? t - deviceNow : 0;
}

/**
 * A duration in words, to the second under an hour and to the minute above.
 * @param ms - duration, ≥ 0 (negative is read as 0)
 * @example formatDuration(3_723_000) === '1 h 02 min'
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (days > 0) return `${days} day${days === 1 ? '' : 's'} ${hours} h`;
  if (hours > 0) return `${hours} h ${two(minutes)} min`;
  if (minutes > 0) return `${minutes} min ${two(seconds)} s`;
  return `${seconds} s`;
}

/** Where an election stands relative to its schedule, at server time `now`. */
export function scheduleText(startMs: number, endMs: number, now: number): { phase: 'before' | 'open' | 'after'; text: string } {
  if (now < startMs) return { phase: 'before', text: `Voting opens in ${formatDuration(startMs - now)}` };
  if (now < endMs) return { phase: 'open', text: `Voting closes in ${formatDuration(endMs - now)}` };
  return { phase: 'after', text: 'Voting has closed' };
}

/**
 * A date and time for people, in the device's time zone and language.
 * @param ms - ms since the epoch
 * @param locale - BCP 47 tag (default: the runtime's)
 */
export function formatDateTime(ms: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}
