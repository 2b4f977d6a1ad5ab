/**
 * The benchmark's short version: it checks that every consumer's result is exact (the edge table
 * holds exactly the flows sent, through the fast sender, mutual TLS, the real `aggregate` command
 * and PostgreSQL), never that anything was fast: timings on a shared CI machine mean nothing.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));

interface BenchJson {
  stream: { flows: number; buckets: number; edges: number; acceptedRecords: number };
  runs: {
    pipeline: {
      flows: number;
      exact: boolean;
      differences: string[];
      edges: number;
      dataStatements: number;
      transactions: number;
      autovacuumRuns: number;
      exitCode: number | string | null;
      nodeFlags: string[];
      peakRssAnonBytes: number;
      cgroup: unknown;
    };
    naive: { flows: number; exact: boolean; differences: string[]; statements: number };
    bare: { messages: number };
    bareStream: { messages: number };
  }[];
}

describe('npm run bench, short', () => {
  it('commits exactly the edges of the flows sent, one statement per flush; the bare and naive consumers too', async () => {
    await run(process.execPath, [TSC, '-p', 'tsconfig.bench.json'], { cwd: ROOT });
    const { stdout } = await run(
      process.execPath,
      [
        'dist-bench/bench/run-bench.js',
        '--flows',
        '30000',
        '--naive-flows',
        '700',
        '--only',
        'pipeline,bare,naive',
        '--json',
      ],
      { cwd: ROOT },
    );
    const report = JSON.parse(stdout) as BenchJson;
    const { pipeline, naive, bare, bareStream } = report.runs[0]!;

    expect(report.stream.buckets).toBe(Math.ceil(30000 / 593));
    expect(pipeline.differences).toEqual([]);
    expect(pipeline.exact).toBe(true);
    expect(pipeline.flows).toBe(report.stream.flows);
    expect(pipeline.edges).toBe(report.stream.edges);
    // Shut down cleanly: everything received was committed.
    expect(pipeline.exitCode).toBe(0);
    // Every statement is a flush, plus the cursor's release at shutdown: never one per flow.
    // PostgreSQL also counts each table autovacuum vacuums or analyzes, at times of its choosing.
    expect(pipeline.dataStatements).toBeGreaterThan(0);
    expect(pipeline.transactions).toBeGreaterThanOrEqual(pipeline.dataStatements + 1);
    expect(pipeline.transactions).toBeLessThanOrEqual(pipeline.dataStatements + 1 + pipeline.autovacuumRuns);

    // The aggregator runs as the container image runs it: with the Dockerfile ENTRYPOINT's V8 flags.
    const entrypoint = JSON.parse(
      /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))![1]!,
    ) as string[];
    expect(pipeline.nodeFlags).toEqual(entrypoint.slice(1, entrypoint.indexOf('dist/cli/bin.js')));
    expect(pipeline.nodeFlags).toContain('--max-old-space-size=32');
    expect(pipeline.peakRssAnonBytes).toBeGreaterThan(1024 * 1024);
    expect(pipeline.cgroup).toBeNull();

    // The bare client received every message (the flows and the closing record), on the channel's
    // call and through the stream wrapper.
    const sent = report.stream.flows + 1;
    expect([bare.messages, bareStream.messages]).toEqual([sent, sent]);

    expect(naive.differences).toEqual([]);
    expect(naive.exact).toBe(true);
    expect(naive.flows).toBe(700);
    expect(naive.statements).toBeGreaterThan(600);
  }, 60_000);
});
