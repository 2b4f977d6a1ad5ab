/**
 * `--demo-data-dir DIR`: lets the one-shot commands (digest, edges, allowlist, policy) read the
 * embedded database that `demo` kept in DIR, so a newcomer can try them on the demo's data
 * without a PostgreSQL server. Only after the demo has stopped: the embedded database is one
 * process's.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const LOCK_FILE = 'demo.pid';

/** The pid of a live process that holds the demo folder, or null. */
function holder(dir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, LOCK_FILE), 'utf8').trim());
  } catch {
    return null;
  }
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return pid;
  } catch (error) {
    // EPERM: it exists but belongs to someone else; ESRCH: a stale file from a killed demo.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/**
 * Marks the demo folder as in use by this process, so that a second process does not open the
 * same embedded database (it is one process's). Returns the release function.
 */
export function lockDemoFolder(dir: string): () => void {
  const pid = holder(dir);
  if (pid !== null && pid !== process.pid) {
    throw new AppError(
      'USAGE',
      `another demo (pid ${pid}) is using ${dir}; stop it first, or use another --data-dir`,
    );
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, LOCK_FILE), `${process.pid}\n`);
  return () => rmSync(join(dir, LOCK_FILE), { force: true });
}

/** Starts the demo's embedded database from DIR/pgdata; refuses a folder the demo never filled. */
export async function openDemoDatabase(dir: string): Promise<EmbeddedPostgres> {
  const pid = holder(dir);
  if (pid !== null) {
    throw new AppError(
      'USAGE',
      `--demo-data-dir: the demo (pid ${pid}) is still running on ${dir}; its embedded database serves one process: stop the demo first (Ctrl-C), or run it with DATABASE_URL and query that`,
    );
  }
  const dataDir = join(dir, 'pgdata');
  // Opening a missing directory would create an empty database and answer "nothing there".
  if (!existsSync(dataDir)) {
    throw new AppError('USAGE', `--demo-data-dir: no demo database in ${dataDir}; run the demo first`);
  }
  return startEmbeddedPostgres(dataDir);
}
