/**
 * A source namespace's internal egress allowlist, derived from its edges: the destinations it was
 * observed reaching with action `allow` (the runbook's allowlist recipe), with evidence, beside the
 * edges that must never be allowed (deny) or that nobody decided about (pass, unspecified).
 * Pure: no I/O.
 */
import { NO_NAMESPACE } from '../edges/flow-to-edge.js';

/** One stored edge out of a namespace, with when it entered the table. */
export interface ObservedEdge {
  readonly src: string;
  readonly dst: string;
  readonly action: string;
  readonly firstSeen: Date | null;
  readonly lastSeen: Date | null;
  readonly flowCount: bigint;
  readonly enteredAt: Date | null;
}

export interface DestinationEvidence {
  readonly dst: string;
  readonly firstSeen: Date | null;
  readonly lastSeen: Date | null;
  readonly flowCount: bigint;
}

export interface AllowedDestination extends DestinationEvidence {
  /** The off-cluster sentinel '-': egress to endpoints without a namespace. Never a namespace rule. */
  readonly offCluster: boolean;
  /** Some traffic to the same destination was denied (a separate deny edge exists). */
  readonly alsoDenied: boolean;
}

export interface OtherEdge extends DestinationEvidence {
  readonly action: string;
}

export interface Allowlist {
  readonly namespace: string;
  /** In the order of the edges given (the store's: by destination). */
  readonly allowed: readonly AllowedDestination[];
  readonly denied: readonly DestinationEvidence[];
  /** Edges with action pass or unspecified: neither allowed nor denied by the trail. */
  readonly other: readonly OtherEdge[];
  /** When the newest of this namespace's edges (any action) entered the table. */
  readonly lastNewEdgeAt: Date | null;
  /** When the allow set last grew: the newest allow edge entered the table. */
  readonly lastNewAllowedAt: Date | null;
}

function evidence(edge: ObservedEdge): DestinationEvidence {
  return { dst: edge.dst, firstSeen: edge.firstSeen, lastSeen: edge.lastSeen, flowCount: edge.flowCount };
}

/**
 * The allowlist of one namespace from its outbound edges (edges from other sources are ignored).
 * Order is kept as given: the store sorts by (src_ns, dst_ns, action) in SQL, so that lists come
 * out in the database's collation, exactly as the runbook's `ORDER BY dst_ns` does.
 * One pass: `allowlist --all` runs it over every edge of the table.
 */
export function deriveAllowlist(namespace: string, edges: readonly ObservedEdge[]): Allowlist {
  const allowEdges: ObservedEdge[] = [];
  const denied: DestinationEvidence[] = [];
  const other: OtherEdge[] = [];
  const deniedTo = new Set<string>();
  let lastNewEdgeAt: Date | null = null;
  let lastNewAllowedAt: Date | null = null;
  for (const edge of edges) {
    if (edge.src !== namespace) continue;
    const entered = edge.enteredAt;
    if (entered !== null) {
      if (lastNewEdgeAt === null || entered.getTime() > lastNewEdgeAt.getTime()) lastNewEdgeAt = entered;
      if (
        edge.action === 'allow' &&
        (lastNewAllowedAt === null || entered.getTime() > lastNewAllowedAt.getTime())
      ) {
        lastNewAllowedAt = entered;
      }
    }
    if (edge.action === 'allow') {
      allowEdges.push(edge);
    } else if (edge.action === 'deny') {
      denied.push(evidence(edge));
      deniedTo.add(edge.dst);
    } else {
      other.push({ ...evidence(edge), action: edge.action });
    }
  }
  const allowed = allowEdges.map((edge): AllowedDestination => ({
    dst: edge.dst,
    firstSeen: edge.firstSeen,
    lastSeen: edge.lastSeen,
    flowCount: edge.flowCount,
    offCluster: edge.dst === NO_NAMESPACE,
    alsoDenied: deniedTo.has(edge.dst),
  }));
  return { namespace, allowed, denied, other, lastNewEdgeAt, lastNewAllowedAt };
}

/**
 * Allowlists for the named namespaces (in the order given, duplicates removed), or, with null,
 * for every namespace that is the source of at least one edge. The off-cluster sentinel '-' is
 * not a namespace and has no allowlist.
 */
export function deriveAllowlists(
  namespaces: readonly string[] | null,
  edges: readonly ObservedEdge[],
): Allowlist[] {
  const bySource = new Map<string, ObservedEdge[]>();
  for (const edge of edges) {
    const list = bySource.get(edge.src);
    if (list === undefined) bySource.set(edge.src, [edge]);
    else list.push(edge);
  }
  // Map keys keep insertion order, which is the store's ORDER BY src_ns.
  const names =
    namespaces === null
      ? [...bySource.keys()].filter((name) => name !== NO_NAMESPACE)
      : [...new Set(namespaces)];
  return names.map((name) => deriveAllowlist(name, bySource.get(name) ?? []));
}
