import { describe, expect, it } from 'vitest';
import { loadDigestConfig } from '../../src/config/load-config.js';
import { AppError } from '../../src/errors.js';

const DATABASE_URL = 'postgres://goldmane_edges:pw@db:5432/goldmane_edges';
const WEBHOOK = 'https://hooks.slack.com/services/T1/B2/s3cr3t';

function problemsOf(
  env: Record<string, string>,
  flags = {},
): { message: string; problems: readonly string[] } {
  try {
    loadDigestConfig(env, flags);
  } catch (error) {
    if (error instanceof AppError && error.code === 'CONFIG_INVALID') return error;
    throw error;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('loadDigestConfig', () => {
  it('reads the runbook contract with defaults: first-run window 24h, UTC', () => {
    expect(loadDigestConfig({ DATABASE_URL, SLACK_WEBHOOK_URL: WEBHOOK })).toEqual({
      databaseUrl: DATABASE_URL,
      webhookUrl: WEBHOOK,
      channel: null,
      dryRunForced: false,
      firstRunWindowMs: 86_400_000,
      timeZone: 'UTC',
      logging: { level: 'info', format: 'auto' },
    });
  });

  it('DRY_RUN=1 sends nothing even with a webhook; SLACK_CHANNEL is passed through', () => {
    const config = loadDigestConfig({
      DATABASE_URL,
      SLACK_WEBHOOK_URL: WEBHOOK,
      DRY_RUN: '1',
      SLACK_CHANNEL: '#alerts',
      DIGEST_TIMEZONE: 'Europe/London',
      DIGEST_FIRST_RUN_WINDOW: '7d',
    });
    expect(config).toMatchObject({
      webhookUrl: null,
      dryRunForced: false,
      channel: '#alerts',
      timeZone: 'Europe/London',
      firstRunWindowMs: 7 * 86_400_000,
    });
  });

  it('an empty SLACK_WEBHOOK_URL forces a dry run (the runbook), flagged for a warning', () => {
    expect(loadDigestConfig({ DATABASE_URL, SLACK_WEBHOOK_URL: '' })).toMatchObject({
      webhookUrl: null,
      dryRunForced: true,
    });
    expect(loadDigestConfig({ DATABASE_URL, DRY_RUN: 'true' })).toMatchObject({ dryRunForced: false });
  });

  it('reports every problem at once and never echoes the webhook URL', () => {
    const secret = 'not a url T1/B2/s3cr3t';
    const error = problemsOf({
      DATABASE_URL,
      SLACK_WEBHOOK_URL: secret,
      DIGEST_TIMEZONE: 'Mars/Olympus',
      DRY_RUN: 'maybe',
      DIGEST_FIRST_RUN_WINDOW: '24',
    });
    expect(error.problems).toEqual([
      'SLACK_WEBHOOK_URL is not a URL (value not shown: it is a secret); set it to the incoming webhook, https://hooks.slack.com/services/...',
      'DRY_RUN: "maybe" is not a boolean; use true or false',
      'DIGEST_TIMEZONE: "Mars/Olympus" is not an IANA timezone (e.g. Europe/London, UTC)',
      'DIGEST_FIRST_RUN_WINDOW: "24" is not a duration; use a number with a unit: ms, s, m, h or d (e.g. 5s, 24h)',
    ]);
    expect(error.message).not.toContain('s3cr3t');
  });

  it('refuses plain http except to loopback (a local stand-in for Slack)', () => {
    const error = problemsOf({
      DATABASE_URL,
      SLACK_WEBHOOK_URL: 'http://hooks.slack.com/services/T1/B2/s3cr3t',
    });
    expect(error.problems).toEqual([
      'SLACK_WEBHOOK_URL must start with https:// (it starts with http://); set it to the incoming webhook, https://hooks.slack.com/services/...',
    ]);
    expect(error.message).not.toContain('s3cr3t');
    expect(loadDigestConfig({ DATABASE_URL, SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/x' }).webhookUrl).toBe(
      'http://127.0.0.1:9/x',
    );
  });

  it('needs DATABASE_URL, unless the demo database is used, and not both', () => {
    expect(problemsOf({}).problems).toEqual([
      'DATABASE_URL is not set: set it to postgres://USER:PASSWORD@HOST:5432/goldmane_edges',
    ]);
    expect(loadDigestConfig({}, {}, { embeddedDatabase: true }).databaseUrl).toBeNull();
    expect(() => loadDigestConfig({ DATABASE_URL }, {}, { embeddedDatabase: true })).toThrow(
      '--demo-data-dir and DATABASE_URL are both set; use one',
    );
  });

  it('flags override the environment, except the secret webhook URL, which has no flag', () => {
    const config = loadDigestConfig(
      { DATABASE_URL, SLACK_WEBHOOK_URL: WEBHOOK },
      { 'dry-run': true, 'digest-timezone': 'Europe/Berlin', 'slack-webhook-url': 'https://evil.example/x' },
    );
    expect(config).toMatchObject({ webhookUrl: null, timeZone: 'Europe/Berlin' });
  });
});
