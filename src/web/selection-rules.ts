/**
 * The rules of a question (min, max) in the words a voter reads, and the check of a
 * selection against them with a message that says what to do (issue #6: "min and max
 * enforced in the page with clear messages").
 *
 * The encoding (src/election/ballot-encoding.ts `encodeSelection`) enforces the same rules
 * again, and the server's proofs make them impossible to break; this module only makes the
 * page say so before the voter goes on, in plain words rather than "select between 1 and 1".
 */
import type { ManifestQuestion } from '../election/manifest.js';

/**
 * The instruction shown under a question.
 * @param q - a validated question, 0 ≤ min ≤ max ≤ options
 */
export function ruleText(q: Pick<ManifestQuestion, 'min' | 'max'>): string {
  const { min, max } = q;
  if (min === max) return min === 1 ? 'Choose one option.' : `Choose exactly ${min} options.`;
  if (min === 0) return max === 1 ? 'Choose one option, or none to leave this question blank.' : `Choose up to ${max} options, or none to leave this question blank.`;
  return `Choose from ${min} to ${max} options.`;
}

/** Whether a question is answered with radio buttons (exactly one option) or checkboxes. */
export function isSingleChoice(q: Pick<ManifestQuestion, 'min' | 'max'>): boolean {
  return q.min === 1 && q.max === 1;
}

/**
 * Check how many options are selected.
 * @param q - the question
 * @param selected - number of selected options, ≥ 0
 * @returns undefined if the selection follows the rules, else a message telling the voter what to change
 */
export function selectionProblem(q: Pick<ManifestQuestion, 'title' | 'min' | 'max'>, selected: number): string | undefined {
  if (selected < q.min) {
    const missing = q.min - selected;
    if (q.min === 1) return `“${q.title}”: choose an option.`;
    return `“${q.title}”: choose ${missing} more option${missing === 1 ? '' : 's'} (at least ${q.min}).`;
  }
  if (selected > q.max) {
    const extra = selected - q.max;
    return `“${q.title}”: you chose ${selected} options; the most is ${q.max}. Remove ${extra}.`;
  }
  return undefined;
}

/** Whether one more option may be ticked (used to explain, not to block, at the moment of ticking). */
export function atMaximum(q: Pick<ManifestQuestion, 'max'>, selected: number): boolean {
  return selected >= q.max;
}
