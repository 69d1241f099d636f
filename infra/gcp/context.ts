// What every part of the deployment shares: the spec, one explicit provider (the stack needs no
// gcp:project config), the enabled APIs to depend on, and small helpers.
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { CellFunction, GlobalFunction } from './names.ts';
import type { DeploymentSpec } from './spec.ts';

const apis = [
  'run.googleapis.com',
  'storage.googleapis.com',
  'pubsub.googleapis.com',
  'cloudscheduler.googleapis.com',
  'cloudresourcemanager.googleapis.com', // project-level IAM grants
  'iam.googleapis.com',
  'iamcredentials.googleapis.com',
  'container.googleapis.com',
  'logging.googleapis.com',
  'monitoring.googleapis.com', // alert policies (alerts.ts)
  'firestore.googleapis.com', // placement's store
];

export type Context = ReturnType<typeof createContext>;

export function createContext(spec: DeploymentSpec) {
  const { project, region } = spec;
  const provider = new gcp.Provider('gcp', { project, region });
  const opts = { provider };
  const enabled = [...apis, ...(spec.timeoutMode === 'compute' ? ['compute.googleapis.com'] : [])]
    .sort()
    .map(
      (service) =>
        new gcp.projects.Service(
          `api-${service.split('.')[0]}`,
          // Turning an API off on destroy would break anything else in the project using it.
          { project, service, disableOnDestroy: false, disableDependentServices: false },
          opts,
        ),
    );
  return {
    spec,
    project,
    region,
    provider,
    opts,
    enabled,
    /** For resources whose API must be on first. */
    afterApis: { ...opts, dependsOn: enabled },
    /**
     * A function's custom audience: its service's, its KUBEFN_AUTH_AUDIENCE, its tokens' aud.
     * A cell's are `<audienceBase>/<cell>/<function>`: a token minted for one cell's provision
     * is refused by every other cell's.
     */
    audience: (name: GlobalFunction) => `${spec.audienceBase}/${name}`,
    cellAudience: (cell: string, name: CellFunction) => `${spec.audienceBase}/${cell}/${name}`,
    member: (account: gcp.serviceaccount.Account) =>
      pulumi.interpolate`serviceAccount:${account.email}`,
  };
}
