/**
 * Plain aligned text tables for people: a header row, two spaces between columns, numbers aligned
 * right. No colour and no truncation, so the output is the same on a terminal and in a pipe.
 */
export interface TableColumn {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

export function renderTextTable(
  columns: readonly TableColumn[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        return column.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map((row) => line(row))].join('\n') + '\n';
}
