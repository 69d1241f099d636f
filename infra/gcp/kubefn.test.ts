// The deployment's invariants, checked on what defineKubefn registers under Pulumi's mocks
// (offline; no Pulumi CLI, no Google). The fixture's spec has two cells in two regions, so every
// per-cell rule is checked against a neighbour: one watcher per cell, each function reaching its
// own cell's cluster only (placement: every cell's provision, nothing else), and nothing of one
// cell able to act on another's cluster. What the provider schema does not type (enum strings,
// ranges) is checked by the table at the end.
import { describe, expect, it } from 'vitest';
import { clusterIdentities } from '../../shared/identities.ts';
import { cellTrigger, type Trigger, topics, triggers } from '../subscriptions.ts';
import { clusterResourceName } from './accounts.ts';
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
import {
  type CellDeployable,
  cellAccountEmail,
  cellFunctions,
  cellServiceName,
  delivery,
  type GlobalAccount,
  globalAccountId,
  livenessPath,
  routes,
  type Sources,
  topicNames,
} from './names.ts';

const { project, audienceBase } = baseSpec;
const email = (name: GlobalAccount) =>
  `${globalAccountId(name)}@${project}.iam.gserviceaccount.com`;
const sa = (name: GlobalAccount) => `serviceAccount:${email(name)}`;
const cellSa = (cell: string, identity: CellDeployable) =>
  `serviceAccount:${cellAccountEmail(cell, identity, project)}`;
const pubsubAgent = `serviceAccount:service-${projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;
const url = (service: string) => `https://${service}-x.a.run.app`;

const byName = (resources: Registered[], type: string, name: string) => {
  const found = ofType(resources, type).filter((r) => r.inputs.name === name);
  if (found.length !== 1) throw new Error(`${found.length} ${type} named ${name}`);
  return found[0] as Registered;
};
const serviceByUri = (resources: Registered[], uri: string) => {
  const found = ofType(resources, types.service).find((s) =>
    uri.startsWith(`${url(s.inputs.name)}/`),
  );
  if (!found) throw new Error(`no service serves ${uri}`);
  return found;
};
const standard = await deploy();
const billing = 'billing@kubefn-prod.iam.gserviceaccount.com';
const ops = 'ops@kubefn-prod.iam.gserviceaccount.com';
const everything = await deploy({
  timeoutMode: 'compute',
  computeRegion: 'europe-west1',
  labelCallers: ops,
  ingressTimeoutCallers: ops,
  tenantRequestPublishers: billing,
  operators: ops,
  cells: [
    ...baseSpec.cells,
    {
      name: 'asia-east-12', // the longest name a cell may have
      region: 'asia-east1',
      endpoint: 'https://gke-89abcdef-123456789012.asia-east1.gke.goog',
      gkeCluster: 'kubefn-asia',
    },
  ],
});
const variants = [
  ['two cells, backendconfig mode, no extra callers', standard],
  ['three cells, compute mode, with HTTP callers', everything],
] as const;

describe.each(variants)('%s', (_, { spec, resources }) => {
  const subscriptions = ofType(resources, types.subscription);
  const pushes = subscriptions.filter((s) => s.inputs.pushConfig);
  const services = ofType(resources, types.service);
  const cellNames = spec.cells.map((c) => c.name);
  const extra = resources === everything.resources;
  const cellService = (cell: string, name: CellDeployable) =>
    byName(resources, types.service, cellServiceName(cell, name));
  const invokers = (service: string) =>
    ofType(resources, types.invoker)
      .filter((m) => m.inputs.name === service)
      .map((m) => {
        expect(m.inputs.role).toBe('roles/run.invoker');
        return m.inputs.member as string;
      })
      .sort();

  it('defines the global accounts once and four of its own per cell, each cell apart', () => {
    const accounts = ofType(resources, types.account).map((a) => a.inputs.accountId);
    expect(accounts.sort()).toEqual(
      [
        'kubefn-placement',
        'kubefn-push',
        'kubefn-scheduler',
        'kubefn-signup',
        ...cellNames.flatMap((cell) =>
          ['provision', 'label', 'ingress', 'watcher'].map((a) => `kubefn-${cell}-${a}`),
        ),
      ].sort(),
    );
    expect(new Set(accounts).size).toBe(accounts.length);
    for (const name of ['signup', 'placement'])
      expect(
        byName(resources, types.service, `kubefn-${name}`).inputs.template.serviceAccount,
      ).toBe(`kubefn-${name}@${project}.iam.gserviceaccount.com`);
    for (const cell of cellNames)
      for (const identity of clusterIdentities)
        expect(cellService(cell, identity).inputs.template.serviceAccount).toBe(
          cellAccountEmail(cell, identity, project),
        );
  });

  it('runs exactly one watcher per cell, on its own cell, in its region', () => {
    const watchers = services.filter((s) => s.inputs.name.endsWith('-watcher'));
    expect(watchers.map((w) => w.inputs.name).sort()).toEqual(
      cellNames.map((cell) => cellServiceName(cell, 'watcher')).sort(),
    );
    for (const cell of spec.cells) {
      const watcher = cellService(cell.name, 'watcher');
      expect(watcher.inputs.location).toBe(cell.region);
      expect(envOf(watcher).KUBEFN_CELL).toBe(cell.name);
      expect(envOf(watcher).KUBEFN_CLUSTER_SERVER).toBe(cell.endpoint);
      expect(watcher.inputs.template.scaling).toEqual({ minInstanceCount: 1, maxInstanceCount: 1 });
    }
  });

  it("runs each cell's functions in its region, named after it, with its name", () => {
    expect(services.map((s) => s.inputs.name).sort()).toEqual(
      [
        'kubefn-placement',
        'kubefn-signup',
        ...cellNames.flatMap((cell) =>
          [...cellFunctions, 'watcher' as const].map((n) => cellServiceName(cell, n)),
        ),
      ].sort(),
    );
    for (const cell of spec.cells)
      for (const name of cellFunctions) {
        const s = cellService(cell.name, name);
        expect(s.inputs.location).toBe(cell.region);
        expect(envOf(s).KUBEFN_CELL).toBe(cell.name);
        expect(s.inputs.template.containers[0].baseImageUri).toMatch(
          new RegExp(`^${cell.region}-docker\\.pkg\\.dev/`),
        );
      }
    for (const name of ['kubefn-signup', 'kubefn-placement'])
      expect(byName(resources, types.service, name).inputs.location).toBe(spec.region);
  });

  it('gives every function exactly the clusters it must reach: its own cell, or none', () => {
    const endpoints = spec.cells.map((c) => c.endpoint);
    const reached = (s: Registered) =>
      endpoints.filter((e) => JSON.stringify(envOf(s)).includes(new URL(e).host));
    for (const cell of spec.cells)
      for (const name of [...cellFunctions, 'watcher' as const]) {
        const s = cellService(cell.name, name);
        expect(reached(s), s.inputs.name).toEqual([cell.endpoint]);
        expect(envOf(s).KUBEFN_CLUSTER_SERVER).toBe(cell.endpoint);
        // Nothing of another cell: not its name in any setting, nor its accounts.
        for (const other of cellNames.filter((c) => c !== cell.name))
          expect(JSON.stringify(envOf(s)), `${s.inputs.name} names ${other}`).not.toMatch(
            new RegExp(`kubefn-${other}-|/${other}/|"${other}"`),
          );
      }
    for (const name of ['kubefn-signup', 'kubefn-placement']) {
      const s = byName(resources, types.service, name);
      expect(reached(s), name).toEqual([]);
      expect(envOf(s).KUBEFN_CLUSTER_SERVER).toBeUndefined();
    }
  });

  it("lists every cell's provision in placement's KUBEFN_CELLS, and nothing else of them", () => {
    const placement = envOf(byName(resources, types.service, 'kubefn-placement'));
    expect(JSON.parse(placement.KUBEFN_CELLS as string)).toEqual(
      spec.cells.map((cell) => ({
        name: cell.name,
        region: cell.region,
        provisionUrl: url(cellServiceName(cell.name, 'provision')),
        audience: `${audienceBase}/${cell.name}/provision`,
        capacity: cell.capacity,
      })),
    );
    for (const cell of spec.cells)
      expect(cellService(cell.name, 'provision').inputs.customAudiences).toEqual([
        `${audienceBase}/${cell.name}/provision`,
      ]);
    expect(placement.KUBEFN_ALLOW_TENANTS).toBe(email('signup'));
    expect(placement.KUBEFN_ALLOW_PUSH).toBe(email('push'));
    expect(placement.GOOGLE_CLOUD_PROJECT).toBe(project);
    expect(placement.KUBEFN_FIRESTORE_DATABASE).toBe('(default)');
    expect(placement.KUBEFN_AUTH_AUDIENCE).toBe(`${audienceBase}/placement`);
    const signup = envOf(byName(resources, types.service, 'kubefn-signup'));
    expect(signup.KUBEFN_PROVISION_URL).toBe(url('kubefn-placement'));
    expect(signup.KUBEFN_PROVISION_AUDIENCE).toBe(`${audienceBase}/placement`);
  });

  it('lets no principal of one cell invoke, or connect to, anything of another', () => {
    const cellAccounts = (cell: string) => clusterIdentities.map((i) => cellSa(cell, i));
    // No cell account invokes any service: cells do not call each other, or placement.
    const allCellAccounts = cellNames.flatMap(cellAccounts);
    for (const m of ofType(resources, types.invoker))
      expect(allCellAccounts, m.inputs.name).not.toContain(m.inputs.member);
    // The only invoker grant that crosses into a cell is placement's on its provision.
    for (const cell of cellNames) {
      const own = [...cellFunctions, 'watcher' as const].flatMap((n) =>
        invokers(cellServiceName(cell, n)),
      );
      expect(own.filter((m) => m === sa('placement'))).toEqual([sa('placement')]);
      expect(invokers(cellServiceName(cell, 'provision'))).toContain(sa('placement'));
    }
    // GKE connect: each cell account on its own cluster only, by an IAM condition.
    const connect = ofType(resources, types.projectMember).filter((m) =>
      String(m.inputs.role).endsWith('/roles/kubefnClusterConnect'),
    );
    expect(connect).toHaveLength(cellNames.length * clusterIdentities.length);
    for (const cell of spec.cells)
      for (const member of cellAccounts(cell.name)) {
        const grants = connect.filter((m) => m.inputs.member === member);
        expect(grants, member).toHaveLength(1);
        expect(grants[0]?.inputs.condition?.expression).toBe(
          `resource.name == "${clusterResourceName(project, cell)}"`,
        );
      }
  });

  it('pushes each per-cell trigger once per cell to that cell, a global one once to placement', () => {
    type Expected = { trigger: Trigger; service: string; audience: string };
    const expected = (Object.values(triggers) as Trigger[]).flatMap((trigger): Expected[] =>
      trigger.scope === 'global'
        ? [{ trigger, service: 'kubefn-placement', audience: `${audienceBase}/placement` }]
        : cellNames.map((cell) => ({
            trigger: cellTrigger(trigger, cell),
            service: cellServiceName(cell, trigger.target as CellDeployable),
            audience: `${audienceBase}/${cell}/${trigger.target}`,
          })),
    );
    expect(pushes.map((s) => s.inputs.name).sort()).toEqual(
      expected.map((e) => e.trigger.subscription).sort(),
    );
    for (const { trigger, service, audience } of expected) {
      const s = byName(resources, types.subscription, trigger.subscription);
      expect(s.inputs.topic).toBe(topics[trigger.topic]);
      expect(s.inputs.pushConfig.pushEndpoint).toBe(`${url(service)}${trigger.route}`);
      expect(s.inputs.pushConfig.oidcToken).toEqual({
        serviceAccountEmail: email('push'),
        audience,
      });
      expect(s.inputs.filter).toBe(trigger.filter);
      expect(s.inputs.enableMessageOrdering).toBe(trigger.ordered);
    }
    // A cell's subscriptions hear only its own watcher's messages.
    for (const cell of cellNames)
      for (const s of pushes.filter((p) => p.inputs.name.endsWith(`-${cell}`)))
        expect(s.inputs.filter).toMatch(new RegExp(`^attributes\\.cluster = "${cell}"`));
  });

  it('pushes with the push account, to a target that allows it, and waits long enough', () => {
    for (const s of pushes) {
      const { pushEndpoint, oidcToken } = s.inputs.pushConfig;
      const target = serviceByUri(resources, pushEndpoint);
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

  it("lets placement forward tenant requests to each cell's /pubsub/tenants, and no one else", () => {
    for (const cell of cellNames) {
      const env = envOf(cellService(cell, 'provision'));
      expect(env.KUBEFN_ALLOW_PROVISION).toBe(email('placement'));
      expect(env.KUBEFN_ALLOW_PUSH?.split(',').sort()).toEqual(
        [email('push'), email('placement')].sort(),
      );
    }
  });

  it('has a subscription on every topic kubefn publishes to, so nothing published is lost', () => {
    const defined = ofType(resources, types.topic).map((t) => t.inputs.name);
    expect(defined.sort()).toEqual(Object.values(topics).sort());
    const read = new Set([
      ...Object.values(triggers).map((t) => topics[t.topic]),
      topicNames.deadLetter,
    ]);
    for (const topic of read)
      expect(
        subscriptions.filter((s) => s.inputs.topic === topic).length,
        `subscriptions on ${topic}`,
      ).toBeGreaterThan(0);
  });

  it('lets exactly the configured publishers publish tenant requests', () => {
    const publishers = ofType(resources, types.topicMember)
      .filter((m) => m.inputs.topic === topicNames.tenantRequests)
      .map((m) => `${m.inputs.role} ${m.inputs.member}`);
    expect(publishers).toEqual(extra ? [`roles/pubsub.publisher serviceAccount:${billing}`] : []);
  });

  it("lets a cell's watcher and provision publish, each to its topics only", () => {
    for (const cell of cellNames) {
      const of = (identity: CellDeployable) =>
        ofType(resources, types.topicMember)
          .filter((m) => m.inputs.member === cellSa(cell, identity))
          .map((m) => `${m.inputs.topic} ${m.inputs.role}`)
          .sort();
      expect(of('watcher')).toEqual([`${topicNames.changes} roles/pubsub.publisher`]);
      expect(of('provision')).toContain(`${topicNames.resyncBatches} roles/pubsub.publisher`);
      expect(of('provision').every((g) => g.endsWith(' roles/pubsub.publisher'))).toBe(true);
      expect(of('label')).toEqual([]);
      expect(of('ingress-timeout')).toEqual([]);
    }
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

  it("calls each cell's /resync and placement's from Cloud Scheduler in their region, with the audience", () => {
    const jobs = ofType(resources, types.job);
    // Placement's, global: rounds of moves off the cells being drained, deleted tenants forgotten.
    expect(jobs.map((j) => j.inputs.name).sort()).toEqual(
      [
        'kubefn-placement-resync',
        ...cellNames.flatMap((cell) => [
          `kubefn-${cell}-ingress-timeout-resync`,
          `kubefn-${cell}-provision-resync`,
        ]),
      ].sort(),
    );
    for (const job of jobs) {
      const { uri, httpMethod, oidcToken } = job.inputs.httpTarget;
      const target = serviceByUri(resources, uri);
      expect(job.inputs.name).toBe(`${target.inputs.name}-resync`);
      expect(job.inputs.region).toBe(target.inputs.location);
      expect(uri).toBe(`${url(target.inputs.name)}${routes.resync}`);
      expect(httpMethod).toBe('POST');
      expect(oidcToken.serviceAccountEmail).toBe(email('scheduler'));
      expect(target.inputs.customAudiences).toEqual([oidcToken.audience]);
      expect(envOf(target).KUBEFN_ALLOW_RESYNC).toBe(email('scheduler'));
    }
  });

  it('lets only the intended principals invoke each service', () => {
    const callers = extra ? [`serviceAccount:${ops}`] : [];
    // The signup backend, tenant requests' pushes, placement's round and the operators' moves.
    expect(invokers('kubefn-placement')).toEqual(
      [sa('push'), sa('signup'), sa('scheduler'), ...callers].sort(),
    );
    expect(envOf(byName(resources, types.service, 'kubefn-placement')).KUBEFN_ALLOW_OPERATOR).toBe(
      extra ? ops : '',
    );
    expect(invokers('kubefn-signup')).toEqual([]);
    for (const cell of cellNames) {
      expect(invokers(cellServiceName(cell, 'provision'))).toEqual(
        [sa('push'), sa('scheduler'), sa('placement'), ...callers].sort(),
      );
      // The operators who decide on held deletions: none unless the spec names them.
      expect(envOf(cellService(cell, 'provision')).KUBEFN_ALLOW_OPERATOR).toBe(extra ? ops : '');
      expect(invokers(cellServiceName(cell, 'label'))).toEqual([sa('push'), ...callers].sort());
      expect(invokers(cellServiceName(cell, 'ingress-timeout'))).toEqual(
        [sa('push'), sa('scheduler'), ...callers].sort(),
      );
      expect(invokers(cellServiceName(cell, 'watcher'))).toEqual([]);
    }
    const iamChecked = services.filter((s) => !s.inputs.invokerIamDisabled);
    expect(iamChecked.map((s) => s.inputs.name)).not.toContain('kubefn-signup');
    expect(iamChecked).toHaveLength(services.length - 1);
    // The public page is public by the service's own setting, not by an allUsers binding.
    expect(byName(resources, types.service, 'kubefn-signup').inputs.invokerIamDisabled).toBe(true);
    // Claims-only auth exactly where Cloud Run's IAM check has verified the token.
    for (const s of iamChecked.filter((s) => !s.inputs.name.endsWith('-watcher')))
      expect(envOf(s).KUBEFN_AUTH_PLATFORM_VERIFIED).toBe('true');
  });

  it('enables the APIs it uses (Compute only in compute mode) and never disables them', () => {
    const apis = ofType(resources, types.api);
    const names = apis.map((a) => a.inputs.service);
    for (const api of ['run', 'storage', 'pubsub', 'cloudscheduler', 'iam', 'firestore'])
      expect(names).toContain(`${api}.googleapis.com`);
    // Nothing is built: no Cloud Build, no image registry.
    expect(names).not.toContain('cloudbuild.googleapis.com');
    expect(names).not.toContain('artifactregistry.googleapis.com');
    expect(names.includes('compute.googleapis.com')).toBe(extra);
    for (const a of apis) expect(a.inputs.disableOnDestroy).toBe(false);
  });

  it("keeps placement's store in one native Firestore database only placement may use", () => {
    const stores = ofType(resources, types.firestore);
    expect(stores).toHaveLength(1);
    expect(stores[0]?.inputs).toMatchObject({
      project,
      name: '(default)',
      locationId: spec.region,
      type: 'FIRESTORE_NATIVE',
      deleteProtectionState: 'DELETE_PROTECTION_ENABLED',
    });
    const datastore = ofType(resources, types.projectMember).filter((m) =>
      String(m.inputs.role).startsWith('roles/datastore.'),
    );
    expect(datastore.map((m) => `${m.inputs.role} ${m.inputs.member}`)).toEqual([
      `roles/datastore.user ${sa('placement')}`,
    ]);
  });

  it('ships no key, kubeconfig or client certificate: every identity uses metadata tokens', () => {
    expect(resources.map((r) => r.type)).not.toContain('gcp:serviceaccount/key:Key');
    for (const s of services) {
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

  it("caps each cell's provision (3 instances of 10 requests), its capacity its ceiling", () => {
    for (const cell of spec.cells) {
      const provision = cellService(cell.name, 'provision');
      expect(provision.inputs.template.scaling.maxInstanceCount).toBe(3);
      expect(provision.inputs.template.maxInstanceRequestConcurrency).toBe(10);
      expect(envOf(provision).KUBEFN_MAX_TENANTS).toBe(String(cell.capacity));
      // Its outcome events go to the one topic the billing or CRM system hears.
      expect(envOf(provision).KUBEFN_OUTCOMES_TOPIC).toBe(topicNames.tenantOutcomes);
    }
    // ... and so do placement's moves, which it may publish there.
    const placement = byName(resources, types.service, 'kubefn-placement');
    expect(envOf(placement).KUBEFN_OUTCOMES_TOPIC).toBe(topicNames.tenantOutcomes);
    const publishers = ofType(resources, types.topicMember)
      .filter(
        (m) => m.inputs.role === 'roles/pubsub.publisher' && m.inputs.member === sa('placement'),
      )
      .map((m) => m.inputs.topic);
    expect(publishers).toEqual([topicNames.tenantOutcomes]);
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

  it('grants project-wide only the narrow custom roles, and Firestore to placement', () => {
    const roles = ofType(resources, types.customRole);
    expect(roles.map((r) => r.inputs.roleId).sort()).toEqual(
      extra ? ['kubefnBackendTimeout', 'kubefnClusterConnect'] : ['kubefnClusterConnect'],
    );
    const grants = ofType(resources, types.projectMember).map(
      (m) => `${m.inputs.role} ${m.inputs.member}`,
    );
    const connect = `projects/${project}/roles/kubefnClusterConnect`;
    expect(grants.sort()).toEqual(
      [
        ...cellNames.flatMap((cell) =>
          clusterIdentities.map((i) => `${connect} ${cellSa(cell, i)}`),
        ),
        `roles/datastore.user ${sa('placement')}`,
        ...(extra
          ? cellNames.map(
              (cell) =>
                `projects/${project}/roles/kubefnBackendTimeout ${cellSa(cell, 'ingress-timeout')}`,
            )
          : []),
      ].sort(),
    );
    expect(JSON.stringify(resources)).not.toMatch(
      /roles\/(editor|owner|container\.(developer|admin|clusterViewer)|compute\.(admin|loadBalancerAdmin))"/,
    );
  });

  it('runs each watcher as one always-on, internal instance nobody invokes, probed on /livez', () => {
    for (const cell of cellNames) {
      const watcher = cellService(cell, 'watcher');
      const container = watcher.inputs.template.containers[0];
      expect(container.resources.cpuIdle).toBe(false);
      expect(watcher.inputs.ingress).toBe('INGRESS_TRAFFIC_INTERNAL_ONLY');
      // Disabling the default URL needs a preview launch stage; the ingress and IAM refuse all.
      expect(watcher.inputs.defaultUriDisabled).toBeUndefined();
      expect(container.startupProbe.httpGet.path).toBe(livenessPath);
      expect(container.livenessProbe.httpGet.path).toBe(livenessPath);
      expect(container.readinessProbe).toBeUndefined();
      expect(envOf(watcher).PUBSUB_PROJECT_ID).toBe(project);
      expect(envOf(watcher).KUBEFN_TOPIC).toBe(topicNames.changes);
    }
    // Cloud Run sets PORT itself and refuses a revision that sets it.
    for (const s of services) expect(envOf(s).PORT).toBeUndefined();
  });

  it('runs every service from its own archive on nodejs22, with no build, and protects each', () => {
    const deployable = (name: string) =>
      (name.endsWith('-ingress-timeout')
        ? 'ingress-timeout'
        : name.split('-').pop()) as keyof Sources;
    for (const s of services) {
      const name = deployable(s.inputs.name);
      const source = fakeSources()[name];
      const container = s.inputs.template.containers[0];
      expect(typeof s.inputs.deletionProtection).toBe('boolean');
      expect(s.inputs.buildConfig).toBeUndefined();
      expect(container.image).toBe('scratch');
      expect(container.baseImageUri).toBe(
        `${s.inputs.location}-docker.pkg.dev/serverless-runtimes/google-22-full/runtimes/nodejs22`,
      );
      expect(container.sourceCode.cloudStorageSource).toEqual({
        bucket: `${project}-kubefn-sources`,
        object: `sources/${name}-${source.sha256}.tar.gz`,
        generation: '7',
      });
      expect([...container.commands, ...container.args]).toEqual(source.command);
    }
    // One upload per deployable, whatever the number of cells.
    expect(
      ofType(resources, types.bucketObject)
        .map((o) => o.name)
        .sort(),
    ).toEqual(
      Object.keys(fakeSources())
        // The console's only with a console in the spec (console.test.ts).
        .filter((n) => n !== 'console')
        .map((n) => `source-${n}`)
        .sort(),
    );
    expect(resources.map((r) => r.type)).not.toContain(
      'gcp:artifactregistry/repository:Repository',
    );
  });

  it('keeps pushes and Scheduler internal where no outside caller is configured', () => {
    const ingress = Object.fromEntries(services.map((s) => [s.inputs.name, s.inputs.ingress]));
    const internal = 'INGRESS_TRAFFIC_INTERNAL_ONLY';
    expect(ingress).toEqual({
      'kubefn-signup': 'INGRESS_TRAFFIC_ALL', // browsers
      'kubefn-placement': 'INGRESS_TRAFFIC_ALL', // the signup backend, Cloud Run to Cloud Run
      ...Object.fromEntries(
        cellNames.flatMap((cell) => [
          [cellServiceName(cell, 'provision'), 'INGRESS_TRAFFIC_ALL'], // placement
          [cellServiceName(cell, 'label'), extra ? 'INGRESS_TRAFFIC_ALL' : internal],
          [cellServiceName(cell, 'ingress-timeout'), extra ? 'INGRESS_TRAFFIC_ALL' : internal],
          [cellServiceName(cell, 'watcher'), internal],
        ]),
      ),
    });
  });
});

it("adding a cell adds that cell's part and changes nothing of the others", async () => {
  const one = await deploy({ cells: [baseSpec.cells[0]] });
  const two = standard;
  const inputs = (r: Registered[]) =>
    new Map(
      r
        .filter((x) => x.type !== types.service || !x.inputs.name.includes('placement'))
        .map((x) => [`${x.type} ${x.name}`, JSON.stringify(x.inputs)]),
    );
  const before = inputs(one.resources);
  const after = inputs(two.resources);
  // Everything the one-cell deployment had is there unchanged, but placement (one more cell).
  for (const [key, value] of before) expect(after.get(key), key).toBe(value);
  const added = [...after.keys()].filter((key) => !before.has(key));
  expect(added.length).toBeGreaterThan(0);
  for (const key of added) expect(key, 'only the new cell is added').toMatch(/us1/);
}, 30_000);

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
  for (const cell of ['eu1', 'us1']) {
    expect(location(after.resources, `kubefn-${cell}-label`)).not.toBe(
      location(before.resources, `kubefn-${cell}-label`),
    );
    expect(location(after.resources, `kubefn-${cell}-watcher`)).toBe(
      `sources/watcher-${'e'.repeat(64)}.tar.gz`,
    );
  }
}, 30_000);

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
  // Cloud Run: at most 49 characters, lowercase letters, digits and dashes.
  [types.service, 'name', (n) => /^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$/.test(n)],
  [types.firestore, 'type', oneOf('FIRESTORE_NATIVE')],
  [
    types.projectMember,
    'condition',
    (c) => c === undefined || /^resource\.name == "projects\/[^"]+"$/.test(c.expression),
  ],
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
  for (const [, { resources }] of variants) {
    const found = ofType(resources, type);
    expect(found.length).toBeGreaterThan(0);
    for (const r of found) {
      const value = path.split('.').reduce<Value>((o, key) => o?.[key], r.inputs);
      expect(ok(value), `${r.name}: ${path} = ${JSON.stringify(value)}`).toBe(true);
    }
  }
});
