// Placement records in Firestore: which cell holds each tenant, written exactly once.
//   placements/{customerId}   {cell, region, owner?, placedAt}, and while the tenant moves
//                             {moveTo, moveFrom, moveStep, moveStartedAt}; lastMoveRequestedAt;
//                             {deletion: "held", deletionHeldAt} while its cell holds its
//                             deletion (resync.ts forgets it once the cell has done it)
//   cells/{cell}              {tenants}: how many placements name the cell (a moving tenant
//                             counts in both cells until its move ends); drainingSince while an
//                             operator drains the cell
// A new placement and its cell's count are one commit, guarded by two preconditions: the
// placement must not exist (two concurrent sign-ups of one id: one wins, the other reads the
// winner's choice), and the count must be the one the choice was made with (two sign-ups into
// the last free place: one wins, the other chooses again). So a cell never takes more than its
// capacity and a tenant is never in two cells, whatever runs at once.
import type { Cell } from '../../shared/cells.ts';
import {
  type Document,
  documentId,
  type Fields,
  type Firestore,
  integerField,
  type Precondition,
  stringField,
  type Write,
} from '../../shared/gcp/firestore.ts';
import { retryOnConflict } from '../../shared/retry/conflict.ts';
import type { Choice } from './choose-cell.ts';

export type Placement = {
  customerId: string;
  cell: string;
  region: string;
  /** The customer's user id, for a customer's sign-up (their list reads by it). */
  owner?: string | undefined;
  /** A move under way (functions/placement/move.ts). */
  move?: Move | undefined;
  /** The requestedAt of the newest move request taken: an older one is stale. */
  lastMoveRequestedAt?: string | undefined;
  /** When its cell held its deletion (the deletion budget): the record waits for the cell. */
  deletionHeldAt?: string | undefined;
};

/**
 * A move's decisions, the only ones that are placement's: `reserved` (room taken in the target,
 * the tenant still placed in the source), then `switched` (placed in the target; the source's
 * copy is still to be removed). The cells keep the rest (the freeze, the copy).
 */
export type Move = {
  from: string;
  to: string;
  step: 'reserved' | 'switched';
  startedAt: string;
};

export type Placed = { placement: Placement; created: boolean };

/** A cell being drained: since when, and the cell its tenants go to (else their region's). */
export type Draining = { since: string; to?: string };

const placementPath = (customerId: string) => `placements/${customerId}`;
const countPath = (cell: string) => `cells/${cell}`;

export function placementStore(firestore: Firestore) {
  const find = async (customerId: string): Promise<Placement | undefined> =>
    (await read(customerId))?.placement;
  const read = async (customerId: string) => {
    const doc = await firestore.get(placementPath(customerId));
    const placement = doc && placementOf(customerId, doc);
    return placement && { placement, doc };
  };
  /** Rewrites the placement as `change` makes it, if unchanged since read; retried if not. */
  const update = (
    customerId: string,
    change: (placement: Placement) => { placement: Placement; counts?: Write[] } | undefined,
  ) =>
    retryOnConflict(async () => {
      const found = await read(customerId);
      if (!found) return undefined;
      const changed = change(found.placement);
      if (!changed) return found.placement;
      await firestore.commit([
        {
          set: { path: placementPath(customerId), fields: fieldsOf(changed.placement, found.doc) },
          precondition: { updateTime: found.doc.updateTime },
        },
        ...(changed.counts ?? []),
      ]);
      return changed.placement;
    });
  const queryPlacements = async (field: string, value: string): Promise<Placement[]> => {
    const docs = await firestore.query('placements', field, value);
    return docs.flatMap((doc) => {
      const placement = placementOf(documentId(doc), doc);
      return placement ? [placement] : [];
    });
  };
  const count = (cell: string, by: number, precondition?: Precondition): Write => ({
    increment: { path: countPath(cell), field: 'tenants', by },
    ...(precondition ? { precondition } : {}),
  });
  const readCounts = async (cells: readonly Cell[]) =>
    new Map(
      await Promise.all(
        cells.map(async (cell) => [cell.name, await firestore.get(countPath(cell.name))] as const),
      ),
    );

  return {
    find,

    /** Tenants placed in each cell as placing sees them: a cell being drained is full. */
    async counts(cells: readonly Cell[]): Promise<Map<string, number>> {
      const docs = await readCounts(cells);
      return new Map(cells.map((cell) => [cell.name, roomTaken(cell, docs.get(cell.name))]));
    },

    /**
     * Each cell's record, read once: the tenants counted in it, and whether it is being drained
     * (since when, and where to, if the operator named a cell).
     */
    async cellStates(
      cells: readonly Cell[],
    ): Promise<Map<string, { tenants: number; draining?: Draining }>> {
      const docs = await readCounts(cells);
      return new Map(
        cells.map((cell) => {
          const doc = docs.get(cell.name);
          const since = doc && stringField(doc, 'drainingSince');
          const to = doc && stringField(doc, 'drainingTo');
          const draining = since ? { draining: { since, ...(to ? { to } : {}) } } : {};
          return [cell.name, { tenants: integerField(doc, 'tenants'), ...draining }] as const;
        }),
      );
    },

    /** Starts draining `cell` (no new tenant goes there; its tenants to `to`), or stops it. */
    async setDraining(cell: string, draining: { to?: string | undefined } | false): Promise<void> {
      const fields: Fields = {};
      if (draining) fields.drainingSince = { stringValue: new Date().toISOString() };
      if (draining && draining.to !== undefined) fields.drainingTo = { stringValue: draining.to };
      const remove = ['drainingSince', 'drainingTo'].filter((field) => !(field in fields));
      await firestore.commit([{ patch: { path: countPath(cell), fields, remove } }]);
    },

    /** The tenants placed in `cell`. */
    placedIn: (cell: string) => queryPlacements('cell', cell),
    /** The tenants whose move out of `cell` is unfinished. */
    movingFrom: (cell: string) => queryPlacements('moveFrom', cell),

    /**
     * Records a move of the tenant to `to`, taking room there (the count must be the one read,
     * and below capacity), unless one is recorded already (returned as it is). `cell-full` when
     * the target has no room; `stale` when a newer move request was taken already.
     */
    async beginMove(
      customerId: string,
      to: Cell,
      requestedAt: string | undefined,
    ): Promise<Placement | 'cell-full' | 'stale' | undefined> {
      return retryOnConflict(async () => {
        const [found, counted] = await Promise.all([
          read(customerId),
          firestore.get(countPath(to.name)),
        ]);
        if (!found) return undefined;
        const { placement, doc } = found;
        if (placement.move) return placement;
        const last = placement.lastMoveRequestedAt;
        if (requestedAt && last && Date.parse(last) >= Date.parse(requestedAt)) return 'stale';
        if (placement.cell === to.name) return placement;
        if (roomTaken(to, counted) >= to.capacity) return 'cell-full';
        const moving: Placement = {
          ...placement,
          move: {
            from: placement.cell,
            to: to.name,
            step: 'reserved',
            startedAt: new Date().toISOString(),
          },
          ...(requestedAt ? { lastMoveRequestedAt: requestedAt } : {}),
        };
        await firestore.commit([
          {
            set: { path: placementPath(customerId), fields: fieldsOf(moving, doc) },
            precondition: { updateTime: doc.updateTime },
          },
          count(to.name, 1, counted ? { updateTime: counted.updateTime } : { exists: false }),
        ]);
        return moving;
      });
    },

    /** Places the moving tenant in its target (one commit: the record and the source's count). */
    switchMove: (customerId: string, region: string) =>
      update(customerId, (p) =>
        p.move?.step !== 'reserved'
          ? undefined
          : {
              placement: { ...p, cell: p.move.to, region, move: { ...p.move, step: 'switched' } },
              counts: [count(p.move.from, -1)],
            },
      ),

    /** The move is over: its source copy is removed (or held for deletion). */
    endMove: (customerId: string) =>
      update(customerId, (p) =>
        p.move?.step !== 'switched' ? undefined : { placement: { ...p, move: undefined } },
      ),

    /** An unfinished move undone: the room taken in the target given back. */
    abandonMove: (customerId: string) =>
      update(customerId, (p) =>
        p.move?.step !== 'reserved'
          ? undefined
          : { placement: { ...p, move: undefined }, counts: [count(p.move.to, -1)] },
      ),

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
            new Map(cells.map((c) => [c.name, roomTaken(c, docs.get(c.name))])),
          );
          if (!choice.ok) return choice;
          const placement = { ...request, cell: choice.cell.name };
          const counted = docs.get(placement.cell);
          const unchanged: Precondition = counted
            ? { updateTime: counted.updateTime }
            : { exists: false };
          await firestore.commit([
            {
              set: { path: placementPath(request.customerId), fields: fieldsOf(placement) },
              precondition: { exists: false },
            },
            count(placement.cell, 1, unchanged),
          ]);
          return { placement, created: true };
        },
        // Many sign-ups into one region race for its counts: more tries than a Kubernetes write.
        { attempts: 12, initialMs: 5, maxMs: 200 },
      );
    },

    /**
     * Forgets the tenant's placement (after its deletion, or a refused first sign-up). With
     * `heldSince`, only while the record still says its deletion was held then: a sign-up since
     * (which clears it) keeps the record.
     */
    async release(placement: Placement, options: { heldSince?: string } = {}): Promise<boolean> {
      return retryOnConflict(async () => {
        const found = await read(placement.customerId);
        if (!found || found.placement.cell !== placement.cell) return false;
        const { move, deletionHeldAt } = found.placement;
        if (options.heldSince !== undefined && deletionHeldAt !== options.heldSince) return false;
        await firestore.commit([
          {
            delete: placementPath(placement.customerId),
            precondition: { updateTime: found.doc.updateTime },
          },
          count(placement.cell, -1),
          // A tenant gone while it moved: the room its move took is given back too.
          ...(move?.step === 'reserved' ? [count(move.to, -1)] : []),
        ]);
        return true;
      });
    },

    /**
     * Its cell holds the tenant's deletion: the record stays until the cell has done it. Marked
     * anew each time, so a check that read an older mark changes nothing (`heldSince`).
     */
    markDeletionHeld: (customerId: string) =>
      update(customerId, (p) => ({
        placement: { ...p, deletionHeldAt: new Date().toISOString() },
      })),

    /**
     * Its cell no longer holds the tenant's deletion (dropped or superseded), or a sign-up is
     * forwarded (handler.ts's liftHeldMark); with `heldSince`, only if the mark is still that
     * one. The record as it is then; none when there is no record.
     */
    clearDeletionHeld: (customerId: string, heldSince?: string) =>
      update(customerId, (p) =>
        p.deletionHeldAt && (heldSince === undefined || p.deletionHeldAt === heldSince)
          ? { placement: { ...p, deletionHeldAt: undefined } }
          : undefined,
      ),

    /** The tenants whose deletion a cell holds. */
    deletionsHeld: () => queryPlacements('deletion', 'held'),

    /** A customer's placements, by their user id. */
    ownedBy: (owner: string) => queryPlacements('owner', owner),
  };
}

export type PlacementStore = ReturnType<typeof placementStore>;

/** A cell's tenants as placing sees them: a cell being drained is full. */
const roomTaken = (cell: Cell, doc: Document | undefined) =>
  doc && stringField(doc, 'drainingSince') ? cell.capacity : integerField(doc, 'tenants');

function placementOf(customerId: string, doc: Document): Placement | undefined {
  const cell = stringField(doc, 'cell');
  const region = stringField(doc, 'region');
  if (!cell || !region) return undefined;
  const owner = stringField(doc, 'owner');
  const last = stringField(doc, 'lastMoveRequestedAt');
  const heldAt = stringField(doc, 'deletion') === 'held' && stringField(doc, 'deletionHeldAt');
  const [from, to, step, startedAt] = ['moveFrom', 'moveTo', 'moveStep', 'moveStartedAt'].map(
    (field) => stringField(doc, field),
  );
  const move =
    from && to && startedAt && (step === 'reserved' || step === 'switched')
      ? { from, to, step: step as Move['step'], startedAt }
      : undefined;
  return {
    customerId,
    cell,
    region,
    ...(owner ? { owner } : {}),
    ...(move ? { move } : {}),
    ...(last ? { lastMoveRequestedAt: last } : {}),
    ...(heldAt ? { deletionHeldAt: heldAt } : {}),
  };
}

/** The placement's document; `was` keeps when it was first placed. */
function fieldsOf(placement: Placement, was?: Document): Fields {
  const text = (value: string) => ({ stringValue: value });
  const { move, owner, lastMoveRequestedAt: last, deletionHeldAt: heldAt } = placement;
  return {
    cell: text(placement.cell),
    region: text(placement.region),
    placedAt: text((was && stringField(was, 'placedAt')) ?? new Date().toISOString()),
    ...(owner ? { owner: text(owner) } : {}),
    ...(last ? { lastMoveRequestedAt: text(last) } : {}),
    ...(heldAt ? { deletion: text('held'), deletionHeldAt: text(heldAt) } : {}),
    ...(move
      ? {
          moveFrom: text(move.from),
          moveTo: text(move.to),
          moveStep: text(move.step),
          moveStartedAt: text(move.startedAt),
        }
      : {}),
  };
}
