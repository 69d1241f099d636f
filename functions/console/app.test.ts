// The operator console's backend through app.request(), with the Auth emulator's kind of token
// (unsigned, the verifier in emulator mode) and two recorders in the cells' provisions' places:
// who is answered (a stranger 401, a customer or any non-operator 403, an operator 200), that a
// refusal or a bad input reaches no cell, and that every action is one audit line naming the
// operator. Pub/Sub is an in-memory stand-in for infra/dead-letters.ts's operations here; the
// real emulator is the cells console test's (test/cells/console.test.ts).
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import type { DeadLetter, PubsubOps } from '../../infra/dead-letters.ts';
import {
  identityPlatformIssuer,
  identityPlatformIssuerName,
  verifyCustomerToken,
} from '../../shared/auth/identity-platform.ts';
import type { Cell } from '../../shared/cells.ts';
import type { LogFields, Severity } from '../../shared/log.ts';
import { createApp } from './app.ts';
import type { ConsoleDeps } from './handler.ts';
import { page } from './page.ts';

const projectId = 'demo-kubefn';
type Received = { cell: string; method: string; url: string; authorization: string; body: unknown };
let received: Received[] = [];
let logs: { severity: Severity; message: string; fields: LogFields | undefined }[] = [];
let down = new Set<string>();
const servers: Server[] = [];
let deps: ConsoleDeps;
let app: ReturnType<typeof createApp>;

const tenantOf = (cell: string, customerId: string) => ({
  customerId,
  namespace: `tenant-${customerId}`,
  plan: 'free',
  phase: 'Ready',
  owners: [],
  ownerUid: `uid-${customerId}`,
  acceptedAt: '2026-12-07T09:00:00Z',
  readyAt: '2026-12-07T09:00:04Z',
  timeToReadyMs: 4000,
  lastRepair: {
    at: '2026-12-07T09:30:00.000Z',
    by: 'heal',
    object: 'ResourceQuota/tenant-quota',
    was: 'missing',
    latencyMs: 700,
  },
  deletionHeld: cell === 'us1',
});

async function cellServer(name: string): Promise<string> {
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => {
      received.push({
        cell: name,
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization ?? '',
        body: text ? JSON.parse(text) : undefined,
      });
      if (down.has(name)) {
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end('{"error":"unavailable"}');
      }
      const body =
        req.url === '/all-tenants'
          ? { tenants: [tenantOf(name, `${name}-acme`)] }
          : req.url === '/deletions'
            ? {
                budget: null,
                held:
                  name === 'us1'
                    ? [
                        {
                          customerId: 'us1-acme',
                          namespace: 'tenant-us1-acme',
                          heldAt: '2026-12-07T09:40:00Z',
                          via: 'http',
                        },
                      ]
                    : [],
              }
            : { decisions: [{ customerId: 'us1-acme', outcome: 'deleted' }] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Dead letters and stream messages held in memory, settled as Pub/Sub would. */
function memoryPubsub() {
  const queues = new Map<string, DeadLetter[]>();
  const published: { topic: string; attributes: Record<string, string> }[] = [];
  const acked: string[] = [];
  const ops: PubsubOps = {
    async pull(subscription, max) {
      return (queues.get(subscription) ?? []).filter((m) => !acked.includes(m.ackId)).slice(0, max);
    },
    async setDeadline() {},
    async acknowledge(_, ackIds) {
      acked.push(...ackIds);
    },
    async publish(topic, message) {
      published.push({ topic, attributes: message.attributes });
      return `new-${published.length}`;
    },
    async close() {},
  };
  return { ops, queues, published, acked };
}
let pubsub = memoryPubsub();

const deadLetter = (id: string): DeadLetter => ({
  ackId: `ack-${id}`,
  messageId: id,
  data: Buffer.from('{"secret":"never shown"}'),
  attributes: {
    CloudPubSubDeadLetterSourceSubscription: 'kubefn-provision-changes-eu1',
    CloudPubSubDeadLetterSourceDeliveryCount: '5',
    kind: 'ResourceQuota',
  },
  orderingKey: '',
  publishTime: '2026-12-07T09:50:00.000Z',
});

beforeAll(async () => {
  const cells: Cell[] = [
    { name: 'eu1', region: 'europe-west1', provisionUrl: await cellServer('eu1'), capacity: 10 },
    { name: 'us1', region: 'us-central1', provisionUrl: await cellServer('us1'), capacity: 10 },
  ];
  const issuer = identityPlatformIssuer({ projectId, jwksUrl: 'http://127.0.0.1:9/unused' });
  deps = {
    cells,
    tokenFor: (cell) => async () => `console-token-for-${cell.name}`,
    operator: (authorization) =>
      verifyCustomerToken(authorization, { projectId, issuer, emulator: true }),
    operators: ['ops@example.com'],
    signIn: {
      apiKey: 'emulator-api-key',
      identityToolkit: 'http://127.0.0.1:9099/identitytoolkit.googleapis.com',
      secureToken: 'http://127.0.0.1:9099/securetoken.googleapis.com',
      emulator: true,
      googleClientId: '',
    },
    log: (severity, message, fields) => logs.push({ severity, message, fields }),
    now: () => new Date('2026-12-07T10:00:00Z'),
  };
  app = createApp(deps);
});
afterAll(() => {
  for (const s of servers) s.close();
});
beforeEach(() => {
  received = [];
  logs = [];
  down = new Set();
  pubsub = memoryPubsub();
  deps.pubsub = {
    ops: pubsub.ops,
    changes: 'changes-sub',
    outcomes: 'outcomes-sub',
    deadLetters: 'dead-sub',
  };
});

const token = (claims: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return new UnsecuredJWT({
    iss: identityPlatformIssuerName(projectId),
    aud: projectId,
    sub: 'google-ops',
    email: 'Ops@example.com',
    email_verified: true,
    auth_time: now,
    iat: now,
    exp: now + 3600,
    firebase: { sign_in_provider: 'google.com' },
    ...claims,
  }).encode();
};
const operator = token();

type Row = { customerId: string; cell: string; messageId: string; outcome: string; ms: number };
/** An answer's body, as the tests read it. */
type Answer = {
  error: string;
  cells: { up: boolean }[];
  tenants: Row[];
  held: Row[];
  outcomes: Row[];
  plots: { timeToReady: Row[]; healLatency: Row[] };
};
const read = async (res: Response) => (await res.json()) as Answer;
const call = (method: string, path: string, bearer?: string, body?: unknown) =>
  app.request(path, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });

const routes = [
  ['GET', '/api/me'],
  ['GET', '/api/tenants'],
  ['GET', '/api/deletions'],
  ['POST', '/api/deletions/approve'],
  ['POST', '/api/deletions/drop'],
  ['GET', '/api/dead-letters'],
  ['POST', '/api/dead-letters/replay'],
  ['GET', '/api/stream'],
] as const;
const decision = { cell: 'us1', customerIds: ['us1-acme'] };

test('the page is served to anyone, with its sign-in settings and no data of kubefn', async () => {
  const res = await call('GET', '/');
  const html = await res.text();
  expect(res.status).toBe(200);
  expect(html).toContain('"emulator":true');
  expect(html).not.toContain('acme');
  expect(received).toEqual([]);
  expect(page({ ...deps.signIn, apiKey: '</script><script>alert(1)</script>' })).not.toContain(
    '<script>alert(1)',
  );
});

test.each(routes)(
  'a stranger (no token): %s %s answers 401, no cell asked',
  async (method, path) => {
    const res = await call(method, path, undefined, method === 'POST' ? decision : undefined);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
    expect(received).toEqual([]);
  },
);

const notOperators: [string, string][] = [
  [
    'a signed-in customer (password account, verified)',
    token({ sub: 'cust', email: 'ada@example.com', firebase: { sign_in_provider: 'password' } }),
  ],
  [
    "a password account with an operator's email",
    token({ firebase: { sign_in_provider: 'password' } }),
  ],
  ['a Google account not on the list', token({ sub: 'g2', email: 'eve@example.com' })],
  ['an operator email not verified', token({ email_verified: false })],
  ['a token without a sign-in provider', token({ firebase: undefined })],
];
test.each(notOperators)(
  '%s: 403 on every route, nothing shown, no cell asked',
  async (_, bearer) => {
    for (const [method, path] of routes) {
      const res = await call(method, path, bearer, method === 'POST' ? decision : undefined);
      expect(res.status, `${method} ${path}`).toBe(403);
      const body = await read(res);
      expect(Object.keys(body).sort()).toEqual(['error', 'message']);
      expect(body.error).toBe('not-allowed');
    }
    expect(received).toEqual([]);
    expect(pubsub.published).toEqual([]);
  },
);

test("an operator sees every cell's tenants, with their cell, searchable, and the plots", async () => {
  const all = await call('GET', '/api/tenants', operator);
  expect(all.status).toBe(200);
  const body = await read(all);
  expect(body.cells).toEqual([
    { name: 'eu1', region: 'europe-west1', up: true, tenants: 1 },
    { name: 'us1', region: 'us-central1', up: true, tenants: 1 },
  ]);
  expect(
    body.tenants.map((t: { customerId: string; cell: string }) => [t.customerId, t.cell]),
  ).toEqual([
    ['eu1-acme', 'eu1'],
    ['us1-acme', 'us1'],
  ]);
  expect(body.plots.timeToReady.map((p: { ms: number }) => p.ms)).toEqual([4000, 4000]);
  expect(body.plots.healLatency.map((p: { ms: number }) => p.ms)).toEqual([700, 700]);
  // Each cell was asked with the console's own token for that cell.
  expect(received.map((r) => [r.cell, r.method, r.url, r.authorization]).sort()).toEqual([
    ['eu1', 'GET', '/all-tenants', 'Bearer console-token-for-eu1'],
    ['us1', 'GET', '/all-tenants', 'Bearer console-token-for-us1'],
  ]);
  const searched = await read(await call('GET', '/api/tenants?q=US-central1', operator));
  expect(searched.tenants.map((t: { customerId: string }) => t.customerId)).toEqual(['us1-acme']);
  // The plots are of every tenant, whatever the search.
  expect(searched.plots.timeToReady).toHaveLength(2);
});

test('a cell that does not answer is shown down; the others are listed', async () => {
  down.add('eu1');
  const body = await read(await call('GET', '/api/tenants', operator));
  expect(body.cells.map((c: { up: boolean }) => c.up)).toEqual([false, true]);
  expect(body.tenants.map((t: { cell: string }) => t.cell)).toEqual(['us1']);
});

test.each([
  ['an unknown cell', { cell: 'xx1', customerIds: ['acme'] }],
  ['no tenant', { cell: 'us1', customerIds: [] }],
  ['a tenant id that is none', { cell: 'us1', customerIds: ['Not An Id'] }],
  ['another field', { ...decision, force: true }],
  ['not JSON', '{"cell":'],
  ['a query parameter', decision, '?dryRun=true'],
])(
  "an operator's decision with %s: 400, no cell asked, nothing audited",
  async (_, body, query = '') => {
    const res = await call('POST', `/api/deletions/approve${query}`, operator, body);
    expect(res.status).toBe(400);
    expect(received).toEqual([]);
    expect(logs.filter((l) => l.message === 'operator action')).toEqual([]);
  },
);

test('an operator approves a held deletion: sent to its cell, answered, audited with their email', async () => {
  const held = await read(await call('GET', '/api/deletions', operator));
  expect(held.held).toEqual([
    expect.objectContaining({ customerId: 'us1-acme', cell: 'us1', region: 'us-central1' }),
  ]);
  received = [];
  const res = await call('POST', '/api/deletions/approve', operator, decision);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ decisions: [{ customerId: 'us1-acme', outcome: 'deleted' }] });
  expect(received).toEqual([
    {
      cell: 'us1',
      method: 'POST',
      url: '/deletions/approve',
      authorization: 'Bearer console-token-for-us1',
      body: { customerIds: ['us1-acme'] },
    },
  ]);
  expect(logs.filter((l) => l.message === 'operator action').map((l) => l.fields)).toEqual([
    {
      audit: true,
      operator: 'ops@example.com',
      action: 'deletions.approve',
      cell: 'us1',
      customerIds: ['us1-acme'],
      status: 200,
    },
  ]);
});

test('dead letters: listed without their data; a replay is validated, republished, acknowledged and audited', async () => {
  pubsub.queues.set('dead-sub', [deadLetter('m1'), deadLetter('m2')]);
  const listed = await call('GET', '/api/dead-letters', operator);
  const text = await listed.text();
  expect(text).not.toContain('never shown');
  expect(JSON.parse(text).messages.map((m: { messageId: string }) => m.messageId)).toEqual([
    'm1',
    'm2',
  ]);

  const bad = await call('POST', '/api/dead-letters/replay', operator, {
    messageIds: ['m1; drop'],
  });
  expect(bad.status).toBe(400);
  expect(pubsub.published).toEqual([]);

  const res = await call('POST', '/api/dead-letters/replay', operator, {
    messageIds: ['m2', 'gone'],
  });
  expect(res.status).toBe(200);
  const { outcomes } = await read(res);
  expect(
    outcomes.map((o: { messageId: string; outcome: string }) => [o.messageId, o.outcome]),
  ).toEqual([
    ['m2', 'replayed'],
    ['gone', 'not-found'],
  ]);
  expect(pubsub.published).toEqual([
    { topic: 'kubefn-changes', attributes: { kind: 'ResourceQuota' } },
  ]);
  expect(pubsub.acked).toEqual(['ack-m2']);
  expect(logs.filter((l) => l.message === 'operator action').map((l) => l.fields)).toEqual([
    {
      audit: true,
      operator: 'ops@example.com',
      action: 'dead-letters.replay',
      messageIds: ['m2', 'gone'],
      outcomes: ['replayed', 'not-found'],
    },
  ]);
});

test('the live stream: changes and outcomes as Server-Sent Events, attributes only, acknowledged', async () => {
  pubsub.queues.set('changes-sub', [
    {
      ...deadLetter('c1'),
      attributes: {
        type: 'DELETED',
        kind: 'ResourceQuota',
        namespace: 'tenant-acme',
        name: 'tenant-quota',
        cluster: 'eu1',
        managed: 'true',
      },
    },
  ]);
  pubsub.queues.set('outcomes-sub', [
    {
      ...deadLetter('o1'),
      attributes: { 'ce-type': 'dev.kubefn.tenant.succeeded', 'ce-subject': 'acme' },
    },
  ]);
  const res = await call('GET', '/api/stream', operator);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = (res.body as ReadableStream<Uint8Array>)
    .pipeThrough(new TextDecoderStream())
    .getReader();
  let text = '';
  while (!text.includes('event: outcome')) text += (await reader.read()).value ?? '';
  await reader.cancel();
  expect(text).toContain('event: change\ndata: {"messageId":"c1"');
  expect(text).toContain(
    '"kind":"ResourceQuota","namespace":"tenant-acme","name":"tenant-quota","cell":"eu1"',
  );
  expect(text).toContain('"type":"dev.kubefn.tenant.succeeded","subject":"acme"');
  expect(text).not.toContain('never shown');
  expect(pubsub.acked.sort()).toEqual(['ack-c1', 'ack-o1']);
});

test('without Pub/Sub configured, the dead letters and the stream say so', async () => {
  delete deps.pubsub;
  expect(await (await call('GET', '/api/dead-letters', operator)).json()).toEqual({
    configured: false,
    messages: [],
  });
  expect(await (await call('GET', '/api/stream', operator)).json()).toEqual({ configured: false });
});
