/**
 * Structured logs: one JSON object per line on stderr (stdout is for command output), or a short
 * human format on a terminal. Secrets must never be passed to the logger; the redact list is a
 * safety net for the field names that could carry them, not a licence to log config objects.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { LogFormat, LogLevel } from '../config/load-config.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go; defaults to stderr. Tests pass a collector. */
  readonly destination?: NodeJS.WritableStream & { isTTY?: boolean };
  readonly name?: string;
}

const REDACT_PATHS = [
  'databaseUrl',
  'password',
  'webhookUrl',
  'key',
  '*.databaseUrl',
  '*.password',
  '*.webhookUrl',
  '*.key',
  'config',
];

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** Rewrites pino's JSON lines as `13:07:15 INFO message key=value ...`. */
export function humanLine(json: string): string {
  const entry = JSON.parse(json) as Record<string, unknown>;
  const { time, level, msg, pid: _pid, hostname: _hostname, name: _name, ...fields } = entry;
  const clock = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 19);
  const levelName = String(level).toUpperCase().padEnd(5);
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ');
  return `${clock} ${levelName} ${typeof msg === 'string' ? msg : ''}${rest === '' ? '' : ` ${rest}`}\n`;
}

function humanStream(target: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') target.write(humanLine(line));
      }
      callback();
    },
  });
}

export function createLogger(options: LoggerOptions): Logger {
  const target = options.destination ?? process.stderr;
  const human =
    options.format === 'human' ||
    (options.format === 'auto' && (target as { isTTY?: boolean }).isTTY === true);
  const destination = human ? humanStream(target) : target;
  return pino(
    {
      level: options.level,
      base: options.name === undefined ? null : { name: options.name },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: human ? pino.stdTimeFunctions.epochTime : pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
