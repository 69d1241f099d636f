// kubefn's production deployment on Google Cloud, as Pulumi resources: a pure function of the
// deployment spec (spec.ts) and the deploy sources (sources.ts). It reads no config, files or
// clock, so the unit tests (kubefn.test.ts) run it under Pulumi's mocks and check its invariants.
//
// Identities: one Google service account per deployable (shared/identities.ts spells them, as the
// cluster's RBAC does), plus push, scheduler and build. Functions: Cloud Run services built from
// source (Cloud Run Admin API, Functions Framework target). The watcher: a Cloud Run service with
// one always-on instance. Between them Pub/Sub (push with OIDC tokens) and Cloud Scheduler.
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { IngressTimeoutSettings } from '../../functions/ingress-timeout/config.ts';
import type { LabelSettings } from '../../functions/label/config.ts';
import type { ProvisionSettings } from '../../functions/provision/config.ts';
import type { SignupSettings } from '../../functions/signup/config.ts';
import type { WatcherEnv } from '../../functions/watcher/config.ts';
import type { AuthSettings } from '../../shared/auth/index.ts';
import { accountId, type Identity } from '../../shared/identities.ts';
import type { ClusterSettings } from '../../shared/kube/index.ts';
import type { DeploymentSpec } from './spec.ts';

export const functionNames = ['provision', 'label', 'ingress-timeout', 'signup'] as const;
export type FunctionName = (typeof functionNames)[number];
export type Deployable = FunctionName | 'watcher';

/** A function's source: its bundle folder (uploaded as a zip) and the Functions Framework target. */
export type FunctionSource = { dir: string; sha256: string; target: string };
/** The watcher's source: a tar.gz of its bundle with node_modules installed, run as `node index.mjs`. */
export type WatcherSource = { archive: string; sha256: string };
export type Sources = Record<FunctionName, FunctionSource> & { watcher: WatcherSource };

/** The routes the deployment calls (each function's app.ts serves them; kubefn.test.ts checks). */
export const routes = { push: '/pubsub', resync: '/resync' } as const;

/** The watcher's health endpoint that answers before it holds the Lease (functions/watcher/health.ts). */
export const livenessPath = '/livez';

// Settings the deployment writes, keyed by the names each deployable's own schema reads: a
// misspelt or removed variable fails `npm run typecheck`; a missing required one fails the test
// that runs each deployable's settings reader on this env.
type EnvOf<Settings> = { [K in keyof Settings & string]?: pulumi.Input<string> };

export const topicNames = {
  changes: 'kubefn-changes',
  labelRequests: 'kubefn-label-requests',
  deadLetter: 'kubefn-dead-letter',
} as const;

// Pub/Sub delivery: how long a push may take (also its HTTP timeout, so each service's request
// timeout is longer), backoff between redeliveries, and attempts before the dead-letter topic.
export const delivery = {
  ackDeadlineSeconds: 120,
  minimumBackoff: '10s',
  maximumBackoff: '600s',
  maxDeliveryAttempts: 10,
  deadLetterRetention: '604800s', // 7 days, Pub/Sub's maximum
} as const;

const apis = [
  'run.googleapis.com',
  'cloudbuild.googleapis.com',
  'artifactregistry.googleapis.com',
  'storage.googleapis.com',
  'pubsub.googleapis.com',
  'cloudscheduler.googleapis.com',
  'cloudresourcemanager.googleapis.com', // project-level IAM grants
  'iam.googleapis.com',
  'iamcredentials.googleapis.com',
  'container.googleapis.com',
  'logging.googleapis.com',
];

export type KubefnOutputs = ReturnType<typeof defineKubefn>;

export function defineKubefn(spec: DeploymentSpec, sources: Sources) {
  const { project, region } = spec;
  // Every resource through one explicit provider: the stack needs no gcp:project config.
  const provider = new gcp.Provider('gcp', { project, region });
  const opts = { provider };
  const audience = (name: FunctionName) => `${spec.audienceBase}/${name}`;
  const member = (account: gcp.serviceaccount.Account) =>
    pulumi.interpolate`serviceAccount:${account.email}`;

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
  const afterApis = { ...opts, dependsOn: enabled };

  // --- Identities ---
  const account = (identity: Identity | 'build', description: string) =>
    new gcp.serviceaccount.Account(
      `sa-${identity}`,
      {
        project,
        accountId: identity === 'build' ? 'kubefn-build' : accountId(identity),
        displayName: `kubefn ${identity}`,
        description,
      },
      afterApis,
    );
  const accounts = {
    provision: account('provision', 'Runs the provisioning function'),
    label: account('label', 'Runs the label function'),
    'ingress-timeout': account('ingress-timeout', 'Runs the ingress-timeout function'),
    watcher: account('watcher', 'Runs the watcher'),
    signup: account('signup', 'Runs the signup backend; calls provision'),
    push: account('push', 'OIDC identity of the Pub/Sub push subscriptions'),
    scheduler: account('scheduler', 'OIDC identity of the Cloud Scheduler jobs'),
    build: account('build', 'Builds the functions from source (Cloud Build)'),
  };

  // GKE: container.clusters.get lets an account authenticate to the cluster and connect lets
  // it through the DNS endpoint; what it may do inside is RBAC's (infra/k8s/rbac.yaml). Not
  // roles/container.developer: IAM is OR-ed with RBAC and would bypass kubefn's narrow RBAC.
  const clusterConnect = new gcp.projects.IAMCustomRole(
    'role-cluster-connect',
    {
      project,
      roleId: 'kubefnClusterConnect',
      title: 'kubefn cluster connect',
      permissions: ['container.clusters.connect', 'container.clusters.get'],
    },
    afterApis,
  );
  const clusterUsers = ['provision', 'label', 'ingress-timeout', 'watcher'] as const;
  for (const identity of clusterUsers) {
    new gcp.projects.IAMMember(
      `cluster-connect-${identity}`,
      { project, role: clusterConnect.name, member: member(accounts[identity]) },
      opts,
    );
  }
  if (spec.timeoutMode === 'compute') {
    // The PATCH of a backend service's timeoutSec and the wait for its operation; regional
    // ones only for internal load balancers.
    const regional = spec.computeRegion
      ? [
          'compute.regionBackendServices.get',
          'compute.regionBackendServices.update',
          'compute.regionOperations.get',
        ]
      : [];
    const backendTimeout = new gcp.projects.IAMCustomRole(
      'role-backend-timeout',
      {
        project,
        roleId: 'kubefnBackendTimeout',
        title: 'kubefn backend service timeout',
        permissions: [
          'compute.backendServices.get',
          'compute.backendServices.update',
          'compute.globalOperations.get',
          ...regional,
        ],
      },
      afterApis,
    );
    new gcp.projects.IAMMember(
      'backend-timeout-ingress-timeout',
      { project, role: backendTimeout.name, member: member(accounts['ingress-timeout']) },
      opts,
    );
  }

  // --- Sources: a bucket for the uploads, a registry for the built images ---
  const bucket = new gcp.storage.Bucket(
    'sources',
    {
      project,
      name: `${project}-kubefn-sources`,
      location: region,
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      forceDestroy: false,
      // A changed bundle is a new object; Pulumi deletes the replaced one after the service
      // moved on. What a crash leaves behind (half-done uploads, strays) goes after 30 days.
      lifecycleRules: [
        { action: { type: 'AbortIncompleteMultipartUpload' }, condition: { age: 1 } },
        { action: { type: 'Delete' }, condition: { age: 30, matchesPrefixes: ['tmp/'] } },
      ],
    },
    afterApis,
  );
  const repository = new gcp.artifactregistry.Repository(
    'images',
    {
      project,
      location: region,
      repositoryId: 'kubefn',
      format: 'DOCKER',
      description: 'Images Cloud Run builds from the functions sources',
      cleanupPolicyDryRun: false,
      // Every deploy builds an image; keep the last few (rollback) and drop the rest.
      cleanupPolicies: [
        { id: 'keep-recent', action: 'KEEP', mostRecentVersions: { keepCount: 10 } },
        {
          id: 'delete-old',
          action: 'DELETE',
          condition: { tagState: 'ANY', olderThan: '2592000s' },
        },
      ],
    },
    afterApis,
  );
  const buildGrants = [
    new gcp.storage.BucketIAMMember(
      'build-reads-sources',
      { bucket: bucket.name, role: 'roles/storage.objectViewer', member: member(accounts.build) },
      opts,
    ),
    new gcp.artifactregistry.RepositoryIamMember(
      'build-writes-images',
      {
        project,
        location: region,
        repository: repository.repositoryId,
        role: 'roles/artifactregistry.writer',
        member: member(accounts.build),
      },
      opts,
    ),
    // Cloud Build writes its logs as the build account; there is no narrower resource for it.
    new gcp.projects.IAMMember(
      'build-writes-logs',
      { project, role: 'roles/logging.logWriter', member: member(accounts.build) },
      opts,
    ),
  ];

  // The object's name carries the bundle's hash: a changed bundle is a new name, hence a new
  // sourceLocation, hence a new revision (a constant name would leave the old code running).
  const sourceObject = (
    name: Deployable,
    sha256: string,
    extension: string,
    source: pulumi.asset.Asset | pulumi.asset.Archive,
  ) =>
    new gcp.storage.BucketObject(
      `source-${name}`,
      { bucket: bucket.name, name: `sources/${name}-${sha256}.${extension}`, source },
      opts,
    );

  // --- Cluster connection, the same for every deployable ---
  const clusterEnv: EnvOf<ClusterSettings> = {
    KUBEFN_CLUSTER_SERVER: spec.cluster.endpoint,
    ...(spec.cluster.caCertificate ? { KUBEFN_CLUSTER_CA: spec.cluster.caCertificate } : {}),
  };
  // Behind Cloud Run's IAM check the platform has verified the token (and removed its
  // signature); kubefn still checks audience, issuer and the route's allow-list.
  const authEnv = (name: FunctionName): EnvOf<AuthSettings> => ({
    KUBEFN_AUTH_AUDIENCE: audience(name),
    KUBEFN_AUTH_PLATFORM_VERIFIED: 'true',
    KUBEFN_AUTH_GOOGLE: 'true',
    KUBEFN_AUTH_KUBERNETES: 'false',
  });

  const provisionEnv: EnvOf<ProvisionSettings> = {
    ...authEnv('provision'),
    ...clusterEnv,
    KUBEFN_ALLOW_PROVISION: accounts.signup.email,
    KUBEFN_ALLOW_RESYNC: accounts.scheduler.email,
    // Tenant RoleBindings name GKE Users: the deployables' Google service-account emails.
    KUBEFN_RBAC_SUBJECTS: `google:${project}`,
  };
  const labelEnv: EnvOf<LabelSettings> = {
    ...authEnv('label'),
    ...clusterEnv,
    KUBEFN_ALLOW_PUSH: accounts.push.email,
    KUBEFN_ALLOW_LABEL: spec.labelCallers.join(','),
  };
  const ingressTimeoutEnv: EnvOf<IngressTimeoutSettings> = {
    ...authEnv('ingress-timeout'),
    ...clusterEnv,
    KUBEFN_ALLOW_PUSH: accounts.push.email,
    KUBEFN_ALLOW_RESYNC: accounts.scheduler.email,
    KUBEFN_ALLOW_INGRESS_TIMEOUT: spec.ingressTimeoutCallers.join(','),
    KUBEFN_TIMEOUT_MODE: spec.timeoutMode,
    ...(spec.timeoutMode === 'compute' ? { KUBEFN_COMPUTE_PROJECT: project } : {}),
    ...(spec.timeoutMode === 'compute' && spec.computeRegion
      ? { KUBEFN_COMPUTE_REGION: spec.computeRegion }
      : {}),
  };

  // --- The functions ---
  const baseImage = `${region}-docker.pkg.dev/serverless-runtimes/google-22-full/runtimes/nodejs22`;
  type FunctionOptions = {
    env: Record<string, pulumi.Input<string> | undefined>;
    ingress: string;
    /** Cloud Run's IAM check off: anyone may call (the public page). */
    public?: boolean;
    minInstances?: number;
    timeout: string;
  };
  const functionService = (name: FunctionName, o: FunctionOptions) => {
    const source = sources[name];
    const object = sourceObject(
      name,
      source.sha256,
      'zip',
      new pulumi.asset.FileArchive(source.dir),
    );
    return new gcp.cloudrunv2.Service(
      name,
      {
        project,
        location: region,
        name: `kubefn-${name}`,
        ingress: o.ingress,
        // One constant is the service's audience, its KUBEFN_AUTH_AUDIENCE and every token's aud.
        customAudiences: [audience(name)],
        invokerIamDisabled: o.public === true,
        deletionProtection: spec.deletionProtection,
        buildConfig: {
          sourceLocation: pulumi.interpolate`gs://${bucket.name}/${object.name}`,
          functionTarget: source.target,
          baseImage,
          imageUri: pulumi.interpolate`${region}-docker.pkg.dev/${project}/${repository.repositoryId}/${name}`,
          serviceAccount: accounts.build.id,
          enableAutomaticUpdates: true,
        },
        template: {
          serviceAccount: accounts[name].email,
          timeout: o.timeout,
          scaling: { minInstanceCount: o.minInstances ?? 0, maxInstanceCount: 10 },
          containers: [
            {
              // Replaced by the image the build makes (see ignoreChanges below).
              image: 'us-docker.pkg.dev/cloudrun/container/hello',
              baseImageUri: baseImage,
              envs: envList(o.env),
              resources: {
                limits: { cpu: '1', memory: '512Mi' },
                cpuIdle: true,
                startupCpuBoost: true,
              },
            },
          ],
        },
      },
      {
        ...opts,
        dependsOn: [...enabled, ...buildGrants],
        // The build writes the image it made into the template; the source, not this
        // placeholder, decides what runs.
        ignoreChanges: ['template.containers[0].image'],
      },
    );
  };

  const provision = functionService('provision', {
    env: provisionEnv,
    ingress: 'INGRESS_TRAFFIC_ALL',
    minInstances: spec.provisionMinInstances,
    timeout: '600s',
  });
  const label = functionService('label', {
    env: labelEnv,
    ingress: 'INGRESS_TRAFFIC_ALL',
    timeout: '300s',
  });
  const ingressTimeout = functionService('ingress-timeout', {
    env: ingressTimeoutEnv,
    ingress: 'INGRESS_TRAFFIC_ALL',
    timeout: '600s',
  });
  const signupEnv: EnvOf<SignupSettings> = {
    KUBEFN_PROVISION_URL: provision.uri,
    KUBEFN_PROVISION_AUDIENCE: audience('provision'),
  };
  const signup = functionService('signup', {
    env: signupEnv,
    ingress: 'INGRESS_TRAFFIC_ALL',
    public: true,
    timeout: '60s',
  });
  const services = { provision, label, 'ingress-timeout': ingressTimeout, signup };

  // Who may invoke what: exactly these, each also on the function's own allow-list.
  const invokers: Record<Exclude<FunctionName, 'signup'>, pulumi.Input<string>[]> = {
    provision: [member(accounts.signup), member(accounts.scheduler)],
    label: [member(accounts.push), ...spec.labelCallers.map((e) => `serviceAccount:${e}`)],
    'ingress-timeout': [
      member(accounts.push),
      member(accounts.scheduler),
      ...spec.ingressTimeoutCallers.map((e) => `serviceAccount:${e}`),
    ],
  };
  const invokerGrants = Object.entries(invokers).flatMap(([name, members]) =>
    members.map(
      (m, i) =>
        new gcp.cloudrunv2.ServiceIamMember(
          `invoker-${name}-${i}`,
          {
            project,
            location: region,
            name: services[name as FunctionName].name,
            role: 'roles/run.invoker',
            member: m,
          },
          opts,
        ),
    ),
  );

  // --- Pub/Sub ---
  const topic = (key: keyof typeof topicNames, extra: Partial<gcp.pubsub.TopicArgs> = {}) =>
    new gcp.pubsub.Topic(`topic-${key}`, { project, name: topicNames[key], ...extra }, afterApis);
  const changes = topic('changes');
  const labelRequests = topic('labelRequests');
  const deadLetter = topic('deadLetter');
  new gcp.pubsub.TopicIAMMember(
    'watcher-publishes-changes',
    {
      project,
      topic: changes.name,
      role: 'roles/pubsub.publisher',
      member: member(accounts.watcher),
    },
    opts,
  );
  spec.labelCallers.forEach((email, i) => {
    new gcp.pubsub.TopicIAMMember(
      `label-caller-publishes-${i}`,
      {
        project,
        topic: labelRequests.name,
        role: 'roles/pubsub.publisher',
        member: `serviceAccount:${email}`,
      },
      opts,
    );
  });

  // What keeps failing lands on the dead-letter topic: messages published to a topic without a
  // subscription are lost, so it has one, kept for 7 days and never expiring.
  const deadLetterSubscription = new gcp.pubsub.Subscription(
    'sub-dead-letter',
    {
      project,
      name: 'kubefn-dead-letter',
      topic: deadLetter.name,
      ackDeadlineSeconds: 60,
      messageRetentionDuration: delivery.deadLetterRetention,
      retainAckedMessages: false,
      expirationPolicy: { ttl: '' },
    },
    opts,
  );

  // Pub/Sub's service agent, created now if the project has none yet (a grant to an agent
  // that does not exist fails).
  const pubsubAgent = new gcp.projects.ServiceIdentity(
    'pubsub-agent',
    { project, service: 'pubsub.googleapis.com' },
    afterApis,
  ).member;
  // Pub/Sub moves a message to the dead-letter topic as its own service agent.
  const agentPublishes = new gcp.pubsub.TopicIAMMember(
    'pubsub-agent-publishes-dead-letter',
    { project, topic: deadLetter.name, role: 'roles/pubsub.publisher', member: pubsubAgent },
    opts,
  );
  // Projects from before 2021-04-08 need the agent to mint the push OIDC tokens; granted on the
  // push account only, not the project.
  new gcp.serviceaccount.IAMMember(
    'pubsub-agent-mints-push-tokens',
    {
      serviceAccountId: accounts.push.name,
      role: 'roles/iam.serviceAccountTokenCreator',
      member: pubsubAgent,
    },
    opts,
  );

  const pushSubscription = (
    key: string,
    target: Exclude<FunctionName, 'signup' | 'provision'>,
    from: gcp.pubsub.Topic,
    extra: { filter?: string; enableMessageOrdering: boolean },
  ) => {
    const subscription = new gcp.pubsub.Subscription(
      `sub-${key}`,
      {
        project,
        name: `kubefn-${key}`,
        topic: from.name,
        ackDeadlineSeconds: delivery.ackDeadlineSeconds,
        pushConfig: {
          pushEndpoint: pulumi.interpolate`${services[target].uri}${routes.push}`,
          // Explicit: without it the token's aud is the endpoint URL (with /pubsub), which the
          // function's exact audience check refuses.
          oidcToken: { serviceAccountEmail: accounts.push.email, audience: audience(target) },
        },
        retryPolicy: {
          minimumBackoff: delivery.minimumBackoff,
          maximumBackoff: delivery.maximumBackoff,
        },
        deadLetterPolicy: {
          deadLetterTopic: deadLetter.id,
          maxDeliveryAttempts: delivery.maxDeliveryAttempts,
        },
        expirationPolicy: { ttl: '' },
        ...extra,
      },
      // Filter and ordering cannot change after creation; the first deliveries need the
      // invoker grants (else 403s count against the dead-letter budget).
      { ...opts, dependsOn: [...invokerGrants, agentPublishes] },
    );
    new gcp.pubsub.SubscriptionIAMMember(
      `pubsub-agent-acks-${key}`,
      {
        project,
        subscription: subscription.name,
        role: 'roles/pubsub.subscriber',
        member: pubsubAgent,
      },
      opts,
    );
    return subscription;
  };
  const subscriptions = {
    // The watcher publishes with ordering keys (group/kind/namespace/name) and a kind attribute
    // (shared/events/change.ts); this subscription takes only Ingress changes, in order.
    ingressChanges: pushSubscription('ingress-timeout-changes', 'ingress-timeout', changes, {
      filter: 'attributes.kind = "Ingress"',
      enableMessageOrdering: true,
    }),
    // Label requests (functions/label/schema.ts) from the callers in spec.labelCallers.
    labelRequests: pushSubscription('label-requests', 'label', labelRequests, {
      enableMessageOrdering: false,
    }),
  };

  // --- Cloud Scheduler ---
  const resyncJob = (target: 'provision' | 'ingress-timeout', schedule: string) =>
    new gcp.cloudscheduler.Job(
      `resync-${target}`,
      {
        project,
        region,
        name: `kubefn-${target}-resync`,
        schedule,
        timeZone: spec.schedules.timeZone,
        attemptDeadline: '600s',
        retryConfig: { retryCount: 3, minBackoffDuration: '30s', maxBackoffDuration: '300s' },
        httpTarget: {
          uri: pulumi.interpolate`${services[target].uri}${routes.resync}`,
          httpMethod: 'POST',
          oidcToken: { serviceAccountEmail: accounts.scheduler.email, audience: audience(target) },
        },
      },
      { ...afterApis, dependsOn: [...enabled, ...invokerGrants] },
    );
  const jobs = {
    provision: resyncJob('provision', spec.schedules.provisionResync),
    ingressTimeout: resyncJob('ingress-timeout', spec.schedules.ingressTimeoutResync),
  };

  // --- The watcher ---
  const watcherEnv: EnvOf<WatcherEnv> = {
    ...clusterEnv,
    KUBEFN_TOPIC: changes.name,
    // Cloud Run does not put the project in the environment.
    PUBSUB_PROJECT_ID: project,
    KUBEFN_CLUSTER_NAME: spec.cluster.name,
  };
  const watcherObject = sourceObject(
    'watcher',
    sources.watcher.sha256,
    'tar.gz',
    new pulumi.asset.FileAsset(sources.watcher.archive),
  );
  const probe = { httpGet: { path: livenessPath }, periodSeconds: 10, timeoutSeconds: 5 };
  const watcher = new gcp.cloudrunv2.Service(
    'watcher',
    {
      project,
      location: region,
      name: 'kubefn-watcher',
      // Nobody calls it: probes come from Cloud Run itself.
      ingress: 'INGRESS_TRAFFIC_INTERNAL_ONLY',
      defaultUriDisabled: true,
      invokerIamDisabled: false,
      deletionProtection: spec.deletionProtection,
      template: {
        serviceAccount: accounts.watcher.email,
        // One instance, always on: the Lease keeps a second one (during a rollout) standing by.
        scaling: { minInstanceCount: 1, maxInstanceCount: 1 },
        containers: [
          {
            // Source deploy without a build: the archive holds index.mjs and its node_modules.
            image: 'scratch',
            baseImageUri: baseImage,
            commands: ['node'],
            args: ['index.mjs'],
            sourceCode: {
              cloudStorageSource: {
                bucket: bucket.name,
                object: watcherObject.name,
                generation: watcherObject.generation.apply(String),
              },
            },
            envs: envList(watcherEnv),
            resources: {
              limits: { cpu: '1', memory: '512Mi' },
              // CPU between requests: it works without any.
              cpuIdle: false,
              startupCpuBoost: true,
            },
            // /livez, not /readyz: readiness waits for the Lease, which the old revision holds
            // until it is stopped, which happens only once the new one is ready.
            startupProbe: { ...probe, failureThreshold: 6 },
            livenessProbe: { ...probe, failureThreshold: 3 },
          },
        ],
      },
    },
    { ...afterApis, dependsOn: [...enabled] },
  );

  return {
    provider,
    accounts,
    audiences: Object.fromEntries(functionNames.map((n) => [n, audience(n)])) as Record<
      FunctionName,
      string
    >,
    services: { ...services, watcher },
    topics: { changes, labelRequests, deadLetter },
    subscriptions: { ...subscriptions, deadLetter: deadLetterSubscription },
    jobs,
    bucket,
    repository,
  };
}

function envList(env: Record<string, pulumi.Input<string> | undefined>) {
  return Object.entries(env)
    .filter((entry): entry is [string, pulumi.Input<string>] => entry[1] !== undefined)
    .map(([name, value]) => ({ name, value }));
}
