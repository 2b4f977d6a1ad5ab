/**
 * Resource use of another process, read from /proc (Linux): CPU time and resident memory,
 * including the peak (VmHWM), which the kernel keeps for the whole life of the process.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicksPerSecond(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

export interface ProcessSample {
  /** User + system CPU seconds since the process started. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** Peak resident set size so far. */
  readonly peakRssBytes: number;
  /**
   * Resident anonymous memory (heap, buffers): the part the kernel cannot reclaim. The rest of RSS
   * is mostly the node executable's pages, which it can.
   */
  readonly rssAnonBytes: number;
}

export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    cpuSeconds: (utime + stime) / clockTicksPerSecond(),
    rssBytes: kilobytes(status, 'VmRSS') * 1024,
    peakRssBytes: kilobytes(status, 'VmHWM') * 1024,
    rssAnonBytes: kilobytes(status, 'RssAnon') * 1024,
  };
}

function kilobytes(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match === null) throw new Error(`/proc status has no ${field}`);
  return Number(match[1]);
}

/** This process's CPU seconds (all threads). */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** The machine, for the report: figures mean little without it. */
export function machineDescription(): { cpus: number; cpuModel: string; node: string; os: string } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const cpus = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  const os = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  return { cpus, cpuModel: model, node: process.version, os: `Linux ${os}` };
}
