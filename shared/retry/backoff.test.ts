import { expect, test } from 'vitest';
import { Backoff } from './backoff.ts';

test('doubles from the initial delay up to the cap, jittered in the upper half', () => {
  const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, resetAfterMs: 60_000 });
  const ceilings = [100, 200, 400, 800, 1_000, 1_000];
  ceilings.forEach((ceiling, i) => {
    const delay = backoff.next(1_000 + i);
    expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
    expect(delay).toBeLessThanOrEqual(ceiling);
  });
});

test('resets after a healthy period', () => {
  const backoff = new Backoff({ initialMs: 100, maxMs: 10_000, resetAfterMs: 60_000 });
  for (let i = 0; i < 5; i++) backoff.next(1_000);
  expect(backoff.next(1_000)).toBeGreaterThan(1_000);
  expect(backoff.next(1_000 + 60_001)).toBeLessThanOrEqual(100);
});
