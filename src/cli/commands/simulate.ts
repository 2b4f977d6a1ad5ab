import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadLoggingConfig } from '../../config/load-config.js';
import { parseDuration } from '../../config/duration.js';
import { AppError, EXIT_CODES } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { writeCertificates } from '../../simulate/certificates.js';
import { topologyFlows, type FlowSpec } from '../../simulate/flows.js';
import { floorToBucket } from '../../simulate/ring-timing.js';
import { Simulator, scriptedFlows } from '../../simulate/simulator.js';
import { loadTopology } from '../../simulate/topology.js';
import type { Command } from '../command.js';
import type { FlagValues } from '../../config/settings-reader.js';
import { listenForShutdown } from '../signals.js';

const TLS_FILES = ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key'];

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'Run a Goldmane-compatible Flows.Stream server with realistic traffic (for demos and tests).',
  description:
    "Serves goldmane.Flows/Stream over mutual TLS like Calico Goldmane: 15-second buckets, each pushed about 30 s after it starts, a one-hour ring with backfill, both reporters, '-' namespaces. Traffic comes from the reference cluster (about 100 namespaces) unless --topology or --script says otherwise. Certificates are made in --tls-dir if missing; point the aggregator at them with TLS_CERT_PATH=DIR/client.crt TLS_KEY_PATH=DIR/client.key CA_CERT_PATH=DIR/ca.crt. SIGHUP restarts the ring like a Goldmane restart (ids start again, only five minutes of history survive).",
  flags: [
    {
      name: 'listen',
      type: 'string',
      placeholder: 'HOST:PORT',
      default: '127.0.0.1:7443',
      description: 'Address to serve on; port 0 picks a free one.',
    },
    {
      name: 'tls-dir',
      type: 'string',
      placeholder: 'DIR',
      default: '.simulator-tls',
      description: 'Folder with ca.crt, server.crt/key and client.crt/key; made fresh if any is missing.',
    },
    {
      name: 'plaintext',
      type: 'boolean',
      description: 'Serve without TLS (Goldmane does when it has no certificate).',
    },
    {
      name: 'topology',
      type: 'string',
      placeholder: 'FILE',
      description: 'Cluster topology JSON (default: the bundled reference cluster).',
    },
    {
      name: 'script',
      type: 'string',
      placeholder: 'FILE',
      description:
        'Serve exactly these flows instead: {"flows": [{"start": UNIX_SECONDS, "sourceNamespace": ..., "destNamespace": ..., ...}]}; a negative start is relative to now.',
    },
    {
      name: 'seed',
      type: 'string',
      placeholder: 'N',
      default: '1',
      description: 'Seed of the generated traffic (same seed, same flows).',
    },
    {
      name: 'history',
      type: 'string',
      placeholder: 'DURATION',
      default: '1h',
      description: 'History the ring holds at startup (0s to 1h).',
    },
    {
      name: 'duplicates',
      type: 'boolean',
      description:
        'Reproduce the stream-start race: the newest bucket is sent before the backfill and again in it.',
    },
    {
      name: 'invalid-rate',
      type: 'string',
      placeholder: 'FRACTION',
      default: '0',
      description:
        'Fraction of flows whose source namespace is made invalid (upper case, NUL, too long, ...).',
    },
    {
      name: 'drop-after',
      type: 'string',
      placeholder: 'N',
      description: 'End every stream with UNAVAILABLE after N messages.',
    },
    {
      name: 'pace',
      type: 'string',
      placeholder: 'DURATION',
      default: '0ms',
      description: 'Pause between messages (default: as fast as possible).',
    },
  ],
  async run({ env, flags, stdout, stderr }) {
    const log = createLogger({ ...loadLoggingConfig(env, flags), destination: stderr, name: 'simulate' });
    const options = readSimulateFlags(flags);
    let tls = null;
    let tlsDir: string | null = null;
    if (!options.plaintext) {
      tlsDir = resolve(options.tlsDir);
      if (existsSync(tlsDir) && !statSync(tlsDir).isDirectory()) {
        throw new AppError('CONFIG_INVALID', `--tls-dir: ${tlsDir} is a file, not a folder`);
      }
      if (!TLS_FILES.every((file) => existsSync(join(tlsDir!, file)))) {
        await writeCertificates(tlsDir);
        log.info({ dir: tlsDir }, 'wrote a fresh CA, server and client certificate');
      }
      tls = {
        ca: readFileSync(join(tlsDir, 'ca.crt')),
        cert: readFileSync(join(tlsDir, 'server.crt')),
        key: readFileSync(join(tlsDir, 'server.key')),
      };
    }
    const shutdown = listenForShutdown();
    const simulator = await Simulator.start({
      host: options.host,
      port: options.port,
      tls,
      flows: options.flows,
      historySeconds: options.historySeconds,
      duplicates: options.duplicates,
      ...(options.dropAfter === undefined ? {} : { dropAfterMessages: options.dropAfter }),
      paceMs: options.paceMs,
      log,
    }).catch((error: unknown) => {
      throw new AppError(
        'CONFIG_INVALID',
        `cannot serve on ${options.host}:${options.port}: ${(error as Error).message}`,
      );
    });
    const onHangup = (): void => simulator.restart();
    process.on('SIGHUP', onHangup);
    // One line on stdout that scripts (and tests) can wait for.
    stdout.write(
      `listening on ${options.host}:${simulator.port}${tlsDir === null ? ' (plaintext)' : ` (mutual TLS, certificates in ${tlsDir})`}\n`,
    );
    try {
      await shutdown.received;
      await simulator.stop();
      return EXIT_CODES.OK;
    } finally {
      process.off('SIGHUP', onHangup);
      shutdown.dispose();
    }
  },
};

interface SimulateFlags {
  host: string;
  port: number;
  tlsDir: string;
  plaintext: boolean;
  flows: (bucketStart: number) => readonly FlowSpec[];
  historySeconds: number;
  duplicates: boolean;
  dropAfter: number | undefined;
  paceMs: number;
}

function readSimulateFlags(flags: FlagValues): SimulateFlags {
  const problems: string[] = [];
  const text = (name: string, fallback: string): string =>
    typeof flags[name] === 'string' ? flags[name] : fallback;
  const listen = /^(.+):(\d{1,5})$/.exec(text('listen', '127.0.0.1:7443'));
  if (listen === null) problems.push(`--listen: "${text('listen', '')}" is not HOST:PORT`);
  const seed = Number(text('seed', '1'));
  if (!Number.isInteger(seed)) problems.push('--seed must be an integer');
  const invalidRate = Number(text('invalid-rate', '0'));
  if (!(invalidRate >= 0 && invalidRate <= 1)) problems.push('--invalid-rate must be a number from 0 to 1');
  const durationOf = (name: string, fallback: string): number => {
    try {
      return parseDuration(text(name, fallback));
    } catch (error) {
      problems.push(`--${name}: ${(error as Error).message}`);
      return 0;
    }
  };
  const historyMs = durationOf('history', '1h');
  if (historyMs > 3_600_000) problems.push('--history: Goldmane holds at most 1h');
  const paceMs = durationOf('pace', '0ms');
  const dropText = flags['drop-after'];
  const dropAfter = typeof dropText === 'string' ? Number(dropText) : undefined;
  if (dropAfter !== undefined && !(Number.isInteger(dropAfter) && dropAfter >= 0))
    problems.push('--drop-after must be a whole number');

  let flows: SimulateFlags['flows'] = () => [];
  try {
    if (typeof flags.script === 'string') {
      flows = scriptedFlows(readScript(flags.script));
    } else {
      const topology = loadTopology(typeof flags.topology === 'string' ? flags.topology : undefined);
      flows = topologyFlows(topology, { seed, invalidRate });
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid simulate flags:\n  - ${problems.join('\n  - ')}`, {
      problems,
    });
  }
  return {
    host: listen![1]!,
    port: Number(listen![2]),
    tlsDir: text('tls-dir', '.simulator-tls'),
    plaintext: flags.plaintext === true,
    flows,
    historySeconds: historyMs / 1000,
    duplicates: flags.duplicates === true,
    dropAfter,
    paceMs,
  };
}

const SCRIPT_ACTIONS: readonly string[] = ['allow', 'deny', 'pass', 'unspecified'];

function readScript(path: string): (FlowSpec & { start: number })[] {
  let parsed: { flows?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as { flows?: unknown };
  } catch (error) {
    throw new Error(`--script ${path}: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed.flows)) throw new Error(`--script ${path}: expected {"flows": [...]}`);
  const now = Date.now() / 1000;
  return (parsed.flows as (FlowSpec & { start: number })[]).map((flow, index) => {
    if (
      typeof flow.start !== 'number' ||
      typeof flow.sourceNamespace !== 'string' ||
      typeof flow.destNamespace !== 'string'
    ) {
      throw new Error(
        `--script ${path}: flows[${index}] needs a numeric start and sourceNamespace/destNamespace strings`,
      );
    }
    if (
      flow.action !== undefined &&
      typeof flow.action !== 'number' &&
      !SCRIPT_ACTIONS.includes(flow.action)
    ) {
      throw new Error(
        `--script ${path}: flows[${index}].action must be one of ${SCRIPT_ACTIONS.join(', ')} or a number`,
      );
    }
    return flow.start < 0 ? { ...flow, start: floorToBucket(now + flow.start) } : flow;
  });
}
