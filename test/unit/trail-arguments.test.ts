import { describe, expect, it } from 'vitest';
import {
  formatArgument,
  limitArgument,
  namespaceArgument,
  sinceArgument,
} from '../../src/cli/trail-arguments.js';
import { AppError } from '../../src/errors.js';

function usageError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('USAGE');
    expect((error as AppError).exitCode).toBe(2);
    return error as AppError;
  }
  throw new Error('expected a USAGE error');
}

describe('namespaceArgument', () => {
  it('accepts Kubernetes names, and - only where off-cluster is allowed', () => {
    expect(namespaceArgument('--src', 'kube-system')).toBe('kube-system');
    expect(namespaceArgument('--dst', '-', { allowOffCluster: true })).toBe('-');
    expect(usageError(() => namespaceArgument('namespace', '-')).message).toMatch(
      /^namespace: "-" is not a namespace/,
    );
  });

  it.each(["x'; DROP TABLE edge; --", 'Shop', 'a b', '', 'a'.repeat(64), '-shop', 'shop\u0000'])(
    'refuses %j, naming the argument',
    (value) => {
      const error = usageError(() => namespaceArgument('--src', value, { allowOffCluster: true }));
      expect(error.message).toBe(
        `--src: ${JSON.stringify(value)} is not a namespace (a Kubernetes namespace name is lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit; '-' selects off-cluster endpoints)`,
      );
    },
  );
});

describe('sinceArgument', () => {
  it('reads durations, dates and timestamps', () => {
    expect(sinceArgument('new-since', '24h')).toEqual({ agoMs: 86_400_000 });
    expect(sinceArgument('new-since', '7d')).toEqual({ agoMs: 604_800_000 });
    expect(sinceArgument('new-since', '2026-06-01')).toEqual({ at: new Date('2026-06-01T00:00:00Z') });
    expect(sinceArgument('seen-since', '2026-06-01T08:30:00+02:00')).toEqual({
      at: new Date('2026-06-01T06:30:00Z'),
    });
  });

  it.each(['yesterday', '24', '2026-02-30', '0h', '2026-06-01T08:00:00'])('refuses %s', (value) => {
    usageError(() => sinceArgument('new-since', value));
  });

  it('refuses spans the database cannot hold, naming the flag', () => {
    expect(() => sinceArgument('new-since', '99999999d')).toThrow('--new-since: "99999999d" is longer than 100 years');
    expect(() => sinceArgument('seen-since', '0001-01-01')).toThrow('--seen-since: "0001-01-01" is before 1970');
  });
});

describe('limitArgument', () => {
  it('defaults, takes whole numbers, and 0 means no limit', () => {
    expect(limitArgument(undefined, 200)).toBe(200);
    expect(limitArgument('5', 200)).toBe(5);
    expect(limitArgument('0', 200)).toBeNull();
    usageError(() => limitArgument('-1', 200));
    usageError(() => limitArgument('ten', 200));
  });
});

describe('formatArgument', () => {
  const formats = ['table', 'json', 'csv'] as const;
  it('takes --format, --json, or the default; refuses contradictions and unknown formats', () => {
    expect(formatArgument({}, formats, 'table')).toBe('table');
    expect(formatArgument({ format: 'csv' }, formats, 'table')).toBe('csv');
    expect(formatArgument({ json: true }, formats, 'table')).toBe('json');
    expect(formatArgument({ json: true, format: 'json' }, formats, 'table')).toBe('json');
    usageError(() => formatArgument({ json: true, format: 'csv' }, formats, 'table'));
    usageError(() => formatArgument({ format: 'xml' }, formats, 'table'));
  });
});
