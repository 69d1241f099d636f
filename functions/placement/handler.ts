// Placement's logic: (input, deps) -> result. Each request reaches the one cell that holds the
// tenant, found in placement's own records (store.ts), never by asking every cell; a new tenant
// is placed first (choose-cell.ts) and its sign-up forwarded there. What the cell answers is
// relayed with the tenant's region (what the customer sees) and cell (what the operator sees).
import * as v from 'valibot';
import { type Cell, CellNameSchema, regionsOf } from '../../shared/cells.ts';
import { DomainError } from '../../shared/errors.ts';
import { callFunction, type FunctionAnswer } from '../../shared/http/call-function.ts';
import type { TokenProvider } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import type { PushMessage, PushOutcome } from '../../shared/pubsub/push.ts';
import type { Outcomes } from '../provision/outcomes.ts';
import { CustomerIdSchema, OwnerUidSchema } from '../provision/schema.ts';
import { chooseCell } from './choose-cell.ts';
import type { CellHealth } from './health.ts';
import { requestedMove } from './move.ts';
import type { Placement, PlacementStore } from './store.ts';

export type PlacementDeps = {
  cells: readonly Cell[];
  store: PlacementStore;
  health: CellHealth;
  /** Our ID token for a cell's provision (its audience). */
  tokenFor: (cell: Cell) => TokenProvider;
  /** Moves' outcome events (KUBEFN_OUTCOMES_TOPIC); none when unset. */
  outcomes?: Outcomes | undefined;
};

export type Answer = { status: number; body: unknown };

/** What placement reads of a sign-up; the rest is the cell's to check. */
export const SignupSchema = v.looseObject({
  customerId: CustomerIdSchema,
  region: v.optional(v.string()),
  owner: v.optional(v.looseObject({ uid: OwnerUidSchema })),
  dryRun: v.optional(v.boolean()),
});
export type SignupRequest = v.InferOutput<typeof SignupSchema>;

/** What placement reads of a tenant request (provision's lifecycle.ts checks the rest). */
export const TenantRequestSchema = v.looseObject({
  action: v.string(),
  customerId: CustomerIdSchema,
  region: v.optional(v.string()),
});

/** A `move` on the tenant-requests topic: to the cell `to`. */
const MoveRequestSchema = v.looseObject({
  to: CellNameSchema,
  requestedAt: v.pipe(v.string(), v.isoTimestamp()),
});

/** Places a new tenant (or finds where it is) and forwards its sign-up there. */
export async function signUp(input: SignupRequest, deps: PlacementDeps): Promise<Answer> {
  const { region, ...forwarded } = input;
  const found = await deps.store.find(input.customerId);
  const existing = await liftHeldMark(found, deps);
  if (existing) {
    const answer = await forward(deps, existing, 'POST', '/tenants', forwarded);
    // Unless the tenant was made anew (201), a hold its cell had may stand: asked next round.
    if (found?.deletionHeldAt && answer.status !== 201)
      await deps.store.markDeletionHeld(input.customerId);
    return relayWith(existing, answer);
  }

  const wanted = regionFor(region, deps.cells);
  const choose = await chooser(deps, wanted);
  if (input.dryRun) {
    const choice = choose(await deps.store.counts(deps.cells));
    if (!choice.ok) throw refusal(choice.code, wanted);
    const tried = { customerId: input.customerId, cell: choice.cell.name, region: wanted };
    return relayWith(tried, await forward(deps, tried, 'POST', '/tenants', forwarded));
  }
  const placed = await deps.store.place(
    { customerId: input.customerId, region: wanted, owner: input.owner?.uid },
    deps.cells,
    choose,
    { knownAbsent: true },
  );
  if ('code' in placed) throw refusal(placed.code, wanted);
  const answer = await forward(deps, placed.placement, 'POST', '/tenants', forwarded);
  // Refused by the cell (a bad plan, no entitlement, the customer's limit): a refusal creates
  // nothing there, so the placement made for it goes too, and the sign-up leaves nothing.
  if (placed.created && answer.status >= 400 && answer.status < 500)
    await deps.store.release(placed.placement);
  if (placed.created)
    log('INFO', 'tenant placed', {
      customerId: input.customerId,
      region: wanted,
      cell: placed.placement.cell,
    });
  return relayWith(placed.placement, answer);
}

/** The tenant's state, from its cell. */
export async function tenantStatus(customerId: string, query: string, deps: PlacementDeps) {
  const placement = await placed(customerId, deps);
  const path = `/tenants/${encodeURIComponent(customerId)}${query}`;
  return relayWith(placement, await forward(deps, placement, 'GET', path));
}

/** Deprovisions the tenant in its cell; once the cell has accepted, its placement is forgotten. */
export async function removeTenant(
  customerId: string,
  query: string,
  dryRun: boolean,
  deps: PlacementDeps,
): Promise<Answer> {
  const placement = await placed(customerId, deps);
  if (placement.move?.step === 'reserved') throw moving(customerId);
  const path = `/tenants/${encodeURIComponent(customerId)}${query}`;
  const answer = await forward(deps, placement, 'DELETE', path);
  if (answer.status === 202 && !dryRun) await deps.store.release(placement);
  if (answer.code === 'deletion-held' && !dryRun) await deps.store.markDeletionHeld(customerId);
  return relayWith(placement, answer);
}

/**
 * The placement a sign-up goes to, for a record that waits for its cell's held deletion: the
 * mark is lifted first, so a round that found the tenant gone (resync.ts) cannot then forget
 * the record of a tenant this sign-up makes again (its release needs the mark it read). The
 * caller marks it again unless the tenant was made anew: whether the hold still stands is the
 * cell's to say (a newer Pub/Sub request supersedes it, an HTTP sign-up of a tenant that is
 * there does not). A record forgotten meanwhile is no placement: the tenant is placed anew.
 */
const liftHeldMark = async (found: Placement | undefined, deps: PlacementDeps) =>
  found?.deletionHeldAt ? deps.store.clearDeletionHeld(found.customerId) : found;

/** A customer's tenants: only the cells that hold one are asked. */
export async function ownedTenants(owner: string, deps: PlacementDeps) {
  const placements = await deps.store.ownedBy(owner);
  // Not Map.groupBy: Node 20 has none.
  const byCell = new Map<string, Placement[]>();
  for (const p of placements) {
    const mine = byCell.get(p.cell);
    if (mine) mine.push(p);
    else byCell.set(p.cell, [p]);
  }
  const lists = await Promise.all(
    [...byCell].map(async ([cell, mine]) => {
      const first = mine[0] as Placement;
      try {
        const answer = await forward(
          deps,
          first,
          'GET',
          `/tenants?owner=${encodeURIComponent(owner)}`,
        );
        if (answer.status !== 200) throw new Error(`answered ${answer.status}`);
        const { tenants } = JSON.parse(answer.text) as { tenants: { customerId: string }[] };
        return tenants.map((t) => ({ ...t, region: first.region, cell }));
      } catch {
        // That cell cannot say now: its tenants are listed as unknown rather than dropped.
        return mine.map((p) => ({
          customerId: p.customerId,
          region: p.region,
          cell,
          phase: 'Unknown',
        }));
      }
    }),
  );
  return { tenants: lists.flat() };
}

/** A billing or CRM request, forwarded as a push to the tenant's cell. */
export async function forwardTenantRequest(
  message: PushMessage<v.InferOutput<typeof TenantRequestSchema>>,
  deps: PlacementDeps,
): Promise<PushOutcome> {
  const { region, ...request } = message.data;
  // A move is placement's own work, not the cell's (move.ts).
  if (request.action === 'move') {
    const { to, requestedAt } = v.parse(MoveRequestSchema, request);
    return requestedMove(request.customerId, to, deps, {
      via: 'pubsub',
      request: requestedAt,
      requestedAt,
    });
  }
  const found = await deps.store.find(request.customerId);
  if (found?.move?.step === 'reserved') throw moving(request.customerId);
  const signup = request.action === 'signup';
  const wasHeld = signup && found?.deletionHeldAt !== undefined;
  let placement = signup ? await liftHeldMark(found, deps) : found;
  let created = false;
  if (!placement) {
    if (request.action !== 'signup') return { outcome: 'failed', code: 'no-such-tenant' };
    const wanted = regionFor(region, deps.cells);
    const placed = await deps.store.place(
      { customerId: request.customerId, region: wanted },
      deps.cells,
      await chooser(deps, wanted),
    );
    if ('code' in placed) throw refusal(placed.code, wanted);
    ({ placement, created } = placed);
  }
  const envelope = {
    message: {
      data: Buffer.from(JSON.stringify(request)).toString('base64'),
      attributes: message.attributes,
      messageId: message.messageId,
    },
    subscription: message.subscription,
    ...(message.deliveryAttempt === undefined ? {} : { deliveryAttempt: message.deliveryAttempt }),
  };
  const answer = await forward(deps, placement, 'POST', '/pubsub/tenants', envelope);
  // Anything but 200 is the cell's to retry (503) or a bug there (500): Pub/Sub redelivers.
  if (answer.status !== 200)
    throw new DomainError(
      'cell-unavailable',
      `cell ${placement.cell} answered ${answer.status}`,
      undefined,
      {
        retryable: true,
      },
    );
  const outcome = JSON.parse(answer.text) as PushOutcome;
  const gone = request.action === 'cancel' && outcome.outcome === 'done';
  const refused = created && outcome.outcome !== 'done';
  if (gone || refused) await deps.store.release(placement);
  const held = request.action === 'cancel' && outcome.outcome === 'held';
  if (held || (wasHeld && !created)) await deps.store.markDeletionHeld(request.customerId);
  return { ...outcome, cell: placement.cell, region: placement.region };
}

/** The regions a customer may choose. */
export const regions = (deps: PlacementDeps) => ({ regions: regionsOf(deps.cells) });

/** Every cell with its capacity, its tenants and whether it answers: the operator's view. */
export async function cellsView(deps: PlacementDeps) {
  const states = await deps.store.cellStates(deps.cells);
  return {
    cells: await Promise.all(
      deps.cells.map(async (cell) => ({
        name: cell.name,
        region: cell.region,
        capacity: cell.capacity,
        ...(states.get(cell.name) ?? { tenants: 0 }),
        up: await deps.health.isUp(cell),
      })),
    ),
  };
}

/** The cell's readiness, as its provision reports its cluster's: what health.ts asks. */
export async function probeCell(
  cell: Cell,
  deps: Pick<PlacementDeps, 'tokenFor'>,
): Promise<boolean> {
  const answer = await callFunction(
    { url: cell.provisionUrl, token: deps.tokenFor(cell) },
    { method: 'GET', path: '/readyz', signal: AbortSignal.timeout(2_000) },
    () => unavailable(cell.name),
  );
  return answer.status === 200;
}

export async function placed(customerId: string, deps: PlacementDeps): Promise<Placement> {
  const placement = await deps.store.find(customerId);
  if (!placement) throw new DomainError('no-such-tenant', `no tenant ${customerId}`);
  return placement;
}

// Codes with which a cell's provision says its cluster does not answer.
const clusterDown = new Set(['network', 'timeout', 'unavailable']);

/** The cell's answer; its being unreachable, or its cluster down, is 'cell-unavailable'. */
export async function forward(
  deps: PlacementDeps,
  placement: Pick<Placement, 'cell'>,
  method: string,
  path: string,
  body?: unknown,
): Promise<FunctionAnswer> {
  const cell = deps.cells.find((c) => c.name === placement.cell);
  // A record naming a cell no longer configured: an operator's mistake, not the caller's.
  if (!cell) throw new Error(`placement names cell ${placement.cell}, which is not configured`);
  try {
    const answer = await callFunction(
      { url: cell.provisionUrl, token: deps.tokenFor(cell) },
      { method, path, ...(body === undefined ? {} : { body }) },
      () => unavailable(cell.name),
    );
    if (answer.status === 503 && clusterDown.has(answer.code ?? '')) throw unavailable(cell.name);
    return answer;
  } catch (error) {
    if (error instanceof DomainError && error.code === 'cell-unavailable')
      deps.health.markDown(cell);
    throw error;
  }
}

/** Frozen while it moves: asked again later, the request reaches the cell the move ends in. */
const moving = (customerId: string) =>
  new DomainError(
    'tenant-moving',
    `tenant ${customerId} is moving to another cell; try again once it has moved`,
    undefined,
    { retryable: true },
  );

function unavailable(cell: string): DomainError {
  log('WARNING', 'cell unavailable', { cell });
  return new DomainError(
    'cell-unavailable',
    "the tenant's region is not answering now; try again shortly",
    undefined,
    { retryable: true },
  );
}

/** The cell's answer, with where the tenant is when it succeeded. */
function relayWith(placement: Pick<Placement, 'cell' | 'region'>, answer: FunctionAnswer): Answer {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    // Not provision's JSON (a proxy's or the platform's page): the cell is not itself.
    throw unavailable(placement.cell);
  }
  if (answer.status >= 300) return { status: answer.status, body };
  return {
    status: answer.status,
    body: { ...body, region: placement.region, cell: placement.cell },
  };
}

function regionFor(region: string | undefined, cells: readonly Cell[]): string {
  const offered = regionsOf(cells);
  if (region === undefined && offered.length === 1) return offered[0] as string;
  if (region !== undefined && offered.includes(region)) return region;
  throw new DomainError('unknown-region', 'choose one of the regions offered', {
    fields: [{ field: 'region', expected: offered.join(', ') }],
  });
}

/** Chooses from counts, with the health of the region's cells read now. */
export async function chooser(deps: PlacementDeps, region: string) {
  const inRegion = deps.cells.filter((c) => c.region === region);
  const up = new Map(
    await Promise.all(inRegion.map(async (c) => [c.name, await deps.health.isUp(c)] as const)),
  );
  return (counts: Map<string, number>) =>
    chooseCell(deps.cells, region, (cell) => ({
      tenants: counts.get(cell.name) ?? 0,
      up: up.get(cell.name) ?? false,
    }));
}

function refusal(code: 'unknown-region' | 'region-full' | 'region-unavailable', region: string) {
  if (code === 'unknown-region')
    return new DomainError('unknown-region', `${region} is not a region offered`);
  return code === 'region-full'
    ? new DomainError('region-full', `no room for a new tenant in ${region}; choose another region`)
    : new DomainError(
        'region-unavailable',
        `${region} is not answering now; try again shortly`,
        undefined,
        {
          retryable: true,
        },
      );
}
