import { AggregateJob } from '../../aggregate/aggregate-job.js';
import { createAggregatorMetrics } from '../../aggregate/metrics.js';
import { loadAggregateConfig, loadLoggingConfig, redactDatabaseUrl } from '../../config/load-config.js';
import { AppError, EXIT_CODES } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { migrate } from '../../store/migrate.js';
import { createPool, pingDatabase } from '../../store/pool.js';
import { startHttpServer } from '../../http/http-server.js';
import { readiness } from '../../http/readiness.js';
import { WaitAborted, retryUntilDatabaseReady } from '../../store/wait-for-database.js';
import type { Command } from '../command.js';
import { listenForShutdown } from '../signals.js';

/** How long the pool may take to close its connections at exit. */
const POOL_END_TIMEOUT_MS = 1_000;

export const aggregateCommand: Command = {
  name: 'aggregate',
  summary: "Stream Goldmane's flows over mutual TLS into the durable edge table (long-running).",
  description:
    'Applies database migrations, takes over the ingest cursor (or stands by while another aggregator owns it), and keeps one Flows.Stream call open to Goldmane, resuming from the last committed bucket after any interruption. Each 15-second flow record counts once in flow_count, whatever Goldmane or the network repeat. SIGTERM or SIGINT: stop the stream, commit, release the cursor, exit 0.',
  flags: [],
  async run({ env, flags, stderr }) {
    const log = createLogger({ ...loadLoggingConfig(env, flags), destination: stderr });
    const config = loadAggregateConfig(env, flags);
    const { goldmane } = config;
    if (goldmane.insecure) {
      log.warn(
        'GOLDMANE_TLS_INSECURE is on: the server certificate is NOT verified, so anyone who can intercept the connection can feed this trail. Use it only to debug.',
      );
    }
    for (const warning of goldmane.tls.caWarnings) {
      log.warn(
        { caCertificate: warning },
        'CA_CERT_PATH holds a certificate that is not valid now; the others still verify Goldmane',
      );
    }
    log.info(
      {
        goldmane: goldmane.target,
        serverName: goldmane.serverName,
        clientCertificate: goldmane.tls.certSubject,
        clientCertificateExpires: goldmane.tls.certNotAfter.toISOString(),
        database: redactDatabaseUrl(config.databaseUrl),
      },
      'starting aggregate',
    );
    const shutdown = listenForShutdown();
    const pool = createPool(config.databaseUrl, log);
    const metrics = createAggregatorMetrics();
    const job = new AggregateJob({
      instance: config.instance,
      pool,
      goldmane,
      ingest: config.ingest,
      log,
      metrics,
    });
    // Up before the database is, so that /healthz answers and /readyz says what it waits for.
    const http =
      config.httpPort === 0
        ? null
        : await startHttpServer({
            port: config.httpPort,
            registry: metrics.registry,
            readiness: async () => readiness(job.health(), await pingDatabase(pool), Date.now()),
            log,
          }).catch((error: unknown) => {
            throw new AppError(
              'CONFIG_INVALID',
              `cannot serve HTTP on port ${config.httpPort}: ${(error as Error).message}`,
            );
          });
    try {
      try {
        const migrated = await retryUntilDatabaseReady(
          'applying migrations',
          () => migrate(pool),
          log,
          shutdown.abort,
        );
        log.info(
          { version: migrated.current, applied: migrated.applied.map((m) => m.file) },
          'database schema ready',
        );
      } catch (error) {
        if (error instanceof WaitAborted) return EXIT_CODES.OK;
        throw error;
      }
      const { committed } = await job.run(shutdown.abort);
      log.info(committed ? 'stopped; everything received is committed' : 'stopped');
      return committed ? EXIT_CODES.OK : EXIT_CODES.INTERNAL;
    } finally {
      shutdown.dispose();
      await http?.close();
      // A connection stuck on a dead network must not hold the exit (the stop is already bounded).
      await Promise.race([
        pool.end(),
        new Promise((resolve) => setTimeout(resolve, POOL_END_TIMEOUT_MS).unref()),
      ]);
    }
  },
};
