// The HTTP verbs' logic: (input, deps) -> result. No Hono, no process.env. What a tenant holds
// is the model's answer (tenant.ts); this file decides who may ask and in what order to write.
// Idempotent through server-side apply: the namespace is created with POST (so exactly one of
// many identical requests reports "created"), then the whole tenant is applied every time, so a
// request that failed halfway is completed by the next one.
import { DomainError } from '../../shared/errors.ts';
import { type Cluster, KubeError, type KubeObject } from '../../shared/kube/index.ts';
import { movingToLabel, ownerLabel } from '../../shared/labels.ts';
import { applyTenantObject, equal, failedObject, fieldManager } from './apply.ts';
import { withCustomerLock } from './customer-lock.ts';
import type { DeletionBudget } from './deletion-budget.ts';
import { deleteTenant, type HoldSource, heldLabel } from './held-deletions.ts';
import {
  checkEntitlement,
  countTenants,
  namespacesAtMost,
  ownerLabelValue,
  type PlanRules,
  planRules,
} from './owner.ts';
import { acceptedAtAnnotation, type Phase, policyKinds, readiness } from './readiness.ts';
import { reportReady } from './ready-report.ts';
import type { RenderValues } from './render.ts';
import { bundleRefs, type Templates, type TenantObject } from './render.ts';
import type { SignupInput } from './schema.ts';
import {
  desiredNamespace,
  desiredObjects,
  keepOwner,
  namespaceRef,
  type ObjectRef,
  ownerSelector,
  planOf,
  ref,
  tenantId,
  tenantOf,
  tenantSelector,
  typeRef,
} from './tenant.ts';

export type ProvisionDeps = {
  cluster: Cluster;
  templates: Templates;
  /** Tenant namespaces are named prefix + customer id. */
  namespacePrefix: string;
  /** Who the tenant's RoleBindings for kubefn's identities name (KUBEFN_RBAC_SUBJECTS). */
  subjects: RenderValues['subjects'];
  /** The ceiling on this deployment's tenants (KUBEFN_MAX_TENANTS); none when unset. */
  maxTenants?: number | undefined;
  /** At most so many tenant deletions in a window (KUBEFN_DELETION_BUDGET); none when unset. */
  deletionBudget?: DeletionBudget | undefined;
};

export type ProvisionResult = {
  customerId: string;
  namespace: string;
  /** True for the one request that created the namespace; false when it was already there. */
  created: boolean;
  dryRun: boolean;
  objects: ObjectRef[];
};

export async function provisionTenant(
  input: SignupInput,
  deps: ProvisionDeps,
): Promise<ProvisionResult> {
  const id = tenantId(deps.namespacePrefix, input.customerId);
  const { owner } = input;
  // A customer's sign-up: the plan must be self-served to them; their verified email is bound
  // as an owner where the plan gives owners access.
  const rules = owner ? planRules(planOf(deps.templates, input.plan)) : undefined;
  if (owner && rules) checkEntitlement(input.plan, rules, owner);
  const owners =
    owner?.email && rules?.ownerAccess
      ? [...new Set([...input.owners, owner.email])]
      : input.owners;
  const tenant = { ...id, plan: input.plan, suspended: false, owners };
  let namespaceObject = desiredNamespace(tenant, owner?.uid);
  // Rendered before anything is written: a template that cannot render creates nothing.
  let objects = desiredObjects(deps.templates, tenant, deps.subjects);
  const created = await createNamespace(input, rules, namespaceObject, deps);
  if (!created) {
    const live = await ownTenant(deps, input.customerId, {
      allowTerminating: false,
      ...(owner ? { owner: owner.uid, foreign: 'taken' as const } : {}),
    });
    // A call without a customer (an operator, a plan change) keeps the tenant's owner: the
    // namespace is applied whole, and what kubefn stops applying is removed.
    if (!owner) namespaceObject = keepOwner(namespaceObject, live);
    // A sign-up neither suspends nor resumes (lifecycle.ts does): a suspended tenant stays so,
    // and holds what one holds.
    if (tenantOf(live, deps.namespacePrefix)?.suspended)
      objects = desiredObjects(deps.templates, { ...tenant, suspended: true }, deps.subjects);
  }
  const result = { ...id, dryRun: input.dryRun, objects: objects.map((o) => ref(o.object)) };
  // A namespace that does not exist yet cannot hold dry-run objects: the rendered bundle is the answer.
  if (input.dryRun && created) return { ...result, created };

  // A failure names its object: the caller learns which one and why (in safe words), and a
  // later sign-up or the scheduled check completes the tenant. The namespace, with the owners
  // record, goes first: self-healing renders the owners' binding from that record, so a binding
  // written before it would be put back to the old owners.
  const apply = (entry: TenantObject) =>
    applyTenantObject(deps.cluster.resource(typeRef(entry.object)), entry, {
      dryRun: input.dryRun,
    });
  if (!created) await apply({ object: namespaceObject, defaults: undefined });
  // Policy before workloads, and workloads only once the quota is counted. Quota admission
  // reads quotas from kube-apiserver's informer: a pod created before its namespace's quota
  // reached it is let in unchecked (a 4-CPU pod came up Ready on a 1-CPU plan), and a pod met
  // while the quota has no status is refused ("status unknown for quota", k8s.io/apiserver
  // v0.36 resourcequota) and retried by its ReplicaSet after a backoff. A pod is also refused
  // while its ServiceAccount is missing, and none should run before its NetworkPolicy.
  const [policy, rest] = partition(objects, (entry) => policyKinds.has(entry.object.kind ?? ''));
  const applied = await Promise.all(policy.map(apply));
  if (!input.dryRun) {
    const quotas = applied.filter((o): o is KubeObject => o?.kind === 'ResourceQuota');
    await Promise.all(quotas.map((quota) => quotaCounted(deps, quota)));
  }
  await Promise.all(rest.map(apply));
  return { ...result, created };
}

export const partition = <T>(items: T[], first: (item: T) => boolean): [T[], T[]] => [
  items.filter(first),
  items.filter((item) => !first(item)),
];

/** How long a sign-up waits for the quota controller (it usually takes tens of ms). */
const quotaCountMs = 10_000;

/**
 * Resolves once the quota controller has counted `quota` as applied (status.hard is spec.hard),
 * watching from the apply's resourceVersion so no write is missed; a retryable failure about the
 * quota after quotaCountMs (the controller is down or behind): the next sign-up completes it.
 */
async function quotaCounted(deps: ProvisionDeps, quota: KubeObject): Promise<void> {
  const counted = (object: KubeObject) => {
    const { spec, status } = object as { spec?: { hard?: unknown }; status?: { hard?: unknown } };
    return status?.hard !== undefined && equal(status.hard, spec?.hard);
  };
  if (counted(quota)) return;
  const { name = '', namespace, resourceVersion } = quota.metadata ?? {};
  const events = deps.cluster.resource(typeRef(quota)).watch({
    namespace,
    fieldSelector: `metadata.name=${name}`,
    resourceVersion,
    timeoutSeconds: quotaCountMs / 1000,
    signal: AbortSignal.timeout(quotaCountMs + 1_000),
  });
  try {
    for await (const event of events) if (counted(event.object)) return;
  } catch (error) {
    throw KubeError.about(error, failedObject(quota));
  }
  throw new KubeError('server-timeout', `quota ${namespace}/${name} not counted in time`, {
    object: failedObject(quota),
  });
}

/**
 * Creates the tenant's namespace unless it is there already (then false). A new tenant for a
 * customer must fit their plan's tenants per customer, counted from the cluster under the
 * customer's lock (owner.ts), and any new tenant the deployment's ceiling (KUBEFN_MAX_TENANTS).
 * The ceiling is counted before the create under no lock shared between customers: sign-ups of
 * different customers at the same moment may pass it together, at most as many as provision
 * serves at once (its instances times their concurrency, capped in infra/gcp).
 */
async function createNamespace(
  input: SignupInput,
  rules: PlanRules | undefined,
  namespaceObject: KubeObject,
  deps: ProvisionDeps,
): Promise<boolean> {
  const namespaces = deps.cluster.resource(namespaceRef);
  const name = namespaceObject.metadata?.name ?? '';
  const attempt = async (timeoutMs?: number): Promise<boolean> => {
    const limited = rules !== undefined || deps.maxTenants !== undefined;
    // A tenant that is there already is no new tenant: no limit applies (its owner is checked).
    if (limited && (await namespaces.find(name, { timeoutMs }))) return false;
    if (input.owner && rules) {
      const held = await countTenants(
        deps.cluster,
        deps.namespacePrefix,
        ownerSelector(input.owner.uid),
        timeoutMs ?? 10_000,
      );
      if (held >= rules.tenantsPerCustomer) {
        throw new DomainError(
          'tenant-limit',
          `the ${input.plan} plan allows ${rules.tenantsPerCustomer} tenant(s) per account, and this account has ${held}`,
        );
      }
    }
    const ceiling = deps.maxTenants;
    // Fewer namespaces of any kind than the ceiling: fewer tenants too, and no need to count them.
    const wait = timeoutMs ?? 10_000;
    const atMost = ceiling === undefined ? 0 : await namespacesAtMost(deps.cluster, wait);
    if (ceiling !== undefined && (atMost ?? ceiling) >= ceiling) {
      const all = await countTenants(deps.cluster, deps.namespacePrefix, tenantSelector, wait);
      if (all >= ceiling) {
        throw new DomainError(
          'capacity-reached',
          'kubefn takes no new tenants at the moment; try again later',
        );
      }
    }
    try {
      // When the sign-up was accepted, in milliseconds: readiness's first phase (readiness.ts).
      // Written once, by the create; later applies leave it alone.
      const accepted = withAnnotation(
        namespaceObject,
        acceptedAtAnnotation,
        new Date().toISOString(),
      );
      await namespaces.create(accepted, { fieldManager, dryRun: input.dryRun, timeoutMs });
      return true;
    } catch (error) {
      if (error instanceof KubeError && error.code === 'already-exists') return false;
      throw KubeError.about(error, failedObject(namespaceObject));
    }
  };
  // A dry run changes nothing, the lock included: it only says what the sign-up would meet.
  return input.owner && !input.dryRun
    ? withCustomerLock(deps.cluster, input.owner.uid, attempt)
    : attempt();
}

export type ObjectState = ObjectRef & { state: 'ready' | 'waiting' | 'missing'; detail?: string };
export type TenantStatus = {
  customerId: string;
  namespace: string;
  /** Ready once every readiness phase is reached; Failed when one cannot be as things are. */
  phase: 'Provisioning' | 'Ready' | 'Failed' | 'Suspended' | 'Terminating';
  plan: string;
  /** The readiness phases (readiness.ts), each with the time the cluster reached it. */
  phases: Phase[];
  readyAt?: string;
  /** Where the customer reaches their instance, once reachable. */
  address?: string;
  /** Its deletion is held by the deletion budget (held-deletions.ts). */
  deletionHeld?: true;
  objects: ObjectState[];
};

/** The tenant's phase, its readiness phases and each bundle object's state. */
export async function tenantStatus(
  customerId: string,
  deps: ProvisionDeps,
  options: { owner?: string | undefined } = {},
): Promise<TenantStatus> {
  const namespace = deps.namespacePrefix + customerId;
  const refs = bundleRefs(deps.templates, { namespace, customerId });
  // async: a client that throws at once still rejects here, inside the Promise.all below.
  const inNamespace = async (ref: { apiVersion: string; kind: string }) =>
    (await deps.cluster.resource(ref).list({ namespace })).items;
  // The bundle's objects and the Service's endpoints are read alongside their namespace, one
  // round trip less; nothing is shown unless the namespace turns out to be this customer's.
  const [ns, live, endpointSlices] = await Promise.all([
    ownTenant(deps, customerId, {
      allowTerminating: true,
      owner: options.owner,
      whileMoving: 'allow',
    }),
    Promise.all(
      refs.map(async (ref) =>
        deps.cluster
          .resource({ apiVersion: ref.apiVersion, kind: ref.kind })
          .find(ref.name, { namespace }),
      ),
    ),
    inNamespace(endpointSliceRef),
  ]);
  const tenant = tenantOf(ns, deps.namespacePrefix);
  const objects = live.filter((o): o is KubeObject => o !== undefined);
  const input = { namespace: ns, bundle: refs, objects, endpointSlices, pods: [] };
  let ready = readiness(input);
  // Pods only say why a workload is not available: read them only then.
  const workload = ready.phases.find((p) => p.name === 'workload-available');
  if (
    workload &&
    !workload.reached &&
    ready.phases.find((p) => p.name === 'policy-in-force')?.reached
  )
    ready = readiness({ ...input, pods: await inNamespace(podRef) });
  const phase = tenant?.terminating
    ? 'Terminating'
    : tenant?.suspended
      ? 'Suspended'
      : { ready: 'Ready', failed: 'Failed', provisioning: 'Provisioning' }[ready.state];
  if (phase === 'Ready')
    reportReady({ customerId, namespace, plan: tenant?.plan ?? '', phases: ready.phases });
  return {
    customerId,
    namespace,
    plan: tenant?.plan ?? '',
    phase: phase as TenantStatus['phase'],
    phases: ready.phases,
    ...(ready.readyAt ? { readyAt: ready.readyAt } : {}),
    ...(ready.address ? { address: ready.address } : {}),
    ...(ns.metadata?.labels?.[heldLabel] === 'true' ? { deletionHeld: true as const } : {}),
    objects: refs.map((ref, i) => objectState(ref, live[i])),
  };
}

const withAnnotation = (object: KubeObject, key: string, value: string): KubeObject => ({
  ...object,
  metadata: {
    ...object.metadata,
    annotations: { ...object.metadata?.annotations, [key]: value },
  },
});

const endpointSliceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' } as const;
const podRef = { apiVersion: 'v1', kind: 'Pod' } as const;

/**
 * Deletes a tenant's namespace (and so its bundle), only with the customer id as confirmation,
 * and within the deletion budget: beyond it the deletion is held (held-deletions.ts) and this
 * throws `deletion-held`.
 */
export async function deprovisionTenant(
  customerId: string,
  options: {
    confirm?: string | undefined;
    dryRun: boolean;
    owner?: string | undefined;
    /** Who asked, recorded on a hold: DELETE (http) or a cancel (pubsub, with its requestedAt). */
    source?: HoldSource | undefined;
  },
  deps: ProvisionDeps,
): Promise<{ customerId: string; namespace: string; phase: 'Terminating'; dryRun: boolean }> {
  if (options.confirm !== customerId) {
    throw new DomainError(
      'confirmation-required',
      'repeat the customer id in ?confirm= to delete the tenant',
    );
  }
  const ns = await ownTenant(deps, customerId, { allowTerminating: true, owner: options.owner });
  const name = ns.metadata?.name ?? '';
  if (!ns.metadata?.deletionTimestamp)
    await deleteTenant(deps, ns, { via: 'http', ...options.source, dryRun: options.dryRun });
  return { customerId, namespace: name, phase: 'Terminating', dryRun: options.dryRun };
}

export type OwnTenantOptions = {
  allowTerminating: boolean;
  /** The customer asking (their user id): another's tenant is not theirs to see or change. */
  owner?: string | undefined;
  /**
   * What another customer's tenant answers: 404 exactly as a missing one (reads, deletes), or
   * 409 namespace-taken for a sign-up, whose id is a namespace name no one else may take.
   */
  foreign?: 'hidden' | 'taken';
  /**
   * A tenant moving to another cell is frozen here (move.ts): only reads and the move itself
   * may act on it; anything else is told to try again once it has moved.
   */
  whileMoving?: 'allow';
};

/** The tenant's namespace, if kubefn manages it for this customer; otherwise 404 or 409. */
export async function ownTenant(
  deps: ProvisionDeps,
  customerId: string,
  options: OwnTenantOptions,
): Promise<KubeObject> {
  const name = deps.namespacePrefix + customerId;
  const ns = await deps.cluster.resource(namespaceRef).find(name);
  const missing = () => new DomainError('no-such-tenant', `there is no tenant ${customerId}`);
  if (!ns) throw missing();
  const tenant = tenantOf(ns, deps.namespacePrefix);
  const ours = tenant?.customerId === customerId;
  if (options.owner !== undefined) {
    const theirs = ours && ns.metadata?.labels?.[ownerLabel] === ownerLabelValue(options.owner);
    if (!theirs && options.foreign === 'taken') {
      throw new DomainError(
        'namespace-taken',
        `the tenant id ${customerId} is taken; choose another`,
      );
    }
    if (!theirs) throw missing();
  }
  if (!ours) {
    throw new DomainError('namespace-taken', `namespace ${name} exists and is not this tenant's`);
  }
  const movingTo = ns.metadata?.labels?.[movingToLabel];
  if (movingTo && options.whileMoving !== 'allow') {
    throw new DomainError(
      'tenant-moving',
      `tenant ${customerId} is moving to another cell; try again once it has moved`,
      undefined,
      { retryable: true },
    );
  }
  if (tenant.terminating && !options.allowTerminating) {
    throw new DomainError(
      'tenant-terminating',
      `tenant ${customerId} is being deleted; try again once it is gone`,
    );
  }
  return ns;
}

export type OwnedTenant = {
  customerId: string;
  namespace: string;
  plan: string;
  terminating: boolean;
};

/** A customer's tenants in this deployment (its prefix), by their owner label. */
export async function ownedTenants(owner: string, deps: ProvisionDeps): Promise<OwnedTenant[]> {
  const tenants: OwnedTenant[] = [];
  for await (const ns of deps.cluster
    .resource(namespaceRef)
    .items({ labelSelector: ownerSelector(owner) })) {
    const tenant = tenantOf(ns, deps.namespacePrefix);
    if (!tenant) continue;
    const { customerId, namespace, plan, terminating } = tenant;
    tenants.push({ customerId, namespace, plan, terminating });
  }
  return tenants;
}

function objectState(base: ObjectRef, live: KubeObject | undefined): ObjectState {
  if (!live) return { ...base, state: 'missing' };
  const status = (live.status ?? {}) as Record<string, unknown>;
  if (base.kind === 'ResourceQuota') {
    return status.hard
      ? { ...base, state: 'ready' }
      : { ...base, state: 'waiting', detail: 'quota not counted yet' };
  }
  if (base.kind === 'Deployment') {
    const wanted = Number((live.spec as { replicas?: number } | undefined)?.replicas ?? 1);
    const available = Number(status.availableReplicas ?? 0);
    const detail = `${available}/${wanted} replicas available`;
    return { ...base, state: available >= wanted ? 'ready' : 'waiting', detail };
  }
  return { ...base, state: 'ready' };
}
