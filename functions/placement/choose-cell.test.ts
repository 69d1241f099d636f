import { describe, expect, it } from 'vitest';
import type { Cell } from '../../shared/cells.ts';
import { type CellLoad, chooseCell } from './choose-cell.ts';

const cell = (name: string, region: string, capacity: number): Cell => ({
  name,
  region,
  provisionUrl: `http://${name}.invalid`,
  capacity,
});
const cells = [
  cell('eu1', 'europe-west1', 10),
  cell('eu2', 'europe-west1', 20),
  cell('us1', 'us-central1', 5),
];

describe('chooseCell', () => {
  it.each<[string, string, Record<string, Partial<CellLoad>>, string]>([
    ['the only cell of a region', 'us-central1', {}, 'us1'],
    [
      'the cell with most room',
      'europe-west1',
      { eu1: { tenants: 0 }, eu2: { tenants: 5 } },
      'eu2',
    ],
    ['room, not capacity', 'europe-west1', { eu1: { tenants: 0 }, eu2: { tenants: 15 } }, 'eu1'],
    ['the first listed on a tie', 'europe-west1', { eu2: { tenants: 10 } }, 'eu1'],
    ['never a full one', 'europe-west1', { eu2: { tenants: 20 } }, 'eu1'],
    ['never a down one', 'europe-west1', { eu2: { up: false } }, 'eu1'],
    ['never over capacity', 'europe-west1', { eu1: { tenants: 11 }, eu2: { tenants: 19 } }, 'eu2'],
  ])('%s', (_case, region, loads, expected) => {
    const choice = chooseCell(cells, region, (c) => ({ tenants: 0, up: true, ...loads[c.name] }));
    expect(choice).toEqual({ ok: true, cell: cells.find((c) => c.name === expected) });
  });

  it.each<[string, string, Record<string, Partial<CellLoad>>, string]>([
    ['a region not offered', 'asia-east1', {}, 'unknown-region'],
    [
      'every cell full',
      'europe-west1',
      { eu1: { tenants: 10 }, eu2: { tenants: 20 } },
      'region-full',
    ],
    ['full and down', 'europe-west1', { eu1: { tenants: 10 }, eu2: { up: false } }, 'region-full'],
    [
      'every cell down',
      'europe-west1',
      { eu1: { up: false }, eu2: { up: false } },
      'region-unavailable',
    ],
    ['a cell of capacity 0', 'us-central1', { us1: { tenants: 0 } }, 'region-full'],
  ])('refuses %s', (_case, region, loads, code) => {
    const zero = cells.map((c) =>
      c.name === 'us1' && _case.includes('capacity 0') ? { ...c, capacity: 0 } : c,
    );
    const choice = chooseCell(zero, region, (c) => ({ tenants: 0, up: true, ...loads[c.name] }));
    expect(choice).toEqual({ ok: false, code });
  });
});
