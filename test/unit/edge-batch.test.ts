import { describe, expect, it } from 'vitest';
import { EdgeBatch } from '../../src/edges/edge-batch.js';

function rows(batch: EdgeBatch): [string, string, string, number, number, number][] {
  return batch
    .sortedRows()
    .map((row) => [row.src, row.dst, row.action, row.firstSeen, row.lastSeen, row.flowCount]);
}

describe('EdgeBatch', () => {
  it('keeps one row per (src, dst, action): earliest start, latest end, counts added', () => {
    const batch = new EdgeBatch();
    batch.add({ src: 'shop', dst: 'db', action: 'allow' }, 30, 45);
    batch.add({ src: 'shop', dst: 'db', action: 'deny' }, 15, 30);
    batch.add({ src: 'shop', dst: 'db', action: 'allow' }, 15, 30, 3);
    batch.add({ src: 'shop', dst: 'cache', action: 'allow' }, 60, 75);
    batch.add({ src: 'db', dst: 'shop', action: 'allow' }, 0, 15);
    batch.add({ src: 'shop', dst: 'db', action: 'allow' }, 45, 60);
    expect(batch.size).toBe(4);
    expect(batch.flowCount()).toBe(8);
    expect(rows(batch)).toEqual([
      ['db', 'shop', 'allow', 0, 15, 1],
      ['shop', 'cache', 'allow', 60, 75, 1],
      ['shop', 'db', 'allow', 15, 60, 5],
      ['shop', 'db', 'deny', 15, 30, 1],
    ]);
  });

  it('merges another batch by value and leaves it unchanged', () => {
    const a = new EdgeBatch();
    a.add({ src: 'a', dst: 'b', action: 'allow' }, 15, 30);
    const b = new EdgeBatch();
    b.add({ src: 'a', dst: 'b', action: 'allow' }, 0, 15, 2);
    b.add({ src: 'a', dst: 'b', action: 'pass' }, 45, 60);
    a.mergeFrom(b);
    expect(rows(a)).toEqual([
      ['a', 'b', 'allow', 0, 30, 3],
      ['a', 'b', 'pass', 45, 60, 1],
    ]);
    expect(rows(b)).toEqual([
      ['a', 'b', 'allow', 0, 15, 2],
      ['a', 'b', 'pass', 45, 60, 1],
    ]);
  });

  it('sorts rows in byte order, as PostgreSQL\'s "C" collation does', () => {
    const batch = new EdgeBatch();
    for (const [src, dst] of [
      ['b', 'a'],
      ['a-b', 'z'],
      ['a', 'z'],
      ['a', 'a-1'],
      ['a', 'a0'],
    ])
      batch.add({ src: src!, dst: dst!, action: 'allow' }, 0, 15);
    expect(batch.sortedRows().map((row) => `${row.src}>${row.dst}`)).toEqual([
      'a>a-1',
      'a>a0',
      'a>z',
      'a-b>z',
      'b>a',
    ]);
  });
});
