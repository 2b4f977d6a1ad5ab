/**
 * Dates as people in the display timezone read them. Always an explicit IANA zone, never the
 * container's local time (which is UTC in a pod and anything on a laptop).
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True when `timeZone` is an IANA zone this runtime knows (Europe/London, UTC, ...). */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** `2026-06-25 08:00` in the given zone. */
export function formatInZone(date: Date, timeZone: string): string {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(date)) parts[part.type] = part.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** `9,007,199,254,740,993`: exact for any int8 (a bigint, never a lossy number). */
export function formatCount(count: bigint): string {
  const digits = (count < 0n ? -count : count).toString();
  const grouped = digits.replace(/\B(?=(\d{3})+$)/g, ',');
  return count < 0n ? `-${grouped}` : grouped;
}
