// The deployment's Google service accounts: the global ones (signup, placement, push, scheduler)
// once, and each cell's four (provision, label, ingress-timeout, watcher) named after the cell
// (names.ts), so that what one cell runs is a different principal from what any other runs, in
// IAM and in each cluster's RBAC (infra/k8s/install.ts --cell). The only project-wide grants are
// here: GKE connect, on the cell's own cluster only (an IAM condition), Firestore for placement,
// and the backend-timeout role in compute mode.
import * as gcp from '@pulumi/gcp';
import { type ClusterIdentity, clusterIdentities } from '../../shared/identities.ts';
import type { Context } from './context.ts';
import {
  cellAccountId,
  consoleAccountId,
  type GlobalAccount,
  globalAccountId,
  globalAccounts,
} from './names.ts';
import type { CellSpec } from './spec.ts';

export type Accounts = ReturnType<typeof defineAccounts>;
export type CellAccounts = Record<ClusterIdentity, gcp.serviceaccount.Account>;

const globalPurpose: Record<GlobalAccount, string> = {
  signup: 'Runs the signup backend; calls placement',
  placement: "Runs placement: picks a tenant's cell, records it, calls that cell's provision",
  push: 'OIDC identity of the Pub/Sub push subscriptions',
  scheduler: 'OIDC identity of the Cloud Scheduler jobs',
};

/**
 * The resource name IAM conditions see for a GKE cluster (IAM's "resource attributes" page):
 * projects/P/locations/L/clusters/C for a regional cluster, projects/P/zones/Z/clusters/C for a
 * zonal one.
 */
export function clusterResourceName(project: string, cell: CellSpec): string {
  const location = cell.gkeLocation ?? cell.region;
  const zonal = /-[a-z]$/.test(location);
  return `projects/${project}/${zonal ? 'zones' : 'locations'}/${location}/clusters/${cell.gkeCluster}`;
}

export function defineAccounts(ctx: Context) {
  const { project, spec, opts, member } = ctx;
  const account = (key: string, accountId: string, displayName: string, description: string) =>
    new gcp.serviceaccount.Account(
      `sa-${key}`,
      { project, accountId, displayName, description },
      ctx.afterApis,
    );
  const global = Object.fromEntries(
    globalAccounts.map((name) => [
      name,
      account(name, globalAccountId(name), `kubefn ${name}`, globalPurpose[name]),
    ]),
  ) as Record<GlobalAccount, gcp.serviceaccount.Account>;
  const cells = Object.fromEntries(
    spec.cells.map((cell) => [
      cell.name,
      Object.fromEntries(
        clusterIdentities.map((identity) => [
          identity,
          account(
            `${cell.name}-${identity}`,
            cellAccountId(cell.name, identity),
            `kubefn ${cell.name} ${identity}`,
            `Runs ${identity} of cell ${cell.name}, on its cluster only`,
          ),
        ]),
      ) as CellAccounts,
    ]),
  ) as Record<string, CellAccounts>;

  // GKE: container.clusters.get lets an account authenticate to the cluster and connect lets
  // it through the DNS endpoint; what it may do inside is RBAC's (infra/k8s/rbac.yaml). Not
  // roles/container.developer: IAM is OR-ed with RBAC and would bypass kubefn's narrow RBAC.
  // A project-level role, so each grant carries a condition on its own cell's cluster: a cell's
  // account cannot even authenticate to another cell's cluster (docs/deploy.md, "Cells").
  const clusterConnect = new gcp.projects.IAMCustomRole(
    'role-cluster-connect',
    {
      project,
      roleId: 'kubefnClusterConnect',
      title: 'kubefn cluster connect',
      permissions: ['container.clusters.connect', 'container.clusters.get'],
    },
    ctx.afterApis,
  );
  for (const cell of spec.cells) {
    const cluster = clusterResourceName(project, cell);
    for (const identity of clusterIdentities) {
      new gcp.projects.IAMMember(
        `cluster-connect-${cell.name}-${identity}`,
        {
          project,
          role: clusterConnect.name,
          member: member(cells[cell.name]?.[identity] as gcp.serviceaccount.Account),
          condition: {
            title: `kubefn cell ${cell.name} only`,
            description: `Its own cell's GKE cluster, ${cell.gkeCluster}`,
            expression: `resource.name == "${cluster}"`,
          },
        },
        opts,
      );
    }
  }

  // Placement's store (firestore.ts): read and write documents, placement only.
  new gcp.projects.IAMMember(
    'datastore-user-placement',
    { project, role: 'roles/datastore.user', member: member(global.placement) },
    opts,
  );

  if (spec.timeoutMode === 'compute') {
    // The PATCH of a backend service's timeoutSec and the wait for its operation; regional
    // ones only for internal load balancers.
    const regional = spec.computeRegion
      ? [
          'compute.regionBackendServices.get',
          'compute.regionBackendServices.update',
          'compute.regionOperations.get',
        ]
      : [];
    const backendTimeout = new gcp.projects.IAMCustomRole(
      'role-backend-timeout',
      {
        project,
        roleId: 'kubefnBackendTimeout',
        title: 'kubefn backend service timeout',
        permissions: [
          'compute.backendServices.get',
          'compute.backendServices.update',
          'compute.globalOperations.get',
          ...regional,
        ],
      },
      ctx.afterApis,
    );
    // Load balancers are not per cluster in IAM's eyes: every cell's ingress-timeout has it.
    for (const cell of spec.cells)
      new gcp.projects.IAMMember(
        `backend-timeout-${cell.name}-ingress-timeout`,
        {
          project,
          role: backendTimeout.name,
          member: member(cells[cell.name]?.['ingress-timeout'] as gcp.serviceaccount.Account),
        },
        opts,
      );
  }
  // The operator console's, only when the spec has a console: it has no grant of its own here.
  const operatorConsole = spec.console
    ? account(
        'console',
        consoleAccountId,
        'kubefn console',
        "Runs the operator console: each cell's provision operator routes, its Pub/Sub reads",
      )
    : undefined;
  return {
    ...global,
    console: operatorConsole,
    cells,
    cell: (name: string) => cells[name] as CellAccounts,
  };
}
