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

  it('resumes by asking again for the last complete bucket, as an absolute time', () => {
    // NOW - 607 is the first bucket not yet complete; NOW - 622 is the last complete one.
    expect(
      planStreamStart({ resumeFrom: NOW - 607, observedUntil: NOW - 600, nowSeconds: NOW }),
    ).toMatchObject({
      startTimeGte: NOW - 622,
      gap: null,
    });
  });

  it('never asks for anything in the newest 45 s, and never for live only (that could skip a bucket)', () => {
    // R = NOW - 7; the newest bucket Goldmane has flushed starts at R - 30. Whatever the frontier,
    // the request starts no later than R - 45: already flushed, so re-sent and skipped.
    for (const resumeFrom of [NOW - 37, NOW - 22, NOW - 7, NOW + 8, NOW + 600]) {
      expect(
        planStreamStart({ resumeFrom, observedUntil: NOW, nowSeconds: NOW }).startTimeGte,
        String(resumeFrom),
      ).toBe(NOW - 7 - 45);
    }
    expect(planStreamStart({ resumeFrom: NOW - 67, observedUntil: NOW, nowSeconds: NOW }).startTimeGte).toBe(
      NOW - 82,
    );
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
