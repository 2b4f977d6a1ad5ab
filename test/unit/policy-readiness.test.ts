import { describe, expect, it } from 'vitest';
import { deriveAllowlist, type ObservedEdge } from '../../src/policy/allowlist.js';
import {
  DAY_MS,
  assessReadiness,
  describeObservation,
  duration,
  type ObservationFacts,
} from '../../src/policy/readiness.js';

const NOW = new Date('2026-07-01T00:00:00Z');
const ago = (days: number): Date => new Date(NOW.getTime() - days * DAY_MS);

function facts(over: Partial<ObservationFacts> = {}): ObservationFacts {
  return {
    now: NOW,
    cursor: { observingSince: ago(30), observedUntil: NOW },
    edgeSpan: { firstSeen: ago(30), lastSeen: NOW },
    gaps: [],
    tables: { ingestCursor: true },
    ...over,
  };
}

function edge(dst: string, action: string, enteredDaysAgo: number): ObservedEdge {
  const at = ago(enteredDaysAgo);
  return { src: 'shop', dst, action, firstSeen: at, lastSeen: NOW, flowCount: 10n, enteredAt: at };
}

const SETTLED = deriveAllowlist('shop', [edge('dbaas', 'allow', 25), edge('redis', 'allow', 20)]);

describe('describeObservation', () => {
  it('measures from the ingest cursor', () => {
    const o = describeObservation(facts());
    expect(o.source).toBe('ingest-cursor');
    expect(o.since).toEqual(ago(30));
    expect(o.until).toEqual(NOW);
    expect(o.spanMs).toBe(30 * DAY_MS);
    expect(o.coveredMs).toBe(30 * DAY_MS);
    expect(o.notes).toEqual([]);
  });

  it('subtracts recorded gaps, clipped to the observation and merged when they overlap', () => {
    const o = describeObservation(
      facts({
        gaps: [
          { from: ago(40), to: ago(29), reason: 'before and into the window' },
          { from: ago(10), to: ago(8), reason: 'away' },
          { from: ago(9), to: ago(7), reason: 'away' },
        ],
      }),
    );
    expect(o.gaps).toEqual([
      { from: ago(30), to: ago(29), reason: 'before and into the window' },
      { from: ago(10), to: ago(7), reason: 'away' },
    ]);
    expect(o.gapMs).toBe(4 * DAY_MS);
    expect(o.coveredMs).toBe(26 * DAY_MS);
    expect(o.notes).toHaveLength(2);
    expect(o.notes[1]).toBe(
      'recorded gap from 2026-06-21T00:00:00Z to 2026-06-24T00:00:00Z (3.0 days, away): edges active only then may be missing',
    );
  });

  it('falls back to the edge table without a cursor row, and says so', () => {
    const o = describeObservation(
      facts({ cursor: null, edgeSpan: { firstSeen: ago(12), lastSeen: ago(0.5) } }),
    );
    expect(o.source).toBe('edge-table');
    expect(o.since).toEqual(ago(12));
    expect(o.until).toEqual(ago(0.5));
    expect(o.coveredMs).toBe(11.5 * DAY_MS);
    expect(o.notes[0]).toBe(
      'there is no ingest_cursor row (a database written by the original service?): observation is measured from the edge table instead, from its earliest first_seen (2026-06-19T00:00:00Z) to its latest last_seen (2026-06-30T12:00:00Z)',
    );
    // Half a day without a new last_seen: the trail is stale.
    expect(o.notes[1]).toMatch(
      /^the trail has not observed anything since 2026-06-30T12:00:00Z \(12\.0 hours ago\)/,
    );
  });

  it('says when the aggregator tables are missing and gaps are unknown', () => {
    const o = describeObservation(facts({ cursor: null, gaps: null, tables: { ingestCursor: false } }));
    expect(o.source).toBe('edge-table');
    expect(o.gaps).toBeNull();
    expect(o.notes[0]).toMatch(/^the ingest_cursor table is missing or not readable/);
    expect(o.notes[1]).toBe(
      'the observation_gap table is missing or not readable: gaps in the observation are unknown',
    );
  });

  it('knows an empty trail', () => {
    const o = describeObservation(facts({ cursor: null, edgeSpan: { firstSeen: null, lastSeen: null } }));
    expect(o.source).toBe('none');
    expect(o.coveredMs).toBe(0);
  });
});

describe('assessReadiness', () => {
  it('2 days of observation: not ready, and says why', () => {
    const o = describeObservation(facts({ cursor: { observingSince: ago(2), observedUntil: NOW } }));
    const r = assessReadiness(o, SETTLED);
    expect(r.verdict).toBe('not-ready');
    expect(r.reasons).toEqual([
      'observed for 2.0 days; collect at least 7.0 days of edges before treating an allow set as complete (a weekly job or a 7-day credential rotation may not have run yet)',
    ]);
  });

  it('30 days, allow set unchanged for 20 days: ready', () => {
    const r = assessReadiness(describeObservation(facts()), SETTLED);
    expect(r.verdict).toBe('ready');
    expect(r.reasons).toEqual([]);
    expect(r.sinceLastNewAllowedMs).toBe(20 * DAY_MS);
    expect(r.attention).toEqual([]);
  });

  it('a gap that leaves less than 7 observed days: not ready, with the gap subtracted', () => {
    const o = describeObservation(
      facts({
        cursor: { observingSince: ago(10), observedUntil: NOW },
        gaps: [{ from: ago(6), to: ago(2), reason: 'aggregator away' }],
      }),
    );
    const r = assessReadiness(o, SETTLED);
    expect(r.verdict).toBe('not-ready');
    expect(r.reasons[0]).toBe(
      'observed for 6.0 days (10.0 days minus 4.0 days of recorded gaps); collect at least 7.0 days of edges before treating an allow set as complete (a weekly job or a 7-day credential rotation may not have run yet)',
    );
  });

  it('exactly 7 observed days is enough', () => {
    const o = describeObservation(facts({ cursor: { observingSince: ago(7), observedUntil: NOW } }));
    const list = deriveAllowlist('shop', [edge('dbaas', 'allow', 7)]);
    expect(assessReadiness(o, list).verdict).toBe('ready');
  });

  it('an allow set that grew 2 days ago is stabilizing; a new denied edge is attention, not instability', () => {
    const o = describeObservation(facts());
    const grew = deriveAllowlist('shop', [edge('dbaas', 'allow', 25), edge('cache', 'allow', 2)]);
    const r = assessReadiness(o, grew);
    expect(r.verdict).toBe('stabilizing');
    expect(r.reasons).toEqual([
      'the allow set last grew 2.0 days before the end of observation; it counts as settled after 7.0 days without a new allowed destination',
    ]);

    const denied = deriveAllowlist('shop', [edge('dbaas', 'allow', 25), edge('vault', 'deny', 1)]);
    const d = assessReadiness(o, denied);
    expect(d.verdict).toBe('ready');
    expect(d.sinceLastNewEdgeMs).toBe(1 * DAY_MS);
    expect(d.attention).toEqual([
      'denied egress to vault (10 flows): a policy already drops this traffic; investigate before tightening further (the generated policy never allows a denied-only destination)',
    ]);
  });

  it('lists mixed, unclassified and off-cluster egress, and an empty allow set', () => {
    const o = describeObservation(facts());
    const list = deriveAllowlist('shop', [
      edge('-', 'allow', 25),
      edge('redis', 'allow', 25),
      edge('redis', 'deny', 25),
      edge('search', 'unspecified', 25),
    ]);
    expect(assessReadiness(o, list).attention).toEqual([
      'denied egress to redis (10 flows): a policy already drops this traffic; investigate before tightening further (the generated policy never allows a denied-only destination)',
      'traffic to redis was both allowed and denied: the generated rule allows all of redis (the trail has no ports), so check which policy denies the rest and that it stays in force',
      'egress neither allowed nor denied: search (unspecified, 10 flows); the generated policy does not allow it',
      'egress to endpoints outside the cluster was observed (10 flows): it cannot be a namespace rule; take those destinations from the Calico flow-log path',
    ]);
    const none = assessReadiness(o, deriveAllowlist('idle', []));
    expect(none.attention).toEqual([
      'no allowed egress to another namespace was observed: a policy from this trail allows only the DNS baseline',
    ]);
  });

  it('an empty trail is not ready', () => {
    const o = describeObservation(facts({ cursor: null, edgeSpan: { firstSeen: null, lastSeen: null } }));
    expect(assessReadiness(o, SETTLED)).toMatchObject({
      verdict: 'not-ready',
      reasons: ['the trail holds no observation yet'],
    });
  });
});

describe('duration', () => {
  it('says days, hours or minutes', () => {
    expect([
      duration(7 * DAY_MS),
      duration(DAY_MS),
      duration(59 * 60_000 * 1.5),
      duration(59 * 60_000),
      duration(60_000),
    ]).toEqual(['7.0 days', '1.0 days', '1.5 hours', '59 minutes', '1 minute']);
  });
});
