// The deployment's invariants, checked on what defineKubefn registers under Pulumi's mocks
// (offline; no Pulumi CLI, no Google). What the provider schema does not type (enum strings,
// ranges) is checked by the table at the end.
import { describe, expect, it } from 'vitest';
import { googleAccountEmail, type Identity } from '../../shared/identities.ts';
import { topics, triggers } from '../subscriptions.ts';
import {
  baseSpec,
  deploy,
  envOf,
  fakeSources,
  ofType,
  projectNumber,
  type Registered,
  types,
  type Value,
} from './mocks.fixture.ts';
import { delivery, livenessPath, routes, type Sources, topicNames } from './names.ts';

const { project } = baseSpec;
const email = (identity: Identity) => googleAccountEmail(identity, project);
const sa = (identity: Identity) => `serviceAccount:${email(identity)}`;
const pubsubAgent = `serviceAccount:service-${projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;

const byName = (resources: Registered[], type: string, name: string) => {
  const found = ofType(resources, type).find((r) => r.inputs.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
};
const serviceByUri = (resources: Registered[], url: string) => {
  const found = ofType(resources, types.service).find((s) =>
    url.startsWith(`https://${s.inputs.name}-x.a.run.app/`),
  );
  if (!found) throw new Error(`no service serves ${url}`);
  return found;
};
const standard = await deploy();
const billing = 'billing@kubefn-prod.iam.gserviceaccount.com';
const everything = await deploy({
  timeoutMode: 'compute',
  computeRegion: 'europe-west1',
  labelCallers: 'ops@kubefn-prod.iam.gserviceaccount.com',
  ingressTimeoutCallers: 'ops@kubefn-prod.iam.gserviceaccount.com',
  tenantRequestPublishers: billing,
});
const variants = [
  ['backendconfig mode, no extra callers', standard.resources],
  ['compute mode, with HTTP callers', everything.resources],
] as const;

describe.each(variants)('%s', (_, resources) => {
  const subscriptions = ofType(resources, types.subscription);
  const pushes = subscriptions.filter((s) => s.inputs.pushConfig);

  it('defines one account per deployable, named as the cluster RBAC names them', () => {
    const accounts = ofType(resources, types.account).map((a) => a.inputs.accountId);
    expect(accounts.sort()).toEqual(
      [
        'kubefn-ingress-timeout',
        'kubefn-label',
        'kubefn-provision',
        'kubefn-push',
        'kubefn-scheduler',
        'kubefn-signup',
        'kubefn-watcher',
      ].sort(),
    );
    for (const service of ofType(resources, types.service)) {
      expect(service.inputs.template.serviceAccount).toBe(
        `${service.inputs.name}@${project}.iam.gserviceaccount.com`,
      );
    }
  });

  it('pushes each subscription with the push account, to its target route, with its audience', () => {
    expect(pushes.length).toBe(Object.keys(triggers).length);
    for (const s of pushes) {
      const { pushEndpoint, oidcToken } = s.inputs.pushConfig;
      const target = serviceByUri(resources, pushEndpoint);
      const trigger = Object.values(triggers).find((t) => t.subscription === s.inputs.name);
      expect(target.inputs.name).toBe(`kubefn-${trigger?.target}`);
      expect(pushEndpoint).toBe(`https://${target.inputs.name}-x.a.run.app${trigger?.route}`);
      expect(oidcToken.serviceAccountEmail).toBe(email('push'));
      expect(target.inputs.customAudiences).toEqual([oidcToken.audience]);
      expect(envOf(target).KUBEFN_AUTH_AUDIENCE).toBe(oidcToken.audience);
      expect(envOf(target).KUBEFN_ALLOW_PUSH?.split(',')).toContain(email('push'));
      expect(s.inputs.retryPolicy).toEqual({ minimumBackoff: '10s', maximumBackoff: '600s' });
      expect(s.inputs.expirationPolicy).toEqual({ ttl: '' });
      // Pub/Sub's push HTTP timeout is the ack deadline: the service must wait longer.
      expect(Number.parseInt(target.inputs.template.timeout, 10)).toBeGreaterThan(
        s.inputs.ackDeadlineSeconds,
      );
    }
  });

  it.each(Object.values(triggers))(
    'subscribes $subscription: its topic, target, route, filter and ordering, exactly',
    (trigger) => {
      const found = pushes.filter((s) => s.inputs.name === trigger.subscription);
      expect(found).toHaveLength(1);
      const s = found[0];
      expect(s?.inputs.topic).toBe(topics[trigger.topic]);
      expect(s?.inputs.pushConfig.pushEndpoint).toBe(
        `https://kubefn-${trigger.target}-x.a.run.app${trigger.route}`,
      );
      expect(s?.inputs.pushConfig.oidcToken.audience).toBe(
        `${baseSpec.audienceBase}/${trigger.target}`,
      );
      expect(s?.inputs.filter).toBe('filter' in trigger ? trigger.filter : undefined);
      expect(s?.inputs.enableMessageOrdering).toBe(trigger.ordered);
    },
  );

  it('gives every push target the push account on KUBEFN_ALLOW_PUSH', () => {
    const targets = [...new Set(Object.values(triggers).map((t) => t.target))].sort();
    expect(targets).toEqual(['ingress-timeout', 'label', 'provision']);
    for (const name of targets)
      expect(
        envOf(byName(resources, types.service, `kubefn-${name}`)).KUBEFN_ALLOW_PUSH?.split(','),
        name,
      ).toContain(email('push'));
  });

  it('has a subscription on every topic, so nothing published is lost', () => {
    const defined = ofType(resources, types.topic).map((t) => t.inputs.name);
    expect(defined.sort()).toEqual(Object.values(topics).sort());
    const published = ofType(resources, types.topicMember)
      .filter((m) => m.inputs.role === 'roles/pubsub.publisher')
      .map((m) => m.inputs.topic);
    for (const topic of new Set([...defined, ...published]))
      expect(
        subscriptions.filter((s) => s.inputs.topic === topic).length,
        `subscriptions on ${topic}`,
      ).toBeGreaterThan(0);
  });

  it('lets exactly the configured publishers publish tenant requests', () => {
    const publishers = ofType(resources, types.topicMember)
      .filter((m) => m.inputs.topic === topicNames.tenantRequests)
      .map((m) => `${m.inputs.role} ${m.inputs.member}`);
    expect(publishers).toEqual(
      resources === everything.resources
        ? [`roles/pubsub.publisher serviceAccount:${billing}`]
        : [],
    );
  });

  it('gives every dead-letter policy its IAM and a subscription that keeps what lands there', () => {
    const deadLetterTopic = `projects/${project}/topics/${topicNames.deadLetter}`;
    const withPolicy = subscriptions.filter((s) => s.inputs.deadLetterPolicy);
    expect(withPolicy).toEqual(pushes);
    for (const s of withPolicy) {
      expect(s.inputs.deadLetterPolicy.deadLetterTopic).toBe(deadLetterTopic);
      expect(
        ofType(resources, types.subscriptionMember).filter(
          (m) =>
            m.inputs.subscription === s.inputs.name &&
            m.inputs.role === 'roles/pubsub.subscriber' &&
            m.inputs.member === pubsubAgent,
        ),
      ).toHaveLength(1);
    }
    expect(
      ofType(resources, types.topicMember).filter(
        (m) =>
          m.inputs.topic === topicNames.deadLetter &&
          m.inputs.role === 'roles/pubsub.publisher' &&
          m.inputs.member === pubsubAgent,
      ),
    ).toHaveLength(1);
    const pull = subscriptions.filter((s) => s.inputs.topic === topicNames.deadLetter);
    expect(pull).toHaveLength(1);
    expect(pull[0]?.inputs.pushConfig).toBeUndefined();
    expect(pull[0]?.inputs.expirationPolicy).toEqual({ ttl: '' });
    expect(pull[0]?.inputs.messageRetentionDuration).toBe(delivery.deadLetterRetention);
  });

  it('calls every /resync from Cloud Scheduler with the scheduler account and the audience', () => {
    const jobs = ofType(resources, types.job);
    expect(jobs.map((j) => j.inputs.name).sort()).toEqual([
      'kubefn-ingress-timeout-resync',
      'kubefn-provision-resync',
    ]);
    for (const job of jobs) {
      const { uri, httpMethod, oidcToken } = job.inputs.httpTarget;
      const target = serviceByUri(resources, uri);
      expect(uri).toBe(`https://${target.inputs.name}-x.a.run.app${routes.resync}`);
      expect(httpMethod).toBe('POST');
      expect(oidcToken.serviceAccountEmail).toBe(email('scheduler'));
      expect(target.inputs.customAudiences).toEqual([oidcToken.audience]);
      expect(envOf(target).KUBEFN_ALLOW_RESYNC).toBe(email('scheduler'));
    }
  });

  it('lets only the intended principals invoke each service', () => {
    const invokers = (service: string) =>
      ofType(resources, types.invoker)
        .filter((m) => m.inputs.name === service)
        .map((m) => {
          expect(m.inputs.role).toBe('roles/run.invoker');
          return m.inputs.member;
        })
        .sort();
    const callers =
      resources === everything.resources
        ? ['serviceAccount:ops@kubefn-prod.iam.gserviceaccount.com']
        : [];
    expect(invokers('kubefn-provision')).toEqual(
      [sa('push'), sa('scheduler'), sa('signup')].sort(),
    );
    expect(invokers('kubefn-label')).toEqual([sa('push'), ...callers].sort());
    expect(invokers('kubefn-ingress-timeout')).toEqual(
      [sa('push'), sa('scheduler'), ...callers].sort(),
    );
    expect(invokers('kubefn-signup')).toEqual([]);
    expect(invokers('kubefn-watcher')).toEqual([]);
    const iamChecked = ofType(resources, types.service).filter((s) => !s.inputs.invokerIamDisabled);
    expect(iamChecked.map((s) => s.inputs.name).sort()).toEqual([
      'kubefn-ingress-timeout',
      'kubefn-label',
      'kubefn-provision',
      'kubefn-watcher',
    ]);
    // The public page is public by the service's own setting, not by an allUsers binding.
    expect(byName(resources, types.service, 'kubefn-signup').inputs.invokerIamDisabled).toBe(true);
    // Claims-only auth exactly where Cloud Run's IAM check has verified the token.
    for (const s of iamChecked.filter((s) => s.inputs.name !== 'kubefn-watcher')) {
      expect(envOf(s).KUBEFN_AUTH_PLATFORM_VERIFIED).toBe('true');
    }
  });

  it('enables the APIs it uses (Compute only in compute mode) and never disables them', () => {
    const apis = ofType(resources, types.api);
    const names = apis.map((a) => a.inputs.service);
    for (const api of ['run', 'storage', 'pubsub', 'cloudscheduler', 'iam'])
      expect(names).toContain(`${api}.googleapis.com`);
    // Nothing is built: no Cloud Build, no image registry.
    expect(names).not.toContain('cloudbuild.googleapis.com');
    expect(names).not.toContain('artifactregistry.googleapis.com');
    expect(names.includes('compute.googleapis.com')).toBe(resources === everything.resources);
    for (const a of apis) expect(a.inputs.disableOnDestroy).toBe(false);
  });

  it('ships no key, kubeconfig or client certificate: every identity uses metadata tokens', () => {
    expect(resources.map((r) => r.type)).not.toContain('gcp:serviceaccount/key:Key');
    for (const s of ofType(resources, types.service)) {
      const env = envOf(s);
      for (const name of [
        'KUBECONFIG',
        'KUBEFN_CALLER_TOKEN_FILE',
        'GOOGLE_APPLICATION_CREDENTIALS',
      ])
        expect(env[name], `${s.inputs.name} ${name}`).toBeUndefined();
      expect(JSON.stringify(env)).not.toMatch(/PRIVATE KEY|client-certificate|client-key/);
      expect(s.inputs.template.volumes).toBeUndefined();
    }
  });

  it('caps provision (3 instances of 10 requests) and gives it the ceiling on all tenants', () => {
    const provision = byName(resources, types.service, 'kubefn-provision');
    expect(provision.inputs.template.scaling.maxInstanceCount).toBe(3);
    expect(provision.inputs.template.maxInstanceRequestConcurrency).toBe(10);
    expect(envOf(provision).KUBEFN_MAX_TENANTS).toBe('1000');
  });

  it('signs customers in with Identity Platform of the project, never the emulator', () => {
    const signup = envOf(byName(resources, types.service, 'kubefn-signup'));
    expect(signup.KUBEFN_CUSTOMER_PROJECT).toBe(project);
    expect(signup.KUBEFN_CUSTOMER_API_KEY).toBe(baseSpec.customerSignIn.apiKey);
    expect(signup.KUBEFN_CUSTOMER_AUTH_EMULATOR).toBeUndefined();
    expect(signup.KUBEFN_CUSTOMER_JWKS_URL).toBeUndefined();
  });

  it('names allUsers and allAuthenticatedUsers nowhere', () => {
    expect(JSON.stringify(resources)).not.toMatch(/allUsers|allAuthenticatedUsers/);
  });

  it('grants project-wide only the narrow custom roles', () => {
    const compute = resources === everything.resources;
    const roles = ofType(resources, types.customRole);
    expect(roles.map((r) => r.inputs.roleId).sort()).toEqual(
      compute ? ['kubefnBackendTimeout', 'kubefnClusterConnect'] : ['kubefnClusterConnect'],
    );
    const grants = ofType(resources, types.projectMember).map(
      (m) => `${m.inputs.role} ${m.inputs.member}`,
    );
    const connect = `projects/${project}/roles/kubefnClusterConnect`;
    expect(grants.sort()).toEqual(
      [
        ...(['provision', 'label', 'ingress-timeout', 'watcher'] as const).map(
          (i) => `${connect} ${sa(i)}`,
        ),
        ...(compute
          ? [`projects/${project}/roles/kubefnBackendTimeout ${sa('ingress-timeout')}`]
          : []),
      ].sort(),
    );
    expect(JSON.stringify(resources)).not.toMatch(
      /roles\/(editor|owner|container\.(developer|admin)|compute\.(admin|loadBalancerAdmin))"/,
    );
  });

  it('runs the watcher as one always-on, internal instance nobody invokes, probed on /livez', () => {
    const watcher = byName(resources, types.service, 'kubefn-watcher');
    const container = watcher.inputs.template.containers[0];
    expect(watcher.inputs.template.scaling).toEqual({ minInstanceCount: 1, maxInstanceCount: 1 });
    expect(container.resources.cpuIdle).toBe(false);
    expect(watcher.inputs.ingress).toBe('INGRESS_TRAFFIC_INTERNAL_ONLY');
    // Disabling the default URL needs a preview launch stage; the ingress and IAM refuse all.
    expect(watcher.inputs.defaultUriDisabled).toBeUndefined();
    expect(ofType(resources, types.invoker).map((i) => i.inputs.name)).not.toContain(
      'kubefn-watcher',
    );
    expect(container.startupProbe.httpGet.path).toBe(livenessPath);
    expect(container.livenessProbe.httpGet.path).toBe(livenessPath);
    expect(container.readinessProbe).toBeUndefined();
    expect(envOf(watcher).PUBSUB_PROJECT_ID).toBe(project);
    expect(envOf(watcher).KUBEFN_TOPIC).toBe(topicNames.changes);
    // Cloud Run sets PORT itself and refuses a revision that sets it.
    for (const s of ofType(resources, types.service)) expect(envOf(s).PORT).toBeUndefined();
    // The watcher publishes to its topic, and only there.
    const publishes = ofType(resources, types.topicMember).filter(
      (m) => m.inputs.member === sa('watcher'),
    );
    expect(publishes.map((m) => `${m.inputs.topic} ${m.inputs.role}`)).toEqual([
      `${topicNames.changes} roles/pubsub.publisher`,
    ]);
  });

  it('runs every service from its own archive on nodejs22, with no build, and protects each', () => {
    for (const s of ofType(resources, types.service)) {
      const name = s.inputs.name.replace(/^kubefn-/, '') as keyof Sources;
      const source = fakeSources()[name];
      const container = s.inputs.template.containers[0];
      expect(typeof s.inputs.deletionProtection).toBe('boolean');
      expect(s.inputs.buildConfig).toBeUndefined();
      expect(container.image).toBe('scratch');
      expect(container.baseImageUri).toMatch(/\/runtimes\/nodejs22$/);
      expect(container.sourceCode.cloudStorageSource).toEqual({
        bucket: `${project}-kubefn-sources`,
        object: `sources/${name}-${source.sha256}.tar.gz`,
        generation: '7',
      });
      expect([...container.commands, ...container.args]).toEqual(source.command);
    }
    expect(resources.map((r) => r.type)).not.toContain(
      'gcp:artifactregistry/repository:Repository',
    );
  });

  it('keeps pushes and Scheduler internal where no outside caller is configured', () => {
    const ingress = Object.fromEntries(
      ofType(resources, types.service).map((s) => [s.inputs.name, s.inputs.ingress]),
    );
    const outsideCallers = resources === everything.resources;
    const internal = 'INGRESS_TRAFFIC_INTERNAL_ONLY';
    expect(ingress).toEqual({
      'kubefn-provision': 'INGRESS_TRAFFIC_ALL', // the signup backend, Cloud Run to Cloud Run
      'kubefn-signup': 'INGRESS_TRAFFIC_ALL', // browsers
      'kubefn-label': outsideCallers ? 'INGRESS_TRAFFIC_ALL' : internal,
      'kubefn-ingress-timeout': outsideCallers ? 'INGRESS_TRAFFIC_ALL' : internal,
      'kubefn-watcher': internal,
    });
  });
});

it('changing a bundle changes its object name, and so its source location', async () => {
  const before = await deploy({}, fakeSources('a'));
  const changed = fakeSources('a');
  changed.label = { ...changed.label, sha256: 'f'.repeat(64) };
  changed.watcher = { ...changed.watcher, sha256: 'e'.repeat(64) };
  const after = await deploy({}, changed);
  const objects = (r: Registered[]) =>
    Object.fromEntries(ofType(r, types.bucketObject).map((o) => [o.name, o.inputs.name]));
  expect(objects(after.resources)['source-label']).toBe(`sources/label-${'f'.repeat(64)}.tar.gz`);
  expect(objects(after.resources)['source-watcher']).toBe(
    `sources/watcher-${'e'.repeat(64)}.tar.gz`,
  );
  expect(objects(after.resources)['source-provision']).toBe(
    objects(before.resources)['source-provision'],
  );
  const location = (r: Registered[], name: string) =>
    byName(r, types.service, name).inputs.template.containers[0].sourceCode.cloudStorageSource
      .object;
  expect(location(after.resources, 'kubefn-label')).not.toBe(
    location(before.resources, 'kubefn-label'),
  );
  expect(
    byName(after.resources, types.service, 'kubefn-watcher').inputs.template.containers[0]
      .sourceCode.cloudStorageSource.object,
  ).toBe(`sources/watcher-${'e'.repeat(64)}.tar.gz`);
});

// What the provider's types leave as `string` or `number`: Google's allowed values and ranges.
const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? Number.NaN);
const oneOf =
  (...values: unknown[]) =>
  (v: unknown) =>
    values.includes(v);
const between = (min: number, max: number) => (v: unknown) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const checks: [type: string, path: string, ok: (value: Value) => boolean][] = [
  [
    types.service,
    'ingress',
    oneOf(
      'INGRESS_TRAFFIC_ALL',
      'INGRESS_TRAFFIC_INTERNAL_ONLY',
      'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER',
    ),
  ],
  [
    types.service,
    'template.timeout',
    (t) => t === undefined || (seconds(t) >= 1 && seconds(t) <= 3600),
  ],
  [types.service, 'template.scaling.minInstanceCount', between(0, 1000)],
  [types.service, 'template.scaling.maxInstanceCount', between(1, 1000)],
  [
    types.service,
    'template.maxInstanceRequestConcurrency',
    (v) => v === undefined || between(1, 1000)(v),
  ],
  [types.service, 'template.containers.0.resources.limits.cpu', oneOf('1', '2', '4', '6', '8')],
  [types.service, 'template.containers.0.resources.limits.memory', (m) => /^\d+(Mi|Gi)$/.test(m)],
  [
    types.service,
    'template.containers.0.startupProbe.periodSeconds',
    (v) => v === undefined || between(1, 240)(v),
  ],
  [
    types.service,
    'template.containers.0.livenessProbe.periodSeconds',
    (v) => v === undefined || between(1, 3600)(v),
  ],
  [types.subscription, 'ackDeadlineSeconds', between(10, 600)],
  [
    types.subscription,
    'deadLetterPolicy.maxDeliveryAttempts',
    (v) => v === undefined || between(5, 100)(v),
  ],
  [
    types.subscription,
    'retryPolicy.minimumBackoff',
    (v) => v === undefined || (seconds(v) >= 0 && seconds(v) <= 600),
  ],
  [
    types.subscription,
    'retryPolicy.maximumBackoff',
    (v) => v === undefined || (seconds(v) >= 0 && seconds(v) <= 600),
  ],
  [
    types.subscription,
    'messageRetentionDuration',
    (v) => v === undefined || (seconds(v) >= 600 && seconds(v) <= 2678400), // 10 min to 31 days
  ],
  [types.subscription, 'filter', (f) => f === undefined || Buffer.byteLength(f) <= 256],
  [types.job, 'attemptDeadline', (d) => seconds(d) >= 15 && seconds(d) <= 1800],
  [
    types.job,
    'httpTarget.httpMethod',
    oneOf('POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  ],
  [types.job, 'retryConfig.retryCount', between(0, 5)],
  [types.job, 'schedule', (s) => /^\S+( \S+){4}$/.test(s)],
  [types.account, 'accountId', (id) => /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(id)],
  [types.customRole, 'roleId', (id) => /^[a-zA-Z0-9_.]{3,64}$/.test(id)],
  [
    types.bucket,
    'lifecycleRules',
    (rs) =>
      rs.every((r: Value) =>
        ['Delete', 'SetStorageClass', 'AbortIncompleteMultipartUpload'].includes(r.action.type),
      ),
  ],
  [types.bucketObject, 'name', (n) => /^sources\/[a-z-]+-[0-9a-f]{64}\.tar\.gz$/.test(n)],
];

it.each(checks)('%s %s is within what Google accepts', (type, path, ok) => {
  for (const [, resources] of variants) {
    const found = ofType(resources, type);
    expect(found.length).toBeGreaterThan(0);
    for (const r of found) {
      const value = path.split('.').reduce<Value>((o, key) => o?.[key], r.inputs);
      expect(ok(value), `${r.name}: ${path} = ${JSON.stringify(value)}`).toBe(true);
    }
  }
});
