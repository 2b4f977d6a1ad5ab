/**
 * Goldmane's bucket-ring timing, as the simulator reproduces it. With R the last rollover (a
 * multiple of 15 s): the bucket was flushed to live streams at R; [R-15, R) is the
 * "streaming bucket", flushed at R+15; [R, R+15) is filling; the ring holds 240 buckets, the oldest
 * starting at R-3600.
 */

export const BUCKET_SECONDS = 15;
export const HISTORY_SECONDS = 3600;

export function floorToBucket(seconds: number): number {
  return Math.floor(seconds / BUCKET_SECONDS) * BUCKET_SECONDS;
}

/** The bucket a rollover at `rollover` flushes to every live stream. */
export function bucketFlushedAt(rollover: number): number {
  return rollover - 2 * BUCKET_SECONDS;
}

/**
 * The buckets (starts, oldest first) a new Stream call receives as backfill, per Goldmane's rules:
 * 0 = none; negative = relative to now; older than the ring = none, silently; inside the streaming
 * bucket = none (it arrives live next); inside the filling or a future bucket = the whole ring,
 * because the ring's index arithmetic wraps around (Goldmane's full-hour replay quirk).
 */
export function backfillBuckets(startTimeGte: number, nowSeconds: number): number[] {
  if (startTimeGte === 0) return [];
  const start = startTimeGte < 0 ? nowSeconds + startTimeGte : startTimeGte;
  const rollover = floorToBucket(nowSeconds);
  const oldest = rollover - HISTORY_SECONDS;
  const newestFlushed = bucketFlushedAt(rollover);
  let first: number;
  if (start < oldest) return [];
  if (start >= rollover) first = oldest;
  else if (start >= rollover - BUCKET_SECONDS) return [];
  else first = floorToBucket(start);
  const buckets: number[] = [];
  for (let bucket = first; bucket <= newestFlushed; bucket += BUCKET_SECONDS) buckets.push(bucket);
  return buckets;
}
