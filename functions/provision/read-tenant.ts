// A tenant's state as the cluster holds it, for the model (tenant.ts): the namespace says who it
// is, its plan and suspension, and the owners kubefn recorded by its last sign-up or plan change.
// A tenant provisioned before that record keeps the Users its owners' binding names now, read
// from the cluster (`live`, the scheduled check's lists, or by name); it gets the record at its
// next sign-up or plan change. Never from a message.
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import type { Templates } from './render.ts';
import {
  bindingOwners,
  objectKey,
  ownersBindingTemplate,
  type RecordedTenant,
  type Tenant,
  typeRef,
} from './tenant.ts';

export async function readTenant(
  deps: { cluster: Cluster; templates: Templates },
  recorded: RecordedTenant,
  live: ReadonlyMap<string, KubeObject> = new Map(),
): Promise<Tenant> {
  const { terminating: _, owners, ...tenant } = recorded;
  return { ...tenant, owners: owners ?? (await boundOwners(deps, recorded.namespace, live)) };
}

async function boundOwners(
  deps: { cluster: Cluster; templates: Templates },
  namespace: string,
  live: ReadonlyMap<string, KubeObject>,
): Promise<string[]> {
  const template = ownersBindingTemplate(deps.templates);
  if (!template) return [];
  // A list that failed has already failed the check. Absent from the list (its labels edited
  // away, say), the binding is read by name: only not-found means no owners, any other failure
  // fails the tenant, so a binding is never rewritten without the subjects it has.
  const name = template.metadata?.name ?? '';
  const binding =
    live.get(objectKey({ ...typeRef(template), metadata: { namespace, name } })) ??
    (await deps.cluster
      .resource(typeRef(template))
      .find(name, { namespace })
      .catch((error: unknown) => {
        throw KubeError.about(error, { kind: template.kind ?? '', namespace, name });
      }));
  return bindingOwners(binding);
}
