/**
 * The benchmark's summary (medians over runs, ratios taken within each run, the targets of
 * issue 6) and its table for people.
 */
import type { MemoryReport, ReportHeader, ThroughputReport, ThroughputRun } from './run-bench.js';

const MIB = 1024 * 1024;

export const TARGETS = {
  /** The full pipeline reaches at least this fraction of the bare receive rate. */
  minimumShareOfBare: 0.7,
  minimumFlowsPerSecond: 200_000,
  minimumTimesNaive: 100,
  maximumPeakRssBytes: 64 * MIB,
} as const;

/** Below this many flows, a run is too short for its rates to say much. */
const SHORT_RUN_FLOWS = 1_000_000;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

interface Row {
  readonly name: string;
  readonly flows: number;
  readonly seconds: number;
  readonly flowsPerSecond: number;
  /** CPU seconds of the consuming process per million flows. */
  readonly cpuPerMillion: number | null;
  readonly peakRssBytes: number | null;
}

export interface Verdict {
  readonly target: string;
  readonly measured: string;
  readonly holds: boolean;
}

export interface ThroughputSummary {
  readonly rows: readonly Row[];
  readonly pipelineShareOfBare: number | null;
  readonly pipelineTimesNaive: number | null;
  /** Statements the database counted per 1,000 flows. */
  readonly pipelineStatementsPer1000: number | null;
  readonly naiveStatementsPer1000: number | null;
  readonly flushes: number | null;
  readonly transactions: number | null;
  readonly commitLagSeconds: number | null;
  readonly receiveFlowsPerSecond: number | null;
  readonly senderCpuShare: number | null;
  readonly verdicts: readonly Verdict[];
}

function medianOf<T>(
  runs: readonly ThroughputRun[],
  pick: (run: ThroughputRun) => T | undefined,
  value: (item: T) => number,
): number | null {
  const values = runs
    .map(pick)
    .filter((item): item is T => item !== undefined)
    .map(value);
  return values.length === 0 ? null : median(values);
}

export function summarize(report: ThroughputReport): ThroughputSummary {
  const { runs } = report;
  const rows: Row[] = [];
  const addRow = <T extends { flows: number; seconds: number; flowsPerSecond: number }>(
    name: string,
    pick: (run: ThroughputRun) => T | undefined,
    cpu: ((item: T) => number) | null,
    rss: ((item: T) => number) | null,
  ): void => {
    const flowsPerSecond = medianOf(runs, pick, (item) => item.flowsPerSecond);
    if (flowsPerSecond === null) return;
    rows.push({
      name,
      flows: medianOf(runs, pick, (item) => item.flows)!,
      seconds: medianOf(runs, pick, (item) => item.seconds)!,
      flowsPerSecond,
      cpuPerMillion: cpu === null ? null : medianOf(runs, pick, (item) => (cpu(item) / item.flows) * 1e6),
      peakRssBytes: rss === null ? null : medianOf(runs, pick, rss),
    });
  };
  addRow(
    'full pipeline: fast sender -> aggregate -> PostgreSQL',
    (run) => run.pipeline,
    (r) => r.cpuSeconds,
    (r) => r.peakRssBytes,
  );
  addRow(
    'limit: bare grpc-js client, counts only',
    (run) => run.bare,
    (r) => r.cpuSeconds,
    null,
  );
  addRow(
    'bare grpc-js client through its stream wrapper',
    (run) => run.bareStream,
    (r) => r.cpuSeconds,
    null,
  );
  addRow(
    'grpc-js client + our decoder',
    (run) => run.oursOverNetwork,
    (r) => r.cpuSeconds,
    null,
  );
  addRow(
    'grpc-js client + our decoder + bucket ledger',
    (run) => run.ledgerOverNetwork,
    (r) => r.cpuSeconds,
    null,
  );
  addRow(
    'grpc-js client + protobufjs reflection',
    (run) => run.protobufjsOverNetwork,
    (r) => r.cpuSeconds,
    null,
  );
  addRow(
    'decoding alone: ours',
    (run) => run.decode?.ours,
    (r) => r.seconds,
    null,
  );
  addRow(
    'decoding alone: protobufjs reflection',
    (run) => run.decode?.protobufjs,
    (r) => r.seconds,
    null,
  );
  addRow(
    'decode + bucket ledger alone (our per-flow work)',
    (run) => run.decode?.decodeAndLedger,
    (r) => r.seconds,
    null,
  );
  addRow(
    'naive: one upsert per flow',
    (run) => run.naive,
    (r) => r.cpuSeconds,
    null,
  );

  const both = <A, B>(a: (run: ThroughputRun) => A | undefined, b: (run: ThroughputRun) => B | undefined) =>
    runs.filter((run) => a(run) !== undefined && b(run) !== undefined);
  const withBare = both(
    (run) => run.pipeline,
    (run) => run.bare,
  );
  const withNaive = both(
    (run) => run.pipeline,
    (run) => run.naive,
  );
  const pipelineShareOfBare =
    withBare.length === 0
      ? null
      : median(withBare.map((run) => run.pipeline!.flowsPerSecond / run.bare!.flowsPerSecond));
  const pipelineTimesNaive =
    withNaive.length === 0
      ? null
      : median(withNaive.map((run) => run.pipeline!.flowsPerSecond / run.naive!.flowsPerSecond));
  const pipelineStatementsPer1000 = medianOf(
    runs,
    (run) => run.pipeline,
    (p) => (p.transactions / p.flows) * 1000,
  );
  const naiveStatementsPer1000 = medianOf(
    runs,
    (run) => run.naive,
    (n) => (n.transactions / n.flows) * 1000,
  );
  const flushes = medianOf(
    runs,
    (run) => run.pipeline,
    (p) => p.dataStatements,
  );
  const transactions = medianOf(
    runs,
    (run) => run.pipeline,
    (p) => p.transactions,
  );
  const pipelineRate = medianOf(
    runs,
    (run) => run.pipeline,
    (p) => p.flowsPerSecond,
  );
  const peakRss = runs.flatMap((run) => (run.pipeline === undefined ? [] : [run.pipeline.peakRssBytes]));

  const verdicts: Verdict[] = [];
  if (pipelineShareOfBare !== null)
    verdicts.push({
      target: `full pipeline >= ${TARGETS.minimumShareOfBare} x bare receive rate`,
      measured: `${pipelineShareOfBare.toFixed(2)} x`,
      holds: pipelineShareOfBare >= TARGETS.minimumShareOfBare,
    });
  if (pipelineRate !== null)
    verdicts.push({
      target: `full pipeline >= ${formatCount(TARGETS.minimumFlowsPerSecond)} flows/s`,
      measured: `${formatCount(pipelineRate)} flows/s`,
      holds: pipelineRate >= TARGETS.minimumFlowsPerSecond,
    });
  if (pipelineTimesNaive !== null)
    verdicts.push({
      target: `full pipeline >= ${TARGETS.minimumTimesNaive} x naive`,
      measured: `${Math.round(pipelineTimesNaive)} x`,
      holds: pipelineTimesNaive >= TARGETS.minimumTimesNaive,
    });
  const pipelineRuns = runs.flatMap((run) => (run.pipeline === undefined ? [] : [run.pipeline]));
  if (pipelineRuns.length > 0) {
    // Besides the flushes, the window holds the cursor's release at shutdown, and PostgreSQL
    // counts each table autovacuum vacuums or analyzes as a transaction of the database too.
    const unexplained = Math.max(
      ...pipelineRuns.map((p) => p.transactions - p.dataStatements - 1 - p.autovacuumRuns),
    );
    verdicts.push({
      target: 'at most one data statement per flush, never one per flow',
      measured: `${formatCount(transactions!)} statements counted by PostgreSQL for ${formatCount(flushes!)} flushes and ${formatCount(pipelineRuns[0]!.flows)} flows (1 is the release at shutdown${pipelineRuns[0]!.autovacuumRuns > 0 ? `, up to ${pipelineRuns[0]!.autovacuumRuns} autovacuum` : ''})`,
      holds: unexplained <= 0,
    });
    const worst = Math.max(...peakRss);
    verdicts.push({
      target: `aggregator peak RSS <= ${TARGETS.maximumPeakRssBytes / MIB} MiB`,
      measured: `${formatMib(worst)} (highest of ${peakRss.length} run${peakRss.length === 1 ? '' : 's'})`,
      holds: worst <= TARGETS.maximumPeakRssBytes,
    });
    const worstAnon = Math.max(...pipelineRuns.map((p) => p.peakRssAnonBytes));
    verdicts.push({
      target: `aggregator peak anonymous RSS (what the kernel cannot reclaim) <= ${TARGETS.maximumPeakRssBytes / MIB} MiB`,
      measured: `${formatMib(worstAnon)} (highest of ${pipelineRuns.length}; RSS above also counts ~45 MiB of the node executable's pages)`,
      holds: worstAnon <= TARGETS.maximumPeakRssBytes,
    });
    const limited = pipelineRuns.flatMap((p) => (p.cgroup === null ? [] : [p.cgroup]));
    if (limited.length > 0) {
      const kills = limited.reduce((sum, outcome) => sum + outcome.oomKills, 0);
      const peak = Math.max(...limited.map((outcome) => outcome.peakBytes ?? 0));
      verdicts.push({
        target: `runs in a memory cgroup limited to ${formatMib(limited[0]!.limitBytes)} (a pod's limit) without an OOM kill`,
        measured: `${kills} OOM kills in ${limited.length} run${limited.length === 1 ? '' : 's'}; cgroup peak ${formatMib(peak)}, limit reached ${Math.max(...limited.map((outcome) => outcome.limitHits))} times (page cache reclaimed)`,
        holds: kills === 0,
      });
    }
    verdicts.push({
      target: 'the edge table is exact (every row and count as sent)',
      measured: pipelineRuns.every((p) => p.exact) ? 'exact' : 'DIFFERENT',
      holds: pipelineRuns.every((p) => p.exact),
    });
  }
  const senderCpuShare = medianOf(
    runs,
    (run) => run.pipeline,
    (p) => p.senderCpuSeconds / p.seconds,
  );
  return {
    rows,
    pipelineShareOfBare,
    pipelineTimesNaive,
    pipelineStatementsPer1000,
    naiveStatementsPer1000,
    flushes,
    transactions,
    commitLagSeconds: medianOf(
      runs,
      (run) => run.pipeline,
      (p) => p.commitLagSeconds,
    ),
    receiveFlowsPerSecond: medianOf(
      runs,
      (run) => run.pipeline,
      (p) => p.receiveFlowsPerSecond,
    ),
    senderCpuShare,
    verdicts,
  };
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function formatMib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number>,
): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function header(report: ReportHeader): string[] {
  const { machine, stream } = report;
  return [
    `machine: ${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}, ${machine.os}`,
    `stream: ${formatCount(stream.flows)} flows in ${formatCount(stream.buckets)} consecutive 15 s buckets of the reference cluster, ` +
      `${stream.averageMessageBytes} bytes per FlowResult, mutual TLS on loopback; ${formatCount(stream.edges)} edges, ` +
      `${formatCount(stream.acceptedRecords)} records become edges`,
  ];
}

export function renderThroughputReport(report: ThroughputReport): string {
  const summary = summarize(report);
  const bare = summary.rows.find((row) => row.name.startsWith('limit'));
  const lines = [...header(report)];
  const flags = report.runs.find((run) => run.pipeline !== undefined)?.pipeline?.nodeFlags;
  if (flags !== undefined)
    lines.push(
      `aggregator: node ${[...flags, 'dist/cli/bin.js aggregate'].join(' ')}, FLUSH_INTERVAL=${report.flushInterval}; the other consumers run with the same V8 flags`,
    );
  lines.push(
    `runs: ${report.runs.length}${report.runs.length > 1 ? " (the table: medians; the targets: the median of each run's own ratio, and the highest peak RSS)" : ''}`,
    '',
  );
  lines.push(
    table(
      ['measurement', 'flows', 'seconds', 'flows/s', 'x bare', 'CPU s / M flows', 'peak RSS'],
      summary.rows.map((row) => [
        row.name,
        formatCount(row.flows),
        row.seconds.toFixed(2),
        formatCount(row.flowsPerSecond),
        // In-process rows have no network: a ratio to a network client would mislead.
        bare === undefined || row.name.startsWith('decod')
          ? ''
          : (row.flowsPerSecond / bare.flowsPerSecond).toFixed(2),
        row.cpuPerMillion === null ? '' : row.cpuPerMillion.toFixed(2),
        row.peakRssBytes === null ? '' : formatMib(row.peakRssBytes),
      ]),
      new Set([1, 2, 3, 4, 5, 6]),
    ),
    '',
  );
  if (summary.pipelineStatementsPer1000 !== null)
    lines.push(
      `database statements per 1,000 flows: full pipeline ${summary.pipelineStatementsPer1000.toFixed(4)} ` +
        `(${formatCount(summary.transactions!)} for ${formatCount(summary.flushes!)} flushes)` +
        (summary.naiveStatementsPer1000 === null
          ? ''
          : `; naive ${summary.naiveStatementsPer1000.toFixed(0)}`),
    );
  if (summary.commitLagSeconds !== null)
    lines.push(
      `full pipeline: receive rate (first to last message sent) ${formatCount(summary.receiveFlowsPerSecond!)} flows/s; ` +
        `last commit ${summary.commitLagSeconds.toFixed(2)} s after the last message; sender used ${(summary.senderCpuShare! * 100).toFixed(0)}% of a core`,
    );
  if (summary.pipelineTimesNaive !== null)
    lines.push(`full pipeline / naive: ${Math.round(summary.pipelineTimesNaive)} x`);
  lines.push('', 'targets (docs/performance.md):');
  const pipelineFlows = summary.rows.find((row) => row.name.startsWith('full pipeline'))?.flows;
  if (pipelineFlows !== undefined && pipelineFlows < SHORT_RUN_FLOWS)
    lines.push(
      `  (a short run: connecting and the last flush weigh on the rates; judge them on the default ${formatCount(3_000_000)} flows)`,
    );
  for (const verdict of summary.verdicts)
    lines.push(`  ${verdict.holds ? 'held   ' : 'MISSED '} ${verdict.target}: ${verdict.measured}`);
  return `${lines.join('\n')}\n`;
}

export function renderMemoryReport(report: MemoryReport): string {
  const lines = [...header(report)];
  lines.push(
    `load: ${formatCount(report.ratePerSecond)} flows/s for ${(report.results[0]?.seconds ?? 0).toFixed(0)} s, after ${report.idleSeconds} s connected and idle`,
    '',
  );
  lines.push(
    table(
      [
        'V8 flags',
        'idle RSS',
        'idle peak RSS',
        'peak RSS under load',
        'peak anon RSS',
        'cgroup peak / limit, OOM kills',
        'CPU s / M flows',
        'CPU (cores)',
        'flows/s',
        'exact',
      ],
      report.results.map((result) => [
        result.nodeFlags.join(' ') || '(none)',
        result.idleRssBytes === null ? '' : formatMib(result.idleRssBytes),
        result.idlePeakRssBytes === null ? '' : formatMib(result.idlePeakRssBytes),
        formatMib(result.peakRssBytes),
        formatMib(result.peakRssAnonBytes),
        result.cgroup === null
          ? 'not limited'
          : `${result.cgroup.peakBytes === null ? '?' : formatMib(result.cgroup.peakBytes)} / ${formatMib(result.cgroup.limitBytes)}, ${result.cgroup.oomKills}`,
        ((result.cpuSeconds / result.flows) * 1e6).toFixed(2),
        (result.cpuSeconds / result.seconds).toFixed(3),
        formatCount(result.flowsPerSecond),
        result.exact ? 'yes' : 'NO',
      ]),
      new Set([1, 2, 3, 4, 6, 7, 8]),
    ),
  );
  lines.push(
    '',
    'RSS includes the pages of the node executable that were read (about 45 MiB): the kernel can drop them',
    'under a cgroup limit. Anonymous RSS (heap, buffers) it cannot: that is what must fit.',
  );
  return `${lines.join('\n')}\n`;
}
