// Which cell a new tenant goes to: one of the region's cells that is up and has room, the one
// with the most room left (in tenants), so a region's cells fill evenly; ties go to the cell
// listed first. Pure: the counts and health are read by the caller.
import type { Cell } from '../../shared/cells.ts';

export type CellLoad = { tenants: number; up: boolean };

export type Choice =
  | { ok: true; cell: Cell }
  | { ok: false; code: 'unknown-region' | 'region-full' | 'region-unavailable' };

export function chooseCell(
  cells: readonly Cell[],
  region: string,
  load: (cell: Cell) => CellLoad,
): Choice {
  const inRegion = cells.filter((cell) => cell.region === region);
  if (inRegion.length === 0) return { ok: false, code: 'unknown-region' };
  let best: { cell: Cell; room: number } | undefined;
  let anyUpFull = false;
  for (const cell of inRegion) {
    const { tenants, up } = load(cell);
    if (!up) continue;
    const room = cell.capacity - tenants;
    if (room <= 0) {
      anyUpFull = true;
      continue;
    }
    if (!best || room > best.room) best = { cell, room };
  }
  if (best) return { ok: true, cell: best.cell };
  // Full only if every cell that answers is full; none answering is a wait, not a refusal.
  return { ok: false, code: anyUpFull ? 'region-full' : 'region-unavailable' };
}
