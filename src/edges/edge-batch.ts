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

export class EdgeBatch {
  /** Every row, in insertion order. */
  private readonly rows: EdgeRow[] = [];
  /**
   * Rows by source, then destination; each list holds at most one row per action. Looking rows up
   * by their parts, rather than by a key string joined from them, builds nothing per flow (this
   * runs for every flow), and the decoder hands over the same string objects for the same names.
   */
  private readonly bySource = new Map<string, Map<string, EdgeRow[]>>();

  get size(): number {
    return this.rows.length;
  }

  add(edge: Edge, startTime: number, endTime: number, flowCount = 1): void {
    let byDestination = this.bySource.get(edge.src);
    if (byDestination === undefined) {
      byDestination = new Map();
      this.bySource.set(edge.src, byDestination);
    }
    let actions = byDestination.get(edge.dst);
    if (actions === undefined) {
      actions = [];
      byDestination.set(edge.dst, actions);
    }
    for (const row of actions) {
      if (row.action !== edge.action) continue;
      if (startTime < row.firstSeen) row.firstSeen = startTime;
      if (endTime > row.lastSeen) row.lastSeen = endTime;
      row.flowCount += flowCount;
      return;
    }
    const row: EdgeRow = {
      src: edge.src,
      dst: edge.dst,
      action: edge.action,
      firstSeen: startTime,
      lastSeen: endTime,
      flowCount,
    };
    actions.push(row);
    this.rows.push(row);
  }

  /** Every row, in insertion order (to send a batch to another thread, which copies them). */
  toRows(): readonly EdgeRow[] {
    return [...this.rows];
  }

  /** Adds every row of `other` (which is left unchanged). */
  mergeFrom(other: EdgeBatch): void {
    for (const row of other.rows) this.add(row, row.firstSeen, row.lastSeen, row.flowCount);
  }

  /** The total of flow_count over all rows. */
  flowCount(): number {
    let total = 0;
    for (const row of this.rows) total += row.flowCount;
    return total;
  }

  /**
   * Rows in (src, dst, action) order: writers that lock rows in the same order cannot deadlock,
   * and the order makes a flush reproducible.
   */
  sortedRows(): EdgeRow[] {
    return [...this.rows].sort(compareEdges);
  }
}

export function compareEdges(a: Edge, b: Edge): number {
  return compareText(a.src, b.src) || compareText(a.dst, b.dst) || compareText(a.action, b.action);
}

// Byte order, like PostgreSQL's "C" collation; valid names are ASCII, so this is also code-point order.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
