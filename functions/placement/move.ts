// Moving a tenant to another cell, so that it is Ready somewhere at every moment and placed in
// exactly one cell at every moment. Placement's record (store.ts) says which cell is the tenant's;
// it switches in one Firestore commit, after the target's copy is Ready:
//   reserved  room taken in the target (recorded: the move's first decision)
//   frozen    the source stops taking changes and answers the tenant's snapshot (what was set by
//             hand included: functions/provision/move.ts)
//   copied    the target builds the tenant from it
//   ready     the target's copy reaches the source's phase (Ready, or Suspended)
//   switched  placement names the target (recorded: the move's second decision)
//   removed   the source's copy deleted, under that cell's deletion budget (or held by it)
// Every step is idempotent and the record holds the decisions, so a move killed anywhere finishes
// when asked again (the operator's route, a redelivered Pub/Sub `move`, the drain). A cell that
// refuses for good before the switch (the target has another namespace by that name, say) undoes
// the move: the source thawed, the target's copy removed, the room given back.
import type { Cell } from '../../shared/cells.ts';
import { DomainError } from '../../shared/errors.ts';
import type { FunctionAnswer } from '../../shared/http/call-function.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { type OutcomeRequest, withOutcomes } from '../provision/outcomes.ts';
import { chooser, forward, type PlacementDeps, placed } from './handler.ts';
import type { Placement } from './store.ts';

export const moveSteps = ['reserved', 'frozen', 'copied', 'ready', 'switched', 'removed'] as const;
export type MoveStep = (typeof moveSteps)[number];

export type MoveOptions = {
  /** A Pub/Sub request's requestedAt: one no newer than the last move taken is stale. */
  requestedAt?: string | undefined;
  /** Called after each step is done (and recorded): progress in the log, kill points in tests. */
  onStep?: ((step: MoveStep, customerId: string) => void | Promise<void>) | undefined;
  /** How long the target's copy may take to be Ready before the move is left to resume later. */
  readyTimeoutMs?: number | undefined;
};

export type MoveResult = {
  customerId: string;
  outcome: 'moved' | 'already-there' | 'stale';
  from?: string;
  to: string;
  region?: string;
  /** The source copy: deleted, held by its cell's deletion budget, or gone already. */
  removed?: 'deleted' | 'held' | 'gone';
  seconds?: number;
};

/** Moves the tenant to cell `to`, or finishes the move recorded for it. */
export async function moveTenant(
  customerId: string,
  to: string,
  deps: PlacementDeps,
  options: MoveOptions = {},
): Promise<MoveResult> {
  const started = Date.now();
  const target = cellNamed(deps, to);
  const step = async (name: MoveStep, from: string) => {
    const elapsedMs = Date.now() - started;
    log('INFO', `tenant move: ${name}`, { customerId, from, to, step: name, elapsedMs });
    await options.onStep?.(name, customerId);
  };
  let placement = await placed(customerId, deps);
  if (placement.move && placement.move.to !== to)
    throw new DomainError(
      'move-in-progress',
      `tenant ${customerId} is moving to ${placement.move.to}; finish or abort that move first`,
    );
  if (!placement.move) {
    if (placement.cell === to) return { customerId, outcome: 'already-there', to };
    if (!(await deps.health.isUp(target)))
      throw new DomainError('cell-unavailable', `cell ${to} is not answering now`, undefined, {
        retryable: true,
      });
    const begun = await deps.store.beginMove(customerId, target, options.requestedAt);
    if (begun === 'stale') return { customerId, outcome: 'stale', to };
    if (begun === 'cell-full') throw new DomainError('cell-full', `cell ${to} has no room`);
    if (!begun?.move) throw noTenant(customerId);
    placement = begun;
    await step('reserved', placement.cell);
  }
  const move = placement.move as NonNullable<Placement['move']>;
  const source = cellNamed(deps, move.from);

  if (move.step === 'reserved') {
    try {
      const snapshot = await call(deps, source, 'POST', `/moves/${customerId}/out`, { to });
      await step('frozen', move.from);
      const { status, ...copy } = snapshot as { status?: unknown; phase?: string };
      await call(deps, target, 'PUT', `/moves/${customerId}/in`, copy);
      await step('copied', move.from);
      await targetReached(deps, target, customerId, copy.phase, options.readyTimeoutMs);
      await step('ready', move.from);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'provisioning-refused')
        await undoMove(customerId, deps, placement);
      throw error;
    }
    if (!(await deps.store.switchMove(customerId, target.region))) throw noTenant(customerId);
    await step('switched', move.from);
  }
  const removal = (await call(deps, source, 'DELETE', `/moves/${customerId}/out`)) as {
    removed: MoveResult['removed'];
  };
  await step('removed', move.from);
  await deps.store.endMove(customerId);
  log('INFO', 'tenant moved', { customerId, from: move.from, to, removed: removal.removed });
  return {
    customerId,
    outcome: 'moved',
    from: move.from,
    to,
    region: target.region,
    ...(removal.removed ? { removed: removal.removed } : {}),
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * A move someone asked for, between its outcome events (functions/provision/outcomes.ts):
 * requested, then succeeded (from, to, region, what became of the source's copy) or failed; a
 * stale request's only event is its requested, again. Nothing is published without a topic.
 */
export function requestedMove(
  customerId: string,
  to: string,
  deps: PlacementDeps,
  request: Pick<OutcomeRequest, 'via' | 'request' | 'requestedAt'>,
): Promise<MoveResult> {
  return withOutcomes(
    deps.outcomes,
    { action: 'move', customerId, ...request },
    () => moveTenant(customerId, to, deps, { requestedAt: request.requestedAt }),
    async ({ outcome, customerId: _, ...data }) =>
      outcome === 'stale' ? undefined : { stage: 'succeeded', data: { outcome, ...data } },
  );
}

/** Undoes the tenant's unfinished move (an operator's decision); a switched move finishes instead. */
export async function abortMove(
  customerId: string,
  deps: PlacementDeps,
): Promise<{ customerId: string; aborted: boolean; cell: string }> {
  const placement = await placed(customerId, deps);
  if (!placement.move) return { customerId, aborted: false, cell: placement.cell };
  if (placement.move.step === 'switched')
    throw new DomainError(
      'move-in-progress',
      `tenant ${customerId} is placed in ${placement.move.to} already; its move can only finish`,
    );
  await undoMove(customerId, deps, placement);
  return { customerId, aborted: true, cell: placement.move.from };
}

async function undoMove(customerId: string, deps: PlacementDeps, placement: Placement) {
  const move = placement.move as NonNullable<Placement['move']>;
  log('WARNING', 'tenant move undone', { customerId, from: move.from, to: move.to });
  await call(deps, cellNamed(deps, move.from), 'POST', `/moves/${customerId}/thaw`);
  await call(
    deps,
    cellNamed(deps, move.to),
    'DELETE',
    `/moves/${customerId}/in?from=${encodeURIComponent(move.from)}`,
  );
  await deps.store.abandonMove(customerId);
}

/** Waits until the target's copy is as far as the source was: Ready, or Suspended. */
async function targetReached(
  deps: PlacementDeps,
  target: Cell,
  customerId: string,
  sourcePhase: string | undefined,
  timeoutMs = 120_000,
) {
  // A source that was not Ready itself (still provisioning, or failing) is not waited on.
  if (sourcePhase !== 'Ready' && sourcePhase !== 'Suspended') return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await call(deps, target, 'GET', `/tenants/${customerId}`)) as {
      phase?: string;
    };
    if (status.phase === sourcePhase) return;
    if (Date.now() > deadline)
      throw new DomainError(
        'move-not-ready',
        `tenant ${customerId} is not ${sourcePhase} in ${target.name} yet (${status.phase}); the move resumes when asked again`,
        undefined,
        { retryable: true },
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * One round of draining `cell`: up to `limit` of its tenants moved, one after another, each to
 * `to`, or else to the cell of its region with the most room (never a cell being drained). Moves left unfinished
 * in an earlier round are finished first. Cloud Scheduler calls it every minute while the cell
 * drains, so `limit` bounds the rate; the answer is the progress.
 */
export async function drainRound(
  cellName: string,
  deps: PlacementDeps,
  limit: number,
  to?: string | undefined,
) {
  const cell = cellNamed(deps, cellName);
  const [placed, unfinished] = await Promise.all([
    deps.store.placedIn(cell.name),
    deps.store.movingFrom(cell.name),
  ]);
  const queue = [...unfinished, ...placed.filter((p) => !p.move).slice(0, limit)];
  const moved: MoveResult[] = [];
  const failed: { customerId: string; code: string; message: string }[] = [];
  for (const placement of queue.slice(0, Math.max(limit, unfinished.length))) {
    try {
      const target = placement.move?.to ?? to ?? (await targetFor(deps, placement));
      moved.push(
        await requestedMove(placement.customerId, target, deps, {
          via: 'drain',
          request: `drain:${cell.name}`,
        }),
      );
    } catch (error) {
      const known = error instanceof DomainError;
      failed.push({
        customerId: placement.customerId,
        code: known ? error.code : 'internal',
        message: known ? error.message : 'the move failed; see the log',
      });
      if (!known)
        log('ERROR', 'tenant move failed', {
          customerId: placement.customerId,
          detail: String(error),
        });
    }
  }
  const left = (await deps.store.placedIn(cell.name)).length;
  log('INFO', 'cell drain round', {
    cell: cell.name,
    moved: moved.length,
    failed: failed.length,
    left,
  });
  return { cell: cell.name, moved, failed, left, done: left === 0 };
}

async function targetFor(deps: PlacementDeps, placement: Placement): Promise<string> {
  const choose = await chooser(deps, placement.region);
  const choice = choose(await deps.store.counts(deps.cells));
  if (!choice.ok)
    throw new DomainError(
      'cell-full',
      `no other cell of ${placement.region} has room or answers (${choice.code})`,
    );
  return choice.cell.name;
}

export function cellNamed(deps: PlacementDeps, name: string): Cell {
  const cell = deps.cells.find((c) => c.name === name);
  if (!cell) throw new DomainError('unknown-cell', 'there is no such cell; GET /cells lists them');
  return cell;
}

const noTenant = (customerId: string) =>
  new DomainError('no-such-tenant', `there is no tenant ${customerId}`);

/**
 * The cell's JSON answer to one step. A refusal (4xx) is final: 'provisioning-refused' with the
 * cell's code and words; anything else (its 503s, an unreadable answer) may pass: retryable.
 */
async function call(
  deps: PlacementDeps,
  cell: Cell,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const answer: FunctionAnswer = await forward(deps, { cell: cell.name }, method, path, body);
  let json: { message?: string } | undefined;
  try {
    json = JSON.parse(answer.text) as { message?: string };
  } catch {
    json = undefined;
  }
  if (answer.status === 200 && json) return json;
  const what = `cell ${cell.name} answered ${answer.status} ${answer.code ?? ''} to ${method} ${path.split('?')[0]}`;
  if (answer.status >= 400 && answer.status < 500 && answer.status !== 429)
    throw new DomainError('provisioning-refused', `${what}: ${json?.message ?? ''}`);
  throw new DomainError('cell-unavailable', what, undefined, { retryable: true });
}
