/**
 * The election's schedule in the page header, with a live countdown to the opening or the
 * end of voting on the SERVER's clock (src/web/countdown.ts). The countdown is not a live
 * region: a screen reader would otherwise read it every second; its text is there for anyone
 * who moves to it.
 */
import type { Election } from '../../src/election/manifest.js';
import { clockOffset, formatDateTime, scheduleText } from '../../src/web/countdown.js';

/**
 * Fill the schedule line and keep the countdown running.
 * @param election - the validated election
 * @param serverTime - the server's time from /api/election
 * @param scheduleEl - where "Voting is open from … to …" goes
 * @param countdownEl - where the countdown goes
 * @param onPhaseChange - called once when the schedule moves on (e.g. to reload results)
 * @returns the clock: `closed()` when the page learns the election closed before its end time
 *   (an administrator's close), `stop()` to stop it
 */
export function startScheduleClock(
  election: Election,
  serverTime: string,
  scheduleEl: HTMLElement,
  countdownEl: HTMLElement,
  onPhaseChange?: () => void,
): { closed(): void; stop(): void } {
  const offset = clockOffset(serverTime, Date.now());
  scheduleEl.textContent = `Voting: ${formatDateTime(election.startMs)} to ${formatDateTime(election.endMs)} (your time zone)`;
  let last: string | undefined;
  let closedEarly = false;
  const tick = () => {
    const s = closedEarly ? { phase: 'after', text: 'Voting has closed' } : scheduleText(election.startMs, election.endMs, Date.now() + offset);
    countdownEl.textContent = s.text;
    countdownEl.dataset.phase = s.phase;
    countdownEl.hidden = false;
    if (last !== undefined && last !== s.phase) onPhaseChange?.();
    last = s.phase;
  };
  tick();
  const timer = window.setInterval(tick, 1000);
  return {
    closed: () => {
      closedEarly = true;
      tick();
    },
    stop: () => window.clearInterval(timer),
  };
}
