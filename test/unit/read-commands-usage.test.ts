/**
 * Usage errors of edges, allowlist and policy through the CLI's entry point (main) with captured
 * streams: each is refused before the configuration is read or the database is opened, so no
 * DATABASE_URL is given. (The e2e tests run the same commands as subprocesses against a database.)
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Collector();
  const stderr = new Collector();
  const code = await main(argv, { env: {}, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('usage errors: exit 2, `error [USAGE]: ...` on stderr, nothing on stdout', () => {
  it.each([
    [['edges', '--new-since', 'yesterday'], /--new-since: "yesterday" is neither a duration/],
    [['edges', '--seen-since', '2026-02-30'], /--seen-since: "2026-02-30" is not a calendar date/],
    [['edges', '--action', 'drop'], /--action: "drop" is not one of allow, deny, pass, unspecified/],
    [['edges', '--denied', '--action', 'allow'], /--denied and --action allow contradict each other/],
    [
      ['edges', '--sort', 'random'],
      /--sort: "random" is not one of src, dst, flow-count, first-seen, last-seen/,
    ],
    [['edges', '--limit', 'many'], /--limit: "many" is not a whole number/],
    [['edges', '--format', 'xml'], /--format: "xml" is not one of table, json, csv, dot, mermaid/],
    [['edges', '--json', '--format', 'csv'], /--json and --format csv ask for different formats/],
    [['edges', '--peers-of', 'shop', '--format', 'dot'], /use --ns shop --format dot/],
    [['edges', 'extra'], /unexpected argument "extra"/],
    [['allowlist'], /name one or more namespaces, or --all/],
    [['allowlist', 'shop', '--all'], /give namespaces or --all, not both/],
    [
      ['allowlist', "x'; DROP TABLE edge; --"],
      /^error \[USAGE\]: namespace: "x'; DROP TABLE edge; --" is not a namespace/,
    ],
    [['allowlist', '-'], /namespace: "-" is not a namespace/],
    [['allowlist', '--all', '--format', 'dot'], /--format: "dot" is not one of table, matrix, json, csv/],
    [['policy'], /name one or more namespaces, or --all/],
    [['policy', 'Shop'], /namespace: "Shop" is not a namespace/],
    [['policy', 'shop', '--kind', 'cilium'], /--kind: "cilium" is not one of k8s, calico-staged/],
    [['policy', 'shop', '--name', 'Bad Name'], /--name: "Bad Name" is not a Kubernetes object name/],
  ])('%j', async (argv, message) => {
    const result = await run(...argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error \[USAGE\]: .*\n$/);
    expect(result.stderr).toMatch(message);
  });

  it('a bad DNS baseline is a configuration error (exit 3), reported with its source', async () => {
    const result = await run('policy', 'shop', '--policy-dns-baseline', 'kube-dns');
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      'error [CONFIG_INVALID]: invalid configuration (1 problem):\n  - --policy-dns-baseline: "kube-dns" is not a DNS baseline; use NAMESPACE[/KEY=VALUE]:PORT such as kube-system/k8s-app=kube-dns:53, or none\n',
    );
  });
});

describe('help', () => {
  it.each([
    ['edges', ['--peers-of NS', '--new-since WHEN', '--limit N', '[default 200]', 'DATABASE_URL']],
    ['allowlist', ['--all', '--format FORMAT', 'table, matrix, json, csv']],
    [
      'policy',
      ['--kind KIND', '--out DIR', '--policy-dns-baseline VALUE', 'kube-system/k8s-app=kube-dns:53'],
    ],
  ])('%s --help lists its flags', async (command, expected) => {
    const result = await run(command, '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: goldmane-edge-aggregator ${command} \\[flags\\]`));
    for (const text of expected) expect(result.stdout).toContain(text);
  });
});
