import { expect, test } from 'vitest';
import { plotSeries } from './plots.ts';

const now = new Date('2026-12-07T10:00:00Z');
const heal = (at: string, latencyMs?: number, by = 'heal') => ({
  at,
  by,
  ...(latencyMs === undefined ? {} : { latencyMs }),
});

test.each([
  [
    'ready within the window, in time order',
    [
      { customerId: 'b', cell: 'eu1', readyAt: '2026-12-07T09:30:00Z', timeToReadyMs: 5000 },
      { customerId: 'a', cell: 'us1', readyAt: '2026-12-07T08:00:00Z', timeToReadyMs: 3000 },
    ],
    [
      ['a', 3000],
      ['b', 5000],
    ],
    [],
  ],
  [
    'ready before the window, or not ready, is left out',
    [
      { customerId: 'old', cell: 'eu1', readyAt: '2026-12-07T03:59:59Z', timeToReadyMs: 5000 },
      { customerId: 'coming', cell: 'eu1' },
    ],
    [],
    [],
  ],
  [
    'heal latency: self-healing repairs with a latency only',
    [
      { customerId: 'h', cell: 'eu1', lastRepair: heal('2026-12-07T09:59:00Z', 800) },
      {
        customerId: 'r',
        cell: 'eu1',
        lastRepair: heal('2026-12-07T09:59:00Z', undefined, 'resync'),
      },
      { customerId: 'n', cell: 'eu1', lastRepair: heal('2026-12-07T09:59:00Z') },
      { customerId: 'future', cell: 'eu1', lastRepair: heal('2026-12-07T10:00:01Z', 5) },
    ],
    [],
    [['h', 800]],
  ],
])('%s', (_, rows, ready, healed) => {
  const plots = plotSeries(rows, now, 6);
  expect(plots.hours).toBe(6);
  expect(plots.timeToReady.map((p) => [p.customerId, p.ms])).toEqual(ready);
  expect(plots.healLatency.map((p) => [p.customerId, p.ms])).toEqual(healed);
});
