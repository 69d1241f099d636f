// Placement's scheduled round (Cloud Scheduler, every minute): a round of moves for each cell an
// operator drains (move.ts), and the records of tenants whose held deletion their cell has since
// done are forgotten, so the cell's count is given back.
//
// A cell holds a deletion beyond its deletion budget and does it later (the window allows it, or
// an operator approves it there), without telling placement: the record was marked when the cell
// answered `deletion-held` (handler.ts), and here each marked tenant is asked for by name. Only
// its cell's 404 forgets it; a list is never read for this, so a list cut short forgets nothing.
import { mapLimit } from '../../shared/concurrency.ts';
import type { FunctionAnswer } from '../../shared/http/call-function.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import { forward, type PlacementDeps } from './handler.ts';
import { drainRound } from './move.ts';
import type { Placement } from './store.ts';

/** Tenants a drain moves per round by default: a round a minute, so 300 an hour. */
export const drainLimit = 5;

/**
 * Marked tenants asked for per round, chosen at random: a cell does at most its budget of
 * deletions an hour (10 by default) unless an operator approves a batch, so a few minutes'
 * rounds catch up even after a mass cancel, at a bounded cost per round.
 */
const checksPerRound = 100;

export async function resyncRound(deps: PlacementDeps) {
  const rounds = [];
  for (const [cell, { draining }] of await deps.store.cellStates(deps.cells))
    if (draining) rounds.push(await drainRound(cell, deps, drainLimit, draining.to));
  return { rounds, ...(await forgetDeleted(deps, checksPerRound)) };
}

type HeldCheck = 'forgotten' | 'kept' | 'held' | 'unknown';

/**
 * Forgets the marked tenants their cell no longer has, and unmarks those it keeps (the held
 * deletion was dropped by an operator): at most `limit` of them.
 */
export async function forgetDeleted(deps: PlacementDeps, limit: number) {
  const marked = shuffled(await deps.store.deletionsHeld()).slice(0, limit);
  const checks = await mapLimit(marked, 8, (placement) => checkHeld(placement, deps));
  const forgotten = marked.filter((_, i) => checks[i] === 'forgotten').map((p) => p.customerId);
  const count = (check: HeldCheck) => checks.filter((c) => c === check).length;
  const counts = { stillHeld: count('held'), kept: count('kept'), unknown: count('unknown') };
  if (marked.length > 0)
    log('INFO', 'held deletions checked', {
      checked: marked.length,
      forgotten: forgotten.length,
      ...counts,
    });
  return { forgotten, ...counts };
}

async function checkHeld(placement: Placement, deps: PlacementDeps): Promise<HeldCheck> {
  const heldSince = placement.deletionHeldAt ?? '';
  const path = `/tenants/${encodeURIComponent(placement.customerId)}`;
  const answer = await forward(deps, placement, 'GET', path).catch(() => undefined);
  const said = cellSays(answer);
  if (said === 'gone')
    return (await deps.store.release(placement, { heldSince })) ? 'forgotten' : 'kept';
  if (said === 'kept') await deps.store.clearDeletionHeld(placement.customerId, heldSince);
  return said;
}

/**
 * What the cell's answer to GET /tenants/:id says of a held deletion: done (`gone`, only its
 * 404 for a missing tenant), still to do (`held`, or being done), no longer to do (`kept`), or
 * nothing now (`unknown`: the cell down or failing; the next round asks again).
 */
export function cellSays(
  answer: Pick<FunctionAnswer, 'status' | 'text' | 'code'> | undefined,
): 'gone' | 'held' | 'kept' | 'unknown' {
  if (answer?.status === 404) return answer.code === 'no-such-tenant' ? 'gone' : 'unknown';
  if (answer?.status !== 200) return 'unknown';
  const status = JSON.parse(answer.text) as { phase?: string; deletionHeld?: boolean };
  return status.deletionHeld || status.phase === 'Terminating' ? 'held' : 'kept';
}

/** Fisher-Yates: every marked tenant is as likely to be asked for in a round. */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
