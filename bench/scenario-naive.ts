/** The naive baseline on a prefix of the same stream: one upsert per flow. */
import { spawn } from 'node:child_process';
import {
  createScratchDatabase,
  dropScratchDatabase,
  readEdgeTable,
  settledTransactions,
  waitForDisconnect,
  type ScratchDatabase,
} from './bench-database.js';
import { CLI_BIN } from './built.js';
import type { BenchContext } from './context.js';
import { expectedEdges, tableDifferences } from './expected-edges.js';
import type { NaiveArguments, NaiveResult } from './naive-upsert.js';
import { consumerScript, exited, runConsumer } from './subprocess.js';

export interface NaiveScenarioResult {
  readonly flows: number;
  readonly seconds: number;
  readonly flowsPerSecond: number;
  readonly cpuSeconds: number;
  readonly statements: number;
  readonly transactions: number;
  readonly exact: boolean;
  readonly differences: readonly string[];
}

/** Creates the schema with the real CLI (`migrate`), as an operator would. */
async function migrate(database: ScratchDatabase): Promise<void> {
  const child = spawn(process.execPath, [CLI_BIN, 'migrate'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DATABASE_URL: database.url, LOG_FORMAT: 'json' },
    stdio: 'ignore',
  });
  const code = await exited(child);
  if (code !== 0) throw new Error(`migrate exited with ${code}`);
}

export async function runNaive(
  context: BenchContext,
  flows: number,
  nodeFlags: readonly string[],
  keepDatabase = false,
): Promise<NaiveScenarioResult> {
  const database = await createScratchDatabase('naive');
  const sender = await context.startSender({ afterLast: 'hold' });
  try {
    await migrate(database);
    const before = await settledTransactions(database);
    const args: NaiveArguments = {
      port: sender.port,
      certDir: context.certDir,
      messages: Math.min(flows, context.stream.flows),
      databaseUrl: database.url,
    };
    const result = await runConsumer<NaiveResult>(consumerScript('naive-upsert'), args, nodeFlags, 600_000);
    const call = await sender.call(0);
    await waitForDisconnect(database);
    const transactions = (await settledTransactions(database)) - before;
    const expected = await expectedEdges(context.stream, result.messages);
    const differences = tableDifferences(expected.rows, await readEdgeTable(database));
    const seconds = (result.lastAt - (call.stats().firstWriteAt ?? result.firstAt)) / 1000;
    return {
      flows: result.messages,
      seconds,
      flowsPerSecond: result.messages / seconds,
      cpuSeconds: result.cpuSeconds,
      statements: result.statements,
      transactions,
      exact: differences.length === 0,
      differences,
    };
  } finally {
    await sender.stop();
    if (!keepDatabase) await dropScratchDatabase(database);
  }
}
