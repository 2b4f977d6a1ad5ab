import { describe, expect, it } from 'vitest';
import { BucketLedger, type LedgerState, type PendingBatch } from '../../src/aggregate/bucket-ledger.js';
import { EdgeBatch } from '../../src/edges/edge-batch.js';
import { flowToEdge } from '../../src/edges/flow-to-edge.js';
import type { FlowRecord } from '../../src/goldmane/decode-flow-result.js';
import { seededRandom } from '../../src/simulate/flows.js';

const T = 1_764_000_000; // a multiple of 15: "now" at stream registration
const QUIET_MS = 10_000;
const NOW_MS = T * 1000;

function record(bucket: number, src: string, dst: string, key = `${src}/${dst}`, action = 1): FlowRecord {
  // The key's bytes sit inside a larger message, as in a decoded FlowResult.
  const message = Buffer.from(`<${key}>`);
  return {
    startTime: bucket,
    endTime: bucket + 15,
    sourceNamespace: src,
    destNamespace: dst,
    action,
    message,
    keyStart: 1,
    keyEnd: message.length - 1,
  };
}

function ledger(state: Partial<LedgerState> = {}): BucketLedger {
  return new BucketLedger(
    { resumeFrom: null, completedAbove: [], observedUntil: null, ...state },
    { includeOffCluster: false, quietPeriodMs: QUIET_MS },
  );
}

function rows(batch: PendingBatch): [string, string, string, number, number, number][] {
  return batch.edges
    .sortedRows()
    .map((row) => [row.src, row.dst, row.action, row.firstSeen, row.lastSeen, row.flowCount]);
}

function feed(target: BucketLedger, records: FlowRecord[], nowMs = T * 1000): string[] {
  return records.map((r) => target.accept(r, nowMs));
}

describe('BucketLedger', () => {
  it('counts a backfill in order and completes each bucket when the next one starts', () => {
    const l = ledger();
    expect(l.beginStream(T, null).startTimeGte).toBe(-3540);
    const b1 = T - 600;
    const b2 = T - 585;
    expect(
      feed(l, [
        record(b1, 'shop', 'db', 'api'),
        record(b1, 'shop', 'db', 'worker'),
        record(b2, 'shop', 'db', 'api'),
      ]),
    ).toEqual(['accepted', 'accepted', 'accepted']);
    // b2 is still open: only b1 is in the batch, and the frontier is b1's end.
    const batch = l.takeBatch();
    expect(rows(batch)).toEqual([['shop', 'db', 'allow', b1, b1 + 15, 2]]);
    expect(batch.resumeFrom).toBe(b2);
    expect(batch.records).toBe(2);
  });

  it('counts a FlowKey delivered twice in one bucket once (F8: one row, flow_count 2, then 3)', () => {
    const l = ledger();
    l.beginStream(T, null);
    const b = T - 600;
    expect(
      feed(l, [
        record(b, 'shop', 'db', 'api-* -> pg-*:5432'),
        record(b, 'shop', 'db', 'worker-* -> pg-*:5432'),
        record(b, 'shop', 'db', 'api-* -> pg-*:5432'),
      ]),
    ).toEqual(['accepted', 'accepted', 'duplicate']);
    l.accept(record(b + 15, 'shop', 'db', 'api-* -> pg-*:5432'), T * 1000);
    expect(rows(l.takeBatch())).toEqual([['shop', 'db', 'allow', b, b + 15, 2]]);
    l.accept(record(b + 30, 'shop', 'db', 'api-* -> pg-*:5432'), T * 1000);
    expect(rows(l.takeBatch())).toEqual([['shop', 'db', 'allow', b + 15, b + 30, 1]]);
  });

  it('skips a bucket it has completed when it arrives again (overlapping resume, replay)', () => {
    const l = ledger();
    l.beginStream(T, null);
    feed(l, [record(T - 600, 'a', 'b'), record(T - 585, 'a', 'b'), record(T - 570, 'a', 'b')]);
    l.takeBatch();
    l.endStream();
    l.beginStream(T + 5, null);
    expect(
      feed(l, [record(T - 600, 'a', 'b'), record(T - 585, 'a', 'b'), record(T - 570, 'a', 'b')]),
    ).toEqual(['duplicate', 'duplicate', 'accepted']);
  });

  it('survives the stream-start race: a live bucket before the backfill counts once, and the frontier waits', () => {
    const l = ledger({ resumeFrom: T - 120 });
    // The resume asks again for the last complete bucket (skipped), never for the next one.
    expect(l.beginStream(T, null).startTimeGte).toBe(T - 135);
    const live = T - 30; // flushed at a rollover between registration and backfill
    expect(feed(l, [record(live, 'a', 'b'), record(T - 120, 'a', 'b')])).toEqual(['accepted', 'accepted']);
    // Complete but out of order: it must not move the frontier past the backfill still to come.
    let batch = l.takeBatch();
    expect([batch.resumeFrom, batch.completedAbove, batch.records]).toEqual([
      T - 120,
      [{ start: live, end: live + 15 }],
      1,
    ]);

    // Backfill buckets before T - 60 arrive in order and move the frontier; T - 60 itself is in
    // the region a live bucket could also come from, so it is listed, and touches the frontier.
    feed(l, [
      record(T - 105, 'a', 'b'),
      record(T - 90, 'a', 'b'),
      record(T - 75, 'a', 'b'),
      record(T - 60, 'a', 'b'),
      record(T - 45, 'a', 'b'),
    ]);
    batch = l.takeBatch();
    expect([batch.resumeFrom, batch.completedAbove, batch.records]).toEqual([
      T - 45,
      [{ start: live, end: live + 15 }],
      5,
    ]);

    // The backfill's copy of the live bucket is skipped; the frontier absorbs the listed bucket.
    expect(feed(l, [record(live, 'a', 'b')])).toEqual(['duplicate']);
    batch = l.takeBatch();
    expect([batch.resumeFrom, batch.completedAbove, batch.records]).toEqual([T - 15, [], 1]);

    feed(l, [
      record(T - 15, 'a', 'b'),
      record(T, 'a', 'b'),
      record(T + 15, 'a', 'b'),
      record(T + 30, 'a', 'b'),
      record(T + 45, 'a', 'b'),
    ]);
    batch = l.takeBatch();
    expect([batch.resumeFrom, batch.completedAbove, batch.records]).toEqual([T + 45, [], 4]);
  });

  it('a restart from the stored state after the race neither loses nor repeats a bucket', () => {
    const first = ledger({ resumeFrom: T - 120 });
    first.beginStream(T, null);
    feed(first, [record(T - 30, 'a', 'b'), record(T - 120, 'a', 'b'), record(T - 105, 'a', 'b')]);
    const stored = first.takeBatch(); // committed, then the process dies
    expect(rows(stored)).toEqual([['a', 'b', 'allow', T - 120, T - 15, 2]]);
    const second = ledger({ resumeFrom: stored.resumeFrom, completedAbove: stored.completedAbove });
    expect(second.beginStream(T + 20, null).startTimeGte).toBe(T - 120);
    expect(
      feed(second, [
        record(T - 105, 'a', 'b'),
        record(T - 90, 'a', 'b'),
        record(T - 30, 'a', 'b'),
        record(T - 15, 'a', 'b'),
      ]),
    ).toEqual(['accepted', 'accepted', 'duplicate', 'accepted']);
  });

  it('drops a bucket cut short by the end of the stream; the resume counts it whole, once', () => {
    const l = ledger();
    l.beginStream(T, null);
    const b = T - 600;
    feed(l, [record(b - 15, 'a', 'b'), record(b, 'a', 'b', 'k1'), record(b, 'a', 'b', 'k2')]);
    l.endStream();
    const batch = l.takeBatch();
    expect(rows(batch)).toEqual([['a', 'b', 'allow', b - 15, b, 1]]);
    expect(batch.resumeFrom).toBe(b);
    l.beginStream(T + 10, null);
    expect(
      feed(l, [record(b, 'a', 'b', 'k1'), record(b, 'a', 'b', 'k2'), record(b, 'a', 'b', 'k3')]),
    ).toEqual(['accepted', 'accepted', 'accepted']);
  });

  it('completes a quiet bucket only after two quiet ticks', () => {
    const l = ledger();
    l.beginStream(T, null);
    const b = T - 600;
    l.accept(record(b, 'a', 'b'), NOW_MS);
    l.tick(NOW_MS + QUIET_MS - 1);
    l.tick(NOW_MS + QUIET_MS);
    expect(l.hasChanges()).toBe(false);
    l.tick(NOW_MS + QUIET_MS + 1_000);
    expect(rows(l.takeBatch())).toEqual([['a', 'b', 'allow', b, b + 15, 1]]);
  });

  it('a record between two quiet ticks keeps the bucket open', () => {
    const l = ledger();
    l.beginStream(T, null);
    const b = T - 600;
    l.accept(record(b, 'a', 'b', 'k1'), NOW_MS);
    l.tick(NOW_MS + QUIET_MS);
    l.accept(record(b, 'a', 'b', 'k2'), NOW_MS + QUIET_MS + 10);
    l.tick(NOW_MS + QUIET_MS + 1_000);
    expect(l.hasChanges()).toBe(false);
  });

  it('reports dropped flows without letting them break the bucket', () => {
    const l = ledger();
    l.beginStream(T, null);
    const b = T - 600;
    expect(
      feed(l, [
        record(b, 'a', 'b', 'k1'),
        record(b, '-', 'b', 'k2'),
        record(b, 'a', 'a', 'k3'),
        record(b, 'A', 'b', 'k4'),
        { ...record(b, 'a', 'b', 'k5'), startTime: 0 },
        record(b, 'a', 'b', 'k6'),
      ]),
    ).toEqual(['accepted', 'no_namespace', 'self_edge', 'invalid_namespace', 'invalid_time', 'accepted']);
    l.accept(record(b + 15, 'a', 'b'), T * 1000);
    expect(rows(l.takeBatch())).toEqual([['a', 'b', 'allow', b, b + 15, 2]]);
  });

  it('drops a record from the future or with an absurd end, so that it cannot move the frontier', () => {
    const l = ledger();
    l.beginStream(T, null);
    const b = T - 600;
    expect(
      feed(l, [
        { ...record(b, 'shop', 'db', 'k1'), endTime: 253_402_300_000 },
        record(T + 86_400, 'shop', 'db', 'k2'),
        { ...record(b, 'shop', 'db', 'k3'), endTime: b + 3601 },
        { ...record(b, 'shop', 'db', 'k4'), endTime: b },
        record(b, 'cart', 'db'),
        record(b + 15, 'web', 'api'),
        record(b + 30, 'x', 'y'),
      ]),
    ).toEqual([
      'invalid_time',
      'invalid_time',
      'invalid_time',
      'invalid_time',
      'accepted',
      'accepted',
      'accepted',
    ]);
    const batch = l.takeBatch();
    expect(batch.resumeFrom).toBe(b + 30);
    expect(rows(batch)).toEqual([
      ['cart', 'db', 'allow', b, b + 15, 1],
      ['web', 'api', 'allow', b + 15, b + 30, 1],
    ]);
    // Ten minutes ahead of our clock still counts: Goldmane's clock may run ahead.
    expect(feed(l, [record(T + 585, 'late', 'db')])).toEqual(['accepted']);
  });

  it('coalesces by (src, dst, action): first_seen is the earliest start, last_seen the latest end', () => {
    const l = ledger();
    l.beginStream(T, null);
    feed(l, [
      record(T - 600, 'a', 'b', 'k1', 1),
      record(T - 600, 'a', 'b', 'k2', 2),
      record(T - 585, 'a', 'b', 'k1', 1),
      record(T - 570, 'c', 'd', 'k1', 1),
      record(T - 555, 'x', 'y'),
    ]);
    expect(rows(l.takeBatch())).toEqual([
      ['a', 'b', 'allow', T - 600, T - 570, 2],
      ['a', 'b', 'deny', T - 600, T - 585, 1],
      ['c', 'd', 'allow', T - 570, T - 555, 1],
    ]);
  });

  it('carries a recorded gap in the next batch, once', () => {
    const l = ledger({ resumeFrom: T - 7200 });
    const plan = l.beginStream(T, T - 7000);
    expect(plan.gap).toEqual({
      from: T - 7050,
      to: T - 3540,
      reason: 'aggregator away longer than Goldmane keeps flows',
    });
    expect(l.hasChanges()).toBe(true);
    expect(l.takeBatch().gaps).toEqual([plan.gap]);
    expect(l.takeBatch().gaps).toEqual([]);
  });
});

describe('BucketLedger counts as a plain model does (a Set of key strings and an EdgeBatch per run)', () => {
  const NAMES = ['shop', 'db', 'cache', '-', '', 'Shop', 'kube-system'];

  it('on random in-order streams with repeated keys, dropped flows and changing buckets', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const random = seededRandom(seed);
      const pick = <V>(values: readonly V[]): V => values[Math.floor(random() * values.length)]!;
      const l = ledger();
      l.beginStream(T, null);
      let modelRun: { bucket: number; keys: Set<string>; edges: EdgeBatch } | null = null;
      let modelPending = new EdgeBatch();
      const complete = (): void => {
        if (modelRun !== null) modelPending.mergeFrom(modelRun.edges);
        modelRun = null;
      };
      let bucket = T - 3000;
      for (let i = 0; i < 2_000; i++) {
        if (random() < 0.02) bucket += 15 * (1 + Math.floor(random() * 3));
        const r = record(
          bucket,
          pick(NAMES),
          pick(NAMES),
          `k${Math.floor(random() * 40)}`,
          pick([0, 1, 2, 3, 9]),
        );
        const input = random() < 0.01 ? { ...r, startTime: 0 } : r;
        let expected: string;
        if (input.startTime === 0) expected = 'invalid_time';
        else {
          if (modelRun !== null && modelRun.bucket !== bucket) complete();
          modelRun ??= { bucket, keys: new Set(), edges: new EdgeBatch() };
          const key = r.message.toString('latin1', r.keyStart, r.keyEnd);
          if (modelRun.keys.has(key)) expected = 'duplicate';
          else {
            modelRun.keys.add(key);
            const edge = flowToEdge(input, { includeOffCluster: false });
            if (typeof edge === 'string') expected = edge;
            else {
              modelRun.edges.add(edge, input.startTime, input.endTime);
              expected = 'accepted';
            }
          }
        }
        expect(l.accept(input, T * 1000), `seed ${seed}, record ${i}`).toBe(expected);
        if (random() < 0.01) {
          expect(rows(l.takeBatch()), `seed ${seed}, batch at ${i}`).toEqual(
            modelPending
              .sortedRows()
              .map((row) => [row.src, row.dst, row.action, row.firstSeen, row.lastSeen, row.flowCount]),
          );
          modelPending = new EdgeBatch();
        }
      }
    }
  });
});
