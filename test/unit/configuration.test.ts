import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generatedPart, renderConfigurationTables } from '../../src/cli/configuration-doc.js';
import { formatDuration, parseDuration } from '../../src/config/duration.js';
import { HEARTBEAT_MS } from '../../src/aggregate/aggregator.js';
import { FLUSH_INTERVAL_MAX_MS, splitHostPort } from '../../src/config/load-config.js';
import { SETTINGS } from '../../src/config/settings.js';
import { SettingsReader } from '../../src/config/settings-reader.js';

describe('docs/configuration.md', () => {
  it('lists every setting and flag exactly as the code has them (regenerate with npm run docs:config)', async () => {
    const document = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(generatedPart(document)).toBe(await renderConfigurationTables());
  });

  it('documents every setting with a description, and marks secrets environment-only', async () => {
    for (const setting of SETTINGS) expect(setting.description.length, setting.env).toBeGreaterThan(10);
    expect(await renderConfigurationTables()).toContain('| `DATABASE_URL` | (environment only) |');
  });
});

describe('parseDuration', () => {
  it('reads a number with a unit', () => {
    expect([
      parseDuration('500ms'),
      parseDuration('5s'),
      parseDuration('6m'),
      parseDuration('24h'),
      parseDuration('7d'),
      parseDuration('1.5s'),
    ]).toEqual([500, 5000, 360_000, 86_400_000, 604_800_000, 1500]);
  });

  it('refuses a bare number and other shapes, saying what it wants', () => {
    for (const text of ['5', '5 sec', '-5s', 's', '']) {
      expect(() => parseDuration(text)).toThrow(
        `"${text}" is not a duration; use a number with a unit: ms, s, m, h or d (e.g. 5s, 24h)`,
      );
    }
  });

  it('formats back to the largest exact unit', () => {
    expect([
      formatDuration(90_000),
      formatDuration(3_600_000),
      formatDuration(1500),
      formatDuration(0),
    ]).toEqual(['90s', '1h', '1500ms', '0ms']);
  });
});

describe('FLUSH_INTERVAL', () => {
  it('may be as long as the heartbeat that writes pending edges anyway, and no longer', () => {
    expect(FLUSH_INTERVAL_MAX_MS).toBe(HEARTBEAT_MS);
  });
});

describe('SettingsReader', () => {
  it('takes a flag over the environment over the default, and treats "" as unset', () => {
    const reader = new SettingsReader({ FLUSH_INTERVAL: '2s', LOG_LEVEL: '' }, { 'flush-interval': '3s' });
    expect(reader.durationMs('FLUSH_INTERVAL')).toBe(3000);
    expect(reader.raw('LOG_LEVEL')).toBe('info');
    expect(reader.source('FLUSH_INTERVAL')).toBe('--flush-interval');
  });

  it('never reads a secret from a flag', () => {
    const reader = new SettingsReader({}, { 'database-url': 'postgres://x:y@h/d' });
    expect(reader.raw('DATABASE_URL')).toBeUndefined();
  });
});

describe('splitHostPort', () => {
  it('splits names, IPv4 and bracketed IPv6', () => {
    expect(splitHostPort('goldmane.calico-system.svc:7443')).toEqual({
      host: 'goldmane.calico-system.svc',
      port: 7443,
    });
    expect(splitHostPort('10.42.3.17:7443')).toEqual({ host: '10.42.3.17', port: 7443 });
    expect(splitHostPort('[fd00::1]:7443')).toEqual({ host: 'fd00::1', port: 7443 });
    expect([
      splitHostPort('goldmane'),
      splitHostPort('goldmane:0'),
      splitHostPort('goldmane:70000'),
      splitHostPort(':7443'),
    ]).toEqual([null, null, null, null]);
  });
});

describe('boolean settings as flags', () => {
  it('take no value: --include-off-cluster and --dry-run alone mean true', async () => {
    const { parseCommandArgs } = await import('../../src/cli/command.js');
    const { aggregateCommand } = await import('../../src/cli/commands/aggregate.js');
    const { digestCommand } = await import('../../src/cli/commands/digest.js');
    const aggregate = parseCommandArgs(aggregateCommand, ['--include-off-cluster']);
    expect(new SettingsReader({}, aggregate.flags).boolean('INCLUDE_OFF_CLUSTER')).toBe(true);
    const digest = parseCommandArgs(digestCommand, ['--dry-run']);
    expect(new SettingsReader({ DRY_RUN: 'false' }, digest.flags).boolean('DRY_RUN')).toBe(true);
    expect(() => parseCommandArgs(digestCommand, ['--dry-run=yes'])).toThrow(/--dry-run/);
  });
});
