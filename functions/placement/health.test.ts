import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { cellHealth } from './health.ts';

const cell = {
  name: 'eu1',
  region: 'europe-west1',
  provisionUrl: 'http://eu1.invalid',
  capacity: 1,
};
beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

test('asks a cell at most once per ttl, and again after it', async () => {
  const probe = vi.fn(async () => true);
  const health = cellHealth(probe, 5_000);
  expect(await Promise.all([health.isUp(cell), health.isUp(cell)])).toEqual([true, true]);
  expect(probe).toHaveBeenCalledTimes(1);
  vi.advanceTimersByTime(5_001);
  await health.isUp(cell);
  expect(probe).toHaveBeenCalledTimes(2);
});

test('a cell marked down is down until the ttl passes; a failing probe means down', async () => {
  const probe = vi.fn(async (): Promise<boolean> => {
    throw new Error('no answer');
  });
  const health = cellHealth(probe, 5_000);
  expect(await health.isUp(cell)).toBe(false);
  probe.mockResolvedValue(true);
  health.markDown(cell);
  expect(await health.isUp(cell)).toBe(false);
  vi.advanceTimersByTime(5_001);
  expect(await health.isUp(cell)).toBe(true);
});
