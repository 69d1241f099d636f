// The label function's settings, from its environment:
//   KUBEFN_LABEL_ALLOW_RESERVED  "true" lets kubernetes.io/ and k8s.io/ keys through (default false)
//   KUBEFN_LABEL_NAMESPACES      comma-separated namespaces allowed besides managed ones
//   KUBEFN_ALLOW_LABEL           who may call POST /labels; KUBEFN_ALLOW_PUSH the push subscription
//   plus the Kubernetes connection and KUBEFN_AUTH_* (shared/auth/config.ts).
import {
  allowListFromEnv,
  authSettingsFromEnv,
  type CallerRule,
  callerRule,
  trustedIssuers,
} from '../../shared/auth/index.ts';
import { Cluster } from '../../shared/kube/index.ts';
import type { LabelDeps } from './handler.ts';

export type AppDeps = LabelDeps & { callers: { http: CallerRule; push: CallerRule } };

export async function depsFromEnv(env: NodeJS.ProcessEnv): Promise<AppDeps> {
  const settings = authSettingsFromEnv(env);
  const cluster = await Cluster.connect();
  const issuers = await trustedIssuers(settings, cluster.client);
  const rule = (route: string) => callerRule(settings, issuers, allowListFromEnv(env, route));
  return {
    cluster,
    policy: {
      allowReserved: env.KUBEFN_LABEL_ALLOW_RESERVED === 'true',
      extraNamespaces: (env.KUBEFN_LABEL_NAMESPACES ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    },
    callers: { http: rule('label'), push: rule('push') },
  };
}
