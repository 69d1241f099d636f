// Small statistics for benchmarks: runs are interleaved (ours, baseline, ours, ...) so drift in
// the machine's load affects both sides alike.

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export const median = (values: number[]) => percentile(values, 50);

export function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}
