// The environment the deployment writes, read by each deployable's own settings reader: a new
// required setting the deployment does not set, or a value it would refuse, fails here. And the
// allow-lists it writes, compared with who may invoke each service: one without the other is a
// 403 at Cloud Run or at kubefn.

import { describe, expect, it } from 'vitest';
import { createApp as ingressTimeoutApp } from '../../functions/ingress-timeout/app.ts';
import * as ingressTimeout from '../../functions/ingress-timeout/config.ts';
import { createApp as labelApp } from '../../functions/label/app.ts';
import * as label from '../../functions/label/config.ts';
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

import { selfSignedPem } from '../../test/support/self-signed.ts';
import { routes } from './names.ts';

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
    }),
  ],
  [
    'with the cluster CA',
    await deploy({
      cluster: { ...baseSpec.cluster, caCertificate: Buffer.from(caPem).toString('base64') },
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

  it("is accepted by every deployable's settings reader, as the deployment means it", () => {
    const p = provision.settingsFromEnv(env('provision'));
    expect(p.KUBEFN_RBAC_SUBJECTS).toEqual([{ kind: 'google', project: spec.project }]);
    expect(p.KUBEFN_CLUSTER_SERVER).toBe(spec.cluster.endpoint);
    expect(p.KUBEFN_AUTH_PLATFORM_VERIFIED).toBe(true);
    label.settingsFromEnv(env('label'));
    const i = ingressTimeout.settingsFromEnv(env('ingress-timeout'));
    expect(i.KUBEFN_TIMEOUT_MODE).toBe(spec.timeoutMode);
    if (spec.timeoutMode === 'compute') expect(i.computeProject).toBe(spec.project);
    const s = signup.settingsFromEnv(env('signup'));
    expect(s.KUBEFN_PROVISION_URL).toBe('https://kubefn-provision-x.a.run.app');
    expect(s.KUBEFN_PROVISION_AUDIENCE).toBe(env('provision').KUBEFN_AUTH_AUDIENCE);
    const w = watcherConfig(env('watcher'));
    expect(w.projectId).toBe(spec.project);
    expect(w.cluster).toBe(spec.cluster.name);
    expect(w.connection.KUBEFN_CLUSTER_SERVER).toBe(spec.cluster.endpoint);
    for (const settings of [p, i, w.connection])
      expect(settings.KUBEFN_CLUSTER_CA).toBe(spec.cluster.caCertificate);
  });

  it('writes allow-lists that match the invokers of each service exactly', () => {
    const allowed = {
      provision: provision.settingsFromEnv(env('provision')),
      label: label.settingsFromEnv(env('label')),
      'ingress-timeout': ingressTimeout.settingsFromEnv(env('ingress-timeout')),
    };
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

it('a setting a deployable requires and the deployment left out fails its reader', () => {
  const { resources } = variants[0][1];
  const { KUBEFN_AUTH_AUDIENCE: _, ...withoutAudience } = envOf(service(resources, 'label'));
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

it.each(Object.values(triggers).filter((t) => t.target !== 'placement'))(
  '$subscription pushes to $target $route, a route its app serves, behind auth',
  async ({ target, route }) => {
    const app = { provision: provisionApp, label: labelApp, 'ingress-timeout': ingressTimeoutApp }[
      target as 'provision'
    ](deps);
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
  const targets = (urls: string[]) =>
    urls.map((url) => /^https:\/\/kubefn-(.+)-x\.a\.run\.app\//.exec(url)?.[1]).sort();
  const pushed = ofType(resources, types.subscription)
    .filter((s) => s.inputs.pushConfig)
    .map((s) => s.inputs.pushConfig.pushEndpoint);
  const on = (route: string) => pushed.filter((url: string) => url.endsWith(route));
  const scheduled = ofType(resources, types.job).map((j) => j.inputs.httpTarget.uri);
  expect(targets(on(routes.push))).toEqual(await serves(routes.push));
  expect(targets(on(routes.resyncBatches))).toEqual(await serves(routes.resyncBatches));
  expect(targets(scheduled)).toEqual(await serves(routes.resync));
});
