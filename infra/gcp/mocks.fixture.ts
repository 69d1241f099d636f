// Runs defineKubefn under Pulumi's mocks and records every registered resource with its inputs as
// the provider would receive them (outputs resolved). The mocks answer what Google would: an
// account's email, a service's URL, a topic's id, the project's number.
import { createHash } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import { defineKubefn } from './kubefn.ts';
import { deployables, type Sources } from './names.ts';
import { type DeploymentSpec, readSpec } from './spec.ts';

/** A recorded input: whatever the provider's schema says; tests read them by path. */
// biome-ignore lint/suspicious/noExplicitAny: inputs as recorded, of every resource type
export type Value = any;
export type Registered = { type: string; name: string; inputs: Record<string, Value> };

export const projectNumber = '123456789012';

export const baseSpec = {
  project: 'kubefn-prod',
  region: 'europe-west1',
  // Two cells in two regions: every per-cell invariant is checked against a neighbour.
  cells: [
    {
      name: 'eu1',
      region: 'europe-west1',
      endpoint: 'https://gke-0123abcd-123456789012.europe-west1.gke.goog',
      gkeCluster: 'kubefn-eu1',
    },
    {
      name: 'us1',
      region: 'us-central1',
      endpoint: 'https://gke-4567cdef-123456789012.us-central1.gke.goog',
      gkeCluster: 'kubefn-us1',
      gkeLocation: 'us-central1-a',
      capacity: 2000,
    },
  ],
  audienceBase: 'https://kubefn.example.com',
  customerSignIn: { apiKey: 'AIzaSyMockBrowserKeyForTests' },
};

const hash = (text: string) => createHash('sha256').update(text).digest('hex');

/** Sources as deploySources() returns them, with made-up paths and hashes (`seed` varies them). */
export const fakeSources = (seed = 'a'): Sources =>
  Object.fromEntries(
    deployables.map((name) => [
      name,
      {
        archive: `/bundles/${name}.tar.gz`,
        sha256: hash(name + seed),
        command:
          name === 'watcher'
            ? ['node', 'index.mjs']
            : ['node', 'node_modules/.bin/functions-framework', `--target=${name}`],
      },
    ]),
  ) as Sources;

let run = 0;

/** Defines the deployment for `raw` (validated like a stack's config) and records it. */
export async function deploy(
  raw: Record<string, unknown> = {},
  sources: Sources = fakeSources(),
): Promise<{ spec: DeploymentSpec; resources: Registered[] }> {
  const spec = readSpec({ ...baseSpec, ...raw });
  const resources: Registered[] = [];
  // A stack of its own per run: logical names repeat between runs.
  await pulumi.runtime.setMocks(
    {
      newResource({ type, name, inputs }) {
        resources.push({ type, name, inputs });
        const state: Record<string, unknown> = { ...inputs };
        let id = `${name}-id`;
        if (type === 'gcp:serviceaccount/account:Account') {
          state.email = `${inputs.accountId}@${inputs.project}.iam.gserviceaccount.com`;
          id = state.name = `projects/${inputs.project}/serviceAccounts/${state.email}`;
        }
        if (type === 'gcp:cloudrunv2/service:Service')
          state.uri = `https://${inputs.name}-x.a.run.app`;
        if (type === 'gcp:pubsub/topic:Topic')
          id = `projects/${inputs.project}/topics/${inputs.name}`;
        if (type === 'gcp:projects/iAMCustomRole:IAMCustomRole')
          state.name = `projects/${inputs.project}/roles/${inputs.roleId}`;
        if (type === 'gcp:storage/bucketObject:BucketObject') state.generation = 7;
        if (
          type === 'gcp:projects/serviceIdentity:ServiceIdentity' &&
          inputs.service === 'pubsub.googleapis.com'
        )
          state.member = `serviceAccount:service-${projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;
        return { id, state };
      },
      call({ token }) {
        throw new Error(`unexpected call ${token}`);
      },
    },
    'kubefn',
    `test-${++run}`,
    false,
  );
  defineKubefn(spec, sources);
  await settled(resources);
  return { spec, resources };
}

// Registrations finish as their inputs resolve: wait until none has arrived for a while.
async function settled(resources: Registered[]): Promise<void> {
  let seen = -1;
  let quiet = 0;
  while (quiet < 5) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    quiet = resources.length === seen ? quiet + 1 : 0;
    seen = resources.length;
  }
}

/** A service's environment, as its revision gets it. */
export const envOf = (service: Registered): Record<string, string> =>
  Object.fromEntries(
    (service.inputs.template.containers[0].envs as { name: string; value: string }[]).map((e) => [
      e.name,
      e.value,
    ]),
  );

export const ofType = (resources: Registered[], type: string) =>
  resources.filter((r) => r.type === type);

export const types = {
  account: 'gcp:serviceaccount/account:Account',
  service: 'gcp:cloudrunv2/service:Service',
  invoker: 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember',
  topic: 'gcp:pubsub/topic:Topic',
  topicMember: 'gcp:pubsub/topicIAMMember:TopicIAMMember',
  subscription: 'gcp:pubsub/subscription:Subscription',
  subscriptionMember: 'gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember',
  job: 'gcp:cloudscheduler/job:Job',
  projectMember: 'gcp:projects/iAMMember:IAMMember',
  customRole: 'gcp:projects/iAMCustomRole:IAMCustomRole',
  bucketObject: 'gcp:storage/bucketObject:BucketObject',
  bucket: 'gcp:storage/bucket:Bucket',
  api: 'gcp:projects/service:Service',
  firestore: 'gcp:firestore/database:Database',
  accountMember: 'gcp:serviceaccount/iAMMember:IAMMember',
} as const;
