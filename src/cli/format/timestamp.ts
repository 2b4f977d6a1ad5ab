/** A timestamp for tables: ISO 8601 in UTC to the second; '-' when unknown. */
export function formatTimestamp(date: Date | null): string {
  if (date === null) return '-';
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
