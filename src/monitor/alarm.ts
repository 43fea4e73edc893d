/**
 * An alarm as the monitor raises it (spec §10.7): one line naming the check and the height, and
 * the operator's hook command run with the alarm in its environment and on its stdin.
 */
import { spawn } from 'node:child_process';
import type { Alarm } from './state.js';

/** The alarm line (also the first line a hook receives in TALLYBOARD_ALARM_REASON's context). */
export function alarmLine(a: Pick<Alarm, 'check' | 'step' | 'height' | 'reason'>): string {
  const reason = a.reason.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return `ALARM ${a.check}${a.step !== undefined ? ` step ${a.step}` : ''}${a.height !== undefined ? ` at height ${a.height}` : ''}: ${reason}`;
}

/** Run the hook command for an alarm and wait for it; a failing hook is reported, not fatal. */
export async function runHook(cmd: string, alarm: Alarm, env: Record<string, string>): Promise<void> {
  await new Promise<void>((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], {
      stdio: ['pipe', 'inherit', 'inherit'],
      env: {
        ...process.env,
        ...env,
        TALLYBOARD_ALARM_CHECK: alarm.check,
        TALLYBOARD_ALARM_STEP: alarm.step !== undefined ? String(alarm.step) : '',
        TALLYBOARD_ALARM_HEIGHT: alarm.height !== undefined ? String(alarm.height) : '',
        TALLYBOARD_ALARM_REASON: alarm.reason,
      },
    });
    child.on('error', (e) => {
      process.stderr.write(`monitor: the hook could not be started: ${e.message}\n`);
      resolve();
    });
    child.on('exit', (code, signal) => {
      if (code !== 0) process.stderr.write(`monitor: the hook exited with ${signal ?? `code ${code}`}\n`);
      resolve();
    });
    child.stdin.on('error', () => undefined); // a hook that does not read its stdin
    child.stdin.end(`${JSON.stringify(alarm)}\n`);
  });
}

