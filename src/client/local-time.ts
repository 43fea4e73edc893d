/**
 * Times as a person reads them (issue #9.12): in the local time zone of the machine showing
 * them, with the zone named, rather than UTC ISO strings. Wire formats keep ISO 8601 / epoch
 * milliseconds; only what is printed for people goes through here. Browser-safe.
 */

/**
 * A moment in local time with its zone, e.g. "Wed 2 Dec 2026, 16:05:03 CET".
 * @param at - ms since the epoch, or an ISO 8601 string
 * @param timeZone - an IANA zone (default: this machine's)
 */
export function formatLocalTime(at: number | string, timeZone?: string): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  return new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
    ...(timeZone !== undefined ? { timeZone } : {}),
  })
    .format(d)
    .replace(/^(\w+),/, '$1');
}
