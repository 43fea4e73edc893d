/**
 * Small DOM helpers shared by the three pages: element lookup that fails loudly, element
 * creation without innerHTML (every text from the server goes in as text, never as markup),
 * step switching with focus management, announcements for screen readers, downloads and
 * copying to the clipboard.
 *
 * Why no framework: three small pages, a strict CSP (no inline script, no eval) and a bundle a
 * reviewer can read; the helpers below are all the pages need.
 */

/** The element with this id; throws if the page lacks it (a page/script mismatch is a bug). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

type Child = Node | string | null | undefined | false;

/**
 * Create an element.
 * @param tag - tag name
 * @param attrs - attributes (string values) and `class`; `hidden`/`disabled` as booleans
 * @param children - nodes or text (text is inserted as text, never parsed)
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  append(el, ...children);
  return el;
}

/** Append children (text as text). */
export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/** Messages scheduled by `say` and not yet shown, per element. */
const pending = new WeakMap<Element, number>();

function cancelPending(el: Element): void {
  const t = pending.get(el);
  if (t !== undefined) window.clearTimeout(t);
  pending.delete(el);
}

/** Replace an element's content (and cancel a message `say` had scheduled for it). */
export function setContent(el: Element, ...children: Child[]): void {
  cancelPending(el);
  el.replaceChildren();
  append(el, ...children);
}

/**
 * Show one of a set of sections and hide the others; move the keyboard focus to the shown
 * section's heading so that screen readers announce the new step and Tab starts there.
 * @param ids - ids of all the step sections
 * @param show - id of the one to show
 */
export function showStep(ids: readonly string[], show: string): void {
  for (const id of ids) byId(id).hidden = id !== show;
  const heading = byId(show).querySelector<HTMLElement>('h2, h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
  window.scrollTo(0, 0);
}

/**
 * Show a message in a live region (role="alert" or aria-live). The text is cleared first so
 * that the same message said twice is announced twice.
 * @param el - the live region
 * @param text - the message; '' hides the region
 * @param kind - styling: error, ok or info
 */
export function say(el: HTMLElement, text: string, kind: 'error' | 'ok' | 'info' = 'error'): void {
  cancelPending(el);
  el.textContent = '';
  el.dataset.kind = kind;
  el.hidden = text === '';
  if (text !== '') {
    pending.set(
      el,
      window.setTimeout(() => {
        pending.delete(el);
        el.textContent = text;
      }, 30),
    );
  }
}

/** Offer `text` as a file download named `filename`. */
export function download(filename: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: filename });
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Copy text to the clipboard. Falls back to selecting the text in `fallback` so the voter can
 * copy it by hand when the browser refuses (no permission, plain http on another host).
 * @returns whether the text was copied
 */
export async function copyText(text: string, fallback?: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallback) {
      const range = document.createRange();
      range.selectNodeContents(fallback);
      const sel = window.getSelection();
      sel?.removeAllRanges();
      sel?.addRange(range);
    }
    return false;
  }
}

/** Read a chosen file as text (receipts, token files), at most `maxBytes`. */
export async function readFileText(file: File, maxBytes: number): Promise<string> {
  if (file.size > maxBytes) throw new Error(`the file is larger than ${Math.round(maxBytes / 1024)} KiB`);
  return file.text();
}
