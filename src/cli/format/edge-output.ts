/**
 * `edges` output in every format. JSON and CSV use the edge table's own column names
 * (src_ns, dst_ns, action, first_seen, last_seen, flow_count), so an answer reads like the
 * runbook's SQL; flow_count is a decimal string in JSON (exact, see to-json.ts).
 */
import type { Page, Peer, TrailEdge } from '../../store/trail-queries.js';
import { toCsv } from './csv.js';
import { edgesToDot } from './edges-to-dot.js';
import { edgesToMermaid } from './edges-to-mermaid.js';
import { renderTextTable } from './text-table.js';
import { formatTimestamp } from './timestamp.js';
import { toJson } from './to-json.js';

export const EDGE_FORMATS = ['table', 'json', 'csv', 'dot', 'mermaid'] as const;
export type EdgeFormat = (typeof EDGE_FORMATS)[number];

const EDGE_HEADERS = ['src_ns', 'dst_ns', 'action', 'first_seen', 'last_seen', 'flow_count'] as const;
const PEER_HEADERS = ['peer', 'direction', 'actions', 'flow_count', 'first_seen', 'last_seen'] as const;

function isoOrEmpty(date: Date | null): string {
  return date === null ? '' : date.toISOString();
}

function pageMeta(page: Page<unknown>, limit: number | null): Record<string, unknown> {
  return { count: page.rows.length, total: page.total, truncated: page.truncated, limit };
}

export function renderEdges(page: Page<TrailEdge>, format: EdgeFormat, limit: number | null): string {
  const edges = page.rows;
  switch (format) {
    case 'json':
      return toJson({
        edges: edges.map((e) => ({
          src_ns: e.src,
          dst_ns: e.dst,
          action: e.action,
          first_seen: e.firstSeen,
          last_seen: e.lastSeen,
          flow_count: e.flowCount.toString(),
        })),
        ...pageMeta(page, limit),
      });
    case 'csv':
      return toCsv(
        EDGE_HEADERS,
        edges.map((e) => [
          e.src,
          e.dst,
          e.action,
          isoOrEmpty(e.firstSeen),
          isoOrEmpty(e.lastSeen),
          e.flowCount.toString(),
        ]),
      );
    case 'dot':
      return edgesToDot(edges);
    case 'mermaid':
      return edgesToMermaid(edges);
    case 'table':
      return renderTextTable(
        [
          { header: 'SRC_NS' },
          { header: 'DST_NS' },
          { header: 'ACTION' },
          { header: 'FLOW_COUNT', align: 'right' },
          { header: 'FIRST_SEEN' },
          { header: 'LAST_SEEN' },
        ],
        edges.map((e) => [
          e.src,
          e.dst,
          e.action,
          e.flowCount.toString(),
          formatTimestamp(e.firstSeen),
          formatTimestamp(e.lastSeen),
        ]),
      );
  }
}

/** Peers have no graph form: `--ns NS` gives the same neighbourhood as edges. */
export function renderPeers(
  of: string,
  page: Page<Peer>,
  format: Exclude<EdgeFormat, 'dot' | 'mermaid'>,
  limit: number | null,
): string {
  const peers = page.rows;
  switch (format) {
    case 'json':
      return toJson({
        peers_of: of,
        peers: peers.map((p) => ({
          peer: p.peer,
          direction: p.direction,
          actions: p.actions,
          flow_count: p.flowCount.toString(),
          first_seen: p.firstSeen,
          last_seen: p.lastSeen,
        })),
        ...pageMeta(page, limit),
      });
    case 'csv':
      return toCsv(
        PEER_HEADERS,
        peers.map((p) => [
          p.peer,
          p.direction,
          p.actions.join(' '),
          p.flowCount.toString(),
          isoOrEmpty(p.firstSeen),
          isoOrEmpty(p.lastSeen),
        ]),
      );
    case 'table':
      return renderTextTable(
        [
          { header: 'PEER' },
          { header: 'DIRECTION' },
          { header: 'ACTIONS' },
          { header: 'FLOW_COUNT', align: 'right' },
          { header: 'FIRST_SEEN' },
          { header: 'LAST_SEEN' },
        ],
        peers.map((p) => [
          p.peer,
          p.direction,
          p.actions.join(','),
          p.flowCount.toString(),
          formatTimestamp(p.firstSeen),
          formatTimestamp(p.lastSeen),
        ]),
      );
  }
}
