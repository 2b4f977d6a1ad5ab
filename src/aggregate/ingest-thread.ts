/**
 * The main thread's side of the ingest thread (ingest-worker.ts): starts it, hands its events to
 * the aggregator, and turns "take a batch" and "stop the stream" into promises.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import type { PendingBatch } from './bucket-ledger.js';
import {
  fromBatchMessage,
  type FromIngest,
  type IngestEvent,
  type IngestInit,
  type IngestStatus,
  type ToIngest,
} from './ingest-messages.js';

/** How long a closing ingest thread may take to exit before it is terminated. */
const CLOSE_TIMEOUT_MS = 1_000;
/**
 * The thread reports every second; silent this long, it is stuck (a bug: nothing it does takes
 * more than milliseconds at a time), and the aggregator stops so that the pod restarts.
 */
export const INGEST_SILENCE_LIMIT_MS = 15_000;

export interface IngestEvents {
  /** About once a second, and with every batch. */
  status(status: IngestStatus): void;
  message(message: IngestEvent): void;
  /** The thread died (a bug, or out of memory); the stream is gone. */
  failed(error: AppError): void;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/**
 * The built worker script. Beside this module when it runs from dist/; when this module is the
 * TypeScript source (under the test runner), the built copy, since a worker thread loads plain
 * JavaScript only (`npm test` builds first). Checked before the cursor is claimed.
 */
export function ingestWorkerScript(): URL {
  const beside = new URL('./ingest-worker.js', import.meta.url);
  if (existsSync(beside)) return beside;
  const built = new URL('../../dist/aggregate/ingest-worker.js', import.meta.url);
  if (existsSync(built)) return built;
  const looked = [...new Set([beside.pathname, built.pathname])].join(' and ');
  throw new AppError(
    'INTERNAL',
    `the ingest thread's script is missing (looked for ${looked}); run npm run build`,
  );
}

export class IngestThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly batches = new Map<number, Waiter<{ batch: PendingBatch; status: IngestStatus }>>();
  private stopped: Promise<IngestStatus> | null = null;
  private stoppedWaiter: Waiter<IngestStatus> | null = null;
  private failure: AppError | null = null;
  private closing = false;
  private readonly exited: Promise<void>;
  private lastHeardAt = Date.now();
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    init: IngestInit,
    private readonly events: IngestEvents,
  ) {
    this.worker = new Worker(ingestWorkerScript(), { workerData: init });
    this.worker.on('message', (message: FromIngest) => {
      this.lastHeardAt = Date.now();
      this.onMessage(message);
    });
    this.watchdog = setInterval(() => {
      const silentMs = Date.now() - this.lastHeardAt;
      if (this.closing || silentMs < INGEST_SILENCE_LIMIT_MS) return;
      this.fail(`the ingest thread has not reported for ${INGEST_SILENCE_LIMIT_MS / 1000} s: it is stuck`);
    }, 1_000);
    this.watchdog.unref();
    this.worker.on('error', (error) => this.fail(`the ingest thread failed: ${error.message}`, error));
    this.exited = new Promise((resolve) => {
      this.worker.on('exit', (code) => {
        if (this.closing) this.settleAll(new AppError('INTERNAL', 'the ingest thread was closed'));
        else this.fail(`the ingest thread exited unexpectedly (code ${code})`);
        resolve();
      });
    });
  }

  /** Moves everything the ledger has completed into a batch, with the status at that moment. */
  takeBatch(): Promise<{ batch: PendingBatch; status: IngestStatus }> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.batches.set(id, { resolve, reject });
      this.send({ type: 'take', id });
    });
  }

  /** The trail has been watched until `until` (unix seconds): a gap is measured from there. */
  observedUntil(until: number): void {
    this.send({ type: 'observed', until });
  }

  /** Ends the stream; resolves with the final status, after which no record arrives. */
  stopStream(): Promise<IngestStatus> {
    if (this.failure !== null) return Promise.reject(this.failure);
    this.stopped ??= new Promise((resolve, reject) => {
      this.stoppedWaiter = { resolve, reject };
      this.send({ type: 'stop' });
    });
    return this.stopped;
  }

  /** Closes the gRPC client and ends the thread. */
  async close(): Promise<void> {
    if (this.closing) return this.exited;
    this.closing = true;
    clearInterval(this.watchdog);
    this.send({ type: 'close' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>(
      (resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_TIMEOUT_MS)),
    );
    if ((await Promise.race([this.exited, late])) === 'late') await this.worker.terminate();
    clearTimeout(timer);
  }

  private send(message: ToIngest): void {
    if (this.failure === null) this.worker.postMessage(message);
  }

  private onMessage(message: FromIngest): void {
    switch (message.type) {
      case 'status':
        this.events.status(message.status);
        return;
      case 'batch': {
        this.events.status(message.status);
        const waiter = this.batches.get(message.id);
        this.batches.delete(message.id);
        waiter?.resolve({ batch: fromBatchMessage(message.batch), status: message.status });
        return;
      }
      case 'stopped':
        this.events.status(message.status);
        this.stoppedWaiter?.resolve(message.status);
        return;
      default:
        this.events.message(message);
    }
  }

  /** The thread is gone and will not answer. `thrown`: what the thread threw, for its stack. */
  private fail(why: string, thrown?: Error): void {
    if (this.failure !== null) return;
    clearInterval(this.watchdog);
    const error = new AppError('INTERNAL', why, thrown === undefined ? {} : { cause: thrown });
    // The stack worth reporting is the thread's, not this module's event handler.
    if (thrown?.stack !== undefined)
      error.stack = `${error.stack ?? why}\ncaused, in the ingest thread, by: ${thrown.stack}`;
    this.failure = error;
    this.settleAll(error);
    this.events.failed(error);
  }

  private settleAll(error: AppError): void {
    for (const waiter of this.batches.values()) waiter.reject(error);
    this.batches.clear();
    this.stoppedWaiter?.reject(error);
    this.stoppedWaiter = null;
  }
}
