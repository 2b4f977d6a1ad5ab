import { readFileSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadAllCommands } from '../../src/cli/commands.js';

const COMMANDS = await loadAllCommands();
import { BIN, runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/database.js';

const SECRET = 'pa55-Wd-never-shown';

describe('the command line', () => {
  it('prints the commands on --help (exit 0), and on no arguments to stderr (exit 2)', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of COMMANDS) expect(help.stdout).toContain(`  ${command.name} `);
    const none = await runCli([]);
    expect([
      none.code,
      none.stdout,
      none.stderr.startsWith('Usage: goldmane-edge-aggregator <command>'),
    ]).toEqual([2, '', true]);
  });

  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(await runCli(['--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('has --help on every command', async () => {
    for (const command of COMMANDS) {
      const result = await runCli([command.name, '--help']);
      expect(result.code, command.name).toBe(0);
      expect(result.stdout.split('\n')[0]).toBe(
        `Usage: goldmane-edge-aggregator ${command.name} [flags]${command.arguments === undefined ? '' : ` ${command.arguments}`}`,
      );
    }
  });

  it('refuses an unknown command or flag with exit 2 and says where to look', async () => {
    expect(await runCli(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: `error [USAGE]: unknown command "frobnicate"; the commands are ${COMMANDS.map((c) => c.name).join(', ')}\n`,
    });
    const flag = await runCli(['migrate', '--frobnicate']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(
      /^error \[USAGE\]: Unknown option '--frobnicate'.*; see `goldmane-edge-aggregator migrate --help`\n$/,
    );
  });

  it('reports every configuration problem at once with exit 3, never showing the password', async () => {
    const result = await runCli(['aggregate'], {
      GOLDMANE_HOST: 'goldmane',
      TLS_CERT_PATH: '/nonexistent/tls.crt',
      DATABASE_URL: `mysql://edges:${SECRET}@db/goldmane_edges`,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      [
        'error [CONFIG_INVALID]: invalid configuration (5 problems):',
        '  - GOLDMANE_HOST: "goldmane" is not host:port (e.g. goldmane.calico-system.svc.cluster.local:7443)',
        '  - TLS_CERT_PATH: /nonexistent/tls.crt does not exist',
        '  - TLS_KEY_PATH: /etc/goldmane-client-tls/tls.key does not exist',
        '  - CA_CERT_PATH: /etc/tigera-ca/tigera-ca-bundle.crt does not exist',
        '  - DATABASE_URL must start with postgres:// or postgresql:// (it starts with mysql://)',
        '',
      ].join('\n'),
    );
  });

  it('migrate: applies the schema, then finds it up to date', async () => {
    const { url } = await createTestDatabase('cli_migrate');
    const first = await runCli(['migrate'], { DATABASE_URL: url });
    expect(first).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(
        /^applied 0001_edge\.sql, 0002_ingest_state\.sql.*; schema is at version \d+\n$/,
      ),
    });
    expect(await runCli(['migrate'], { DATABASE_URL: url })).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^schema is up to date \(version \d+\)\n$/),
    });
  });

  it('migrate: two at once both succeed and apply each migration once', async () => {
    const { url } = await createTestDatabase('cli_migrate_twice');
    const results = await Promise.all([
      runCli(['migrate'], { DATABASE_URL: url }),
      runCli(['migrate'], { DATABASE_URL: url }),
    ]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect(results.filter((r) => r.stdout.startsWith('applied'))).toHaveLength(1);
    const pool = new pg.Pool({ connectionString: url });
    const { rows } = await pool.query<{ n: string; distinct: string }>(
      'SELECT count(*) AS n, count(DISTINCT version) AS distinct FROM schema_migration',
    );
    await pool.end();
    expect(rows[0]!.n).toBe(rows[0]!.distinct);
  });

  it('migrate: an unreachable database is exit 5, and the password stays hidden', async () => {
    const result = await runCli(['migrate'], {
      DATABASE_URL: `postgres://edges:${SECRET}@127.0.0.1:1/goldmane_edges`,
    });
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(
      /^error \[DATABASE_UNAVAILABLE\]: cannot migrate: connect ECONNREFUSED 127\.0\.0\.1:1\n$/,
    );
    expect(result.stdout + result.stderr).not.toContain(SECRET);
  });
});

describe('output into a pipe that closes early', () => {
  it('policy --all | head -3 ends quietly (EPIPE is the reader being done)', async () => {
    const { url } = await createTestDatabase('cli_epipe');
    expect((await runCli(['migrate'], { DATABASE_URL: url })).code).toBe(0);
    const pool = new pg.Pool({ connectionString: url });
    await pool.query(
      `INSERT INTO edge SELECT 'ns-' || s, 'ns-' || d, 'allow', now() - interval '30 days', now(), 1
         FROM generate_series(1, 200) s, generate_series(1, 10) d WHERE s <> d`,
    );
    await pool.end();
    const { execFile } = await import('node:child_process');
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'bash',
        ['-c', `set -o pipefail; node ${BIN} policy --all | head -3`],
        { env: { PATH: process.env.PATH!, DATABASE_URL: url } },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr }),
      );
    });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/EPIPE|Error|error \[/);
    expect(result.stdout.split('\n')).toHaveLength(4);
  });
});

describe('simulate refuses what it cannot do', () => {
  it('names a --tls-dir that is a file, a history beyond an hour, an unknown scripted action', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const join = (...parts: string[]): string => path.join(...parts);
    const writeFileSync = (file: string, text: string): void => fs.writeFileSync(file, text);
    const dir = fs.mkdtempSync(join(os.tmpdir(), 'gea-sim-bad-'));
    writeFileSync(join(dir, 'file'), 'x');
    writeFileSync(
      join(dir, 'script.json'),
      JSON.stringify({ flows: [{ start: -60, sourceNamespace: 'a', destNamespace: 'b', action: 'bogus' }] }),
    );
    expect(await runCli(['simulate', '--tls-dir', join(dir, 'file')])).toMatchObject({
      code: 3,
      stderr: `error [CONFIG_INVALID]: --tls-dir: ${join(dir, 'file')} is a file, not a folder\n`,
    });
    expect((await runCli(['simulate', '--history', '5h'])).stderr).toContain(
      '--history: Goldmane holds at most 1h',
    );
    expect((await runCli(['simulate', '--script', join(dir, 'script.json')])).stderr).toContain(
      'flows[0].action must be one of allow, deny, pass, unspecified or a number',
    );
  });
});
