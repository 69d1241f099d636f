// A cell's part in moving a tenant to another cell; placement drives the move (functions/placement/
// move.ts) and calls these, in this order, each idempotent so a move killed anywhere resumes:
//   moveOut     (source) freeze the tenant (label kubefn.dev/moving-to=<target>: from then on only
//               reads and the move act on it, ownTenant in handler.ts) and answer its snapshot:
//               plan, owners, customer, phase, and every label, annotation and replica count that
//               someone other than kubefn's provisioning set by hand (`carriedFields`)
//   moveIn      (target) apply the snapshot: the namespace with its customer and what was carried
//               on it (a suspension included), then the bundle as a sign-up applies it, then what
//               was carried on each object, each under the field manager that set it at the source,
//               so the operator's values stay theirs and kubefn's defaults do not take them back
//   removeMovedOut (source) once placement names the target: delete the frozen tenant, under the
//               deletion budget like every deletion (held-deletions.ts)
// Undoing an unfinished move (the target refused it for good): `thaw` the source, and
// `removeMovedIn` deletes the target's copy, only one that says it came from that source.
import * as v from 'valibot';
import { CellNameSchema } from '../../shared/cells.ts';
import { DomainError, failureCode } from '../../shared/errors.ts';
import { KubeError, type KubeObject } from '../../shared/kube/index.ts';
import {
  customerLabel,
  managedByLabel,
  movedFromAnnotation,
  movingToLabel,
  ownerLabel,
  ownersAnnotation,
  ownerUidAnnotation,
  planLabel,
} from '../../shared/labels.ts';
import { defaultsManager, failedObject, fieldManager } from './apply.ts';
import {
  ownTenant,
  type ProvisionDeps,
  partition,
  provisionTenant,
  type TenantStatus,
  tenantStatus,
} from './handler.ts';
import { type DeletionDeps, deleteTenant, heldLabel } from './held-deletions.ts';
import { readTenant } from './read-tenant.ts';
import { acceptedAtAnnotation } from './readiness.ts';
import { bundleRefs } from './render.ts';
import { CustomerIdSchema, OwnersSchema, OwnerUidSchema } from './schema.ts';
import { desiredNamespace, namespaceRef, tenantId, tenantOf, typeRef } from './tenant.ts';

/** The move's own writes (the freeze): never carried, and never anyone's hand-set value. */
export const moveManager = 'kubefn-move';
/** Managers whose fields the target renders itself, or that belong to this cell alone. */
const notCarried = new Set([fieldManager, defaultsManager, moveManager, 'kubefn-deletion-hold']);
/** Keys kubefn's provisioning decides (the target writes them from the snapshot) or this cell's. */
const notCarriedKeys = new Set([
  managedByLabel,
  customerLabel,
  planLabel,
  ownerLabel,
  ownerUidAnnotation,
  ownersAnnotation,
  acceptedAtAnnotation,
  movingToLabel,
  movedFromAnnotation,
  heldLabel,
]);
/** Kubernetes' own keys (kubernetes.io/metadata.name, deployment.kubernetes.io/revision, ...). */
const isSystemKey = (key: string) => {
  const domain = key.includes('/') ? key.slice(0, key.lastIndexOf('/')) : '';
  return /(^|\.)(kubernetes\.io|k8s\.io)$/.test(domain);
};

const StringMap = v.pipe(
  v.record(v.pipe(v.string(), v.maxLength(317)), v.pipe(v.string(), v.maxLength(65_536))),
  v.check((map) => Object.keys(map).length <= 64, 'at most 64 keys'),
);
const CarriedSchema = v.strictObject({
  apiVersion: v.pipe(v.string(), v.maxLength(100)),
  kind: v.pipe(v.string(), v.maxLength(100)),
  name: v.pipe(v.string(), v.maxLength(253)),
  manager: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  labels: v.optional(StringMap),
  annotations: v.optional(StringMap),
  replicas: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1000))),
});
export type CarriedFields = v.InferOutput<typeof CarriedSchema>;

export const SnapshotSchema = v.strictObject({
  customerId: CustomerIdSchema,
  /** The cell it comes from: recorded on the copy, so only this move's copy is ever undone. */
  from: CellNameSchema,
  plan: v.pipe(v.string(), v.minLength(1), v.maxLength(40)),
  owners: OwnersSchema,
  ownerUid: v.optional(OwnerUidSchema),
  /** The source's phase when frozen: what the target must reach before placement switches. */
  phase: v.picklist(['Provisioning', 'Ready', 'Failed', 'Suspended', 'Terminating']),
  carried: v.pipe(v.array(CarriedSchema), v.maxLength(200)),
});
export type Snapshot = v.InferOutput<typeof SnapshotSchema>;

export const MoveOutSchema = v.strictObject({ to: CellNameSchema });
export const MoveInQuerySchema = { from: CellNameSchema };

type ManagedEntry = { manager?: string; fieldsV1?: Record<string, unknown> };

/**
 * What was set on `live` by hand (by anyone but kubefn's provisioning), by manager: its labels and
 * annotations and, on a workload, its replicas. Read from managedFields, so a value kubefn set as
 * a default is not mistaken for an operator's.
 */
export function carriedFields(live: KubeObject): CarriedFields[] {
  const entries = ((live.metadata as { managedFields?: ManagedEntry[] }).managedFields ??
    []) as ManagedEntry[];
  const byManager = new Map<string, CarriedFields>();
  for (const entry of entries) {
    const manager = entry.manager ?? '';
    if (!manager || notCarried.has(manager)) continue;
    const fields = entry.fieldsV1 ?? {};
    const metadata = (fields['f:metadata'] ?? {}) as Record<string, Record<string, unknown>>;
    const labels = pick(metadata['f:labels'], live.metadata?.labels);
    const annotations = pick(metadata['f:annotations'], live.metadata?.annotations);
    const spec = (fields['f:spec'] ?? {}) as Record<string, unknown>;
    const replicas =
      spec['f:replicas'] !== undefined
        ? (live.spec as { replicas?: number } | undefined)?.replicas
        : undefined;
    if (!labels && !annotations && replicas === undefined) continue;
    const carried = byManager.get(manager) ?? {
      apiVersion: live.apiVersion ?? '',
      kind: live.kind ?? '',
      name: live.metadata?.name ?? '',
      manager,
    };
    if (labels) carried.labels = { ...carried.labels, ...labels };
    if (annotations) carried.annotations = { ...carried.annotations, ...annotations };
    if (replicas !== undefined) carried.replicas = replicas;
    byManager.set(manager, carried);
  }
  return [...byManager.values()];
}

/** The keys a managedFields map names (`f:<key>`), with their live values, kubefn's own left out. */
function pick(
  owned: Record<string, unknown> | undefined,
  values: Record<string, string> | undefined,
): Record<string, string> | undefined {
  const picked = Object.keys(owned ?? {})
    .filter((field) => field.startsWith('f:'))
    .map((field) => field.slice(2))
    .filter((key) => !notCarriedKeys.has(key) && !isSystemKey(key) && values?.[key] !== undefined)
    .map((key) => [key, values?.[key] as string] as const);
  return picked.length ? Object.fromEntries(picked) : undefined;
}

/** Freezes the tenant for its move to `to`, and answers what the target needs to rebuild it. */
export async function moveOut(
  customerId: string,
  to: string,
  deps: ProvisionDeps & { cell: string },
): Promise<Snapshot & { status: TenantStatus }> {
  const ns = await ownTenant(deps, customerId, { allowTerminating: false, whileMoving: 'allow' });
  const frozenFor = ns.metadata?.labels?.[movingToLabel];
  if (frozenFor && frozenFor !== to)
    throw new DomainError('move-in-progress', `tenant ${customerId} is moving to ${frozenFor}`);
  if (ns.metadata?.labels?.[heldLabel])
    throw new DomainError(
      'tenant-terminating',
      `tenant ${customerId} has a deletion held by the budget; approve or drop it before moving it`,
    );
  if (!frozenFor) await setFrozen(deps, ns.metadata?.name ?? '', to);
  // Read after the freeze: nothing but the move changes the tenant here from now on.
  const recorded = tenantOf(ns, deps.namespacePrefix);
  if (!recorded) throw new DomainError('no-such-tenant', `there is no tenant ${customerId}`);
  const [tenant, status] = await Promise.all([
    readTenant(deps, recorded),
    tenantStatus(customerId, deps),
  ]);
  const namespace = ns.metadata?.name ?? '';
  const live = await Promise.all(
    bundleRefs(deps.templates, { namespace, customerId }).map((ref) =>
      deps.cluster.resource(ref).find(ref.name, { namespace }),
    ),
  );
  const frozen = await deps.cluster.resource(namespaceRef).get(namespace);
  const ownerUid = frozen.metadata?.annotations?.[ownerUidAnnotation];
  return {
    customerId,
    from: deps.cell,
    plan: tenant.plan,
    owners: tenant.owners,
    ...(ownerUid ? { ownerUid } : {}),
    phase: status.phase,
    carried: [frozen, ...live]
      .filter((o): o is KubeObject => o !== undefined)
      .flatMap(carriedFields),
    status,
  };
}

/** Undoes the freeze of an unfinished move: the tenant is this cell's again. */
export async function thaw(customerId: string, deps: ProvisionDeps): Promise<{ thawed: boolean }> {
  const ns = await deps.cluster.resource(namespaceRef).find(deps.namespacePrefix + customerId);
  if (!ns?.metadata?.labels?.[movingToLabel]) return { thawed: false };
  await setFrozen(deps, ns.metadata.name ?? '', undefined);
  return { thawed: true };
}

function setFrozen(deps: ProvisionDeps, namespace: string, to: string | undefined) {
  return deps.cluster.resource(namespaceRef).apply(
    // Applied without the label, the label this manager set is removed.
    { ...namespaceRef, metadata: { name: namespace, labels: to ? { [movingToLabel]: to } : {} } },
    { fieldManager: moveManager, force: true },
  );
}

/** Builds the tenant from its snapshot in this cell; its state as it then is. */
export async function moveIn(snapshot: Snapshot, deps: ProvisionDeps): Promise<TenantStatus> {
  const { customerId } = snapshot;
  const id = tenantId(deps.namespacePrefix, customerId);
  const allowed = new Set(
    [
      { ...namespaceRef, name: id.namespace },
      ...bundleRefs(deps.templates, { ...id, customerId }),
    ].map(objectName),
  );
  const stray = snapshot.carried.find((c) => !allowed.has(objectName(c)));
  if (stray)
    throw new DomainError('invalid-input', `${stray.kind} ${stray.name} is not the tenant's`);
  // Only what carriedFields would carry: never a key or a manager that is kubefn's to decide.
  const forbidden = snapshot.carried.find(
    (c) =>
      notCarried.has(c.manager) ||
      [...Object.keys(c.labels ?? {}), ...Object.keys(c.annotations ?? {})].some(
        (key) => notCarriedKeys.has(key) || isSystemKey(key),
      ),
  );
  if (forbidden)
    throw new DomainError(
      'invalid-input',
      `the snapshot sets on ${forbidden.kind} ${forbidden.name} what kubefn decides`,
    );

  const namespaces = deps.cluster.resource(namespaceRef);
  const namespace = desiredNamespace(
    { ...id, plan: snapshot.plan, owners: snapshot.owners },
    snapshot.ownerUid,
  );
  // The customer's namespace first, with when it arrived and where from (the undo's guard).
  await namespaces
    .create(
      {
        ...namespace,
        metadata: {
          ...namespace.metadata,
          annotations: {
            ...namespace.metadata?.annotations,
            [acceptedAtAnnotation]: new Date().toISOString(),
            [movedFromAnnotation]: snapshot.from,
          },
        },
      },
      { fieldManager },
    )
    .catch((error: unknown) => {
      if (failureCode(error) !== 'already-exists') throw error;
    });
  await ownTenant(deps, customerId, { allowTerminating: false });
  const [onNamespace, onObjects] = partition(snapshot.carried, (c) => c.kind === 'Namespace');
  // What was carried on the namespace before the bundle: a suspended tenant is rendered
  // suspended (its quota before its workloads), so it never starts pods here.
  await applyCarried(deps, id.namespace, onNamespace);
  await provisionTenant(
    { customerId, plan: snapshot.plan, owners: snapshot.owners, dryRun: false },
    deps,
  );
  await applyCarried(deps, id.namespace, onObjects);
  return tenantStatus(customerId, deps);
}

const objectName = (o: { apiVersion: string; kind: string; name: string }) =>
  `${o.apiVersion}/${o.kind}/${o.name}`;

/** Applies each carried field set under its own manager, with force: it was theirs at the source. */
async function applyCarried(deps: ProvisionDeps, namespace: string, carried: CarriedFields[]) {
  for (const c of carried) {
    const { apiVersion, kind, name, manager, labels, annotations, replicas } = c;
    const object: KubeObject = {
      apiVersion,
      kind,
      metadata: {
        name,
        ...(kind === 'Namespace' ? {} : { namespace }),
        ...(labels ? { labels } : {}),
        ...(annotations ? { annotations } : {}),
      },
      ...(replicas === undefined ? {} : { spec: { replicas } }),
    };
    await deps.cluster
      .resource(typeRef(object))
      .apply(object, { fieldManager: manager, force: true })
      .catch((error: unknown) => {
        throw KubeError.about(error, failedObject(object));
      });
  }
}

export type Removal = { customerId: string; removed: 'deleted' | 'held' | 'gone' };

/** Deletes the frozen source copy of a moved tenant, within the deletion budget. */
export async function removeMovedOut(customerId: string, deps: DeletionDeps): Promise<Removal> {
  return removeCopy(customerId, deps, (ns) => {
    if (!ns.metadata?.labels?.[movingToLabel])
      throw new DomainError('not-moving', `tenant ${customerId} is not moving out of this cell`);
  });
}

/** Deletes the copy an unfinished move from `from` left here (never one placed here for real). */
export async function removeMovedIn(
  customerId: string,
  from: string,
  deps: DeletionDeps,
): Promise<Removal> {
  return removeCopy(customerId, deps, (ns) => {
    if (ns.metadata?.annotations?.[movedFromAnnotation] !== from)
      throw new DomainError('not-moving', `tenant ${customerId} here did not come from ${from}`);
  });
}

async function removeCopy(
  customerId: string,
  deps: DeletionDeps,
  check: (ns: KubeObject) => void,
): Promise<Removal> {
  const ns = await deps.cluster.resource(namespaceRef).find(deps.namespacePrefix + customerId);
  const recorded = tenantOf(ns, deps.namespacePrefix);
  if (!ns || !recorded || recorded.terminating) return { customerId, removed: 'gone' };
  check(ns);
  try {
    await deleteTenant(deps, ns, { via: 'move', dryRun: false });
    return { customerId, removed: 'deleted' };
  } catch (error) {
    if (error instanceof DomainError && error.code === 'deletion-held')
      return { customerId, removed: 'held' };
    throw error;
  }
}
