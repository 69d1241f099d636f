// Small statistics and measurements for benchmarks: runs are interleaved (ours, baseline, ours,
// ...) so drift in the machine's load affects both sides alike.
import { readdir, readFile } from 'node:fs/promises';

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export const median = (values: number[]) => percentile(values, 50);

export function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

/**
 * CPU time of every thread of a process (main, libuv pool, V8's workers), in ms: the first field
 * of each thread's schedstat, in nanoseconds (exact, unlike /proc/PID/stat's 10 ms ticks).
 */
export async function cpuMs(pid: number): Promise<number> {
  let ns = 0;
  for (const thread of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').catch(() => '0');
    ns += Number(stat.split(' ')[0]);
  }
  return ns / 1e6;
}
