import { join, resolve } from 'node:path';
import { AggregateJob } from '../../aggregate/aggregate-job.js';
import { createAggregatorMetrics } from '../../aggregate/metrics.js';
import { parseDuration } from '../../config/duration.js';
import {
  loadDemoConfig,
  loadLoggingConfig,
  redactDatabaseUrl,
  type GoldmaneConfig,
} from '../../config/load-config.js';
import { loadTlsMaterial } from '../../config/tls-material.js';
import { AppError, EXIT_CODES } from '../../errors.js';
import { createLogger, type Logger } from '../../log/logger.js';
import { writeCertificates } from '../../simulate/certificates.js';
import { topologyFlows } from '../../simulate/flows.js';
import { Simulator } from '../../simulate/simulator.js';
import { loadTopology } from '../../simulate/topology.js';
import {
  databaseNow,
  deniedEdges,
  edgesRecordedSince,
  topTalkers,
  trailSummary,
  type StoredEdge,
} from '../../store/edge-queries.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../store/embedded-postgres.js';
import { migrate } from '../../store/migrate.js';
import { createPool, type Pool } from '../../store/pool.js';
import type { Command } from '../command.js';
import { lockDemoFolder } from '../demo-database.js';
import { listenForShutdown } from '../signals.js';
import { readFileSync } from 'node:fs';

/** How often the demo prints the trail's growth. */
const REPORT_INTERVAL_MS = 5_000;
const NEW_EDGES_SHOWN = 12;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Run the simulator and the aggregator together and watch the edge table fill (no setup needed).',
  description:
    'Starts a simulated Goldmane serving the reference cluster (about 100 namespaces, an hour of history) over mutual TLS with fresh certificates, and the aggregate job against it. Without DATABASE_URL the edges go to an embedded PostgreSQL kept in --data-dir; with it, to that server. Prints new edges, top talkers and denied pairs as they arrive. Stops on Ctrl-C or after --duration.',
  flags: [
    {
      name: 'duration',
      type: 'string',
      placeholder: 'DURATION',
      description: 'Stop after this long (e.g. 60s); default: run until Ctrl-C.',
    },
    {
      name: 'data-dir',
      type: 'string',
      placeholder: 'DIR',
      default: '.demo',
      description: 'Where the demo keeps its certificates and embedded database.',
    },
    {
      name: 'seed',
      type: 'string',
      placeholder: 'N',
      default: '1',
      description: 'Seed of the simulated traffic.',
    },
  ],
  async run({ env, flags, stdout, stderr }) {
    const log = createLogger({
      ...loadLoggingConfig(env, { 'log-level': 'warn', ...flags }),
      destination: stderr,
    });
    const config = loadDemoConfig(env, flags);
    const durationMs = typeof flags.duration === 'string' ? parseDurationFlag(flags.duration) : null;
    const dataDir = resolve(typeof flags['data-dir'] === 'string' ? flags['data-dir'] : '.demo');
    const seed = Number(typeof flags.seed === 'string' ? flags.seed : '1');
    const unlock = lockDemoFolder(dataDir);
    const shutdown = listenForShutdown();
    const print = (line = ''): boolean => stdout.write(`${line}\n`);

    const certificates = await writeCertificates(join(dataDir, 'tls'));
    const simulator = await Simulator.start({
      tls: {
        ca: readFileSync(certificates.ca.cert),
        cert: readFileSync(certificates.server.cert),
        key: readFileSync(certificates.server.key),
      },
      flows: topologyFlows(loadTopology(), { seed }),
      log: log.child({ component: 'simulator' }),
    });
    print(`simulated Goldmane (reference cluster, mutual TLS) on 127.0.0.1:${simulator.port}`);

    let embedded: EmbeddedPostgres | null = null;
    let databaseUrl = config.databaseUrl;
    if (databaseUrl === null) {
      print(
        `starting the embedded PostgreSQL in ${join(dataDir, 'pgdata')} (a few seconds the first time)...`,
      );
      embedded = await startEmbeddedPostgres(join(dataDir, 'pgdata'));
      databaseUrl = embedded.url;
    }
    print(`edges go to ${redactDatabaseUrl(databaseUrl)}`);
    // The embedded database is one session: one connection. A server gets a normal pool.
    const pool = createPool(databaseUrl, log, { max: embedded === null ? 3 : 1 });
    const stop = new AbortController();
    void shutdown.received.then(() => stop.abort());
    try {
      await migrate(pool);
      const problems: string[] = [];
      const tls = loadTlsMaterial(
        {
          certPath: certificates.client.cert,
          keyPath: certificates.client.key,
          caPath: certificates.ca.cert,
        },
        new Date(),
        problems,
      );
      if (tls === null) throw new AppError('INTERNAL', `demo certificates unusable: ${problems.join('; ')}`);
      const goldmane: GoldmaneConfig = {
        target: `127.0.0.1:${simulator.port}`,
        serverName: 'goldmane.calico-system.svc',
        serverNameOverridden: true,
        insecure: false,
        tls,
        keepaliveMs: 0,
      };
      const job = new AggregateJob({
        instance: 'demo',
        pool,
        goldmane,
        ingest: config.ingest,
        log: log.child({ component: 'aggregate' }),
        metrics: createAggregatorMetrics({ processMetrics: false }),
      });
      const running = job.run(stop.signal);
      print('aggregator streaming; the first report follows in a few seconds (Ctrl-C to stop)\n');

      const reporter = new ProgressReporter(pool, print, log);
      await reporter.start();
      const timer = setInterval(() => void reporter.report(), REPORT_INTERVAL_MS);
      const stopAfter = durationMs === null ? null : setTimeout(() => stop.abort(), durationMs);
      const { committed } = await running;
      clearInterval(timer);
      if (stopAfter !== null) clearTimeout(stopAfter);
      await reporter.report();
      print(
        committed
          ? '\nstopped cleanly; every received flow is committed'
          : '\nstopped; some edges were not committed',
      );
      print(
        `the edge table stays in ${embedded === null ? 'your database' : join(dataDir, 'pgdata')}; see README.md for the queries`,
      );
      return committed ? EXIT_CODES.OK : EXIT_CODES.INTERNAL;
    } finally {
      stop.abort();
      shutdown.dispose();
      unlock();
      await simulator.stop();
      await pool.end();
      await embedded?.stop();
    }
  },
};

function parseDurationFlag(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new AppError('USAGE', `--duration: ${(error as Error).message}`);
  }
}

function edgeLine(edge: StoredEdge): string {
  const action = edge.action === 'deny' ? 'DENY ' : edge.action.padEnd(5);
  return `    ${action} ${edge.src} -> ${edge.dst}   flows=${edge.flowCount}  first seen ${edge.firstSeen.toISOString().slice(0, 19)}Z`;
}

/**
 * A commit can carry a recorded_at earlier than the previous report's clock (its transaction
 * began before the report ran), so each report looks back this far and skips what it printed.
 */
const REPORT_LOOKBACK_MS = 60_000;

/** Prints what changed in the edge table since the last report. */
class ProgressReporter {
  private since = new Date(0);
  private readonly printed = new Set<string>();
  private lastLine = '';

  constructor(
    private readonly pool: Pool,
    private readonly print: (line?: string) => boolean,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.since = await databaseNow(this.pool);
  }

  async report(): Promise<void> {
    try {
      const now = await databaseNow(this.pool);
      const [summary, recent, top, denied] = await Promise.all([
        trailSummary(this.pool),
        edgesRecordedSince(this.pool, new Date(this.since.getTime() - REPORT_LOOKBACK_MS), 5000),
        topTalkers(this.pool, 5),
        deniedEdges(this.pool, 5),
      ]);
      this.since = now;
      const fresh = recent.filter((edge) => !this.printed.has(`${edge.src}>${edge.dst}>${edge.action}`));
      for (const edge of fresh) this.printed.add(`${edge.src}>${edge.dst}>${edge.action}`);
      const line = `[${now.toISOString().slice(11, 19)}] ${summary.edges} edges between ${summary.namespaces} namespaces, ${summary.flows} flow records, ${summary.denied} denied; ${fresh.length} new`;
      // The last report at shutdown can land in the same second as a periodic one.
      if (line === this.lastLine) return;
      this.lastLine = line;
      this.print(line);
      for (const edge of fresh.slice(0, NEW_EDGES_SHOWN)) this.print(edgeLine(edge));
      if (fresh.length > NEW_EDGES_SHOWN)
        this.print(`    ...and ${fresh.length - NEW_EDGES_SHOWN} more new edges`);
      if (fresh.length > 0 && top.length > 0) {
        this.print('  top talkers:');
        for (const edge of top) this.print(edgeLine(edge));
        if (denied.length > 0) {
          this.print('  denied pairs:');
          for (const edge of denied) this.print(edgeLine(edge));
        }
      }
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'could not read the edge table for the report');
    }
  }
}
