import { ADMIN_URL, dropTestDatabases } from './database.js';

export default async function setup(): Promise<void> {
  try {
    await dropTestDatabases();
  } catch (error) {
    throw new Error(
      `the integration tests need PostgreSQL at ${ADMIN_URL} (set TEST_DATABASE_URL to use another): ${(error as Error).message}`,
    );
  }
}
