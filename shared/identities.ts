// kubefn's identities, spelled once. Each deployable acts as its own identity: locally a
// Kubernetes ServiceAccount in kubefn-system, on Google Cloud a Google service account whose
// email GKE maps to the RBAC User of that name. The RBAC manifests (infra/k8s/rbac.yaml), the
// tenant bundle's RoleBindings and the Google deployment (infra/gcp) all take their names from
// here, so a binding can never name an account that the deployment did not create.
import * as v from 'valibot';
import { CellNameSchema } from './cells.ts';
import { splitCommas } from './env.ts';

export const systemNamespace = 'kubefn-system';

/** The deployables that call the Kubernetes API, each with its own RBAC rights. */
export const clusterIdentities = ['provision', 'label', 'ingress-timeout', 'watcher'] as const;
export type ClusterIdentity = (typeof clusterIdentities)[number];

/**
 * Identities that only call functions: the signup backend, Pub/Sub push, Cloud Scheduler,
 * placement, and the operator console (functions/console: each cell's operator routes).
 */
export const callerIdentities = ['signup', 'push', 'scheduler', 'placement', 'console'] as const;
export type CallerIdentity = (typeof callerIdentities)[number];

export type Identity = ClusterIdentity | CallerIdentity;

/** The account's name: a Kubernetes ServiceAccount name and a Google account id (6-30 chars). */
export const accountId = (identity: Identity) => `kubefn-${identity}`;

export const googleAccountEmail = (identity: Identity, project: string) =>
  `${accountId(identity)}@${project}.iam.gserviceaccount.com`;

/** The part of a cell account's id after the cell: 'ingress-timeout' would pass 30. */
const cellAccountSuffix = {
  provision: 'provision',
  label: 'label',
  'ingress-timeout': 'ingress',
  watcher: 'watcher',
} as const satisfies Record<ClusterIdentity, string>;

/**
 * A cell's Google service account id (shared/cells.ts): `kubefn-<cell>-<provision|label|ingress|
 * watcher>`, at most 7 + 12 + 1 + 9 = 29 characters (IAM allows 6-30). Each cell's deployables
 * act as their own accounts, bound on that cell's cluster only (infra/k8s/install.ts --cell).
 */
export const cellAccountId = (cell: string, identity: ClusterIdentity) =>
  `kubefn-${cell}-${cellAccountSuffix[identity]}`;
export const cellAccountEmail = (cell: string, identity: ClusterIdentity, project: string) =>
  `${cellAccountId(cell, identity)}@${project}.iam.gserviceaccount.com`;

/** `system:serviceaccount:kubefn-system:kubefn-<identity>`, as a Kubernetes token names it. */
export const serviceAccountPrincipal = (identity: Identity) =>
  `system:serviceaccount:${systemNamespace}:${accountId(identity)}`;

/**
 * Who RBAC bindings name: the local ServiceAccounts, the Google service accounts of a project
 * (GKE Users), those of one cell of a project, or both kinds (the local stack, where either kind
 * of token may call).
 */
export type SubjectSource =
  | { kind: 'serviceaccounts' }
  | { kind: 'google'; project: string; cell?: string | undefined };

export type RbacSubject =
  | { kind: 'ServiceAccount'; name: string; namespace: string }
  | { kind: 'User'; apiGroup: 'rbac.authorization.k8s.io'; name: string };

export function rbacSubjects(identity: ClusterIdentity, sources: SubjectSource[]): RbacSubject[] {
  return sources.map((source) =>
    source.kind === 'serviceaccounts'
      ? { kind: 'ServiceAccount', name: accountId(identity), namespace: systemNamespace }
      : {
          kind: 'User',
          apiGroup: 'rbac.authorization.k8s.io',
          name: source.cell
            ? cellAccountEmail(source.cell, identity, source.project)
            : googleAccountEmail(identity, source.project),
        },
  );
}

/** Every cluster identity's subjects, keyed by identity: the `${subjects.label}` of templates. */
export function subjectsByIdentity(
  sources: SubjectSource[],
): Record<ClusterIdentity, RbacSubject[]> {
  return Object.fromEntries(
    clusterIdentities.map((identity) => [identity, rbacSubjects(identity, sources)]),
  ) as Record<ClusterIdentity, RbacSubject[]>;
}

// A Google project id: 6-30 lowercase letters, digits and hyphens, starting with a letter.
const projectId = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/** Reads `serviceaccounts`, `google:<project>` or `google:<project>/<cell>`. */
export function parseSubjectSource(entry: string): SubjectSource | undefined {
  if (entry === 'serviceaccounts') return { kind: 'serviceaccounts' };
  const [, project = '', cell] = /^google:([^/]+)(?:\/(.+))?$/.exec(entry) ?? [];
  if (!projectId.test(project)) return undefined;
  if (cell === undefined) return { kind: 'google', project };
  return v.is(CellNameSchema, cell) ? { kind: 'google', project, cell } : undefined;
}

/** KUBEFN_RBAC_SUBJECTS, as an entry of a deployable's env schema; default `serviceaccounts`. */
export const rbacSubjectsSetting = v.pipe(
  v.optional(v.string(), 'serviceaccounts'),
  v.transform(splitCommas),
  v.check(
    (entries) => entries.length > 0 && entries.every((e) => parseSubjectSource(e) !== undefined),
    'serviceaccounts, google:<project id> (or google:<project id>/<cell>), or both, comma-separated',
  ),
  v.transform((entries) => entries.map((e) => parseSubjectSource(e) as SubjectSource)),
);
