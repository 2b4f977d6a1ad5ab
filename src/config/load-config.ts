/**
 * One frozen configuration object per command, from the environment and flags. The only module
 * that reads process.env (callers pass it in, which keeps tests free of global state).
 */
import { hostname } from 'node:os';
import { AppError } from '../errors.js';
import { SettingsReader, type Env, type FlagValues } from './settings-reader.js';
import { loadTlsMaterial, type TlsMaterial } from './tls-material.js';

/** The aggregator's heartbeat (HEARTBEAT_MS) writes whatever is pending this often; a test keeps them equal. */
export const FLUSH_INTERVAL_MAX_MS = 30_000;
export const BUCKET_QUIET_PERIOD_MAX_MS = 300_000;

export type LogFormat = 'json' | 'human' | 'auto';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LoggingConfig {
  readonly level: LogLevel;
  readonly format: LogFormat;
}

export interface GoldmaneConfig {
  /** host:port as given. */
  readonly target: string;
  /** The name the server certificate is checked against. */
  readonly serverName: string;
  /** True when GOLDMANE_SERVER_NAME differs from the host part of the target. */
  readonly serverNameOverridden: boolean;
  readonly insecure: boolean;
  readonly tls: TlsMaterial;
  /** 0 = keepalive pings off. */
  readonly keepaliveMs: number;
}

export interface IngestConfig {
  readonly flushIntervalMs: number;
  readonly quietPeriodMs: number;
  readonly includeOffCluster: boolean;
}

export interface AggregateConfig {
  /** Names this aggregator in the ingest cursor. */
  readonly instance: string;
  readonly goldmane: GoldmaneConfig;
  readonly databaseUrl: string;
  readonly ingest: IngestConfig;
  /** 0 = no HTTP server. */
  readonly httpPort: number;
  readonly logging: LoggingConfig;
}

export interface DatabaseCommandConfig {
  readonly databaseUrl: string;
  readonly logging: LoggingConfig;
}

export interface DemoConfig {
  /** null: use the embedded database. */
  readonly databaseUrl: string | null;
  readonly ingest: IngestConfig;
  readonly logging: LoggingConfig;
}

/** grpc-go's default keepalive enforcement is 5 minutes; 30 s of margin. */
const MIN_KEEPALIVE_MS = 330_000;

const DATABASE_URL_HINT = 'set it to postgres://USER:PASSWORD@HOST:5432/goldmane_edges';

/** Splits host:port, including [ipv6]:port. Returns null if there is no port. */
export function splitHostPort(target: string): { host: string; port: number } | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (match[1] ?? match[2])!, port };
}

/**
 * Checks a DATABASE_URL without ever echoing it: it contains the password.
 * Returns a problem description or null.
 */
export function checkDatabaseUrl(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `DATABASE_URL is not a URL (value not shown: it may hold a password); ${DATABASE_URL_HINT}`;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return `DATABASE_URL must start with postgres:// or postgresql:// (it starts with ${url.protocol}//)`;
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    return `DATABASE_URL has no host; ${DATABASE_URL_HINT}`;
  }
  return null;
}

/** The database URL without its password, for log lines. */
export function redactDatabaseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password !== '') url.password = '***';
    url.searchParams.delete('password');
    return url.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

function readLogging(reader: SettingsReader): LoggingConfig {
  return {
    level: reader.oneOf('LOG_LEVEL', ['info', 'debug', 'warn', 'error'] as const),
    format: reader.oneOf('LOG_FORMAT', ['auto', 'json', 'human'] as const),
  };
}

function readIngest(reader: SettingsReader): IngestConfig {
  return {
    flushIntervalMs: reader.durationMs('FLUSH_INTERVAL', {
      min: 100,
      max: { ms: FLUSH_INTERVAL_MAX_MS, why: 'the cursor heartbeat writes pending edges that often anyway' },
    }),
    quietPeriodMs: reader.durationMs('BUCKET_QUIET_PERIOD', {
      min: 100,
      max: {
        ms: BUCKET_QUIET_PERIOD_MAX_MS,
        why: 'Goldmane sends each bucket in one burst; waiting longer only holds the trail back',
      },
    }),
    includeOffCluster: reader.boolean('INCLUDE_OFF_CLUSTER'),
  };
}

function readDatabaseUrl(reader: SettingsReader): string {
  const url = reader.requiredString('DATABASE_URL', DATABASE_URL_HINT);
  if (url === '') return url;
  const problem = checkDatabaseUrl(url);
  if (problem !== null) reader.problems.push(problem);
  return url;
}

/** Logging settings alone, readable before anything else (so a config error can be logged properly). */
export function loadLoggingConfig(env: Env, flags: FlagValues = {}): LoggingConfig {
  const reader = new SettingsReader(env, flags);
  const logging = readLogging(reader);
  return reader.problems.length === 0 ? logging : { level: 'info', format: 'auto' };
}

export function loadAggregateConfig(env: Env, flags: FlagValues = {}, now = new Date()): AggregateConfig {
  const reader = new SettingsReader(env, flags);
  const target = reader.string('GOLDMANE_HOST') ?? '';
  const hostPort = splitHostPort(target);
  if (hostPort === null) {
    reader.problems.push(
      `${reader.source('GOLDMANE_HOST')}: "${target}" is not host:port (e.g. goldmane.calico-system.svc.cluster.local:7443)`,
    );
  }
  const explicitServerName = reader.string('GOLDMANE_SERVER_NAME');
  const serverName = explicitServerName ?? hostPort?.host ?? '';
  const insecure = reader.boolean('GOLDMANE_TLS_INSECURE');
  const keepaliveMs = reader.durationMs('GOLDMANE_KEEPALIVE', { allowZero: true });
  if (keepaliveMs !== 0 && keepaliveMs < MIN_KEEPALIVE_MS) {
    reader.problems.push(
      `${reader.source('GOLDMANE_KEEPALIVE')}: pings more often than every 5m30s make Goldmane close the connection (GOAWAY too_many_pings); use 0 or at least 5m30s`,
    );
  }
  const tls = loadTlsMaterial(
    {
      certPath: reader.string('TLS_CERT_PATH') ?? '',
      keyPath: reader.string('TLS_KEY_PATH') ?? '',
      caPath: insecure ? null : (reader.string('CA_CERT_PATH') ?? ''),
    },
    now,
    reader.problems,
  );
  const instance = reader.string('AGGREGATOR_INSTANCE') ?? env.HOSTNAME ?? hostname();
  if (instance.includes('/'))
    reader.problems.push(`${reader.source('AGGREGATOR_INSTANCE')}: "${instance}" must not contain "/"`);
  const config: AggregateConfig = {
    instance,
    goldmane: {
      target,
      serverName,
      serverNameOverridden: explicitServerName !== undefined && explicitServerName !== hostPort?.host,
      insecure,
      // Only null when there were problems, and then throwIfProblems below throws.
      tls: tls as TlsMaterial,
      keepaliveMs,
    },
    databaseUrl: readDatabaseUrl(reader),
    ingest: readIngest(reader),
    httpPort: reader.port('HTTP_PORT'),
    logging: readLogging(reader),
  };
  reader.throwIfProblems();
  if (tls === null) throw new AppError('INTERNAL', 'TLS material missing without a reported problem');
  return Object.freeze(config);
}

export function loadDatabaseCommandConfig(env: Env, flags: FlagValues = {}): DatabaseCommandConfig {
  const reader = new SettingsReader(env, flags);
  const config = { databaseUrl: readDatabaseUrl(reader), logging: readLogging(reader) };
  reader.throwIfProblems();
  return Object.freeze(config);
}

/** For commands that can also read the demo's embedded database (--demo-data-dir) instead. */
export function loadReadCommandConfig(
  env: Env,
  flags: FlagValues,
  options: { readonly embeddedDatabase: boolean },
): { readonly databaseUrl: string | null; readonly logging: LoggingConfig } {
  if (!options.embeddedDatabase) return loadDatabaseCommandConfig(env, flags);
  const reader = new SettingsReader(env, flags);
  if (reader.string('DATABASE_URL') !== undefined)
    reader.problems.push('--demo-data-dir and DATABASE_URL are both set; use one');
  const config = { databaseUrl: null, logging: readLogging(reader) };
  reader.throwIfProblems();
  return Object.freeze(config);
}

export function loadDemoConfig(env: Env, flags: FlagValues = {}): DemoConfig {
  const reader = new SettingsReader(env, flags);
  const url = reader.string('DATABASE_URL');
  if (url !== undefined) {
    const problem = checkDatabaseUrl(url);
    if (problem !== null) reader.problems.push(problem);
  }
  const config = { databaseUrl: url ?? null, ingest: readIngest(reader), logging: readLogging(reader) };
  reader.throwIfProblems();
  return Object.freeze(config);
}

export interface DigestConfig {
  /** null: the demo's embedded database (the digest's --demo-data-dir flag). */
  readonly databaseUrl: string | null;
  /** null: a dry run (DRY_RUN, or SLACK_WEBHOOK_URL empty). */
  readonly webhookUrl: string | null;
  /** SLACK_CHANNEL; null: the payload carries no channel. */
  readonly channel: string | null;
  /** SLACK_WEBHOOK_URL is empty and DRY_RUN was not asked for: warn that nothing is posted. */
  readonly dryRunForced: boolean;
  readonly firstRunWindowMs: number;
  readonly timeZone: string;
  readonly logging: LoggingConfig;
}

const WEBHOOK_URL_HINT = 'set it to the incoming webhook, https://hooks.slack.com/services/...';

/**
 * Checks SLACK_WEBHOOK_URL without ever echoing it: its path is the credential. Plain http only
 * to a loopback address (a local stand-in for Slack).
 */
export function checkWebhookUrl(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `SLACK_WEBHOOK_URL is not a URL (value not shown: it is a secret); ${WEBHOOK_URL_HINT}`;
  }
  if (url.username !== '' || url.password !== '') {
    return `SLACK_WEBHOOK_URL must not carry a user or password (value not shown); ${WEBHOOK_URL_HINT}`;
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    return `SLACK_WEBHOOK_URL must start with https:// (it starts with ${url.protocol}//); ${WEBHOOK_URL_HINT}`;
  }
  return null;
}

export function loadDigestConfig(
  env: Env,
  flags: FlagValues = {},
  options: { readonly embeddedDatabase?: boolean } = {},
): DigestConfig {
  const reader = new SettingsReader(env, flags);
  let databaseUrl: string | null = null;
  if (options.embeddedDatabase !== true) databaseUrl = readDatabaseUrl(reader);
  else if (reader.string('DATABASE_URL') !== undefined) {
    reader.problems.push('--demo-data-dir and DATABASE_URL are both set; use one');
  }
  const webhookUrl = reader.string('SLACK_WEBHOOK_URL') ?? null;
  if (webhookUrl !== null) {
    const problem = checkWebhookUrl(webhookUrl);
    if (problem !== null) reader.problems.push(problem);
  }
  const dryRun = reader.boolean('DRY_RUN');
  const timeZone = reader.string('DIGEST_TIMEZONE') ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    reader.problems.push(
      `${reader.source('DIGEST_TIMEZONE')}: "${timeZone}" is not an IANA timezone (e.g. Europe/London, UTC)`,
    );
  }
  const config: DigestConfig = {
    databaseUrl,
    webhookUrl: dryRun ? null : webhookUrl,
    channel: reader.string('SLACK_CHANNEL')?.trim() || null,
    dryRunForced: !dryRun && webhookUrl === null,
    firstRunWindowMs: reader.durationMs('DIGEST_FIRST_RUN_WINDOW', { allowZero: true }),
    timeZone,
    logging: readLogging(reader),
  };
  reader.throwIfProblems();
  return Object.freeze(config);
}
