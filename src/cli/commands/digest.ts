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
import { migrate } from '../../store/migrate.js';
import { createPool } from '../../store/pool.js';
import type { Command } from '../command.js';
import { DEMO_DATA_DIR_FLAG, demoDataDir, openDemoDatabase } from '../demo-database.js';

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
    flags: [DEMO_DATA_DIR_FLAG],
    async run({ env, flags, stdout, stderr }) {
      const log = createLogger({ ...loadLoggingConfig(env, flags), destination: stderr });
      const demoDir = demoDataDir(flags);
      const config = loadDigestConfig(env, flags, { embeddedDatabase: demoDir !== null });
      if (config.dryRunForced) {
        log.warn(
          'SLACK_WEBHOOK_URL is empty: dry run, nothing is posted (set DRY_RUN=1 to say so and silence this)',
        );
      }
      const embedded = demoDir === null ? null : await openDemoDatabase(demoDir);
      const databaseUrl = config.databaseUrl ?? embedded!.url;
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
