import { describe, expect, it } from 'vitest';
import { RunEdges } from '../../src/aggregate/run-edges.js';
import { EdgeBatch } from '../../src/edges/edge-batch.js';
import { flowToEdge } from '../../src/edges/flow-to-edge.js';
import type { FlowRecord } from '../../src/goldmane/decode-flow-result.js';

const B = 1_764_000_000;

function record(src: string, dst: string, action = 1, start = B, end = start + 15): FlowRecord {
  return {
    startTime: start,
    endTime: end,
    sourceNamespace: src,
    destNamespace: dst,
    action,
    message: Buffer.alloc(0),
    keyStart: 0,
    keyEnd: 0,
  };
}

function rows(batch: EdgeBatch): [string, string, string, number, number, number][] {
  return batch
    .sortedRows()
    .map((row) => [row.src, row.dst, row.action, row.firstSeen, row.lastSeen, row.flowCount]);
}

describe('RunEdges', () => {
  const names = ['shop', 'db', '-', '', ' ', 'Shop', 'x'.repeat(64), 'kube-system'];

  for (const includeOffCluster of [false, true]) {
    it(`decides as flowToEdge does, the first time and every time after (includeOffCluster ${includeOffCluster})`, () => {
      const options = { includeOffCluster };
      const edges = new RunEdges(options);
      for (let round = 0; round < 2; round++) {
        for (const src of names)
          for (const dst of names)
            for (const action of [0, 1, 2, 3, 7]) {
              const input = record(src, dst, action);
              const expected = flowToEdge(input, options);
              expect(edges.add(input)).toBe(typeof expected === 'string' ? expected : null);
            }
      }
    });
  }

  it('drops impossible times as invalid_time without remembering them for the pair', () => {
    const edges = new RunEdges({ includeOffCluster: false });
    expect(edges.add(record('shop', 'db', 1, 0, 15))).toBe('invalid_time');
    expect(edges.add(record('shop', 'db'))).toBeNull();
  });

  it('tallies the run per edge, moves it into a batch, and starts the next run empty', () => {
    const edges = new RunEdges({ includeOffCluster: false });
    edges.add(record('shop', 'db', 1, B + 15));
    edges.add(record('shop', 'db', 1, B));
    edges.add(record('shop', 'db', 2, B));
    edges.add(record('shop', 'db', 7, B + 30)); // unknown action: unspecified
    const batch = new EdgeBatch();
    edges.moveInto(batch);
    expect(rows(batch)).toEqual([
      ['shop', 'db', 'allow', B, B + 30, 2],
      ['shop', 'db', 'deny', B, B + 15, 1],
      ['shop', 'db', 'unspecified', B + 30, B + 45, 1],
    ]);
    edges.add(record('shop', 'db', 1, B + 45));
    const next = new EdgeBatch();
    edges.moveInto(next);
    expect(rows(next)).toEqual([['shop', 'db', 'allow', B + 45, B + 60, 1]]);
  });

  it('leaves no trace of a discarded run', () => {
    const edges = new RunEdges({ includeOffCluster: false });
    edges.add(record('shop', 'db'));
    edges.discard();
    edges.add(record('db', 'shop'));
    const batch = new EdgeBatch();
    edges.moveInto(batch);
    expect(rows(batch)).toEqual([['db', 'shop', 'allow', B, B + 15, 1]]);
  });

  it('stays exact when it forgets its decisions in the middle of a run (more pairs than it keeps)', () => {
    const edges = new RunEdges({ includeOffCluster: false });
    const batch = new EdgeBatch();
    for (let i = 0; i < 40_000; i++) edges.add(record(`src-${i % 20_000}`, 'db'));
    edges.add(record('src-0', 'db', 1, B - 15));
    edges.moveInto(batch);
    expect(batch.size).toBe(20_000);
    expect(batch.flowCount()).toBe(40_001);
    expect(rows(batch)[0]).toEqual(['src-0', 'db', 'allow', B - 15, B + 15, 3]);
  });
});
