/** Runs the benchmark's processes: the consumers (dist-bench/bench/*.js) and the real CLI. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A consumer script next to this module, compiled (dist-bench/bench/<name>.js). */
export function consumerScript(name: string): string {
  return fileURLToPath(new URL(`${name}.js`, import.meta.url));
}

/**
 * Runs a consumer script to completion (with the same V8 flags as the aggregator, for a fair
 * comparison) and parses the JSON line it prints.
 */
export function runConsumer<Result>(
  script: string,
  args: object,
  nodeFlags: readonly string[],
  timeoutMs: number,
): Promise<Result> {
  const child = spawn(process.execPath, [...nodeFlags, script, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${script} exited with ${code}:\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Result);
      } catch {
        reject(new Error(`${script} printed no result:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** Resolves with the exit code (or signal) once the process has exited. */
export function exited(child: ChildProcess): Promise<number | NodeJS.Signals | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
}
