/**
 * `--demo-data-dir DIR`: lets the one-shot commands (digest, edges, allowlist, policy) read the
 * embedded database that `demo` kept in DIR, so a newcomer can try them on the demo's data
 * without a PostgreSQL server. Only after the demo has stopped: the embedded database is one
 * process's.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FlagValues } from '../config/settings-reader.js';
import { AppError } from '../errors.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../store/embedded-postgres.js';
import type { FlagSpec } from './command.js';

export const DEMO_DATA_DIR_FLAG: FlagSpec = {
  name: 'demo-data-dir',
  type: 'string',
  placeholder: 'DIR',
  description:
    'Instead of DATABASE_URL, read the embedded database the demo command kept in DIR (e.g. .demo), after the demo has stopped.',
};

/** The directory given with --demo-data-dir, or null. */
export function demoDataDir(flags: FlagValues): string | null {
  const value = flags[DEMO_DATA_DIR_FLAG.name];
  return typeof value === 'string' ? resolve(value) : null;
}

/** Starts the demo's embedded database from DIR/pgdata; refuses a folder the demo never filled. */
export async function openDemoDatabase(dir: string): Promise<EmbeddedPostgres> {
  const dataDir = join(dir, 'pgdata');
  // Opening a missing directory would create an empty database and answer "nothing there".
  if (!existsSync(dataDir)) {
    throw new AppError('USAGE', `--demo-data-dir: no demo database in ${dataDir}; run the demo first`);
  }
  return startEmbeddedPostgres(dataDir);
}
