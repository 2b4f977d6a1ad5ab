import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/logger.js';

/** A real JSON logger whose lines are kept in memory for assertions. */
export function testLogger(level: 'debug' | 'info' = 'debug'): {
  log: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  const log = createLogger({ level, format: 'json', destination });
  return {
    log,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
