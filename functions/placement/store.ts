// Placement records in Firestore: which cell holds each tenant, written exactly once.
//   placements/{customerId}   {cell, region, owner?, placedAt}
//   cells/{cell}              {tenants}: how many placements name the cell
// A new placement and its cell's count are one commit, guarded by two preconditions: the
// placement must not exist (two concurrent sign-ups of one id: one wins, the other reads the
// winner's choice), and the count must be the one the choice was made with (two sign-ups into
// the last free place: one wins, the other chooses again). So a cell never takes more than its
// capacity and a tenant is never in two cells, whatever runs at once.
import type { Cell } from '../../shared/cells.ts';
import {
  type Document,
  documentId,
  type Firestore,
  integerField,
  type Precondition,
  stringField,
} from '../../shared/gcp/firestore.ts';
import { retryOnConflict } from '../../shared/retry/conflict.ts';
import type { Choice } from './choose-cell.ts';

export type Placement = {
  customerId: string;
  cell: string;
  region: string;
  /** The customer's user id, for a customer's sign-up (their list reads by it). */
  owner?: string | undefined;
};

export type Placed = { placement: Placement; created: boolean };

const placementPath = (customerId: string) => `placements/${customerId}`;
const countPath = (cell: string) => `cells/${cell}`;

export function placementStore(firestore: Firestore) {
  const find = async (customerId: string): Promise<Placement | undefined> => {
    const doc = await firestore.get(placementPath(customerId));
    return doc && placementOf(customerId, doc);
  };
  const readCounts = async (cells: readonly Cell[]) =>
    new Map(
      await Promise.all(
        cells.map(async (cell) => [cell.name, await firestore.get(countPath(cell.name))] as const),
      ),
    );

  return {
    find,

    /** Tenants placed in each cell. */
    async counts(cells: readonly Cell[]): Promise<Map<string, number>> {
      const docs = await readCounts(cells);
      return new Map(
        cells.map((cell) => [cell.name, integerField(docs.get(cell.name), 'tenants')]),
      );
    },

    /**
     * The tenant's placement: the one recorded, or a new one in the cell `choose` picks from
     * the current counts. A refusal of `choose` is returned and nothing is written.
     */
    async place(
      request: { customerId: string; region: string; owner?: string | undefined },
      cells: readonly Cell[],
      choose: (counts: Map<string, number>) => Choice,
      /** The caller has just found no placement: the first try does not read it again. */
      options: { knownAbsent?: boolean } = {},
    ): Promise<Placed | Extract<Choice, { ok: false }>> {
      return retryOnConflict(
        async (attempt) => {
          const [existing, docs] = await Promise.all([
            attempt === 1 && options.knownAbsent ? undefined : find(request.customerId),
            readCounts(cells),
          ]);
          if (existing) return { placement: existing, created: false };
          const choice = choose(
            new Map(cells.map((c) => [c.name, integerField(docs.get(c.name), 'tenants')])),
          );
          if (!choice.ok) return choice;
          const placement = { ...request, cell: choice.cell.name };
          const counted = docs.get(placement.cell);
          const unchanged: Precondition = counted
            ? { updateTime: counted.updateTime }
            : { exists: false };
          await firestore.commit([
            {
              set: {
                path: placementPath(request.customerId),
                fields: {
                  cell: { stringValue: placement.cell },
                  region: { stringValue: placement.region },
                  placedAt: { stringValue: new Date().toISOString() },
                  ...(request.owner ? { owner: { stringValue: request.owner } } : {}),
                },
              },
              precondition: { exists: false },
            },
            {
              increment: { path: countPath(placement.cell), field: 'tenants', by: 1 },
              precondition: unchanged,
            },
          ]);
          return { placement, created: true };
        },
        // Many sign-ups into one region race for its counts: more tries than a Kubernetes write.
        { attempts: 12, initialMs: 5, maxMs: 200 },
      );
    },

    /** Forgets the tenant's placement (after its deletion, or a refused first sign-up). */
    async release(placement: Placement): Promise<void> {
      await retryOnConflict(async () => {
        const doc = await firestore.get(placementPath(placement.customerId));
        if (!doc || stringField(doc, 'cell') !== placement.cell) return;
        await firestore.commit([
          {
            delete: placementPath(placement.customerId),
            precondition: { updateTime: doc.updateTime },
          },
          { increment: { path: countPath(placement.cell), field: 'tenants', by: -1 } },
        ]);
      });
    },

    /** A customer's placements, by their user id. */
    async ownedBy(owner: string): Promise<Placement[]> {
      const docs = await firestore.query('placements', 'owner', owner);
      return docs.flatMap((doc) => {
        const placement = placementOf(documentId(doc), doc);
        return placement ? [placement] : [];
      });
    },
  };
}

export type PlacementStore = ReturnType<typeof placementStore>;

function placementOf(customerId: string, doc: Document): Placement | undefined {
  const cell = stringField(doc, 'cell');
  const region = stringField(doc, 'region');
  if (!cell || !region) return undefined;
  const owner = stringField(doc, 'owner');
  return { customerId, cell, region, ...(owner ? { owner } : {}) };
}
