/**
 * A strict RFC 4180 CSV reader that reports every malformed record with its line number and
 * keeps going, so an import can list all problems of a file at once.
 *
 * Why a hand-written reader: the register import must never guess. RFC 4180 is small
 * (fields separated by commas, records by CRLF, a field in double quotes may contain commas,
 * line breaks and doubled quotes), and the only liberties taken are the ones every
 * spreadsheet needs: LF alone also ends a record, and empty lines are ignored. Everything
 * else that RFC 4180 does not define is an error rather than a guess: a quote inside an
 * unquoted field, text after a closing quote, a carriage return not followed by a line feed,
 * an unterminated quoted field.
 *
 * Line numbers are physical (1-based) lines of the file; a record is reported at the line on
 * which it starts, which is where a person looks for it even when a quoted field spans lines.
 * Internal module: used by csv-import.ts.
 */

/** One record: its fields and the line on which it starts. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: readonly string[];
}

/** A malformed record. */
export interface CsvSyntaxError {
  readonly line: number;
  readonly message: string;
}

/** Result of parseCsv. */
export interface CsvParseResult {
  readonly records: CsvRecord[];
  readonly errors: CsvSyntaxError[];
}

/**
 * Read CSV text.
 * @param text - decoded text, without a byte-order mark
 * @param maxFields - most fields per record (1 ≤ maxFields); longer records are errors, and
 *   their extra fields are not kept
 * @returns well-formed records and the errors, both in file order
 */
export function parseCsv(text: string, maxFields: number): CsvParseResult {
  const records: CsvRecord[] = [];
  const errors: CsvSyntaxError[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;

  /** After an error: skip past the end of the current physical line. */
  const skipLine = (): void => {
    const nl = text.indexOf('\n', i);
    i = nl === -1 ? n : nl + 1;
    if (nl !== -1) line++;
  };

  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let error: string | undefined;
    let fieldCount = 0;

    for (;;) {
      let field: string;
      if (text[i] === '"') {
        // Quoted field: up to the next quote not followed by another quote.
        const parts: string[] = [];
        let j = i + 1;
        let closed = false;
        while (j < n) {
          const q = text.indexOf('"', j);
          const chunk = text.slice(j, q === -1 ? n : q);
          for (let k = chunk.indexOf('\n'); k !== -1; k = chunk.indexOf('\n', k + 1)) line++;
          parts.push(chunk);
          if (q === -1) {
            j = n;
            break;
          }
          if (text[q + 1] === '"') {
            parts.push('"');
            j = q + 2;
          } else {
            j = q + 1;
            closed = true;
            break;
          }
        }
        i = j;
        if (!closed) {
          error = 'unterminated quoted field (a " is missing)';
          break;
        }
        field = parts.join('');
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\r' && next !== '\n') {
          error = `unexpected ${JSON.stringify(next)} after a closing quote (write "" for a quote inside a quoted field)`;
          break;
        }
      } else {
        // Unquoted field: up to the next comma or line break.
        let j = i;
        while (j < n) {
          const c = text[j];
          if (c === ',' || c === '\r' || c === '\n') break;
          if (c === '"') break;
          j++;
        }
        if (text[j] === '"') {
          i = j;
          error = 'a " inside an unquoted field (quote the whole field and double the quote)';
          break;
        }
        field = text.slice(i, j);
        i = j;
      }

      fieldCount++;
      if (fields.length < maxFields) fields.push(field);
      const c = text[i];
      if (c === ',') {
        i++;
        continue;
      }
      if (c === '\r') {
        if (text[i + 1] !== '\n') {
          error = 'a carriage return not followed by a line feed';
          break;
        }
        i += 2;
        line++;
      } else if (c === '\n') {
        i++;
        line++;
      }
      break; // end of record (line break or end of text)
    }

    if (error !== undefined) {
      errors.push({ line: start, message: error });
      // Resynchronize at the next line; the rest of this record is unreliable.
      skipLine();
      continue;
    }
    if (fieldCount > maxFields) {
      errors.push({ line: start, message: `expected at most ${maxFields} fields, got ${fieldCount}` });
      continue;
    }
    if (fieldCount === 1 && fields[0] === '') continue; // empty line
    records.push({ line: start, fields });
  }
  return { records, errors };
}
