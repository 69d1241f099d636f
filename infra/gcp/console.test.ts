// The operator console's deployment (infra/gcp/console.ts, functions.ts, env.ts) under Pulumi's
// mocks: none without a console in the spec; with one, a public service acting as its own
// account, which may invoke every cell's provision and is on each one's operator allow-list, reads
// its own two subscriptions and the dead letters, and publishes only to the triggers' topics.
import { expect, test } from 'vitest';
import { triggers } from '../subscriptions.ts';
import { consoleSubscriptionNames } from './console.ts';
import { deploy, envOf, ofType, types } from './mocks.fixture.ts';
import { topicNames } from './names.ts';

const consoleSa = 'serviceAccount:kubefn-console@kubefn-prod.iam.gserviceaccount.com';
const consoleSpec = {
  operators: ['ada@example.com', 'grace@example.com'],
  apiKey: 'AIzaSyMockOperatorKey00',
  googleClientId: '1234567890-abcdef.apps.googleusercontent.com',
};

test('no console in the spec: no console service, no grant to its account', async () => {
  const { resources } = await deploy();
  expect(ofType(resources, types.service).map((s) => s.inputs.name)).not.toContain(
    'kubefn-console',
  );
  expect(resources.filter((r) => r.inputs.member === consoleSa)).toEqual([]);
  for (const provision of ofType(resources, types.service).filter((s) =>
    s.inputs.name.endsWith('-provision'),
  ))
    expect(envOf(provision).KUBEFN_ALLOW_OPERATOR).toBe('');
});

test('a console: public, its own account, every cell, on each provision allow-list', async () => {
  const { resources } = await deploy({ console: consoleSpec });
  const service = ofType(resources, types.service).find((s) => s.inputs.name === 'kubefn-console');
  expect(service?.inputs.invokerIamDisabled).toBe(true);
  expect(service?.inputs.template.serviceAccount).toBe(
    'kubefn-console@kubefn-prod.iam.gserviceaccount.com',
  );
  expect(service?.inputs.template.scaling.maxInstanceCount).toBe(1);
  const env = envOf(service as never);
  expect(env.KUBEFN_CONSOLE_OPERATORS).toBe('ada@example.com,grace@example.com');
  expect(env.KUBEFN_OPERATOR_PROJECT).toBe('kubefn-prod');
  expect(env.KUBEFN_OPERATOR_AUTH_EMULATOR).toBeUndefined();
  expect(JSON.parse(env.KUBEFN_CELLS ?? '[]').map((c: { name: string }) => c.name)).toEqual([
    'eu1',
    'us1',
  ]);
  for (const provision of ofType(resources, types.service).filter((s) =>
    s.inputs.name.endsWith('-provision'),
  ))
    expect(envOf(provision).KUBEFN_ALLOW_OPERATOR).toBe(
      'kubefn-console@kubefn-prod.iam.gserviceaccount.com',
    );
  const invokes = resources.filter(
    (r) => r.inputs.role === 'roles/run.invoker' && r.inputs.member === consoleSa,
  );
  expect(invokes.map((r) => r.inputs.name).sort()).toEqual([
    'kubefn-eu1-provision',
    'kubefn-us1-provision',
  ]);
});

test("a console's Pub/Sub: its two subscriptions and the dead letters to read, the triggers' topics to replay to", async () => {
  const { resources } = await deploy({ console: consoleSpec });
  const subscriptions = resources.filter((r) => r.type === 'gcp:pubsub/subscription:Subscription');
  for (const name of Object.values(consoleSubscriptionNames)) {
    const sub = subscriptions.find((s) => s.inputs.name === name);
    expect(sub?.inputs.pushConfig).toBeUndefined();
    expect(sub?.inputs.messageRetentionDuration).toBe('3600s');
  }
  const granted = resources.filter(
    (r) => r.inputs.member === consoleSa && r.inputs.role !== 'roles/run.invoker',
  );
  expect(granted.filter((r) => r.inputs.role === 'roles/pubsub.subscriber')).toHaveLength(3);
  const published = granted
    .filter((r) => r.inputs.role === 'roles/pubsub.publisher')
    .map((r) => r.inputs.topic);
  expect(published.sort()).toEqual(
    [...new Set(Object.values(triggers).map((t) => topicNames[t.topic]))].sort(),
  );
  expect(
    granted.every(
      (r) =>
        r.inputs.role === 'roles/pubsub.subscriber' || r.inputs.role === 'roles/pubsub.publisher',
    ),
  ).toBe(true);
});

test.each([
  ['no operator', { ...consoleSpec, operators: [] }],
  ['an operator that is no email', { ...consoleSpec, operators: ['ada'] }],
  ['no Google client id', { operators: consoleSpec.operators, apiKey: consoleSpec.apiKey }],
])('a console with %s is refused', async (_, console) => {
  await expect(deploy({ console })).rejects.toThrow('console');
});
