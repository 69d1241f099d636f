// The watcher's settings, from its environment, validated at start:
//   KUBEFN_WATCH          JSON list of {apiVersion, kind, namespace?, labelSelector?,
//                         namespaceSelector?}; default: `defaultTargets`, what the triggers in
//                         infra/subscriptions.ts consume
//   KUBEFN_TOPIC          Pub/Sub topic (default kubefn-changes); project from PUBSUB_PROJECT_ID
//                         or GOOGLE_CLOUD_PROJECT
//   KUBEFN_CELL           the cell (cluster) watched, put on every message as `cluster`
//                         (default "local"; shared/cells.ts)
//   KUBEFN_WINDOW         changes awaiting Pub/Sub's acknowledgement at most, all resources
//                         together (default 500)
//   KUBEFN_SYSTEM_NAMESPACE, KUBEFN_LEASE_SECONDS (default kubefn-system, 15)
//   KUBEFN_WATCHER_NAME   its Lease's name, and NAME-state its checkpoint's (default
//                         kubefn-watcher): two watchers (other topics) need two names
//   PORT                  health and status endpoints (default 8080)
//   plus the Kubernetes connection (shared/kube/connection.ts)
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { CellNameSchema, defaultCellName } from '../../shared/cells.ts';
import { envProblem, readEnv, readEnvValue } from '../../shared/env.ts';
import { checkClusterSettings, clusterEnvEntries } from '../../shared/kube/index.ts';
import { isDnsLabel } from '../../shared/kube/names.ts';
import { pubsubProject, pubsubProjectEntries } from '../../shared/pubsub/project.ts';

const managed = 'app.kubernetes.io/managed-by=kubefn';

/**
 * What the consumers need (infra/subscriptions.ts): kubefn's Namespaces; every Ingress,
 * Deployment and Service in them, kubefn's or not (timeouts, label rules, self-healing); and
 * the rest of the tenant bundle's kinds (functions/provision/templates/bundle.json), kubefn's own
 * objects only (self-healing). Read access to each is in infra/k8s/rbac.yaml's kubefn-watcher.
 */
export const defaultTargets: WatchTarget[] = [
  { apiVersion: 'v1', kind: 'Namespace', labelSelector: managed },
  ...[
    ['networking.k8s.io/v1', 'Ingress'],
    ['apps/v1', 'Deployment'],
    ['v1', 'Service'],
  ].map(([apiVersion = '', kind = '']) => ({ apiVersion, kind, namespaceSelector: managed })),
  ...[
    ['v1', 'ResourceQuota'],
    ['v1', 'LimitRange'],
    ['v1', 'ServiceAccount'],
    ['networking.k8s.io/v1', 'NetworkPolicy'],
    ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ].map(([apiVersion = '', kind = '']) => ({ apiVersion, kind, labelSelector: managed })),
];
const WatchSchema = v.array(
  v.strictObject({
    apiVersion: v.pipe(v.string(), v.minLength(1)),
    kind: v.pipe(v.string(), v.minLength(1)),
    namespace: v.optional(v.string()),
    labelSelector: v.optional(v.string()),
    /** Only objects in namespaces with these labels (read from a watch of the Namespaces). */
    namespaceSelector: v.optional(v.pipe(v.string(), v.minLength(1))),
  }),
);
const number = (fallback: string) =>
  v.pipe(v.optional(v.string(), fallback), v.transform(Number), v.integer(), v.minValue(1));

const EnvSchema = v.object({
  ...clusterEnvEntries,
  KUBEFN_WATCH: v.optional(v.string()),
  KUBEFN_TOPIC: v.optional(v.string(), 'kubefn-changes'),
  ...pubsubProjectEntries,
  KUBEFN_CELL: v.optional(CellNameSchema, defaultCellName),
  KUBEFN_WINDOW: number('500'),
  KUBEFN_SYSTEM_NAMESPACE: v.optional(v.string(), 'kubefn-system'),
  KUBEFN_WATCHER_NAME: v.optional(
    v.pipe(
      v.string(),
      v.check((name) => isDnsLabel(name, 42), 'a DNS label of at most 42 characters'),
    ),
    'kubefn-watcher',
  ),
  KUBEFN_LEASE_SECONDS: number('15'),
  PORT: number('8080'),
});

/** The variables it reads, as its schema types them (the deployment's env is checked against it). */
export type WatcherEnv = v.InferInput<typeof EnvSchema>;
export type WatchTarget = v.InferOutput<typeof WatchSchema>[number];
export type WatcherConfig = ReturnType<typeof watcherConfig>;

export function watcherConfig(env: NodeJS.ProcessEnv) {
  const e = readEnv('watcher', EnvSchema, env);
  checkClusterSettings('watcher', e);
  const targets = e.KUBEFN_WATCH
    ? readEnvValue('watcher', 'KUBEFN_WATCH', WatchSchema, parseJson(e.KUBEFN_WATCH))
    : defaultTargets;
  const projectId = pubsubProject('watcher', e);
  return {
    targets,
    topic: e.KUBEFN_TOPIC,
    projectId,
    cluster: e.KUBEFN_CELL,
    window: e.KUBEFN_WINDOW,
    systemNamespace: e.KUBEFN_SYSTEM_NAMESPACE,
    name: e.KUBEFN_WATCHER_NAME,
    leaseSeconds: e.KUBEFN_LEASE_SECONDS,
    port: e.PORT,
    connection: {
      KUBEFN_CLUSTER_SERVER: e.KUBEFN_CLUSTER_SERVER,
      KUBEFN_CLUSTER_CA: e.KUBEFN_CLUSTER_CA,
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw envProblem('watcher', 'KUBEFN_WATCH', 'expected JSON');
  }
}

/**
 * The checkpoint's key for a target: readable, and a valid ConfigMap data key ([-._a-zA-Z0-9]),
 * so the selector, which may hold any character, is represented by a short hash.
 */
export function targetKey(target: WatchTarget): string {
  const parts = [target.kind, target.apiVersion.replace('/', '.'), target.namespace ?? '_all'];
  if (target.labelSelector)
    parts.push(createHash('sha256').update(target.labelSelector).digest('hex').slice(0, 12));
  if (target.namespaceSelector)
    parts.push(
      `ns-${createHash('sha256').update(target.namespaceSelector).digest('hex').slice(0, 12)}`,
    );
  return parts.join('.');
}
