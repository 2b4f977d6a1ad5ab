import { loadDatabaseCommandConfig, loadLoggingConfig } from '../../config/load-config.js';
import { AppError, EXIT_CODES } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { migrate } from '../../store/migrate.js';
import { createPool } from '../../store/pool.js';
import type { Command } from '../command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Create or upgrade the database schema, then exit.',
  description:
    'Applies the numbered migrations in migrations/ that the database does not have yet, in one transaction under an advisory lock (safe to run from several places at once). Works on a database created by the original service: its edge table and rows are kept. aggregate does the same at startup; this command exists for a DB-init Job.',
  flags: [],
  async run({ env, flags, stdout, stderr }) {
    const log = createLogger({ ...loadLoggingConfig(env, flags), destination: stderr });
    const config = loadDatabaseCommandConfig(env, flags);
    const pool = createPool(config.databaseUrl, log, { max: 1 });
    try {
      const result = await migrate(pool).catch((error: unknown) => {
        if (error instanceof AppError) throw error;
        throw new AppError('DATABASE_UNAVAILABLE', `cannot migrate: ${(error as Error).message}`, {
          cause: error,
        });
      });
      const applied = result.applied.map((m) => m.file);
      stdout.write(
        applied.length === 0
          ? `schema is up to date (version ${result.current})\n`
          : `applied ${applied.join(', ')}; schema is at version ${result.current}\n`,
      );
      return EXIT_CODES.OK;
    } finally {
      await pool.end();
    }
  },
};
