/**
 * The full pipeline: the fast sender → the real `aggregate` command (a subprocess of the built
 * CLI, with the V8 flags given) → a scratch PostgreSQL database. Also the sustained-load memory
 * measurement, which is the same run at a set rate with an idle period first.
 *
 * "Last commit": the stream's buckets are followed by one record of the next bucket (the closing
 * record). As Goldmane's next bucket would, it completes the last bucket at once, instead of after
 * BUCKET_QUIET_PERIOD; it is never counted itself, because its own bucket never completes (the call
 * stays open, as a Goldmane with nothing new to send holds it). The aggregator runs with
 * LOG_LEVEL=debug, which adds one line per committed batch, and the run ends at the line after
 * which every expected record is committed. The time is that line's timestamp.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  autovacuumRuns,
  createScratchDatabase,
  dropScratchDatabase,
  readEdgeTable,
  settledTransactions,
  STATISTICS_DELAY_MS,
  waitForDisconnect,
} from './bench-database.js';
import { CLI_BIN } from './built.js';
import { SERVER_NAME } from './consumer-connection.js';
import type { BenchContext } from './context.js';
import { tableDifferences, type ExpectedEdges } from './expected-edges.js';
import { MemoryCgroup, type CgroupOutcome } from './memory-cgroup.js';
import { ownCpuSeconds, sampleProcess, type ProcessSample } from './proc-stats.js';
import { exited } from './subprocess.js';

export interface PipelineOptions {
  readonly expected: ExpectedEdges;
  /** V8 flags for the aggregator's node process. */
  readonly nodeFlags?: readonly string[];
  /** Flows per second; absent: as fast as the aggregator reads. */
  readonly ratePerSecond?: number;
  /** Keep the aggregator connected and idle this long before sending, and measure it. */
  readonly idleMs?: number;
  readonly flushInterval?: string;
  readonly keepDatabase?: boolean;
  /** Give up when no batch has committed for this long. */
  readonly stallTimeoutMs?: number;
  /** Run the aggregator in a memory cgroup with this hard limit (see memory-cgroup.ts). */
  readonly memoryLimitBytes?: number;
}

export interface PipelineResult {
  readonly flows: number;
  readonly seconds: number;
  readonly flowsPerSecond: number;
  /** Flows over the time the sender took to write them (the receive rate, without the commit tail). */
  readonly receiveFlowsPerSecond: number;
  /** From the sender's last write to the last commit. */
  readonly commitLagSeconds: number;
  /** Batches committed (one statement each, from the aggregator's log). */
  readonly dataStatements: number;
  /** Transactions PostgreSQL counted in the database from the first message to the aggregator's exit. */
  readonly transactions: number;
  /** Tables autovacuum vacuumed or analyzed (each a transaction in `transactions`'s count too). */
  readonly autovacuumRuns: number;
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  /** VmHWM after the idle period (only with idleMs). */
  readonly idlePeakRssBytes: number | null;
  readonly idleRssBytes: number | null;
  /** The highest RssAnon seen, sampled every 100 ms from the start to the last commit. */
  readonly peakRssAnonBytes: number;
  /** With memoryLimitBytes: what the kernel counted in the cgroup. */
  readonly cgroup: CgroupOutcome | null;
  /** CPU of the benchmark process (the sender) during the run. */
  readonly senderCpuSeconds: number;
  readonly exact: boolean;
  readonly differences: readonly string[];
  readonly edges: number;
  readonly exitCode: number | string | null;
  readonly nodeFlags: readonly string[];
}

interface CommitLine {
  readonly msg?: string;
  /** ISO 8601 in JSON logs (pino's isoTime), epoch milliseconds otherwise. */
  readonly time?: string | number;
  readonly records?: number;
  readonly level?: number | string;
}

export async function runPipeline(context: BenchContext, options: PipelineOptions): Promise<PipelineResult> {
  const database = await createScratchDatabase('pipeline');
  const sender = await context.startSender({
    paused: true,
    afterLast: 'hold',
    ...(options.ratePerSecond === undefined ? {} : { ratePerSecond: options.ratePerSecond }),
  });
  const nodeFlags = options.nodeFlags ?? [];
  const cgroup =
    options.memoryLimitBytes === undefined ? null : MemoryCgroup.create(options.memoryLimitBytes);
  const child = spawn(cgroup?.nodePath ?? process.execPath, [...nodeFlags, CLI_BIN, 'aggregate'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      GOLDMANE_HOST: `127.0.0.1:${sender.port}`,
      GOLDMANE_SERVER_NAME: SERVER_NAME,
      TLS_CERT_PATH: join(context.certDir, 'client.crt'),
      TLS_KEY_PATH: join(context.certDir, 'client.key'),
      CA_CERT_PATH: join(context.certDir, 'ca.crt'),
      DATABASE_URL: database.url,
      FLUSH_INTERVAL: options.flushInterval ?? '1s',
      AGGREGATOR_INSTANCE: 'bench',
      HTTP_PORT: '0',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  cgroup?.add(child.pid!);
  let peakRssAnonBytes = 0;
  const anonSampler = setInterval(() => {
    try {
      peakRssAnonBytes = Math.max(peakRssAnonBytes, sampleProcess(child.pid!).rssAnonBytes);
    } catch {
      // The process has exited.
    }
  }, 100);
  const logTail: string[] = [];
  let committedRecords = 0;
  let dataStatements = 0;
  let lastCommitAt = 0;
  let lastProgressAt = Date.now();
  let measuring = false;
  let wake: (() => void) | null = null;
  createInterface({ input: child.stderr }).on('line', (line) => {
    logTail.push(line);
    if (logTail.length > 40) logTail.shift();
    if (!line.startsWith('{')) return;
    const entry = JSON.parse(line) as CommitLine;
    // Only batches of the measured window: the first heartbeat after connecting is a batch too.
    if (entry.msg === 'batch committed' && typeof entry.records === 'number' && measuring) {
      dataStatements++;
      committedRecords += entry.records;
      lastCommitAt = typeof entry.time === 'string' ? Date.parse(entry.time) : (entry.time ?? Date.now());
      lastProgressAt = Date.now();
      wake?.();
    }
  });
  const childExit = exited(child);
  const failure = (what: string): Error => {
    const limited =
      cgroup === null
        ? ''
        : ` (in a cgroup limited to ${options.memoryLimitBytes} bytes: ${JSON.stringify(cgroup.outcome())})`;
    return new Error(
      `full pipeline: ${what}${limited}; the aggregator's last log lines:\n${logTail.join('\n')}`,
    );
  };

  try {
    let giveUp: NodeJS.Timeout | undefined;
    const call = await Promise.race([
      sender.call(0),
      childExit.then((code) => Promise.reject(failure(`the aggregator exited (${code}) before streaming`))),
      new Promise<never>((_, reject) => {
        giveUp = setTimeout(
          () => reject(failure('the aggregator did not open a stream within 60 s')),
          60_000,
        );
      }),
    ]).finally(() => clearTimeout(giveUp));
    let idle: ProcessSample | null = null;
    if (options.idleMs !== undefined) {
      await sleep(options.idleMs);
      idle = sampleProcess(child.pid!);
    }
    // The migrations and the cursor claim (and the first heartbeat) are before the window.
    const transactionsBefore = await settledTransactions(database, STATISTICS_DELAY_MS);
    const before = sampleProcess(child.pid!);
    const senderCpuBefore = ownCpuSeconds();
    lastProgressAt = Date.now();
    measuring = true;
    sender.release();

    const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
    while (committedRecords < options.expected.records) {
      if (child.exitCode !== null || child.signalCode !== null) throw failure('the aggregator exited');
      if (Date.now() - lastProgressAt > stallTimeoutMs)
        throw failure(
          `no batch committed for ${stallTimeoutMs / 1000} s (${committedRecords} of ${options.expected.records} records committed)`,
        );
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1_000);
      });
      wake = null;
    }
    const after = sampleProcess(child.pid!);
    clearInterval(anonSampler);
    peakRssAnonBytes = Math.max(peakRssAnonBytes, after.rssAnonBytes);
    const cgroupOutcome = cgroup?.outcome() ?? null;
    const senderCpuSeconds = ownCpuSeconds() - senderCpuBefore;
    const sent = call.stats();
    child.kill('SIGTERM');
    const exitCode = await childExit;
    if (process.env.BENCH_AGGREGATOR_LOG === '1') process.stderr.write(`${logTail.join('\n')}\n`);
    await waitForDisconnect(database);
    const transactions = (await settledTransactions(database)) - transactionsBefore;
    const autovacuum = await autovacuumRuns(database);
    const table = await readEdgeTable(database);
    const differences = tableDifferences(options.expected.rows, table);
    const flows = context.stream.flows;
    const firstWriteAt = sent.firstWriteAt ?? 0;
    const seconds = (lastCommitAt - firstWriteAt) / 1000;
    return {
      flows,
      seconds,
      flowsPerSecond: flows / seconds,
      receiveFlowsPerSecond: flows / (((sent.lastWriteAt ?? 0) - firstWriteAt) / 1000),
      commitLagSeconds: (lastCommitAt - (sent.lastWriteAt ?? 0)) / 1000,
      dataStatements,
      transactions,
      autovacuumRuns: autovacuum,
      cpuSeconds: after.cpuSeconds - before.cpuSeconds,
      peakRssBytes: after.peakRssBytes,
      idlePeakRssBytes: idle?.peakRssBytes ?? null,
      idleRssBytes: idle?.rssBytes ?? null,
      peakRssAnonBytes,
      cgroup: cgroupOutcome,
      senderCpuSeconds,
      exact: differences.length === 0 && committedRecords === options.expected.records,
      differences:
        committedRecords === options.expected.records
          ? differences
          : [`${committedRecords} records committed, ${options.expected.records} expected`, ...differences],
      edges: table.length,
      exitCode,
      nodeFlags,
    };
  } finally {
    clearInterval(anonSampler);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await childExit;
    cgroup?.dispose();
    await sender.stop();
    if (options.keepDatabase !== true) await dropScratchDatabase(database);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
