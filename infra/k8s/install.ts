// Installs kubefn's cluster RBAC (rbac.yaml, subjects from shared/identities.ts) with the
// operator's own kubeconfig: once per cluster, before the first deploy, and again after a change
// to rbac.yaml. Server-side apply, so running it twice changes nothing.
//
//   npx tsx infra/k8s/install.ts --subjects google:<project> --cell <name> [--kubeconfig FILE] [--context NAME] [--dry-run]
//
// --subjects  who the bindings name: google:<project> (Cloud Run on GKE: the deployables'
//             service-account emails as Users), serviceaccounts (in-cluster), or both
// --cell      the cell whose cluster this is (infra/gcp, spec `cells`): the google: bindings name
//             that cell's accounts (kubefn-<cell>-provision@..., infra/gcp/names.ts) and no other
//             cell's, so nothing of another cell can act on this cluster. Required with google:
//             since cells: once per cluster, each with its own cell.
// --dry-run   the server validates and answers, nothing is stored
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { CellNameSchema } from '../../shared/cells.ts';
import {
  clusterIdentities,
  type RbacSubject,
  rbacSubjects,
  rbacSubjectsSetting,
  type SubjectSource,
} from '../../shared/identities.ts';
import { Cluster } from '../../shared/kube/index.ts';
import { cellAccountEmail } from '../gcp/names.ts';
import { applyRbac, type Subjects } from './rbac.ts';

const usage =
  'usage: npx tsx infra/k8s/install.ts --subjects google:<project>|serviceaccounts [--cell NAME] [--kubeconfig FILE] [--context NAME] [--dry-run]';

/**
 * Who each binding names on a cell's cluster: that cell's Google accounts for a google: source
 * (GKE Users), the ServiceAccounts for serviceaccounts (in-cluster, not per cell).
 */
export function cellSubjects(sources: SubjectSource[], cell: string): Subjects {
  return Object.fromEntries(
    clusterIdentities.map((identity) => [
      identity,
      sources.flatMap((source): RbacSubject[] =>
        source.kind === 'google'
          ? [
              {
                kind: 'User',
                apiGroup: 'rbac.authorization.k8s.io',
                name: cellAccountEmail(cell, identity, source.project),
              },
            ]
          : rbacSubjects(identity, [source]),
      ),
    ]),
  ) as Subjects;
}

export async function install(argv: string[]): Promise<number> {
  let values: {
    subjects?: string;
    cell?: string;
    kubeconfig?: string;
    context?: string;
    'dry-run'?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        subjects: { type: 'string' },
        cell: { type: 'string' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        'dry-run': { type: 'boolean' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  // No default here: naming the wrong kind of subject would lock every deployable out.
  const subjects = v.safeParse(rbacSubjectsSetting, values.subjects ?? '');
  if (values.subjects === undefined || !subjects.success) {
    console.error(`--subjects: ${subjects.issues?.[0]?.message ?? 'required'}\n${usage}`);
    return 2;
  }
  const sources = subjects.output;
  const google = sources.some((source) => source.kind === 'google');
  // Google accounts are per cell since cells: binding without one would name accounts that no
  // longer exist (kubefn-provision@...), and binding another cell's would let it in here.
  if (google && values.cell === undefined) {
    console.error(`--cell: required with google: (the cell whose cluster this is)\n${usage}`);
    return 2;
  }
  if (values.cell !== undefined && !google) {
    console.error(`--cell: names a cell's Google accounts; --subjects has no google:\n${usage}`);
    return 2;
  }
  const cell = values.cell === undefined ? undefined : v.safeParse(CellNameSchema, values.cell);
  if (cell && !cell.success) {
    console.error(`--cell: ${cell.issues[0].message}\n${usage}`);
    return 2;
  }
  const cluster = await Cluster.connect({
    ...(values.kubeconfig ? { path: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
  });
  const dryRun = values['dry-run'] === true;
  try {
    const options = cell ? { dryRun, subjects: cellSubjects(sources, cell.output) } : { dryRun };
    for (const object of await applyRbac(cluster, sources, options)) {
      const { namespace, name } = object.metadata ?? {};
      console.log(
        `${dryRun ? 'would apply' : 'applied'} ${object.kind} ${namespace ? `${namespace}/` : ''}${name}`,
      );
    }
  } finally {
    await cluster.close();
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await install(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`install failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  });
}
