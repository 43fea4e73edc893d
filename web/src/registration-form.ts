/**
 * "Check my registration" (spec §7.5, §10.3), on the booth and on the board page: with their
 * login and the reference salt they received with their password, a voter learns whether they
 * are in the register committed on the board and whether a token was issued in their name.
 *
 * The check runs in this browser with the same code as `tallyboard registration check`
 * (src/client/registration-check.ts): the reference is computed here, the membership proof is
 * verified against the root the BOARD publishes, and an "issued" answer is verified in the
 * token-issued entry itself. The salt never leaves the browser; only the reference is sent.
 */
import type { Election } from '../../src/election/manifest.js';
import { checkRegistration, parseRefSalt } from '../../src/client/registration-check.js';
import { byId, say } from './dom.js';

/**
 * Wire the form with ids reg-form, reg-login, reg-salt, reg-button, reg-result.
 * @param election - the election, re-validated by the page
 * @param login - a login to prefill (the booth, after login)
 */
export function mountRegistrationCheck(election: Election, login?: string): void {
  const form = document.getElementById('reg-form') as HTMLFormElement | null;
  if (!form) return;
  const loginInput = byId<HTMLInputElement>('reg-login');
  if (login !== undefined && loginInput.value === '') loginInput.value = login;
  const result = byId('reg-result');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      const button = byId<HTMLButtonElement>('reg-button');
      button.disabled = true;
      try {
        const l = loginInput.value.trim();
        if (l === '') return say(result, 'Enter your login.');
        let salt: Uint8Array;
        try {
          salt = parseRefSalt(byId<HTMLInputElement>('reg-salt').value);
        } catch {
          return say(result, 'The reference salt is the 64 hexadecimal characters given to you with your password (ref_salt).');
        }
        say(result, 'Checking…', 'info');
        const c = await checkRegistration({ server: location.origin, election, login: l, salt });
        const lines: string[] = [];
        if (!c.register) lines.push('No voter register is committed on the board yet.');
        else lines.push(c.inRegister ? `✓ You are in the committed register (${c.register.voters} voters, committed at board height ${c.register.height}).` : `✗ You are NOT in the committed register (${c.register.voters} voters). Check your login and salt; if they are right, report it to the election officials.`);
        lines.push(
          c.issuedAt !== undefined
            ? `A token was issued in your name: yes, at board height ${c.issuedAt}. If you did not ask for one, someone obtained it in your name: report it to the election officials and observers.`
            : 'A token was issued in your name: no.',
        );
        lines.push(`Your register reference: ${c.ref}`);
        say(result, lines.join('\n'), c.inRegister ? 'ok' : 'error');
      } catch (e) {
        say(result, `The check could not be completed: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        button.disabled = false;
      }
    })();
  });
}
