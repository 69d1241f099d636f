// Self-healing: the watcher reports each change to one of kubefn's objects (subscription
// kubefn-provision-changes: managed, MODIFIED or DELETED; infra/subscriptions.ts), pushed to
// POST /pubsub/changes. The object is compared with what the tenant's template renders now and,
// if it is gone or has drifted, put back with the same field ownership as every other write
// (apply.ts): what kubefn enforces is restored, fields others own are kept, the owners bound now
// stay bound. Seconds after the change instead of at the next scheduled check.
//
// Nothing loops: kubefn's own write comes back as one more change, which then matches its
// template and writes nothing. A changed object is judged from the message (no read); only a
// deletion reads the object (it may be back already). A tenant being deleted is left alone.
//
// What a message is trusted with: which object to look at (kind, namespace, name) and whether it
// looks drifted. What is written never comes from it: the tenant model's answer (tenant.ts) for
// the tenant's namespace as read from the cluster (its customer, plan, suspension, and the owners
// recorded by sign-up and plan changes). A forged message, or an old one delivered late, can at
// most make kubefn write the tenant as it should be, or skip a write the scheduled check then makes.
import type { ObjectChange } from '../../shared/events/change.ts';
import { KubeError, type KubeObject } from '../../shared/kube/index.ts';
import { jsonLogger as log } from '../../shared/log.ts';
import type { PushOutcome } from '../../shared/pubsub/push.ts';
import { applyTenantObject, drift, failedObject } from './apply.ts';
import type { ProvisionDeps } from './handler.ts';
import { readTenant } from './read-tenant.ts';
import { healLatencyMs, recordRepair } from './repair-record.ts';
import { desiredObjects, namespaceRef, objectKey, tenantOf, typeRef } from './tenant.ts';

export async function healObject(
  change: ObjectChange,
  deps: ProvisionDeps,
  /** When the watcher published the change (Pub/Sub's publishTime): the repair's latency. */
  publishTime?: string,
): Promise<PushOutcome> {
  const reported = change.object as KubeObject;
  const { name, namespace = '' } = change.object.metadata;
  const about = { kind: change.object.kind, namespace, name };
  const ignored = (reason: string) => ({ outcome: 'ignored', ...about, reason });
  if (!namespace.startsWith(deps.namespacePrefix)) return ignored('not in a tenant namespace');
  const ns = await deps.cluster.resource(namespaceRef).find(namespace);
  const recorded = tenantOf(ns, deps.namespacePrefix);
  if (!recorded) return ignored('not a tenant namespace');
  if (recorded.terminating) return ignored('the tenant is being deleted');

  const tenant = await readTenant(deps, recorded);
  const entry = desiredObjects(deps.templates, tenant, deps.subjects).find(
    (e) => objectKey(e.object) === objectKey(reported),
  );
  if (!entry) return ignored('not an object of the tenant bundle');

  const resource = deps.cluster.resource(typeRef(entry.object));
  const live =
    change.type === 'DELETED'
      ? await resource.find(name, { namespace }).catch((error: unknown) => {
          throw KubeError.about(error, failedObject(entry.object));
        })
      : reported;
  const was = drift(entry, live);
  if (!was) return { outcome: 'in-sync', ...about };
  await applyTenantObject(resource, entry, was === 'defaults' ? { only: 'defaults' } : {});
  const at = new Date();
  const latencyMs = healLatencyMs(publishTime, at);
  log('INFO', 'tenant object put back', { ...about, was, after: change.type, latencyMs });
  await recordRepair(deps.cluster, namespace, {
    at: at.toISOString(),
    by: 'heal',
    object: `${about.kind}/${name}`,
    was,
    ...(latencyMs === undefined ? {} : { latencyMs }),
  });
  return { outcome: 'healed', ...about, was };
}
