/**
 * CSV and TSV as RFC 4180 describes them (https://www.rfc-editor.org/rfc/rfc4180): records end
 * with CRLF or LF; a field may be enclosed in double quotes, and then holds delimiters, line breaks
 * and quotes written twice (`""`); spaces belong to the field. The first record is the header.
 * Two leniencies that spreadsheet exports need: a UTF-8 byte-order mark is dropped, and a quote
 * inside an unquoted field is kept as a character (Python's csv module reads both the same way).
 *
 * A structural problem (a quoted field never closed, text after a closing quote, a record with
 * another number of fields than the header) is an ArtifactError naming the file and the line: the
 * rest of the file cannot be trusted to be split into the right fields.
 */
import { ArtifactError } from '@circuit-tuning/contracts';
import { readArtifactText } from '@circuit-tuning/runtime';

export interface DelimitedRecord {
  /** 1-based line where the record starts (a quoted field may span lines). */
  readonly line: number;
  /** 1-based data row (the header is not a row). */
  readonly row: number;
  readonly fields: readonly string[];
}

export interface DelimitedTable {
  readonly header: readonly string[];
  readonly records: readonly DelimitedRecord[];
}

/** Reads a CSV (delimiter `,`) or TSV (`\t`) file. */
export async function readDelimitedFile(path: string, delimiter: ',' | '\t'): Promise<DelimitedTable> {
  const text = await readArtifactText(path);
  return parseDelimited(text, delimiter, path);
}

/** Parses delimited text; `file` names the source in errors. Blank lines between records are skipped. */
export function parseDelimited(input: string, delimiter: ',' | '\t', file: string): DelimitedTable {
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const name = delimiter === ',' ? 'CSV' : 'TSV';
  const rows: { line: number; fields: string[] }[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const start = line;
    // A blank line is no record (a trailing newline, or spacing between blocks).
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line += 1;
      continue;
    }
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const opened = line;
        i += 1;
        for (;;) {
          if (i >= text.length) throw new ArtifactError(file, `line ${opened}: a quoted field is never closed (unterminated quote)`, { hint: `in ${name}, a quote inside a quoted field is written twice ("")` });
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i += 1;
            break;
          }
          if (ch === '\n') line += 1;
          field += ch;
          i += 1;
        }
        const next = text[i];
        if (next !== undefined && next !== delimiter && next !== '\n' && !(next === '\r' && text[i + 1] === '\n')) {
          throw new ArtifactError(file, `line ${line}: text after the closing quote of a field (${JSON.stringify(text.slice(i, i + 10))})`, {
            hint: `quote the whole field, and write a quote inside it twice ("")`,
          });
        }
      } else {
        while (i < text.length && text[i] !== delimiter && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          field += text[i];
          i += 1;
        }
      }
      fields.push(field);
      if (text[i] === delimiter) {
        i += 1;
        continue;
      }
      // End of record: a line break or the end of the text.
      if (text[i] === '\r') i += 1;
      if (text[i] === '\n') {
        i += 1;
        line += 1;
      }
      break;
    }
    rows.push({ line: start, fields });
  }
  const head = rows.shift();
  if (head === undefined) throw new ArtifactError(file, `holds no rows (an empty ${name} file)`);
  const header = head.fields.map((h) => h.trim());
  const records = rows.map((r, k) => {
    if (r.fields.length !== header.length) {
      throw new ArtifactError(file, `line ${r.line}: ${r.fields.length} fields, but the header has ${header.length} (${header.join(', ')})`, {
        hint: `a field holding the delimiter (${delimiter === ',' ? 'a comma' : 'a tab'}) must be quoted: "like, this"`,
      });
    }
    return { line: r.line, row: k + 1, fields: r.fields };
  });
  return { header, records };
}
