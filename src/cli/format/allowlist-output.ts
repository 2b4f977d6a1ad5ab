/**
 * `allowlist` output: per-namespace blocks (table), one line per namespace (matrix, the runbook's
 * "full internal egress matrix"), JSON, or CSV with one row per edge. JSON and CSV use the edge
 * table's column names; flow_count is a decimal string in JSON (exact).
 */
import type { Allowlist } from '../../policy/allowlist.js';
import { DAY_MS, duration, type Readiness, type TrailObservation } from '../../policy/readiness.js';
import { toCsv } from './csv.js';
import { renderTextTable } from './text-table.js';
import { formatTimestamp } from './timestamp.js';
import { toJson } from './to-json.js';

export const ALLOWLIST_FORMATS = ['table', 'matrix', 'json', 'csv'] as const;
export type AllowlistFormat = (typeof ALLOWLIST_FORMATS)[number];

export interface AllowlistEntry {
  readonly allowlist: Allowlist;
  readonly readiness: Readiness;
}

export interface AllowlistReport {
  readonly observation: TrailObservation;
  readonly entries: readonly AllowlistEntry[];
}

/** Days with two decimals, as a JSON number. */
function dayNumber(ms: number | null): number | null {
  return ms === null ? null : Math.round((ms / DAY_MS) * 100) / 100;
}

function observationLine(o: TrailObservation): string {
  const gaps =
    o.gaps === null
      ? 'gaps unknown'
      : o.gaps.length === 0
        ? 'no recorded gaps'
        : `${o.gaps.length} recorded gap(s)`;
  return `Observation: ${formatTimestamp(o.since)} to ${formatTimestamp(o.until)}, ${duration(o.coveredMs)} observed (source: ${o.source}, ${gaps})`;
}

function verdictLine(entry: AllowlistEntry): string {
  const { readiness } = entry;
  return `${entry.allowlist.namespace}: ${readiness.verdict}${readiness.reasons.length === 0 ? '' : ` (${readiness.reasons.join('; ')})`}`;
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : by + line))
    .join('\n');
}

function renderBlocks(report: AllowlistReport): string {
  const parts = [observationLine(report.observation), ...report.observation.notes.map((n) => `  note: ${n}`)];
  for (const entry of report.entries) {
    const { allowlist, readiness } = entry;
    parts.push('', verdictLine(entry));
    if (readiness.sinceLastNewEdgeMs !== null) {
      const allowed =
        readiness.sinceLastNewAllowedMs === null
          ? 'no allowed edge'
          : `last new allowed edge ${duration(readiness.sinceLastNewAllowedMs)}`;
      parts.push(
        `  last new edge ${duration(readiness.sinceLastNewEdgeMs)}, ${allowed} before the end of observation`,
      );
    }
    if (allowlist.allowed.length === 0) {
      parts.push('  allowed: none observed');
    } else {
      const table = renderTextTable(
        [
          { header: 'ALLOWED_DST_NS' },
          { header: 'FLOW_COUNT', align: 'right' },
          { header: 'FIRST_SEEN' },
          { header: 'LAST_SEEN' },
        ],
        allowlist.allowed.map((a) => [
          a.offCluster ? `${a.dst} (off-cluster)` : a.alsoDenied ? `${a.dst} (also denied)` : a.dst,
          a.flowCount.toString(),
          formatTimestamp(a.firstSeen),
          formatTimestamp(a.lastSeen),
        ]),
      );
      parts.push(indent(table.trimEnd(), '  '));
    }
    for (const d of allowlist.denied) {
      parts.push(`  denied: ${d.dst} (${d.flowCount} flows, last seen ${formatTimestamp(d.lastSeen)})`);
    }
    for (const o of allowlist.other) {
      parts.push(`  ${o.action}: ${o.dst} (${o.flowCount} flows, last seen ${formatTimestamp(o.lastSeen)})`);
    }
    for (const a of readiness.attention) parts.push(`  attention: ${a}`);
  }
  return `${parts.join('\n')}\n`;
}

function renderMatrix(report: AllowlistReport): string {
  return renderTextTable(
    [
      { header: 'SRC_NS' },
      { header: 'VERDICT' },
      { header: 'DENIED', align: 'right' },
      { header: 'ALLOWED_DST_NS' },
    ],
    report.entries.map(({ allowlist, readiness }) => [
      allowlist.namespace,
      readiness.verdict,
      String(allowlist.denied.length),
      allowlist.allowed.map((a) => a.dst).join(','),
    ]),
  );
}

function evidenceJson(e: {
  dst: string;
  firstSeen: Date | null;
  lastSeen: Date | null;
  flowCount: bigint;
}): Record<string, unknown> {
  return {
    dst_ns: e.dst,
    first_seen: e.firstSeen,
    last_seen: e.lastSeen,
    flow_count: e.flowCount.toString(),
  };
}

function renderJson(report: AllowlistReport): string {
  const o = report.observation;
  return toJson({
    observation: {
      source: o.source,
      since: o.since,
      until: o.until,
      now: o.now,
      span_days: dayNumber(o.spanMs),
      gap_days: dayNumber(o.gapMs),
      observed_days: dayNumber(o.coveredMs),
      gaps: o.gaps?.map((g) => ({ from: g.from, to: g.to, reason: g.reason })) ?? null,
      notes: o.notes,
    },
    namespaces: report.entries.map(({ allowlist, readiness }) => ({
      namespace: allowlist.namespace,
      verdict: readiness.verdict,
      reasons: readiness.reasons,
      attention: readiness.attention,
      days_since_last_new_edge: dayNumber(readiness.sinceLastNewEdgeMs),
      days_since_last_new_allowed_edge: dayNumber(readiness.sinceLastNewAllowedMs),
      last_new_edge_at: allowlist.lastNewEdgeAt,
      last_new_allowed_edge_at: allowlist.lastNewAllowedAt,
      allowed: allowlist.allowed.map((a) => ({
        ...evidenceJson(a),
        off_cluster: a.offCluster,
        also_denied: a.alsoDenied,
      })),
      denied: allowlist.denied.map(evidenceJson),
      other: allowlist.other.map((x) => ({ ...evidenceJson(x), action: x.action })),
    })),
  });
}

function renderCsv(report: AllowlistReport): string {
  const iso = (d: Date | null): string => (d === null ? '' : d.toISOString());
  const rows: string[][] = [];
  for (const { allowlist, readiness } of report.entries) {
    const edges = [
      ...allowlist.allowed.map((a) => ({ ...a, action: 'allow' })),
      ...allowlist.denied.map((d) => ({ ...d, action: 'deny' })),
      ...allowlist.other,
    ];
    if (edges.length === 0) rows.push([allowlist.namespace, '', '', '', '', '', readiness.verdict]);
    for (const e of edges) {
      rows.push([
        allowlist.namespace,
        e.dst,
        e.action,
        iso(e.firstSeen),
        iso(e.lastSeen),
        e.flowCount.toString(),
        readiness.verdict,
      ]);
    }
  }
  return toCsv(['src_ns', 'dst_ns', 'action', 'first_seen', 'last_seen', 'flow_count', 'verdict'], rows);
}

export function renderAllowlists(report: AllowlistReport, format: AllowlistFormat): string {
  switch (format) {
    case 'table':
      return renderBlocks(report);
    case 'matrix':
      return renderMatrix(report);
    case 'json':
      return renderJson(report);
    case 'csv':
      return renderCsv(report);
  }
}
