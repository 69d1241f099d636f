// Installs kubefn's cluster RBAC (rbac.yaml, subjects from shared/identities.ts) with the
// operator's own kubeconfig: once per cluster, before the first deploy, and again after a change
// to rbac.yaml. Server-side apply, so running it twice changes nothing.
//
//   npx tsx infra/k8s/install.ts --subjects google:<project> [--kubeconfig FILE] [--context NAME] [--dry-run]
//
// --subjects  who the bindings name: google:<project> (Cloud Run on GKE: the deployables'
//             service-account emails as Users), serviceaccounts (in-cluster), or both
// --dry-run   the server validates and answers, nothing is stored
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { rbacSubjectsSetting } from '../../shared/identities.ts';
import { Cluster } from '../../shared/kube/index.ts';
import { applyRbac } from './rbac.ts';

const usage =
  'usage: npx tsx infra/k8s/install.ts --subjects google:<project>|serviceaccounts [--kubeconfig FILE] [--context NAME] [--dry-run]';

export async function install(argv: string[]): Promise<number> {
  let values: { subjects?: string; kubeconfig?: string; context?: string; 'dry-run'?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        subjects: { type: 'string' },
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
  const cluster = await Cluster.connect({
    ...(values.kubeconfig ? { path: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
  });
  const dryRun = values['dry-run'] === true;
  try {
    for (const object of await applyRbac(cluster, subjects.output, { dryRun })) {
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
