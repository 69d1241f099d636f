// The environment the deployment writes, read by each deployable's own settings reader: a new
// required setting the deployment does not set, or a value it would refuse, fails here. And the
// allow-lists it writes, compared with who may invoke each service: one without the other is a
// 403 at Cloud Run or at kubefn.

import { describe, expect, it } from 'vitest';
import { createApp as ingressTimeoutApp } from '../../functions/ingress-timeout/app.ts';
import * as ingressTimeout from '../../functions/ingress-timeout/config.ts';
import { createApp as labelApp } from '../../functions/label/app.ts';
import * as label from '../../functions/label/config.ts';
import { createApp as placementApp } from '../../functions/placement/app.ts';
import * as placement from '../../functions/placement/config.ts';
import { createApp as provisionApp } from '../../functions/provision/app.ts';
import * as provision from '../../functions/provision/config.ts';
import * as signup from '../../functions/signup/config.ts';
import { watcherConfig } from '../../functions/watcher/config.ts';
import type { CallerRule } from '../../shared/auth/index.ts';
import { EnvError } from '../../shared/env.ts';
import { triggers } from '../subscriptions.ts';
import { baseSpec, deploy, envOf, ofType, type Registered, types } from './mocks.fixture.ts';

// A cluster CA as GKE gives it (clusterCaCertificate: base64 of the PEM).
const caPem = selfSignedPem('kubefn-test-ca');

import * as v from 'valibot';
import { CellsSchema } from '../../shared/cells.ts';
import { subjectsByIdentity } from '../../shared/identities.ts';
import { selfSignedPem } from '../../test/support/self-signed.ts';
import { cellAccountEmail, routes } from './names.ts';
import type { CellSpec } from './spec.ts';

const variants = [
  ['backendconfig mode', await deploy()],
  [
    'compute mode, with HTTP callers',
    await deploy({
      timeoutMode: 'compute',
      computeRegion: 'europe-west1',
      labelCallers:
        'ops@kubefn-prod.iam.gserviceaccount.com,ci@kubefn-prod.iam.gserviceaccount.com',
      ingressTimeoutCallers: 'ops@kubefn-prod.iam.gserviceaccount.com',
      operators: 'ops@kubefn-prod.iam.gserviceaccount.com',
    }),
  ],
  [
    "with one cell's cluster CA",
    await deploy({
      cells: [
        { ...baseSpec.cells[0], caCertificate: Buffer.from(caPem).toString('base64') },
        baseSpec.cells[1],
      ],
    }),
  ],
] as const;

const service = (resources: Registered[], name: string) => {
  const found = ofType(resources, types.service).find((s) => s.inputs.name === `kubefn-${name}`);
  if (!found) throw new Error(`no service kubefn-${name}`);
  return found;
};

describe.each(variants)('%s', (_, { spec, resources }) => {
  const env = (name: string) => envOf(service(resources, name));

  it.each(baseSpec.cells.map((c) => c.name))(
    "cell %s: is accepted by each deployable's settings reader, as the deployment means it",
    (name) => {
      const cell = spec.cells.find((c) => c.name === name) as CellSpec;
      const p = provision.settingsFromEnv(env(`${name}-provision`));
      expect(p.KUBEFN_CELL).toBe(name);
      expect(p.KUBEFN_MAX_TENANTS).toBe(cell.capacity);
      expect(p.KUBEFN_CLUSTER_SERVER).toBe(cell.endpoint);
      expect(p.KUBEFN_AUTH_PLATFORM_VERIFIED).toBe(true);
      label.settingsFromEnv(env(`${name}-label`));
      const i = ingressTimeout.settingsFromEnv(env(`${name}-ingress-timeout`));
      expect(i.KUBEFN_TIMEOUT_MODE).toBe(spec.timeoutMode);
      if (spec.timeoutMode === 'compute') expect(i.computeProject).toBe(spec.project);
      const w = watcherConfig(env(`${name}-watcher`));
      expect(w.projectId).toBe(spec.project);
      expect(w.cluster).toBe(name);
      expect(w.connection.KUBEFN_CLUSTER_SERVER).toBe(cell.endpoint);
      for (const settings of [p, i, w.connection])
        expect(settings.KUBEFN_CLUSTER_CA).toBe(cell.caCertificate);
    },
  );

  it('the signup backend calls placement, with the same tenant API', () => {
    const s = signup.settingsFromEnv(env('signup'));
    expect(s.KUBEFN_PROVISION_URL).toBe('https://kubefn-placement-x.a.run.app');
    expect(s.KUBEFN_PROVISION_AUDIENCE).toBe(env('placement').KUBEFN_AUTH_AUDIENCE);
  });

  it("placement's reader takes its env: every cell once, as shared/cells.ts's Cell", () => {
    const settings = placement.settingsFromEnv(env('placement'));
    const cells = v.parse(CellsSchema, JSON.parse(env('placement').KUBEFN_CELLS as string));
    expect(settings.cells).toEqual(cells);
    expect(settings.KUBEFN_ALLOW_TENANTS).toEqual([
      `kubefn-signup@${spec.project}.iam.gserviceaccount.com`,
    ]);
    expect(settings.GOOGLE_CLOUD_PROJECT).toBe(spec.project);
    expect(settings.KUBEFN_CLUSTER_SERVER).toBeUndefined();
    expect(cells.map((c) => c.name)).toEqual(spec.cells.map((c) => c.name));
    for (const cell of cells)
      expect(cell.audience).toBe(env(`${cell.name}-provision`).KUBEFN_AUTH_AUDIENCE);
  });

  it('writes allow-lists that match the invokers of each service exactly', () => {
    const allowed: Record<string, object> = {};
    for (const { name } of spec.cells) {
      allowed[`${name}-provision`] = provision.settingsFromEnv(env(`${name}-provision`));
      allowed[`${name}-label`] = label.settingsFromEnv(env(`${name}-label`));
      allowed[`${name}-ingress-timeout`] = ingressTimeout.settingsFromEnv(
        env(`${name}-ingress-timeout`),
      );
    }
    allowed.placement = placement.settingsFromEnv(env('placement'));
    for (const [name, settings] of Object.entries(allowed)) {
      const lists = Object.entries(settings)
        .filter(([key]) => key.startsWith('KUBEFN_ALLOW_'))
        .flatMap(([, list]) => list as string[]);
      const invokers = ofType(resources, types.invoker)
        .filter((m) => m.inputs.name === `kubefn-${name}`)
        .map((m) => String(m.inputs.member).replace(/^serviceAccount:/, ''));
      expect(new Set(lists), name).toEqual(new Set(invokers));
    }
  });
});

// A tenant's RoleBindings for label and ingress-timeout name the cell's own accounts
// (KUBEFN_RBAC_SUBJECTS google:<project>/<cell>), which the cell's RBAC install binds too.
it("a cell's tenant RoleBindings name that cell's label and ingress-timeout accounts", () => {
  const { resources } = variants[0][1];
  const p = provision.settingsFromEnv(envOf(service(resources, 'eu1-provision')));
  const subjects = subjectsByIdentity(p.KUBEFN_RBAC_SUBJECTS);
  expect(subjects.label.map((s) => s.name)).toEqual([
    cellAccountEmail('eu1', 'label', baseSpec.project),
  ]);
});

it('a setting a deployable requires and the deployment left out fails its reader', () => {
  const { resources } = variants[0][1];
  const { KUBEFN_AUTH_AUDIENCE: _, ...withoutAudience } = envOf(service(resources, 'eu1-label'));
  expect(() => label.settingsFromEnv(withoutAudience)).toThrow(EnvError);
});

// Any rule: no token is a 401 from a route that exists, a 404 from one that does not.
const rule: CallerRule = {
  audience: 'https://kubefn.example.com/x',
  platformVerified: true,
  issuers: [],
  allow: [],
};
const deps = Promise.resolve({
  caller: rule,
  resyncCaller: rule,
  pushCaller: rule,
  callers: { one: rule, push: rule, resync: rule, http: rule },
} as never);

it.each(Object.values(triggers))(
  '$subscription pushes to $target $route, a route its app serves, behind auth',
  async ({ target, route }) => {
    const app = {
      provision: provisionApp,
      label: labelApp,
      'ingress-timeout': ingressTimeoutApp,
      placement: placementApp,
    }[target](deps);
    expect((await app.request(route, { method: 'POST' })).status).toBe(401);
    expect((await app.request('/no-such-route', { method: 'POST' })).status).toBe(404);
  },
);

it.each([
  ['ingress-timeout', routes.resync, ingressTimeoutApp],
  ['provision', routes.resync, provisionApp],
])('%s serves POST %s, the route Cloud Scheduler calls, behind auth', async (_, route, app) => {
  expect((await app(deps).request(route, { method: 'POST' })).status).toBe(401);
  expect((await app(deps).request('/no-such-route', { method: 'POST' })).status).toBe(404);
});

it('calls every route a function serves for Pub/Sub or Cloud Scheduler, and only those', async () => {
  const { resources } = variants[0][1];
  const apps = { label: labelApp, 'ingress-timeout': ingressTimeoutApp, provision: provisionApp };
  const serves = async (route: string) => {
    const names: string[] = [];
    for (const [name, app] of Object.entries(apps))
      if ((await app(deps).request(route, { method: 'POST' })).status !== 404) names.push(name);
    return names.sort();
  };
  // The function a URL reaches, whichever cell's: kubefn-eu1-label is label.
  const targets = (urls: string[]) =>
    [
      ...new Set(
        urls.map(
          (url) =>
            /^https:\/\/kubefn-[a-z0-9-]+?-(provision|label|ingress-timeout)-x\.a\.run\.app\//.exec(
              url,
            )?.[1],
        ),
      ),
    ].sort();
  const pushed = ofType(resources, types.subscription)
    .filter((s) => s.inputs.pushConfig)
    .map((s) => s.inputs.pushConfig.pushEndpoint);
  const on = (route: string) => pushed.filter((url: string) => url.endsWith(route));
  // Placement's job (global) is checked in kubefn.test.ts, its route in test/cells.
  const scheduled = ofType(resources, types.job)
    .map((j) => j.inputs.httpTarget.uri)
    .filter((uri: string) => !uri.startsWith('https://kubefn-placement-'));
  expect(targets(on(routes.push))).toEqual(await serves(routes.push));
  expect(targets(on(routes.resyncBatches))).toEqual(await serves(routes.resyncBatches));
  expect(targets(scheduled)).toEqual(await serves(routes.resync));
});
