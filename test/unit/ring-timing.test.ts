import { describe, expect, it } from 'vitest';
import { backfillBuckets } from '../../src/simulate/ring-timing.js';

// Goldmane's model (docs/goldmane-api.md §2.2): R = last rollover, now = R + 7.
const R = 1_764_000_000;
const NOW = R + 7;

function summary(buckets: number[]): [number, number | undefined, number | undefined] {
  return [buckets.length, buckets[0], buckets.at(-1)];
}

describe('the simulator backfills like Goldmane', () => {
  it('sends nothing for 0 (live only)', () => {
    expect(backfillBuckets(0, NOW)).toEqual([]);
  });

  it('replays the whole ring for a start in the filling bucket (-5)', () => {
    expect(summary(backfillBuckets(-5, NOW))).toEqual([239, R - 3600, R - 30]);
  });

  it('sends nothing for a start in the streaming bucket (-10, -16)', () => {
    expect(backfillBuckets(-10, NOW)).toEqual([]);
    expect(backfillBuckets(-16, NOW)).toEqual([]);
  });

  it('counts buckets from the one holding the start: -30 → 1, -45 → 2, -3540 → 235, -3601 → 239', () => {
    expect(summary(backfillBuckets(-30, NOW))).toEqual([1, R - 30, R - 30]);
    expect(backfillBuckets(-45, NOW)).toEqual([R - 45, R - 30]);
    expect(backfillBuckets(-3540, NOW)).toHaveLength(235);
    expect(backfillBuckets(-3601, NOW)).toHaveLength(239);
  });

  it('sends nothing, silently, for a start older than the ring (-3615; -3601 at the rollover itself)', () => {
    expect(backfillBuckets(-3615, NOW)).toEqual([]);
    expect(backfillBuckets(-3601, R)).toEqual([]);
  });

  it('treats a positive start as absolute unix seconds', () => {
    expect(backfillBuckets(R - 44, NOW)).toEqual([R - 45, R - 30]);
  });
});
