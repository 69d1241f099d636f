// kubefn over several cells on the local stack (stack.ts's `cells`): each cell's provision acting
// on its own control plane, and the global placement function in front of them with its records
// in the Firestore emulator; the signup backend, when started, calls placement. What `npm start`
// runs, and what the two-cell tests and `npm run bench -- cells` use.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Cell, defaultCellCapacity } from '../../shared/cells.ts';
import { Cluster, fromKubeconfig } from '../../shared/kube/index.ts';
import {
  placementAudience,
  provisionAudience,
  startPlacementFunction,
  startProvisionFunction,
} from './deploy.ts';
import type { RunningFunction } from './functions.ts';
import { applyIdentities, mintToken, placementAccount, signupAccount } from './identities.ts';
import type { StackInfo } from './stack-info.ts';

/** A cell as placement knows it locally: the stack's cell of that name, in a region. */
export type LocalCell = { name: string; region: string; capacity?: number };

/** What `npm start` runs: two cells, in two regions a customer can choose between. */
export const localCells: LocalCell[] = [
  { name: 'eu1', region: 'europe-west1' },
  { name: 'us1', region: 'us-central1' },
];

export type RunningCells = {
  placement: RunningFunction;
  /** Each cell's provision and admin client, by cell name. */
  cells: Record<string, { provision: RunningFunction; admin: Cluster }>;
  /** A token file the signup backend presents to placement. */
  signupTokenFile: string;
  stop(): Promise<void>;
};

export async function startCells(
  stack: StackInfo,
  cells: readonly LocalCell[],
  options: {
    provisionEnv?: Record<string, string | undefined>;
    placementEnv?: Record<string, string | undefined>;
    /** Placement's port (`npm start` prefers a well-known one). */
    placementPort?: number;
    log?: (line: string) => void;
  } = {},
): Promise<RunningCells> {
  const running: RunningCells['cells'] = {};
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.toReversed()) await s().catch(() => {});
  };
  try {
    for (const cell of cells) {
      const info = stack.cells[cell.name];
      if (!info) throw new Error(`the stack runs no cell ${cell.name}`);
      const admin = new Cluster(await fromKubeconfig({ path: info.kubeconfig }));
      stops.push(() => admin.close());
      await applyIdentities(admin);
      const provision = await startProvisionFunction(
        admin,
        { ...info, dir: stack.dir },
        {
          cell: { name: cell.name, dir: info.dir },
          ...(options.provisionEnv ? { env: options.provisionEnv } : {}),
          ...(options.log ? { log: options.log } : {}),
        },
      );
      stops.push(() => provision.stop());
      running[cell.name] = { provision, admin };
    }
    const placed = await startPlacement(stack, running, cells, options);
    stops.push(() => placed.placement.stop());
    return { ...placed, cells: running, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Placement over `cells`, whose provisions run already (several placements may share them: the
 * benchmark's one-cell and two-cell arms). Its records go to the stack's Firestore emulator.
 */
export async function startPlacement(
  stack: StackInfo,
  running: RunningCells['cells'],
  cells: readonly LocalCell[],
  options: {
    placementPort?: number;
    placementEnv?: Record<string, string | undefined>;
    log?: (line: string) => void;
  } = {},
): Promise<Pick<RunningCells, 'placement' | 'signupTokenFile'>> {
  const tokenDir = await mkdtemp(join(stack.dir, 'placement-tokens-'));
  const placed: Cell[] = [];
  for (const cell of cells) {
    const { admin, provision } = running[cell.name] ?? {};
    if (!admin || !provision) throw new Error(`cell ${cell.name} is not running`);
    // Each cell's cluster issues the token its provision trusts.
    const token = await mintToken(admin, placementAccount, { audiences: [provisionAudience] });
    await writeFile(join(tokenDir, `${cell.name}.token`), token, { mode: 0o600 });
    placed.push({
      name: cell.name,
      region: cell.region,
      provisionUrl: provision.url,
      audience: provisionAudience,
      capacity: cell.capacity ?? defaultCellCapacity,
    });
  }
  const first = running[cells[0]?.name ?? ''];
  if (!first) throw new Error('no cell to place in');
  const placement = await startPlacementFunction(
    first.admin,
    stack,
    { cells: placed, tokenDir },
    {
      ...(options.log ? { log: options.log } : {}),
      ...(options.placementPort ? { port: options.placementPort } : {}),
      ...(options.placementEnv ? { env: options.placementEnv } : {}),
    },
  );
  const signupTokenFile = join(tokenDir, `${signupAccount}.token`);
  const signupToken = await mintToken(first.admin, signupAccount, {
    audiences: [placementAudience],
  });
  await writeFile(signupTokenFile, signupToken, { mode: 0o600 });
  return { placement, signupTokenFile };
}
