/**
 * The aggregator's Prometheus metrics, in a registry of its own (tests create several aggregators
 * in one process). Names: goldmane_edge_aggregator_<thing>_<unit>, _total on counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS } from '../edges/flow-to-edge.js';

const PREFIX = 'goldmane_edge_aggregator_';

export type AggregatorMetrics = ReturnType<typeof createAggregatorMetrics>;

export function createAggregatorMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const metrics = {
    registry,
    flowsReceived: new Counter({
      name: `${PREFIX}flows_received_total`,
      help: 'FlowResults received from Goldmane.',
      registers: [registry],
    }),
    flowsDropped: new Counter({
      name: `${PREFIX}flows_dropped_total`,
      help: 'Flows that did not become an edge, by reason: no_namespace (host endpoints, networks), self_edge, invalid_namespace, invalid_time, malformed (undecodable bytes).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    flowsDuplicate: new Counter({
      name: `${PREFIX}flows_duplicate_total`,
      help: 'Flow records skipped because they were already counted (stream-start race, resume overlap, replay, restart).',
      registers: [registry],
    }),
    flowsCounted: new Counter({
      name: `${PREFIX}flows_counted_total`,
      help: 'Flow records committed to the edge table (the sum of flow_count increments).',
      registers: [registry],
    }),
    edgesWritten: new Counter({
      name: `${PREFIX}edges_written_total`,
      help: 'Edge rows inserted or updated.',
      registers: [registry],
    }),
    newEdges: new Counter({
      name: `${PREFIX}new_edges_total`,
      help: 'Edges that entered the edge table for the first time.',
      registers: [registry],
    }),
    rowsRejected: new Counter({
      name: `${PREFIX}rows_rejected_total`,
      help: 'Edge rows the database refused (data or constraint errors); isolated and logged, the rest of the batch was written.',
      registers: [registry],
    }),
    flushDuration: new Histogram({
      name: `${PREFIX}flush_duration_seconds`,
      help: 'Time to write one batch (one statement), successful or not.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    databaseErrors: new Counter({
      name: `${PREFIX}database_errors_total`,
      help: 'Failed batch writes (the batch is kept and retried).',
      registers: [registry],
    }),
    streamStarts: new Counter({
      name: `${PREFIX}stream_starts_total`,
      help: 'Flows.Stream calls started (first connect and every reconnect).',
      registers: [registry],
    }),
    streamEnds: new Counter({
      name: `${PREFIX}stream_ends_total`,
      help: 'Flows.Stream calls ended, by gRPC status code name.',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    streamConnected: new Gauge({
      name: `${PREFIX}stream_connected`,
      help: '1 while a Flows.Stream call is open on a ready connection.',
      registers: [registry],
    }),
    lastStreamStatus: new Gauge({
      name: `${PREFIX}stream_last_status_code`,
      help: 'gRPC status code that ended the last Flows.Stream call (0 OK, 14 UNAVAILABLE, ...); -1 before any ended.',
      registers: [registry],
    }),
    newestFlowTime: new Gauge({
      name: `${PREFIX}newest_flow_timestamp_seconds`,
      help: 'End time of the newest flow received (Goldmane clock).',
      registers: [registry],
    }),
    committedFrontier: new Gauge({
      name: `${PREFIX}committed_frontier_timestamp_seconds`,
      help: 'Every bucket before this time is committed (the resume point).',
      registers: [registry],
    }),
    lastCommit: new Gauge({
      name: `${PREFIX}last_commit_timestamp_seconds`,
      help: 'When the last batch (or heartbeat) was committed (aggregator clock).',
      registers: [registry],
    }),
    observationGaps: new Counter({
      name: `${PREFIX}observation_gaps_total`,
      help: 'Gaps recorded because the aggregator was away longer than Goldmane keeps flows.',
      registers: [registry],
    }),
    active: new Gauge({
      name: `${PREFIX}active`,
      help: '1 while this aggregator owns the ingest cursor and streams; 0 while it stands by (another one owns it).',
      registers: [registry],
    }),
    pendingEdges: new Gauge({
      name: `${PREFIX}pending_edges`,
      help: 'Distinct edges held in memory waiting to be written.',
      registers: [registry],
    }),
  };
  for (const reason of [...DROP_REASONS, 'malformed']) metrics.flowsDropped.inc({ reason }, 0);
  metrics.lastStreamStatus.set(-1);
  return metrics;
}
