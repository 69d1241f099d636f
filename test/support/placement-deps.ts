// Placement's logic in the calling process, over cells the local stack runs and the same records
// in the Firestore emulator as the placement function's: what the move tests and `bench move`
// run when they stop a move after a step (as a crash there would) and resume it.
import { dirname, join } from 'node:path';
import { type PlacementDeps, probeCell } from '../../functions/placement/handler.ts';
import { cellHealth } from '../../functions/placement/health.ts';
import { placementStore } from '../../functions/placement/store.ts';
import type { LocalCell, RunningCells } from '../../infra/local/cells.ts';
import { provisionAudience } from '../../infra/local/deploy.ts';
import { type Cell, defaultCellCapacity } from '../../shared/cells.ts';
import type { Firestore } from '../../shared/gcp/firestore.ts';
import { tokenFile } from '../../shared/kube/index.ts';

export function placementDeps(
  running: RunningCells,
  cells: readonly LocalCell[],
  firestore: Firestore,
): PlacementDeps {
  const placed: Cell[] = cells.map((c) => ({
    name: c.name,
    region: c.region,
    provisionUrl: running.cells[c.name]?.provision.url ?? '',
    audience: provisionAudience,
    capacity: c.capacity ?? defaultCellCapacity,
  }));
  // The placement function's own token files (infra/local/cells.ts writes them beside signup's).
  const tokenDir = dirname(running.signupTokenFile);
  const tokenFor = (cell: Cell) => tokenFile(join(tokenDir, `${cell.name}.token`));
  return {
    cells: placed,
    store: placementStore(firestore),
    health: cellHealth((cell) => probeCell(cell, { tokenFor })),
    tokenFor,
  };
}

/**
 * Empties placement's records in the stack's Firestore emulator: the cells project's files share
 * it, and a record another file left (a count, a held deletion's mark) would be this file's.
 */
export async function clearPlacementRecords(stack: {
  firestoreEmulatorHost: string;
  firestoreProject: string;
}): Promise<void> {
  const answer = await fetch(
    `http://${stack.firestoreEmulatorHost}/emulator/v1/projects/${stack.firestoreProject}/databases/(default)/documents`,
    { method: 'DELETE' },
  );
  if (!answer.ok) throw new Error(`the Firestore emulator answered ${answer.status}`);
}
