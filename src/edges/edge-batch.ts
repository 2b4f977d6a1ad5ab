/**
 * Coalesces edge observations in memory so that a flush writes one row per edge, whatever the
 * number of flows behind it. Memory is bounded by the number of distinct edges.
 */
import type { Edge, EdgeAction } from './flow-to-edge.js';

export interface EdgeRow {
  readonly src: string;
  readonly dst: string;
  readonly action: EdgeAction;
  /** Earliest flow start, unix seconds. */
  firstSeen: number;
  /** Latest flow end, unix seconds. */
  lastSeen: number;
  /** Distinct Goldmane flow records behind this row. */
  flowCount: number;
}

// NUL cannot occur in a valid namespace or action, so it separates the parts unambiguously.
function keyOf(edge: Edge): string {
  return `${edge.src}\u0000${edge.dst}\u0000${edge.action}`;
}

export class EdgeBatch {
  private readonly rows = new Map<string, EdgeRow>();

  get size(): number {
    return this.rows.size;
  }

  add(edge: Edge, startTime: number, endTime: number, flowCount = 1): void {
    const key = keyOf(edge);
    const row = this.rows.get(key);
    if (row === undefined) {
      this.rows.set(key, {
        src: edge.src,
        dst: edge.dst,
        action: edge.action,
        firstSeen: startTime,
        lastSeen: endTime,
        flowCount,
      });
      return;
    }
    if (startTime < row.firstSeen) row.firstSeen = startTime;
    if (endTime > row.lastSeen) row.lastSeen = endTime;
    row.flowCount += flowCount;
  }

  /** Adds every row of `other` (which is left unchanged). */
  mergeFrom(other: EdgeBatch): void {
    for (const row of other.rows.values()) this.add(row, row.firstSeen, row.lastSeen, row.flowCount);
  }

  /** The total of flow_count over all rows. */
  flowCount(): number {
    let total = 0;
    for (const row of this.rows.values()) total += row.flowCount;
    return total;
  }

  /**
   * Rows in (src, dst, action) order: writers that lock rows in the same order cannot deadlock,
   * and the order makes a flush reproducible.
   */
  sortedRows(): EdgeRow[] {
    return [...this.rows.values()].sort(compareEdges);
  }
}

export function compareEdges(a: Edge, b: Edge): number {
  return compareText(a.src, b.src) || compareText(a.dst, b.dst) || compareText(a.action, b.action);
}

// Byte order, like PostgreSQL's "C" collation; valid names are ASCII, so this is also code-point order.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
