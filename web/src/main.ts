/**
 * The one script of the web pages (issue #6), bundled by web/build.mjs into
 * /assets/tallyboard.js. In a page it starts that page's code, chosen by `<body data-page>`;
 * started as a Web Worker it serves ballot encryption (the booth's worker) or, under the name
 * `tallyboard-audit`, the whole audit of the election (the results page's worker). One bundle
 * for everything: one file to cache, review and pin.
 */
import { serveEncryption } from './encrypt-worker.js';
import { AUDIT_WORKER_NAME, serveAudit } from './audit-worker.js';
import { startBooth } from './booth.js';
import { startBoardPage } from './board-page.js';
import { startResultsPage } from './results-page.js';
import { startAuditPage } from './audit-page.js';

/** Path of this bundle, which the booth also starts as its worker. */
const BUNDLE = '/assets/tallyboard.js';

if (typeof document === 'undefined') {
  const scope = self as unknown as Parameters<typeof serveEncryption>[0] & { readonly name?: string };
  if (scope.name === AUDIT_WORKER_NAME) serveAudit(scope);
  else serveEncryption(scope);
} else {
  const start = (): void => {
    const page = document.body.dataset.page;
    const run = page === 'booth' ? startBooth(BUNDLE) : page === 'board' ? startBoardPage() : page === 'results' ? startResultsPage(BUNDLE) : page === 'audit' ? startAuditPage() : Promise.resolve();
    run.catch((e: unknown) => {
      // Last resort: a bug in the page. Say so where the voter looks, never fail silently.
      const p = document.createElement('p');
      p.className = 'message';
      p.dataset.kind = 'error';
      p.setAttribute('role', 'alert');
      p.textContent = `This page hit an error: ${e instanceof Error ? e.message : String(e)}. Reload the page to try again.`;
      document.getElementById('main')?.prepend(p);
    });
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}
