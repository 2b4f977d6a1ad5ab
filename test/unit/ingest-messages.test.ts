import { describe, expect, it } from 'vitest';
import { EdgeBatch } from '../../src/edges/edge-batch.js';
import { fromBatchMessage, toBatchMessage } from '../../src/aggregate/ingest-messages.js';

describe('a batch crossing from the ingest thread', () => {
  it('arrives with every row, count, frontier, span and gap it had (through a structured clone)', () => {
    const edges = new EdgeBatch();
    edges.add({ src: 'shop', dst: 'db', action: 'allow' }, 30, 45, 4);
    edges.add({ src: 'shop', dst: 'db', action: 'deny' }, 15, 30);
    edges.add({ src: 'web', dst: 'shop', action: 'allow' }, 0, 15, 2);
    edges.add({ src: 'shop', dst: 'db', action: 'allow' }, 15, 60, 1);
    const batch = {
      edges,
      resumeFrom: 60,
      completedAbove: [{ start: 90, end: 105 }],
      gaps: [{ from: 0, to: 15, reason: 'away' }],
      records: 8,
    };
    const received = fromBatchMessage(structuredClone(toBatchMessage(batch)));
    expect(received.edges.sortedRows()).toEqual([
      { src: 'shop', dst: 'db', action: 'allow', firstSeen: 15, lastSeen: 60, flowCount: 5 },
      { src: 'shop', dst: 'db', action: 'deny', firstSeen: 15, lastSeen: 30, flowCount: 1 },
      { src: 'web', dst: 'shop', action: 'allow', firstSeen: 0, lastSeen: 15, flowCount: 2 },
    ]);
    expect(received.edges.flowCount()).toBe(8);
    expect({ ...received, edges: undefined }).toEqual({
      edges: undefined,
      resumeFrom: 60,
      completedAbove: [{ start: 90, end: 105 }],
      gaps: [{ from: 0, to: 15, reason: 'away' }],
      records: 8,
    });
  });

  it('an empty batch (a heartbeat) stays empty', () => {
    const received = fromBatchMessage(
      structuredClone(
        toBatchMessage({
          edges: new EdgeBatch(),
          resumeFrom: null,
          completedAbove: [],
          gaps: [],
          records: 0,
        }),
      ),
    );
    expect(received.edges.size).toBe(0);
    expect(received.resumeFrom).toBeNull();
  });
});
