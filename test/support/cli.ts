/**
 * Runs the built CLI (dist/cli/bin.js) as a real subprocess. The environment starts nearly empty,
 * so a variable set in the developer's shell (DATABASE_URL, say) cannot leak into a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function baseEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LOG_FORMAT: 'json',
    ...env,
  };
}

/** Runs the CLI to completion. */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<CliResult> {
  const running = startCli(args, env);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  return running.exited.finally(() => clearTimeout(timer));
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly exited: Promise<CliResult>;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout (or stderr) has a line matching `pattern`; rejects on exit or timeout. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<string>;
}

export function startCli(args: readonly string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: baseEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((listener) => listener());
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    notify();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    notify();
  });
  const exited = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      notify();
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, stream = 'stdout', timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const text = stream === 'stdout' ? out : err;
          const line = text.split('\n').find((candidate) => pattern.test(candidate));
          if (line !== undefined) {
            cleanup();
            resolve(line);
          } else if (done) {
            cleanup();
            reject(new Error(`process exited before ${pattern} appeared on ${stream}:\n${out}\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern} on ${stream}:\n${out}\n${err}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** The JSON log lines a process wrote to stderr. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
