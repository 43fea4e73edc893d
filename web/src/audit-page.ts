/**
 * The audit check page (web/pages/audit.html, issue #9.8): a voter gives it the cast-or-audit
 * file the booth let them download, and sees, per question, whether the ciphertext opens to the
 * revealed plaintext and randomness and which options that plaintext selects, in words.
 *
 * The check is src/client/audit-file-check.ts, which shares no code with the booth's encryption
 * path (see its header); this page only adds the election's parameters, taken from the server
 * and validated in full by parseManifest, and the display. It is meant for ANOTHER device than
 * the one that encrypted.
 */
import { parseManifest, type Election } from '../../src/election/manifest.js';
import { BoardApi } from '../../src/web/board-api.js';
import { voterMessage } from '../../src/web/voter-messages.js';
import { checkAuditFile, MAX_AUDIT_FILE_CHARS } from '../../src/client/audit-file-check.js';
import { byId, h, readFileText, say, setContent } from './dom.js';

/** Start the audit check page. */
export async function startAuditPage(): Promise<void> {
  let election: Election;
  try {
    const info = await new BoardApi().election();
    election = parseManifest(info.manifest);
    if (info.fingerprint !== election.fingerprintHex) throw new Error('the server states another fingerprint than its manifest has');
    byId('election-name').textContent = `${election.manifest.title} · fingerprint ${election.fingerprintHex}`;
  } catch (e) {
    say(byId('load-error'), voterMessage(e, 'election'));
    return;
  }
  const m = election.manifest;
  const params = { electionId: m.electionId, fingerprint: election.fingerprintHex, n: election.paillier.n, digitBits: election.digitBits, questions: m.questions };
  const fileInput = byId<HTMLInputElement>('audit-file');
  const textInput = byId<HTMLTextAreaElement>('audit-text');
  const result = byId('audit-result');
  const list = byId('audit-questions');
  fileInput.addEventListener('change', () => {
    const f = fileInput.files?.[0];
    if (f) void readFileText(f, MAX_AUDIT_FILE_CHARS).then((t) => (textInput.value = t), (e: unknown) => say(result, `This file cannot be read: ${e instanceof Error ? e.message : String(e)}`));
  });
  byId<HTMLFormElement>('audit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      list.replaceChildren();
      let text = textInput.value;
      const f = fileInput.files?.[0];
      if (text.trim() === '' && f) text = await readFileText(f, MAX_AUDIT_FILE_CHARS).catch(() => '');
      if (text.trim() === '') return say(result, 'Choose your audit file or paste its text first.');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return say(result, 'This is not an audit file: an audit file is the JSON file the booth let you download after “Audit this ballot instead” (audit-….json).');
      }
      const v = checkAuditFile(params, json);
      if (!('questions' in v)) return say(result, `✗ Not checked: ${v.reason}.`);
      setContent(
        result,
        h('strong', {}, v.ok ? '✓ The audited ballot holds exactly the choices below.' : '✗ The audited ballot does NOT hold what the device revealed.'),
        ' ',
        v.ok ? 'Compare them with what you chose: if they differ, the device that encrypted did not encrypt your choice; do not vote from it and tell the organizers.' : 'Do not vote from the device that made it; keep this file and tell the organizers.',
      );
      result.dataset.kind = v.ok ? 'ok' : 'error';
      result.hidden = false;
      list.replaceChildren(
        ...v.questions.map((q) =>
          h(
            'li',
            { 'data-ok': String(q.opens && q.allowed && q.namesAgree) },
            h('strong', {}, q.title),
            ': ',
            q.selects === undefined ? 'not a valid selection' : q.selects.length === 0 ? 'left blank' : q.selects.join(', '),
            ' — ',
            q.opens ? 'the ciphertext opens to it' : 'the ciphertext does NOT open to it',
            ...(q.problems.length > 0 ? [h('span', { class: 'muted' }, ` (${q.problems.join('; ')})`)] : []),
          ),
        ),
      );
    })();
  });
}
