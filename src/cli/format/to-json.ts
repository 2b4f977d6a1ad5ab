/**
 * JSON output. bigint values (flow counts) are written as decimal strings: JSON numbers above
 * 2^53 lose precision in JavaScript and jq, and a flow count must survive exactly (field case F10).
 * Dates are ISO 8601 in UTC.
 */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}
