/**
 * JSON output. Flow counts (bigint) are written as decimal strings: JSON numbers above 2^53 lose
 * precision in JavaScript and jq, and a flow count must survive exactly (field case F10). Callers
 * convert them with toString(); a bigint left in by mistake makes JSON.stringify throw rather than
 * round. Dates become ISO 8601 in UTC. (No replacer function: it made 100,000 edges 3x slower.)
 */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
