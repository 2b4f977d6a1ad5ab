/**
 * What the read-side commands (edges, allowlist, policy) share: checking their arguments before
 * anything reaches the database, opening one read-only snapshot of the trail, and writing output.
 */
import { parseDuration } from '../config/duration.js';
import { loadLoggingConfig, loadReadCommandConfig } from '../config/load-config.js';
import { demoDataDir, openDemoDatabase } from './demo-database.js';
import type { FlagValues } from '../config/settings-reader.js';
import { NO_NAMESPACE, isValidNamespace } from '../edges/flow-to-edge.js';
import { AppError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { createPool } from '../store/pool.js';
import { withReadOnlySnapshot, type TimeBound } from '../store/trail-queries.js';
import { PROGRAM, type CommandContext } from './command.js';

const NAMESPACE_RULE =
  "a Kubernetes namespace name is lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit";

/** A string flag's value, or undefined. */
export function stringFlag(flags: FlagValues, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * A namespace from the command line. Checked as a Kubernetes name before it is used anywhere,
 * which also refuses quotes, spaces and anything else an injection attempt needs (the value still
 * travels only as a query parameter). `-` (off-cluster endpoints) only where allowed.
 */
export function namespaceArgument(
  what: string,
  value: string,
  options: { allowOffCluster?: boolean } = {},
): string {
  if (options.allowOffCluster === true && value === NO_NAMESPACE) return value;
  if (!isValidNamespace(value)) {
    const offCluster = options.allowOffCluster === true ? "; '-' selects off-cluster endpoints" : '';
    throw new AppError(
      'USAGE',
      `${what}: ${JSON.stringify(value)} is not a namespace (${NAMESPACE_RULE}${offCluster})`,
    );
  }
  return value;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** Further back than any trail (and within what PostgreSQL's timestamptz and JS dates hold). */
const MAX_LOOKBACK_MS = 100 * 365 * 86_400_000;
const EARLIEST_YEAR = 1970;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `--new-since` / `--seen-since`: a duration back from the database's clock (`24h`, `7d`), a UTC
 * date (`2026-06-01`, from its midnight), or an RFC 3339 timestamp with a zone.
 */
export function sinceArgument(flag: string, value: string): TimeBound {
  const text = value.trim();
  const date = DATE.exec(text);
  if (date !== null) {
    const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
    if (year < EARLIEST_YEAR)
      throw new AppError('USAGE', `--${flag}: ${JSON.stringify(value)} is before ${EARLIEST_YEAR}`);
    const at = new Date(Date.UTC(year, month - 1, day));
    if (at.getUTCFullYear() === year && at.getUTCMonth() === month - 1 && at.getUTCDate() === day)
      return { at };
    throw new AppError('USAGE', `--${flag}: ${JSON.stringify(value)} is not a calendar date`);
  }
  if (TIMESTAMP.test(text)) {
    const at = new Date(text);
    if (!Number.isNaN(at.getTime())) return { at };
  }
  let agoMs: number;
  try {
    agoMs = parseDuration(text);
  } catch {
    throw new AppError(
      'USAGE',
      `--${flag}: ${JSON.stringify(value)} is neither a duration (24h, 7d, 90m) nor a date (2026-06-01 or 2026-06-01T08:00:00Z)`,
    );
  }
  if (agoMs <= 0) throw new AppError('USAGE', `--${flag}: the duration must be more than 0`);
  if (agoMs > MAX_LOOKBACK_MS)
    throw new AppError('USAGE', `--${flag}: ${JSON.stringify(value)} is longer than 100 years`);
  return { agoMs };
}

/** `--limit N`; 0 means no limit (null). */
export function limitArgument(value: string | undefined, defaultLimit: number): number | null {
  if (value === undefined) return defaultLimit;
  if (!/^\d{1,9}$/.test(value.trim())) {
    throw new AppError('USAGE', `--limit: ${JSON.stringify(value)} is not a whole number (0 for no limit)`);
  }
  const limit = Number(value.trim());
  return limit === 0 ? null : limit;
}

export function choiceArgument<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new AppError('USAGE', `--${flag}: ${JSON.stringify(value)} is not one of ${choices.join(', ')}`);
}

/** `--format F` with `--json` as its short form; both at once must agree. */
export function formatArgument<T extends string>(flags: FlagValues, choices: readonly T[], fallback: T): T {
  const format = stringFlag(flags, 'format');
  if (flags.json === true) {
    if (format !== undefined && format !== 'json') {
      throw new AppError('USAGE', `--json and --format ${format} ask for different formats; give one`);
    }
    return choiceArgument('format', 'json', choices);
  }
  return format === undefined ? fallback : choiceArgument('format', format, choices);
}

export function usageHint(command: string): string {
  return `see \`${PROGRAM} ${command} --help\``;
}

/**
 * Opens the database (DATABASE_URL, or the demo's with --demo-data-dir), runs `work` in one
 * read-only snapshot, and closes it.
 * One connection: the commands run their queries one after another.
 */
export async function readTrail<T>(
  context: Pick<CommandContext, 'env' | 'flags' | 'stderr'>,
  command: string,
  work: Parameters<typeof withReadOnlySnapshot<T>>[1],
): Promise<T> {
  const log = createLogger({ ...loadLoggingConfig(context.env, context.flags), destination: context.stderr });
  const demoDir = demoDataDir(context.flags);
  const config = loadReadCommandConfig(context.env, context.flags, { embeddedDatabase: demoDir !== null });
  const embedded = demoDir === null ? null : await openDemoDatabase(demoDir);
  const pool = createPool(config.databaseUrl ?? embedded!.url, log, {
    max: 1,
    applicationName: `goldmane-edge-aggregator ${command}`,
  });
  try {
    return await withReadOnlySnapshot(pool, work);
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

/**
 * Writes and waits until the stream has taken the data, so that a large answer is complete in the
 * pipe before the process exits (bin.ts exits soon after a command returns).
 */
export function writeOut(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (error) => (error === undefined || error === null ? resolve() : reject(error)));
  });
}

/** A diagnostic line on stderr (never data). */
export function note(stderr: NodeJS.WritableStream, text: string): void {
  stderr.write(`${text}\n`);
}
