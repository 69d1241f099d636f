// The provisioning function's settings, from its environment, checked when the module loads:
//   KUBEFN_NAMESPACE_PREFIX   tenant namespaces are PREFIX + customer id (default "tenant-")
//   KUBEFN_TEMPLATES_DIR      a folder with bundle.json and plans.json replacing the built-in ones
//   KUBEFN_ALLOW_PROVISION    who may call it (the signup backend), see shared/auth/config.ts
//   KUBEFN_ALLOW_RESYNC       who may run the scheduled tenant check (Cloud Scheduler)
//   KUBEFN_RBAC_SUBJECTS      who the tenant RoleBindings name: serviceaccounts (default),
//                             google:<project> (GKE), or both (shared/identities.ts)
//   KUBEFN_RESYNC_TOPIC       where the scheduled check publishes its batches when the tenants
//                             are more than KUBEFN_RESYNC_BATCH (default 500; fanout.ts); the
//                             project from PUBSUB_PROJECT_ID or GOOGLE_CLOUD_PROJECT. Unset: the
//                             check always runs in the one request
//   KUBEFN_MAX_TENANTS        the ceiling on this deployment's tenants: a new one beyond it is
//                             refused (409 capacity-reached); unset, no ceiling
//   KUBEFN_ALLOW_PUSH         who may push batches to POST /pubsub/resync (the push account)
//   KUBEFN_DELETION_BUDGET    at most N tenant deletions in any window, as N/DURATION with s, m
//                             or h (default 10/1h; 0/1h holds every deletion for an operator);
//                             beyond it a deletion is held (held-deletions.ts)
//   KUBEFN_ALLOW_OPERATOR     who may list, approve and drop held deletions (/deletions);
//                             unset, nobody
//   KUBEFN_ALLOW_MOVES        who may move tenants into and out of this cell (/moves: placement);
//                             unset, nobody
//   KUBEFN_OUTCOMES_TOPIC     where each tenant request's outcome events go, CloudEvents
//                             (outcomes.ts); unset, none are published
//   KUBEFN_CELL               this cluster's cell (shared/cells.ts; default "local"): in the
//                             outcome events' source and on resync batches (`cluster`); pushes
//                             naming another cell are not acted on
//   plus the Kubernetes connection (shared/kube/connection.ts) and KUBEFN_AUTH_*.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as v from 'valibot';
import { allowList, authEnvEntries, callerRule, trustedIssuers } from '../../shared/auth/index.ts';
import { cellEnvEntries } from '../../shared/cells.ts';
import { envProblem, readEnv } from '../../shared/env.ts';
import { rbacSubjectsSetting, subjectsByIdentity } from '../../shared/identities.ts';
import {
  checkClusterSettings,
  clusterEnvEntries,
  connectCluster,
} from '../../shared/kube/index.ts';
import { pubsubProject, pubsubProjectEntries } from '../../shared/pubsub/project.ts';
import { pubsubPublisher } from '../../shared/pubsub/publisher.ts';
import type { AppDeps } from './app.ts';
import { type DeletionBudget, defaultDeletionBudget } from './deletion-budget.ts';
import { resyncPublisher } from './fanout.ts';
import { outcomePublisher, outcomeRetryMs } from './outcomes.ts';
import { badPlanRules } from './owner.ts';
import { bundleRefs, type Templates } from './render.ts';
import builtInBundle from './templates/bundle.json' with { type: 'json' };
import builtInPlans from './templates/plans.json' with { type: 'json' };

const EnvSchema = v.object({
  ...authEnvEntries,
  ...clusterEnvEntries,
  KUBEFN_RBAC_SUBJECTS: rbacSubjectsSetting,
  KUBEFN_ALLOW_PROVISION: allowList,
  KUBEFN_ALLOW_RESYNC: allowList,
  KUBEFN_NAMESPACE_PREFIX: v.optional(v.string(), 'tenant-'),
  KUBEFN_TEMPLATES_DIR: v.optional(v.pipe(v.string(), v.minLength(1))),
  KUBEFN_ALLOW_PUSH: allowList,
  KUBEFN_RESYNC_TOPIC: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z][\w.~+%-]{2,254}$/))),
  KUBEFN_MAX_TENANTS: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,9}$/, 'a whole number'), v.transform(Number)),
  ),
  KUBEFN_RESYNC_BATCH: v.pipe(
    v.optional(v.string(), '500'),
    v.transform(Number),
    v.integer(),
    v.minValue(1),
    v.maxValue(1000),
  ),
  KUBEFN_DELETION_BUDGET: v.pipe(
    v.optional(v.string(), defaultDeletionBudget),
    v.regex(/^\d{1,4}\/\d{1,6}[smh]$/, 'N/DURATION, such as 10/1h or 5/30m'),
    v.transform(deletionBudget),
    v.check((b) => b.perWindow <= 1000 && b.windowSeconds >= 1, 'at most 1000, in at least 1s'),
  ),
  KUBEFN_ALLOW_OPERATOR: allowList,
  KUBEFN_ALLOW_MOVES: allowList,
  KUBEFN_OUTCOMES_TOPIC: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z][\w.~+%-]{2,254}$/))),
  ...cellEnvEntries,
  ...pubsubProjectEntries,
});

function deletionBudget(setting: string): DeletionBudget {
  const [count = '', duration = ''] = setting.split('/');
  const unit = { s: 1, m: 60, h: 3600 }[duration.slice(-1) as 's' | 'm' | 'h'];
  return { perWindow: Number(count), windowSeconds: Number(duration.slice(0, -1)) * unit };
}

export type ProvisionSettings = v.InferOutput<typeof EnvSchema> & { templates: Templates };

/** Throws an EnvError naming each bad variable (or template), synchronously: the deploy fails. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): ProvisionSettings {
  const settings = readEnv('provision', EnvSchema, env);
  checkClusterSettings('provision', settings);
  if (settings.KUBEFN_RESYNC_TOPIC || settings.KUBEFN_OUTCOMES_TOPIC)
    pubsubProject('provision', settings);
  const templates = loadTemplates(settings.KUBEFN_TEMPLATES_DIR);
  const badPlans = badPlanRules(templates.plans);
  if (badPlans.length > 0) {
    throw envProblem(
      'provision',
      'KUBEFN_TEMPLATES_DIR',
      `plans whose tenantsPerCustomer (a whole number), needsEntitlement and ownerAccess (booleans) are valid; not: ${badPlans.join(', ')}`,
    );
  }
  return { ...settings, templates };
}

/** The settings now; the network work (cluster, issuers' keys, the bundle's kinds) as a promise. */
export function depsFromEnv(env: NodeJS.ProcessEnv): Promise<AppDeps> {
  return connect(settingsFromEnv(env));
}

async function connect(settings: ProvisionSettings): Promise<AppDeps> {
  const cluster = await connectCluster(settings);
  const { templates } = settings;
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
    cell: settings.KUBEFN_CELL,
    namespacePrefix: settings.KUBEFN_NAMESPACE_PREFIX,
    maxTenants: settings.KUBEFN_MAX_TENANTS,
    deletionBudget: settings.KUBEFN_DELETION_BUDGET,
    subjects: subjectsByIdentity(settings.KUBEFN_RBAC_SUBJECTS),
    caller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_PROVISION),
    resyncCaller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_RESYNC),
    pushCaller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_PUSH),
    operatorCaller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_OPERATOR),
    moveCaller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_MOVES),
    outcomes: settings.KUBEFN_OUTCOMES_TOPIC
      ? outcomePublisher(
          pubsubPublisher(pubsubProject('provision', settings), settings.KUBEFN_OUTCOMES_TOPIC, {
            ordered: true,
            retryForMs: outcomeRetryMs,
          }),
          settings.KUBEFN_CELL,
        )
      : undefined,
    fanOut: settings.KUBEFN_RESYNC_TOPIC
      ? {
          batchSize: settings.KUBEFN_RESYNC_BATCH,
          publish: resyncPublisher(
            pubsubPublisher(pubsubProject('provision', settings), settings.KUBEFN_RESYNC_TOPIC),
            settings.KUBEFN_CELL,
          ),
        }
      : undefined,
  };
}

// Two small files, read once at load: a missing or broken template fails the deploy.
function loadTemplates(dir: string | undefined): Templates {
  if (!dir) return { bundle: builtInBundle, plans: builtInPlans } as Templates;
  const read = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch {
      throw envProblem('provision', 'KUBEFN_TEMPLATES_DIR', `a folder with a JSON ${file}`);
    }
  };
  const templates = {
    bundle: read('bundle.json') as Templates['bundle'],
    plans: read('plans.json') as Templates['plans'],
  };
  try {
    bundleRefs(templates, { namespace: 'check', customerId: 'check' });
  } catch (error) {
    throw envProblem(
      'provision',
      'KUBEFN_TEMPLATES_DIR',
      `bundle.json's object names may use \${customerId} and \${namespace} only (${(error as Error).message})`,
    );
  }
  return templates;
}
