/**
 * Startup waits for the database instead of crashing: in a cluster the database may be failing
 * over, or its password rotating, while the aggregator starts. Goldmane holds an hour of flows,
 * so waiting loses nothing; /readyz reports the wait.
 */
import { AppError } from '../errors.js';
import { reconnectDelayMs } from '../goldmane/flow-stream.js';
import type { Logger } from '../log/logger.js';
import { describeDatabaseError } from './pool.js';

export class WaitAborted extends Error {
  constructor() {
    super('stopped while waiting for the database');
  }
}

/**
 * Runs `task` until it succeeds. AppErrors (a schema newer than the code, say) are not retried:
 * waiting cannot fix them. Throws WaitAborted if `abort` fires first.
 */
export async function retryUntilDatabaseReady<T>(
  what: string,
  task: () => Promise<T>,
  log: Logger,
  abort: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (abort.aborted) throw new WaitAborted();
    try {
      return await task();
    } catch (error) {
      if (error instanceof AppError) throw error;
      const delayMs = reconnectDelayMs(attempt);
      log.warn(
        { err: describeDatabaseError(error), retryInMs: delayMs },
        `${what}: the database is not reachable yet; retrying`,
      );
      await sleepUnlessAborted(delayMs, abort);
    }
  }
}

/** Resolves after `ms`, or at once when `abort` fires (it never rejects). */
export function sleepUnlessAborted(ms: number, abort: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    abort.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
