/**
 * The one script of the web pages (issue #6), bundled by web/build.mjs into
 * /assets/tallyboard.js. In a page it starts that page's code, chosen by `<body data-page>`;
 * started as a Web Worker (by the booth) it serves ballot encryption instead. One bundle for
 * everything: one file to cache, review and pin.
 */
import { serveEncryption } from './encrypt-worker.js';
import { startBooth } from './booth.js';
import { startBoardPage } from './board-page.js';
import { startResultsPage } from './results-page.js';
import { startAuditPage } from './audit-page.js';

/** Path of this bundle, which the booth also starts as its worker. */
const BUNDLE = '/assets/tallyboard.js';

if (typeof document === 'undefined') {
  serveEncryption(self as unknown as Parameters<typeof serveEncryption>[0]);
} else {
  const start = (): void => {
    const page = document.body.dataset.page;
    const run = page === 'booth' ? startBooth(BUNDLE) : page === 'board' ? startBoardPage() : page === 'results' ? startResultsPage() : page === 'audit' ? startAuditPage() : Promise.resolve();
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
