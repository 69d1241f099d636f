import { expect, test } from 'vitest';
import { mapLimit } from './concurrency.ts';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.each([
  [0, 3],
  [1, 3],
  [5, 1],
  [5, 2],
  [20, 4],
  [3, 10],
])('%d items, limit %d: results in order, never more in flight', async (count, limit) => {
  const items = Array.from({ length: count }, (_, i) => i);
  let inFlight = 0;
  let most = 0;
  const results = await mapLimit(items, limit, async (item) => {
    most = Math.max(most, ++inFlight);
    await tick((count - item) % 3); // finish out of order
    inFlight--;
    return item * 10;
  });
  expect(results).toEqual(items.map((i) => i * 10));
  expect(most).toBeLessThanOrEqual(limit);
});

test('a rejection rejects the call', async () => {
  await expect(
    mapLimit([1, 2, 3], 2, async (item) => {
      if (item === 2) throw new Error('item 2 failed');
      return item;
    }),
  ).rejects.toThrow('item 2 failed');
});
