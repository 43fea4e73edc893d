/**
 * A tracker as people read it: 64 hex digits in groups of four, which wrap on a phone and are
 * easy to compare by eye. The groups are separate boxes, not separated by spaces, so that
 * selecting and copying the tracker by hand still gives the exact 64 digits.
 */
import { h } from './dom.js';

/** The tracker as a node; `aria-label` reads it as one string. */
export function trackerNode(tracker: string): HTMLElement {
  const groups = tracker.match(/.{1,4}/g) ?? [];
  return h('span', { class: 'tracker-digits', translate: 'no' }, ...groups.map((g) => h('span', { class: 'group' }, g)));
}
