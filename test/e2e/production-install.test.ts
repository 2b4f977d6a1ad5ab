/**
 * What the container image runs, without Docker (no engine on these machines): the files the
 * Dockerfile copies, a clean `npm ci --omit=dev` (production dependencies only), and the
 * Dockerfile's own ENTRYPOINT, flags included.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)![1]!) as string[];
let app: string;

async function image(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(entrypoint[0]!, [...entrypoint.slice(1), ...args], {
      cwd: app,
      env: { PATH: process.env.PATH!, NODE_ENV: 'production', LOG_FORMAT: 'json', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), 'gea-image-'));
  // What the runtime stage receives: package files, dist (from the build stage), proto, migrations, data.
  for (const path of ['package.json', 'package-lock.json', 'dist', 'proto', 'migrations', 'data']) {
    cpSync(join(ROOT, path), join(app, path), { recursive: true });
  }
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: app,
  });
}, 120_000);

describe('the production install', () => {
  it('has no development dependencies', async () => {
    const { stdout } = await run('npm', ['ls', '--omit=dev', '--depth=0', '--parseable'], { cwd: app });
    const installed = stdout.split('\n').filter((line) => line.includes('node_modules'));
    expect(installed.some((line) => /vitest|typescript|pglite|eslint/.test(line))).toBe(false);
    expect(installed.some((line) => line.endsWith('@grpc/grpc-js'))).toBe(true);
  });

  it('runs the entrypoint: help, and each command the runbook uses', async () => {
    const help = await image(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('  aggregate ');
    for (const command of ['aggregate', 'digest', 'migrate']) {
      expect((await image([command, '--help'])).code, command).toBe(0);
    }
  });

  it('migrates a database, and refuses a bad configuration with exit 3', async () => {
    const { url } = await createTestDatabase('image_migrate');
    const migrated = await image(['migrate'], { DATABASE_URL: url });
    expect(migrated).toMatchObject({ code: 0, stdout: expect.stringMatching(/^applied 0001_edge\.sql/) });
    const aggregate = await image(['aggregate'], { DATABASE_URL: url });
    expect(aggregate.code).toBe(3);
    expect(aggregate.stderr).toContain('TLS_CERT_PATH: /etc/goldmane-client-tls/tls.crt does not exist');
  });

  it('runs the digest dry when no webhook is set, as the runbook says', async () => {
    const { url } = await createTestDatabase('image_digest');
    expect((await image(['migrate'], { DATABASE_URL: url })).code).toBe(0);
    const digest = await image(['digest'], { DATABASE_URL: url, SLACK_WEBHOOK_URL: '' });
    expect(digest.code).toBe(0);
    expect(digest.stderr).toMatch(/SLACK_WEBHOOK_URL/);
  });

  it('explains that the embedded demo database is a development tool', async () => {
    const demo = await image(['demo', '--duration', '1s']);
    expect(demo.code).toBe(5);
    expect(demo.stderr).toContain(
      'error [DATABASE_UNAVAILABLE]: the embedded database is part of the development install (npm ci); set DATABASE_URL to use a PostgreSQL server',
    );
  });
});
