/**
 * An embedded PostgreSQL (PGlite, Postgres compiled to WebAssembly) for the demo, served on a
 * loopback port so that the rest of the program talks to it with the same driver and SQL as to a
 * real server. It ships with the development install only; production sets DATABASE_URL.
 *
 * PGlite is a single session: connections are multiplexed onto it, so callers must use a pool of
 * one connection (transactions from two connections would interleave).
 */
import { mkdir } from 'node:fs/promises';
import { AppError } from '../errors.js';

export interface EmbeddedPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  let pglite: typeof import('@electric-sql/pglite');
  let socket: typeof import('@electric-sql/pglite-socket');
  try {
    pglite = await import('@electric-sql/pglite');
    socket = await import('@electric-sql/pglite-socket');
  } catch (error) {
    throw new AppError(
      'DATABASE_UNAVAILABLE',
      'the embedded database is part of the development install (npm ci); set DATABASE_URL to use a PostgreSQL server',
      { cause: error },
    );
  }
  await mkdir(dataDir, { recursive: true });
  const db = await pglite.PGlite.create(dataDir);
  const server = new socket.PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
  await server.start();
  const address = server.getServerConn();
  return {
    url: `postgres://postgres@${address}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
