import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDigestConfig, loadLoggingConfig } from '../../config/load-config.js';
import { runDigest } from '../../digest/run-digest.js';
import {
  DEFAULT_DELIVERY_TIMING,
  SYSTEM_CLOCK,
  type Clock,
  type DeliveryTiming,
} from '../../digest/slack-sender.js';
import { AppError, EXIT_CODES } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { DigestStore } from '../../store/digest-store.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../store/embedded-postgres.js';
import { migrate } from '../../store/migrate.js';
import { createPool } from '../../store/pool.js';
import type { Command } from '../command.js';

/** Tests shorten the waits between and before requests; production uses the defaults. */
export interface DigestCommandTiming {
  readonly timing: DeliveryTiming;
  readonly clock: Clock;
}

/** Database trouble is DATABASE_UNAVAILABLE (exit 5); our own errors pass through unchanged. */
function asDatabaseError(what: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof AppError) throw error;
    throw new AppError('DATABASE_UNAVAILABLE', `${what}: ${(error as Error).message}`, { cause: error });
  };
}

export function createDigestCommand(
  { timing, clock }: DigestCommandTiming = { timing: DEFAULT_DELIVERY_TIMING, clock: SYSTEM_CLOCK },
): Command {
  return {
    name: 'digest',
    summary: 'Post the edges first recorded since the last digest to Slack, once, then exit.',
    description:
      'The daily CronJob (args ["digest"]). Reports every edge that entered the edge table since the last successful digest (the first one: DIGEST_FIRST_RUN_WINDOW), so a failed or skipped day is reported by the next run, each edge exactly once. Denied edges first. Posts nothing when there is nothing new. A Job retried after Slack accepted the digest posts nothing again; one that died half-way sends only the messages Slack has not accepted. DRY_RUN=1, or an empty SLACK_WEBHOOK_URL, prints the JSON payloads instead and records nothing. Exit codes: 0 posted or nothing new, 7 Slack did not accept a message, 3 configuration, 5 database. See docs/digest.md.',
    flags: [
      {
        name: 'demo-data-dir',
        type: 'string',
        placeholder: 'DIR',
        description:
          'Instead of DATABASE_URL, use the embedded database the demo command kept in DIR (e.g. .demo), after the demo has stopped. For trying the digest out with DRY_RUN=1.',
      },
    ],
    async run({ env, flags, stdout, stderr }) {
      const log = createLogger({ ...loadLoggingConfig(env, flags), destination: stderr });
      const demoDir = typeof flags['demo-data-dir'] === 'string' ? resolve(flags['demo-data-dir']) : null;
      const config = loadDigestConfig(env, flags, { embeddedDatabase: demoDir !== null });
      if (config.dryRunForced) {
        log.warn(
          'SLACK_WEBHOOK_URL is empty: dry run, nothing is posted (set DRY_RUN=1 to say so and silence this)',
        );
      }
      let embedded: EmbeddedPostgres | null = null;
      let databaseUrl = config.databaseUrl;
      if (databaseUrl === null) {
        const dataDir = join(demoDir ?? '.demo', 'pgdata');
        // Opening a missing directory would create an empty database and report "nothing new".
        if (!existsSync(dataDir)) {
          throw new AppError('USAGE', `--demo-data-dir: no demo database in ${dataDir}; run the demo first`);
        }
        embedded = await startEmbeddedPostgres(dataDir);
        databaseUrl = embedded.url;
      }
      // One connection: the digest lock is held by the session that sends.
      const pool = createPool(databaseUrl, log, {
        max: 1,
        applicationName: 'goldmane-edge-aggregator digest',
      });
      try {
        await migrate(pool).catch(asDatabaseError('cannot bring the schema up to date'));
        const store = await DigestStore.open(pool).catch(asDatabaseError('cannot connect to the database'));
        try {
          await runDigest({
            store,
            firstRunWindowMs: config.firstRunWindowMs,
            message: { timeZone: config.timeZone, channel: config.channel },
            webhookUrl: config.webhookUrl,
            log,
            stdout,
            timing,
            clock,
          }).catch(asDatabaseError('the digest could not use the database'));
        } finally {
          store.close();
        }
        return EXIT_CODES.OK;
      } finally {
        await pool.end();
        await embedded?.stop();
      }
    },
  };
}

export const digestCommand = createDigestCommand();
