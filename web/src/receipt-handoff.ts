/**
 * Passing the receipt from the booth to the board page (issue #9.18): the booth's "Check it on
 * the public board" link used to fill in the tracker search only, and the voter still had to
 * find and upload the receipt they had just downloaded.
 *
 * The booth keeps the receipt in this tab's sessionStorage, under the tracker, and the board
 * page takes it (and removes it) when it opens with `?tracker=` of that receipt. sessionStorage
 * stays in this tab and dies with it; a receipt holds no secret (it is public board data plus
 * the tracker), but a shared computer need not keep it.
 */
const KEY = 'tallyboard.receipt.';

/** Booth side: keep the receipt's text for the board page of this tab. */
export function passReceipt(tracker: string, receiptText: string): void {
  try {
    sessionStorage.setItem(KEY + tracker, receiptText);
  } catch {
    // Storage refused (private mode, quota): the voter can still upload the file.
  }
}

/**
 * Board side: the receipt passed for this tracker, if any, removed from storage.
 * @param tracker - the tracker in the page's address (may be empty)
 */
export function takePassedReceipt(tracker: string): string | undefined {
  if (!/^[0-9a-f]{64}$/.test(tracker)) return undefined;
  try {
    const text = sessionStorage.getItem(KEY + tracker) ?? undefined;
    sessionStorage.removeItem(KEY + tracker);
    return text;
  } catch {
    return undefined;
  }
}
