#!/usr/bin/env node
import { main } from './main.js';

// `... | head` closes our stdout early: that is the reader being done, not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
// Every command closes what it opened, so the process normally ends by itself right away. If a
// library leaves a handle open, do not hang (a pod stuck in Terminating): exit after a second.
setTimeout(() => process.exit(exitCode), 1_000).unref();
