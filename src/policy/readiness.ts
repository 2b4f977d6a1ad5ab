/**
 * Is a namespace's allowlist complete enough to enforce? Judged from the trail itself: how long it
 * has been observing (minus the gaps it recorded), how long since the namespace's allow set last
 * grew, and what else needs a human (denied, mixed, unclassified and off-cluster edges).
 * Pure: no I/O.
 *
 * The rule is the runbook's caveat: "collect ≥7 days of edges before treating a namespace's allow
 * set as complete" — a weekly CronJob or a 7-day credential rotation may not have fired yet.
 */
import type { Allowlist } from './allowlist.js';

export const DAY_MS = 86_400_000;
/** The runbook's minimum observation before an allow set counts as complete. */
export const MIN_OBSERVATION_MS = 7 * DAY_MS;
/**
 * A namespace whose allow set grew more recently than this is still changing. Seven days for the
 * same reason as the minimum: weekly jobs.
 */
export const QUIET_PERIOD_MS = 7 * DAY_MS;
/**
 * Goldmane keeps about an hour of flows: a trail not updated for longer than that has stopped
 * observing (the aggregator is down or cut off), and anything since is not counted.
 */
export const STALE_AFTER_MS = 3_600_000;

export type Verdict = 'not-ready' | 'stabilizing' | 'ready';

export interface ObservationGap {
  readonly from: Date;
  readonly to: Date;
  readonly reason: string;
}

/** What the store can tell about the trail's own observation (read by store/trail-queries.ts). */
export interface ObservationFacts {
  /** The database's clock. */
  readonly now: Date;
  /** The ingest cursor's row, or null when there is none (or it cannot be read). */
  readonly cursor: { readonly observingSince: Date | null; readonly observedUntil: Date | null } | null;
  /** min(first_seen) and max(last_seen) over the whole edge table (null when it is empty). */
  readonly edgeSpan: { readonly firstSeen: Date | null; readonly lastSeen: Date | null };
  /** null: the gap table cannot be read, so gaps are unknown. */
  readonly gaps: readonly ObservationGap[] | null;
  readonly tables: { readonly ingestCursor: boolean };
}

export type ObservationSource = 'ingest-cursor' | 'edge-table' | 'none';

export interface TrailObservation {
  readonly now: Date;
  /** Where since/until come from: the aggregator's cursor, or (fallback) the edge table's span. */
  readonly source: ObservationSource;
  readonly since: Date | null;
  readonly until: Date | null;
  /** Recorded gaps clipped to [since, until] and merged; null when gaps are unknown. */
  readonly gaps: readonly ObservationGap[] | null;
  readonly spanMs: number;
  readonly gapMs: number;
  /** spanMs minus gapMs: the time the trail actually observed. */
  readonly coveredMs: number;
  /** Global caveats: fallback source, unknown gaps, recorded gaps, a stale trail. */
  readonly notes: readonly string[];
}

export interface Readiness {
  readonly verdict: Verdict;
  /** Why the verdict is not `ready` (empty when it is). */
  readonly reasons: readonly string[];
  /** Namespace-specific things to look at before enforcing, whatever the verdict. */
  readonly attention: readonly string[];
  /** Time from when the namespace's newest edge (any action) entered the table to the end of observation. */
  readonly sinceLastNewEdgeMs: number | null;
  /** The same for its newest allow edge: how long the allow set has not grown. The verdict uses this. */
  readonly sinceLastNewAllowedMs: number | null;
}

/** Days with one decimal, for annotations. */
export function days(ms: number): string {
  return (ms / DAY_MS).toFixed(1);
}

/** A span for people: days from one day up, hours from one hour up, minutes below that. */
export function duration(ms: number): string {
  if (ms >= DAY_MS) return `${days(ms)} days`;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  return `${(ms / 3_600_000).toFixed(1)} hours`;
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Gaps clipped to the window, sorted and merged so that overlapping gaps are not subtracted twice. */
function clipGaps(gaps: readonly ObservationGap[], since: Date, until: Date): ObservationGap[] {
  const clipped = gaps
    .map((gap) => ({
      from: new Date(Math.max(gap.from.getTime(), since.getTime())),
      to: new Date(Math.min(gap.to.getTime(), until.getTime())),
      reason: gap.reason,
    }))
    .filter((gap) => gap.to > gap.from)
    .sort((a, b) => a.from.getTime() - b.from.getTime());
  const merged: ObservationGap[] = [];
  for (const gap of clipped) {
    const last = merged.at(-1);
    if (last !== undefined && gap.from <= last.to) {
      merged[merged.length - 1] = {
        from: last.from,
        to: gap.to > last.to ? gap.to : last.to,
        reason: last.reason === gap.reason ? last.reason : `${last.reason}; ${gap.reason}`,
      };
    } else {
      merged.push(gap);
    }
  }
  return merged;
}

export function describeObservation(facts: ObservationFacts): TrailObservation {
  const notes: string[] = [];
  let source: ObservationSource;
  let since: Date | null;
  let until: Date | null;
  const cursorSince = facts.cursor?.observingSince ?? null;
  if (cursorSince !== null) {
    source = 'ingest-cursor';
    since = cursorSince;
    until = facts.cursor?.observedUntil ?? facts.edgeSpan.lastSeen;
  } else {
    since = facts.edgeSpan.firstSeen;
    until = facts.edgeSpan.lastSeen;
    source = since === null ? 'none' : 'edge-table';
    const why = !facts.tables.ingestCursor
      ? 'the ingest_cursor table is missing or not readable (a database of the original service?)'
      : facts.cursor === null
        ? 'there is no ingest_cursor row (a database written by the original service?)'
        : 'the aggregator has not recorded where its observation starts yet';
    notes.push(
      since === null
        ? `${why}, and the edge table is empty: nothing has been observed`
        : `${why}: observation is measured from the edge table instead, from its earliest first_seen (${iso(since)}) to its latest last_seen (${until === null ? 'unknown' : iso(until)})`,
    );
  }
  if (since !== null && until !== null && until < since) until = since;

  let gaps: ObservationGap[] | null = null;
  if (facts.gaps === null) {
    notes.push('the observation_gap table is missing or not readable: gaps in the observation are unknown');
  } else if (since !== null && until !== null) {
    gaps = clipGaps(facts.gaps, since, until);
    for (const gap of gaps) {
      notes.push(
        `recorded gap from ${iso(gap.from)} to ${iso(gap.to)} (${duration(gap.to.getTime() - gap.from.getTime())}, ${gap.reason}): edges active only then may be missing`,
      );
    }
  } else {
    gaps = [];
  }
  const spanMs = since === null || until === null ? 0 : until.getTime() - since.getTime();
  const gapMs = (gaps ?? []).reduce((sum, gap) => sum + (gap.to.getTime() - gap.from.getTime()), 0);
  if (until !== null && facts.now.getTime() - until.getTime() > STALE_AFTER_MS) {
    notes.push(
      `the trail has not observed anything since ${iso(until)} (${duration(facts.now.getTime() - until.getTime())} ago): is the aggregator running? Flows since then are not counted`,
    );
  }
  return {
    now: facts.now,
    source,
    since,
    until,
    gaps,
    spanMs,
    gapMs,
    coveredMs: Math.max(0, spanMs - gapMs),
    notes,
  };
}

function namespaceAttention(allowlist: Allowlist): string[] {
  const attention: string[] = [];
  if (allowlist.denied.length > 0) {
    const list = allowlist.denied.map((d) => `${d.dst} (${d.flowCount} flows)`).join(', ');
    attention.push(
      `denied egress to ${list}: a policy already drops this traffic; investigate before tightening further (the generated policy never allows a denied-only destination)`,
    );
  }
  for (const mixed of allowlist.allowed.filter((a) => a.alsoDenied)) {
    attention.push(
      `traffic to ${mixed.dst} was both allowed and denied: the generated rule allows all of ${mixed.dst} (the trail has no ports), so check which policy denies the rest and that it stays in force`,
    );
  }
  if (allowlist.other.length > 0) {
    const list = allowlist.other.map((o) => `${o.dst} (${o.action}, ${o.flowCount} flows)`).join(', ');
    attention.push(`egress neither allowed nor denied: ${list}; the generated policy does not allow it`);
  }
  const offCluster = allowlist.allowed.find((a) => a.offCluster);
  if (offCluster !== undefined) {
    attention.push(
      `egress to endpoints outside the cluster was observed (${offCluster.flowCount} flows): it cannot be a namespace rule; take those destinations from the Calico flow-log path`,
    );
  }
  if (allowlist.allowed.every((a) => a.offCluster)) {
    attention.push(
      'no allowed egress to another namespace was observed: a policy from this trail allows only the DNS baseline',
    );
  }
  return attention;
}

export function assessReadiness(observation: TrailObservation, allowlist: Allowlist): Readiness {
  const reasons: string[] = [];
  const until = observation.until;
  const sinceUntil = (at: Date | null): number | null =>
    until === null || at === null ? null : Math.max(0, until.getTime() - at.getTime());
  const sinceLastNewEdgeMs = sinceUntil(allowlist.lastNewEdgeAt);
  // Only a new allow edge changes the policy; a new denied edge is an attention item instead.
  const sinceLastNewAllowedMs = sinceUntil(allowlist.lastNewAllowedAt);
  let verdict: Verdict;
  if (observation.since === null) {
    verdict = 'not-ready';
    reasons.push('the trail holds no observation yet');
  } else if (observation.coveredMs < MIN_OBSERVATION_MS) {
    verdict = 'not-ready';
    const gapPart =
      observation.gapMs > 0
        ? ` (${duration(observation.spanMs)} minus ${duration(observation.gapMs)} of recorded gaps)`
        : '';
    reasons.push(
      `observed for ${duration(observation.coveredMs)}${gapPart}; collect at least ${duration(MIN_OBSERVATION_MS)} of edges before treating an allow set as complete (a weekly job or a 7-day credential rotation may not have run yet)`,
    );
  } else if (sinceLastNewAllowedMs !== null && sinceLastNewAllowedMs < QUIET_PERIOD_MS) {
    verdict = 'stabilizing';
    reasons.push(
      `the allow set last grew ${duration(sinceLastNewAllowedMs)} before the end of observation; it counts as settled after ${duration(QUIET_PERIOD_MS)} without a new allowed destination`,
    );
  } else {
    verdict = 'ready';
  }
  return {
    verdict,
    reasons,
    attention: namespaceAttention(allowlist),
    sinceLastNewEdgeMs,
    sinceLastNewAllowedMs,
  };
}
