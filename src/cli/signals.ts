/**
 * SIGTERM (Kubernetes stopping the pod) and SIGINT (Ctrl-C) both mean: stop cleanly.
 */
export interface ShutdownSignal {
  /** Resolves with the first SIGTERM or SIGINT received. */
  readonly received: Promise<NodeJS.Signals>;
  /** Aborted when a signal arrives, for waits that should end early. */
  readonly abort: AbortSignal;
  dispose(): void;
}

export function listenForShutdown(): ShutdownSignal {
  const controller = new AbortController();
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (signal) => {
      controller.abort();
      resolve(signal);
    };
  });
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return {
    received,
    abort: controller.signal,
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
