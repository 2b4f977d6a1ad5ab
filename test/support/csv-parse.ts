/**
 * A strict RFC 4180 reader (quoted fields, doubled quotes, CRLF or LF) for round-trip tests of the
 * CSV the commands write. Throws on a stray quote or a ragged row instead of guessing.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quotedField = false;
  const endField = (): void => {
    row.push(field);
    field = '';
    quotedField = false;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      if (field !== '' || quotedField) throw new Error(`CSV: stray quote at ${i}`);
      quotedField = true;
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('CSV: unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i];
        i++;
      }
      if (i < text.length && !',\r\n'.includes(text[i]!))
        throw new Error(`CSV: text after a closing quote at ${i}`);
    } else if (c === ',') {
      endField();
      i++;
    } else if (c === '\r' || c === '\n') {
      endField();
      rows.push(row);
      row = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      if (quotedField) throw new Error(`CSV: text after a closing quote at ${i}`);
      field += c;
      i++;
    }
  }
  if (field !== '' || quotedField || row.length > 0) {
    endField();
    rows.push(row);
  }
  const width = rows[0]?.length ?? 0;
  rows.forEach((r, n) => {
    if (r.length !== width) throw new Error(`CSV: row ${n} has ${r.length} fields, the header ${width}`);
  });
  return rows;
}
