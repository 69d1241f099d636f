// The label function's settings, from its environment, checked when the module loads:
//   KUBEFN_LABEL_ALLOW_RESERVED  "true" lets kubernetes.io/ and k8s.io/ keys through ("false",
//                                the default; any other value fails the deploy)
//   KUBEFN_LABEL_NAMESPACES      comma-separated namespaces allowed besides managed ones
//   KUBEFN_ALLOW_LABEL           who may call POST /labels; KUBEFN_ALLOW_PUSH the push subscription
//   plus the Kubernetes connection (shared/kube/connection.ts) and KUBEFN_AUTH_* (shared/auth/config.ts).
import * as v from 'valibot';
import {
  allowList,
  authEnvEntries,
  type CallerRule,
  callerRule,
  trustedIssuers,
} from '../../shared/auth/index.ts';
import { cellEnvEntries } from '../../shared/cells.ts';
import { commaList, flag, readEnv } from '../../shared/env.ts';
import {
  checkClusterSettings,
  clusterEnvEntries,
  connectCluster,
} from '../../shared/kube/index.ts';
import type { LabelDeps } from './handler.ts';

const EnvSchema = v.object({
  ...authEnvEntries,
  ...clusterEnvEntries,
  ...cellEnvEntries,
  KUBEFN_ALLOW_LABEL: allowList,
  KUBEFN_ALLOW_PUSH: allowList,
  KUBEFN_LABEL_ALLOW_RESERVED: flag('false'),
  KUBEFN_LABEL_NAMESPACES: commaList,
});

export type LabelSettings = v.InferOutput<typeof EnvSchema>;
export type AppDeps = LabelDeps & {
  /** KUBEFN_CELL: pushes about another cell's objects are not ours (shared/pubsub/push.ts). */
  cell: string;
  callers: { http: CallerRule; push: CallerRule };
};

/** Throws an EnvError naming each bad variable, synchronously: the deploy fails. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): LabelSettings {
  const settings = readEnv('label', EnvSchema, env);
  checkClusterSettings('label', settings);
  return settings;
}

/** The settings now; the network work (cluster, issuers' keys) as a promise. */
export function depsFromEnv(env: NodeJS.ProcessEnv): Promise<AppDeps> {
  return connect(settingsFromEnv(env));
}

async function connect(settings: LabelSettings): Promise<AppDeps> {
  const cluster = await connectCluster(settings);
  const issuers = await trustedIssuers(settings, cluster.client);
  return {
    cluster,
    cell: settings.KUBEFN_CELL,
    policy: {
      allowReserved: settings.KUBEFN_LABEL_ALLOW_RESERVED,
      extraNamespaces: settings.KUBEFN_LABEL_NAMESPACES,
    },
    callers: {
      http: callerRule(settings, issuers, settings.KUBEFN_ALLOW_LABEL),
      push: callerRule(settings, issuers, settings.KUBEFN_ALLOW_PUSH),
    },
  };
}
