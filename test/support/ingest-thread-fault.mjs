// Preloaded into `aggregate` (NODE_OPTIONS=--import) by test/e2e/aggregate-ingest-faults.test.ts:
// puts a fault into the ingest thread only, as a bug there would.
//   GEA_TEST_INGEST_FAULT=stuck          the thread loops forever 3 s after it starts
//   GEA_TEST_INGEST_FAULT=crash-on-stop  the thread throws when it is asked to stop the stream
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { isMainThread, parentPort } from 'node:worker_threads';

const fault = process.env.GEA_TEST_INGEST_FAULT;
if (!isMainThread && fault === 'stuck') {
  setTimeout(() => {
    for (;;);
  }, 3_000);
}
if (!isMainThread && fault === 'crash-on-stop') {
  parentPort.on('message', (message) => {
    if (message.type === 'stop') throw new Error('injected: crash on stop');
  });
}
