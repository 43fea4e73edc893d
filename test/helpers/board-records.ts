/** Test shorthand: export lines → a re-openable record source for `audit`. */
export { lineRecords as boardRecordsFromLines } from '../../auditor/source.js';
