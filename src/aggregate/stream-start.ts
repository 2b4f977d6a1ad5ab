/**
 * What to ask Goldmane for (`start_time_gte`) when a Stream call starts. Pure.
 *
 * Goldmane's rules (docs/architecture.md, "Resume"): 0 = live only, no backfill; negative = relative
 * to the server's clock; positive = absolute. A start older than its one-hour ring backfills
 * nothing, silently. A start inside the bucket still filling (the newest ~15-30 s) wraps around its
 * ring and replays the whole hour. A start in the bucket it will flush next backfills nothing and
 * the live stream delivers that bucket next.
 */

/** Goldmane keeps 240 buckets of 15 s: one hour. */
export const GOLDMANE_HISTORY_SECONDS = 3600;
/** How far back we ask at most: a minute inside the ring, so clock skew cannot push us past its start. */
export const RESUME_WINDOW_SECONDS = 3540;
/**
 * The resume asks again for the last bucket already complete (its records are skipped as
 * duplicates), never for the bucket after it: that one may be the bucket Goldmane is about to
 * flush, or, with clocks a few seconds apart, the one still filling, which replays the whole hour.
 */
const BUCKET_SECONDS = 15;
/**
 * And never for anything in the newest 45 s by our clock: the filling bucket plus a bucket of
 * clock skew. Asking earlier only re-sends completed buckets, which are skipped.
 */
const NEWEST_UNSAFE_SECONDS = 45;
/**
 * When the stream was last known connected at time T, buckets flushed before T (start + 30 s) were
 * received. One more bucket of margin: a gap is better overstated than hidden.
 */
const CONNECTED_COVERAGE_LAG_SECONDS = 45;

/** A span of time, unix seconds [from, to), in which the trail may have missed flows. */
export interface ObservationGap {
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

export interface StreamStartPlan {
  /** The value for FlowStreamRequest.start_time_gte. */
  readonly startTimeGte: number;
  readonly gap: ObservationGap | null;
  /** For the log line. */
  readonly description: string;
}

export interface StreamStartInput {
  /** Start of the first bucket not yet complete (unix seconds), or null before the first ever run. */
  readonly resumeFrom: number | null;
  /** Last time (unix seconds) the stream was known connected, or null. */
  readonly observedUntil: number | null;
  readonly nowSeconds: number;
}

export function planStreamStart({
  resumeFrom,
  observedUntil,
  nowSeconds,
}: StreamStartInput): StreamStartPlan {
  if (resumeFrom === null) {
    return {
      startTimeGte: -RESUME_WINDOW_SECONDS,
      gap: null,
      description: 'first start: backfilling the hour Goldmane holds',
    };
  }
  const windowStart = nowSeconds - RESUME_WINDOW_SECONDS;
  if (resumeFrom >= windowStart) {
    const safe = Math.floor((nowSeconds - NEWEST_UNSAFE_SECONDS) / BUCKET_SECONDS) * BUCKET_SECONDS;
    return {
      startTimeGte: Math.max(windowStart, Math.min(resumeFrom - BUCKET_SECONDS, safe)),
      gap: null,
      description: 'resuming from the last complete bucket',
    };
  }
  const coveredUntil =
    observedUntil === null
      ? resumeFrom
      : Math.floor((observedUntil - CONNECTED_COVERAGE_LAG_SECONDS) / 15) * 15;
  const from = Math.max(resumeFrom, coveredUntil);
  const gap =
    from < windowStart
      ? { from, to: windowStart, reason: 'aggregator away longer than Goldmane keeps flows' }
      : null;
  return {
    startTimeGte: -RESUME_WINDOW_SECONDS,
    gap,
    description: 'resume point older than Goldmane keeps: backfilling the hour it holds',
  };
}
