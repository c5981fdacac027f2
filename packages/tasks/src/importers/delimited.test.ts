import { ArtifactError } from '@circuit-tuning/contracts';
import { describe, expect, it } from 'vitest';
import { parseDelimited } from './delimited';

const parse = (text: string, delimiter: ',' | '\t' = ',') => parseDelimited(text, delimiter, 'pairs.csv');

function errorOf(text: string, delimiter: ',' | '\t' = ','): ArtifactError {
  try {
    parse(text, delimiter);
  } catch (error) {
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).file).toBe('pairs.csv');
    return error as ArtifactError;
  }
  throw new Error('expected an error');
}

describe('parseDelimited (RFC 4180)', () => {
  it('splits a header and records, keeping spaces, with LF or CRLF and an optional last line break', () => {
    for (const eol of ['\n', '\r\n']) {
      const table = parse(['clean,corrupted,answer,foil', 'the key, the keys, is, are', 'a,b,c,d'].join(eol));
      expect(table.header).toEqual(['clean', 'corrupted', 'answer', 'foil']);
      expect(table.records).toEqual([
        { line: 2, row: 1, fields: ['the key', ' the keys', ' is', ' are'] },
        { line: 3, row: 2, fields: ['a', 'b', 'c', 'd'] },
      ]);
      expect(parse(`a,b${eol}1,2${eol}`).records).toEqual([{ line: 2, row: 1, fields: ['1', '2'] }]);
    }
  });

  it('reads quoted fields with delimiters, doubled quotes and line breaks, and counts lines across them', () => {
    const table = parse('a,b\n"x, y","say ""hi"""\n"two\nlines",z\n\nlast,""\n');
    expect(table.records).toEqual([
      { line: 2, row: 1, fields: ['x, y', 'say "hi"'] },
      { line: 3, row: 2, fields: ['two\nlines', 'z'] },
      { line: 6, row: 3, fields: ['last', ''] },
    ]);
  });

  it('reads TSV with the same quoting, drops a byte-order mark, and keeps a quote inside an unquoted field', () => {
    const table = parse('\uFEFFclean\tanswer\nhe said "no\t is\n"a\tb"\tc\n', '\t');
    expect(table.header).toEqual(['clean', 'answer']);
    expect(table.records.map((r) => r.fields)).toEqual([
      ['he said "no', ' is'],
      ['a\tb', 'c'],
    ]);
  });

  it('names the file and the line of an unterminated quote, text after a closing quote, and a wrong field count', () => {
    expect(errorOf('a,b\n1,2\n"open,3\n4,5\n').message).toMatch(/^pairs\.csv: line 3: a quoted field is never closed \(unterminated quote\)/);
    expect(errorOf('a,b\n1,2\n"open,3\n4,5\n').hint).toMatch(/written twice/);
    expect(errorOf('a,b\n"x"y,2\n').message).toMatch(/^pairs\.csv: line 2: text after the closing quote of a field \("y,2\\n"\)/);
    const count = errorOf('clean,corrupted,answer,foil\na,b,c,d\nthe key, to the cabinet,the keys to the cabinet,is,are\n');
    expect(count.message).toBe('pairs.csv: line 3: 5 fields, but the header has 4 (clean, corrupted, answer, foil)');
    expect(count.hint).toMatch(/must be quoted/);
    // The line of a record after a multi-line field is its own.
    expect(errorOf('a,b\n"x\ny",1\n2\n').message).toMatch(/^pairs\.csv: line 4: 1 fields/);
    expect(errorOf('').message).toMatch(/holds no rows/);
    expect(errorOf('\n\n').message).toMatch(/holds no rows/);
  });
});
