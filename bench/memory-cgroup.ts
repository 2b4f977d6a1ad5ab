/**
 * Runs the aggregator inside a memory cgroup with a hard limit, as a pod's `resources.limits.memory`
 * does, so that "fits in 64 MiB" is tested the way the kernel enforces it rather than read off RSS.
 *
 * RSS counts every resident page of the node executable (about 45 MiB of it once warm), but the
 * kernel charges a file page to the cgroup that first read it and reclaims it under pressure; the
 * anonymous memory (heap, buffers) cannot be reclaimed and is what an OOM kill is about. To charge
 * the executable's pages to the limited cgroup, as in a fresh container, the aggregator runs from a
 * private copy of node whose pages are dropped from the page cache before it starts.
 *
 * cgroup v1 (memory controller at /sys/fs/cgroup/memory) and v2 (memory in cgroup.controllers) are
 * supported; creating a cgroup needs root.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CgroupOutcome {
  readonly limitBytes: number;
  /** The cgroup's peak charge (anonymous and page cache), as the kernel counted it. */
  readonly peakBytes: number | null;
  /** Times the cgroup hit its limit and had to reclaim (v1 failcnt, v2 events "max"). */
  readonly limitHits: number;
  readonly oomKills: number;
}

export class MemoryCgroup {
  private constructor(
    private readonly directory: string,
    private readonly version: 1 | 2,
    readonly limitBytes: number,
    /** A private copy of node, not yet in the page cache. */
    readonly nodePath: string,
    private readonly nodeDirectory: string,
  ) {}

  static create(limitBytes: number): MemoryCgroup {
    const v1 = '/sys/fs/cgroup/memory';
    const v2 = '/sys/fs/cgroup';
    let version: 1 | 2;
    let parent: string;
    if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
      version = 1;
      parent = v1;
    } else if (readIfExists(join(v2, 'cgroup.controllers'))?.split(' ').includes('memory')) {
      version = 2;
      parent = v2;
    } else {
      throw new Error('--memory-limit needs a cgroup memory controller (v1 or v2), and none is mounted');
    }
    const directory = join(parent, `goldmane-edge-aggregator-bench-${process.pid}`);
    try {
      mkdirSync(directory);
      writeFileSync(
        join(directory, version === 1 ? 'memory.limit_in_bytes' : 'memory.max'),
        String(limitBytes),
      );
      if (version === 2) writeFileSync(join(directory, 'memory.swap.max'), '0');
    } catch (error) {
      throw new Error(
        `--memory-limit: cannot create a memory cgroup at ${directory} (run as root): ${String(error)}`,
      );
    }
    const nodeDirectory = mkdtempSync(join(tmpdir(), 'gea-bench-node-'));
    const nodePath = join(nodeDirectory, 'node');
    copyFileSync(process.execPath, nodePath);
    chmodSync(nodePath, 0o755);
    execFileSync('sync', [nodePath]);
    // GNU dd: count=0 with nocache drops the whole file's pages from the page cache.
    execFileSync('dd', [`if=${nodePath}`, 'iflag=nocache', 'count=0', 'status=none']);
    return new MemoryCgroup(directory, version, limitBytes, nodePath, nodeDirectory);
  }

  /** Moves a process (just spawned) into the cgroup. */
  add(pid: number): void {
    writeFileSync(join(this.directory, 'cgroup.procs'), String(pid));
  }

  outcome(): CgroupOutcome {
    const file = (name: string): string => readFileSync(join(this.directory, name), 'utf8');
    if (this.version === 1) {
      const oom = /^oom_kill (\d+)$/m.exec(file('memory.oom_control'))?.[1];
      return {
        limitBytes: this.limitBytes,
        peakBytes: Number(file('memory.max_usage_in_bytes')),
        limitHits: Number(file('memory.failcnt')),
        oomKills: Number(oom ?? 0),
      };
    }
    const events = file('memory.events');
    const peak = readIfExists(join(this.directory, 'memory.peak'));
    return {
      limitBytes: this.limitBytes,
      peakBytes: peak === undefined ? null : Number(peak),
      limitHits: Number(/^max (\d+)$/m.exec(events)?.[1] ?? 0),
      oomKills: Number(/^oom_kill (\d+)$/m.exec(events)?.[1] ?? 0),
    };
  }

  /** Removes the cgroup (its processes must have exited) and the copy of node. */
  dispose(): void {
    try {
      rmdirSync(this.directory);
    } catch {
      // A process still in it (the aggregator was killed and is not yet reaped): left for the OS.
    }
    rmSync(this.nodeDirectory, { recursive: true, force: true });
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}
