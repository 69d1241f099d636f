// The provisioning function's dependencies, from its environment:
//   KUBEFN_NAMESPACE_PREFIX   tenant namespaces are PREFIX + customer id (default "tenant-")
//   KUBEFN_TEMPLATES_DIR      a folder with bundle.json and plans.json replacing the built-in ones
//   KUBEFN_ALLOW_PROVISION    who may call it (the signup backend), see shared/auth/config.ts
//   KUBEFN_ALLOW_RESYNC       who may run the scheduled tenant check (Cloud Scheduler)
//   plus the Kubernetes connection (KUBECONFIG, or the pod's service account) and KUBEFN_AUTH_*.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  allowListFromEnv,
  authSettingsFromEnv,
  callerRule,
  trustedIssuers,
} from '../../shared/auth/index.ts';
import { Cluster } from '../../shared/kube/index.ts';
import type { AppDeps } from './app.ts';
import { bundleRefs, type Templates } from './render.ts';
import builtInBundle from './templates/bundle.json' with { type: 'json' };
import builtInPlans from './templates/plans.json' with { type: 'json' };

export async function depsFromEnv(env: NodeJS.ProcessEnv): Promise<AppDeps> {
  const settings = authSettingsFromEnv(env);
  const allow = allowListFromEnv(env, 'provision');
  const cluster = await Cluster.connect();
  const templates = await loadTemplates(env.KUBEFN_TEMPLATES_DIR);
  // The issuers' keys first: the first request's token check waits for them.
  const loadingIssuers = trustedIssuers(settings, cluster.client);
  // Then the bundle's kinds, resolved while the function starts without holding up that check:
  // discovery keeps the answers, and a failure is retried on use.
  for (const o of templates.bundle) {
    cluster.discovery
      .resolve({ apiVersion: o.apiVersion ?? '', kind: o.kind ?? '' })
      .catch(() => {});
  }
  const issuers = await loadingIssuers;
  return {
    cluster,
    templates,
    namespacePrefix: env.KUBEFN_NAMESPACE_PREFIX ?? 'tenant-',
    caller: callerRule(settings, issuers, allow),
    resyncCaller: callerRule(settings, issuers, allowListFromEnv(env, 'resync')),
  };
}

async function loadTemplates(dir: string | undefined): Promise<Templates> {
  if (!dir) return { bundle: builtInBundle, plans: builtInPlans } as Templates;
  const read = async (file: string) =>
    JSON.parse(await readFile(join(dir, file), 'utf8')) as unknown;
  const templates = {
    bundle: (await read('bundle.json')) as Templates['bundle'],
    plans: (await read('plans.json')) as Templates['plans'],
  };
  try {
    bundleRefs(templates, { namespace: 'check', customerId: 'check' });
  } catch (error) {
    throw new Error(
      `${dir}/bundle.json: object names may use \${customerId} and \${namespace} only (${(error as Error).message})`,
    );
  }
  return templates;
}
