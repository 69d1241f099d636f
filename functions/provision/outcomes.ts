// Tenant outcomes: what the SaaS app (billing, CRM) hears back about each tenant request, HTTP or
// Pub/Sub (sign-up, plan change, suspend, resume, cancel), on KUBEFN_OUTCOMES_TOPIC, as
// CloudEvents 1.0 in Pub/Sub's binary mode (shared/events/cloud-event.ts), ordered by customer:
//   dev.kubefn.tenant.requested  kubefn took the request (before any write)
//   dev.kubefn.tenant.succeeded  it is applied: the tenant's phase, its readiness phases with
//                                their times and readyAt once ready (readiness.ts), as read then
//   dev.kubefn.tenant.failed     it cannot be applied as asked: a code and a reason safe to show
//                                (a failure a retry can fix is not final: Pub/Sub redelivers, an
//                                HTTP caller is told 503; no event until it ends)
//   dev.kubefn.tenant.held       a cancel beyond the deletion budget (held-deletions.ts)
// ce-id is stable: customer/action/request/stage, where the request is its requestedAt (Pub/Sub)
// or the caller's Idempotency-Key (HTTP; a random one without it). A redelivered or replayed
// request yields the same ids, so a consumer recognises what it has seen. A stale request (one
// no newer than the tenant's record, lifecycle.ts) yields only its `requested` again.
// Plain attributes customerId, action and stage sit beside the ce-* ones, for subscription
// filters. A publish that fails is logged at ERROR with the event's id; the request's own answer
// does not change (its work is done). A request waits at most 5 s for a publish; the client
// retries a failing one for 10 minutes (`outcomeRetryMs`, 10 s an attempt, so a dead connection
// does not use it up), in the background past those 5 s, where Cloud Run may starve it of CPU
// once the request has answered: in an outage an outcome may come late, or be lost with the
// instance (logged). A 30 s Pub/Sub outage, refused or blackholed, loses none
// (test/faults/deletion-budget-outages.test.ts).
import { randomUUID } from 'node:crypto';
import { isRetryable, KubefnError } from '../../shared/errors.ts';
import { cloudEventAttributes, eventSource } from '../../shared/events/cloud-event.ts';
import { jsonLogger, type Logger } from '../../shared/log.ts';
import type { Publish, PublishedMessage } from '../../shared/pubsub/publisher.ts';

export const tenantActions = [
  'signup',
  'change-plan',
  'suspend',
  'resume',
  'cancel',
  // Placement's (functions/placement/move.ts): its events' source is placement, not a cell.
  'move',
] as const;
export type TenantAction = (typeof tenantActions)[number];
export type Stage = 'requested' | 'succeeded' | 'failed' | 'held';

export type OutcomeRequest = {
  action: TenantAction;
  customerId: string;
  /** The tenant's namespace; placement, which moves tenants, does not know it. */
  namespace?: string | undefined;
  /** A drain's moves are placement's own (functions/placement/move.ts). */
  via: 'http' | 'pubsub' | 'drain';
  /** What makes the request itself: its requestedAt, or the HTTP caller's Idempotency-Key. */
  request: string;
  requestedAt?: string | undefined;
};

export type Outcomes = {
  emit(request: OutcomeRequest, stage: Stage, data?: Record<string, unknown>): Promise<void>;
};

export const outcomeType = (stage: Stage) => `dev.kubefn.tenant.${stage}`;

/** The message for one outcome (pure: the same request and stage give the same id). */
export function outcomeMessage(
  request: OutcomeRequest,
  stage: Stage,
  data: Record<string, unknown>,
  cell: string,
  time: string,
  deployable = 'provision',
): PublishedMessage {
  const { action, customerId, namespace, via, requestedAt } = request;
  return {
    data: Buffer.from(
      JSON.stringify({
        customerId,
        ...(namespace ? { namespace } : {}),
        action,
        stage,
        via,
        ...(requestedAt ? { requestedAt } : {}),
        ...data,
      }),
    ),
    attributes: {
      ...cloudEventAttributes({
        id: `${customerId}/${action}/${request.request}/${stage}`,
        source: eventSource(cell, deployable),
        type: outcomeType(stage),
        subject: `tenants/${customerId}`,
        time,
      }),
      customerId,
      action,
      stage,
    },
    orderingKey: customerId,
  };
}

/** How long the client tries to publish an outcome before it is lost (logged at ERROR). */
export const outcomeRetryMs = 10 * 60_000;

/** How long a request waits for its outcome's publish before going on without it. */
const waitMs = 5_000;

export function outcomePublisher(
  publish: Publish,
  cell: string,
  log: Logger = jsonLogger,
  /** Who publishes: a cell's provision, or placement (cell `global`) for moves. */
  deployable = 'provision',
): Outcomes {
  return {
    async emit(request, stage, data = {}) {
      // A request's `requested` is timed by the request itself: a redelivery repeats it exactly.
      const time =
        stage === 'requested' && request.requestedAt
          ? request.requestedAt
          : new Date().toISOString();
      const message = outcomeMessage(request, stage, data, cell, time, deployable);
      const ids = { id: message.attributes['ce-id'], type: message.attributes['ce-type'] };
      const published = publish(message).then(
        () => true,
        (error: unknown) => {
          log('ERROR', 'tenant outcome not published', {
            ...ids,
            detail: error instanceof Error ? error.message : String(error),
          });
          return true;
        },
      );
      // A Pub/Sub outage must not hold every tenant request for the client's retries (minutes):
      // after waitMs the publish goes on without the request (its failure still logged).
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), waitMs);
      });
      const done = await Promise.race([published, waited]);
      clearTimeout(timer);
      if (!done) log('WARNING', 'tenant outcome still publishing; the request goes on', ids);
    },
  };
}

/** The caller's Idempotency-Key when it is one (bounded, plain); a fresh id otherwise. */
export function httpRequestKey(header: string | undefined): string {
  return header && /^[\w.:-]{1,100}$/.test(header) ? `http:${header}` : `http:${randomUUID()}`;
}

/**
 * Runs `work` between its outcomes: `requested` first; then what `settle` makes of its result
 * (a stage and data, or none), or `failed` for a failure no retry can fix (code and safe reason;
 * a bug is `internal`). The work's own answer or failure is returned or thrown as it was.
 */
export async function withOutcomes<T>(
  outcomes: Outcomes | undefined,
  request: OutcomeRequest,
  work: () => Promise<T>,
  settle: (result: T) => Promise<{ stage: Stage; data?: Record<string, unknown> } | undefined>,
): Promise<T> {
  if (!outcomes) return work();
  await outcomes.emit(request, 'requested');
  let result: T;
  try {
    result = await work();
  } catch (error) {
    const final = !isRetryable(error);
    if (final && !(error instanceof KubefnError && error.code === 'deletion-held'))
      await outcomes.emit(request, 'failed', failure(error));
    if (error instanceof KubefnError && error.code === 'deletion-held')
      await outcomes.emit(request, 'held', heldData(error));
    throw error;
  }
  const settled = await settle(result);
  if (settled) await outcomes.emit(request, settled.stage, settled.data);
  return result;
}

function failure(error: unknown): Record<string, unknown> {
  if (!(error instanceof KubefnError)) return { code: 'internal', reason: 'kubefn failed' };
  // A DomainError's message is written to be shown; a dependency's is not (it may name hosts).
  const safe = error.name === 'DomainError';
  return {
    code: error.code,
    reason: safe ? error.message : `kubefn could not do it (${error.code})`,
  };
}

export function heldData(error: unknown): Record<string, unknown> {
  const details = (error as { details?: unknown }).details;
  return typeof details === 'object' && details ? { ...details } : {};
}
