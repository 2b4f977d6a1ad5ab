/**
 * The edges of the run in progress (one bucket's records), kept apart from everything already
 * completed because a run cut short by the end of the stream must leave no trace.
 *
 * What flowToEdge makes of a (source, destination, action) is worked out once and kept: a cluster
 * has a few hundred namespace pairs, and the decoder hands over the same string for the same name,
 * so each record costs two map lookups and a few additions, with nothing allocated, instead of
 * validating both names, allocating an edge and adding it to a map of its own per run.
 */
import type { EdgeBatch } from '../edges/edge-batch.js';
import {
  flowToEdge,
  hasValidTimes,
  type DropReason,
  type Edge,
  type FlowToEdgeOptions,
} from '../edges/flow-to-edge.js';
import type { FlowRecord } from '../goldmane/decode-flow-result.js';

/**
 * Decisions kept at most (a few MB): past this, with names that are garbage say, they are
 * forgotten and worked out again, so memory stays bounded whatever arrives.
 */
const MAX_DECISIONS = 16_384;

/** An edge and what the run in progress has seen of it. */
interface EdgeTally {
  readonly edge: Edge;
  /** The run these figures belong to; older figures are stale. */
  run: number;
  firstSeen: number;
  lastSeen: number;
  flowCount: number;
}

type Decision = EdgeTally | DropReason;

/** Goldmane's Action numbers 1 (allow), 2 (deny), 3 (pass); everything else is unspecified (0). */
function actionIndex(action: number): number {
  return action === 1 || action === 2 || action === 3 ? action : 0;
}

export class RunEdges {
  /** Decisions by source, then destination, then action index. */
  private decisions = new Map<string, Map<string, (Decision | undefined)[]>>();
  private decisionCount = 0;
  /** The tallies the run in progress has touched, each once. */
  private readonly touched: EdgeTally[] = [];
  private run = 1;

  constructor(private readonly options: FlowToEdgeOptions) {}

  /**
   * Counts a record (its FlowKey new in the run) toward its edge; returns why it is not an edge
   * instead, if it is not: flowToEdge's answer.
   */
  add(record: FlowRecord): DropReason | null {
    // Checked here, not kept: a decision depends only on the namespaces and the action.
    if (!hasValidTimes(record)) return 'invalid_time';
    const decision = this.decide(record);
    if (typeof decision === 'string') return decision;
    if (decision.run !== this.run) {
      decision.run = this.run;
      decision.firstSeen = record.startTime;
      decision.lastSeen = record.endTime;
      decision.flowCount = 1;
      this.touched.push(decision);
      return null;
    }
    if (record.startTime < decision.firstSeen) decision.firstSeen = record.startTime;
    if (record.endTime > decision.lastSeen) decision.lastSeen = record.endTime;
    decision.flowCount++;
    return null;
  }

  /** Adds the run's edges to `batch`, and starts a new run. */
  moveInto(batch: EdgeBatch): void {
    for (const tally of this.touched) batch.add(tally.edge, tally.firstSeen, tally.lastSeen, tally.flowCount);
    this.discard();
  }

  /** Forgets the run in progress. */
  discard(): void {
    this.touched.length = 0;
    this.run++;
  }

  private decide(record: FlowRecord): Decision {
    if (this.decisionCount >= MAX_DECISIONS) this.forgetDecisions();
    let byDestination = this.decisions.get(record.sourceNamespace);
    if (byDestination === undefined) {
      byDestination = new Map();
      this.decisions.set(record.sourceNamespace, byDestination);
    }
    let byAction = byDestination.get(record.destNamespace);
    if (byAction === undefined) {
      byAction = [undefined, undefined, undefined, undefined];
      byDestination.set(record.destNamespace, byAction);
    }
    const index = actionIndex(record.action);
    const known = byAction[index];
    if (known !== undefined) return known;
    this.decisionCount++;
    const edge = flowToEdge(record, this.options);
    // A tally forgotten while the run touched it stays in `touched`; a new one for the same edge
    // is added beside it, and EdgeBatch merges the two by value.
    const decision: Decision =
      typeof edge === 'string' ? edge : { edge, run: 0, firstSeen: 0, lastSeen: 0, flowCount: 0 };
    byAction[index] = decision;
    return decision;
  }

  private forgetDecisions(): void {
    this.decisions = new Map();
    this.decisionCount = 0;
  }
}
