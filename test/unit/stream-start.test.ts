import { describe, expect, it } from 'vitest';
import { planStreamStart } from '../../src/aggregate/stream-start.js';

const NOW = 1_764_000_007; // 7 s after a rollover

describe('planStreamStart', () => {
  it('backfills the hour Goldmane holds on the first ever start, with a minute of margin', () => {
    expect(planStreamStart({ resumeFrom: null, observedUntil: null, nowSeconds: NOW })).toMatchObject({
      startTimeGte: -3540,
      gap: null,
    });
  });

  it('resumes from the first bucket not yet complete, as an absolute time', () => {
    expect(
      planStreamStart({ resumeFrom: NOW - 607, observedUntil: NOW - 600, nowSeconds: NOW }),
    ).toMatchObject({
      startTimeGte: NOW - 607,
      gap: null,
    });
    // The newest bucket Goldmane has flushed starts 37 s ago here: still asked for by time.
    expect(planStreamStart({ resumeFrom: NOW - 37, observedUntil: null, nowSeconds: NOW }).startTimeGte).toBe(
      NOW - 37,
    );
  });

  it('never asks for a start in the newest 30 s (a start in the filling bucket replays the whole hour)', () => {
    for (const resumeFrom of [NOW - 22, NOW - 7, NOW + 8, NOW + 600]) {
      expect(planStreamStart({ resumeFrom, observedUntil: NOW, nowSeconds: NOW }).startTimeGte).toBe(0);
    }
  });

  it('clamps a resume point older than the ring to -3540 and records the blind span as a gap', () => {
    const plan = planStreamStart({ resumeFrom: NOW - 10_007, observedUntil: NOW - 9_000, nowSeconds: NOW });
    expect(plan.startTimeGte).toBe(-3540);
    // Connected until NOW - 9000: buckets flushed by then were received; one bucket of margin.
    expect(plan.gap).toEqual({
      from: 1_763_990_955,
      to: NOW - 3540,
      reason: 'aggregator away longer than Goldmane keeps flows',
    });
  });

  it('starts the gap at the resume point when it never knew the stream connected', () => {
    expect(
      planStreamStart({ resumeFrom: NOW - 10_007, observedUntil: null, nowSeconds: NOW }).gap,
    ).toMatchObject({
      from: NOW - 10_007,
      to: NOW - 3540,
    });
  });

  it('records no gap when it was connected (just quiet) until inside the ring', () => {
    const plan = planStreamStart({ resumeFrom: NOW - 10_007, observedUntil: NOW - 1_000, nowSeconds: NOW });
    expect(plan).toMatchObject({ startTimeGte: -3540, gap: null });
  });
});
