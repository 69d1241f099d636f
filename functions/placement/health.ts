// Which cells answer. A cell is asked (its provision's GET /readyz, which asks its cluster) at
// most every `ttlMs`, and only when placement needs to know: before placing a new tenant there.
// A request that finds a cell unreachable marks it down at once; it is asked again after `ttlMs`.
import type { Cell } from '../../shared/cells.ts';

export type CellHealth = {
  isUp(cell: Cell): Promise<boolean>;
  markDown(cell: Cell): void;
};

export function cellHealth(probe: (cell: Cell) => Promise<boolean>, ttlMs = 5_000): CellHealth {
  const known = new Map<string, { up: Promise<boolean>; at: number }>();
  return {
    isUp(cell) {
      const entry = known.get(cell.name);
      if (entry && Date.now() - entry.at < ttlMs) return entry.up;
      // One probe at a time per cell: concurrent sign-ups share it.
      const up = probe(cell).catch(() => false);
      known.set(cell.name, { up, at: Date.now() });
      return up;
    },
    markDown(cell) {
      known.set(cell.name, { up: Promise.resolve(false), at: Date.now() });
    },
  };
}
