/**
 * CSV as RFC 4180 describes it (a header row, fields quoted when they hold a comma, a quote or a
 * line break, quotes doubled), with LF line ends, which every CSV reader accepts and Unix tools prefer.
 */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function toCsv(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return [headers, ...rows].map((row) => row.map(csvField).join(',')).join('\n') + '\n';
}
