// One Google service account per deployable (named by shared/identities.ts, as the cluster's RBAC
// names them), the push and scheduler identities, and the project-level custom roles: the only
// project-wide grants.
import * as gcp from '@pulumi/gcp';
import { accountId, type Identity } from '../../shared/identities.ts';
import type { Context } from './context.ts';

export type Accounts = ReturnType<typeof defineAccounts>;

export function defineAccounts(ctx: Context) {
  const { project, spec, opts, member } = ctx;
  const account = (identity: Identity, description: string) =>
    new gcp.serviceaccount.Account(
      `sa-${identity}`,
      {
        project,
        accountId: accountId(identity),
        displayName: `kubefn ${identity}`,
        description,
      },
      ctx.afterApis,
    );
  const accounts = {
    provision: account('provision', 'Runs the provisioning function'),
    label: account('label', 'Runs the label function'),
    'ingress-timeout': account('ingress-timeout', 'Runs the ingress-timeout function'),
    watcher: account('watcher', 'Runs the watcher'),
    signup: account('signup', 'Runs the signup backend; calls provision'),
    push: account('push', 'OIDC identity of the Pub/Sub push subscriptions'),
    scheduler: account('scheduler', 'OIDC identity of the Cloud Scheduler jobs'),
  };

  // GKE: container.clusters.get lets an account authenticate to the cluster and connect lets
  // it through the DNS endpoint; what it may do inside is RBAC's (infra/k8s/rbac.yaml). Not
  // roles/container.developer: IAM is OR-ed with RBAC and would bypass kubefn's narrow RBAC.
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
  for (const identity of ['provision', 'label', 'ingress-timeout', 'watcher'] as const) {
    new gcp.projects.IAMMember(
      `cluster-connect-${identity}`,
      { project, role: clusterConnect.name, member: member(accounts[identity]) },
      opts,
    );
  }

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
    new gcp.projects.IAMMember(
      'backend-timeout-ingress-timeout',
      { project, role: backendTimeout.name, member: member(accounts['ingress-timeout']) },
      opts,
    );
  }
  return accounts;
}
