// What reaches a function before its handler, on the real stack: the functions run as processes
// under the real Functions Framework (infra/local/deploy.ts), whose body parser reads every body
// before kubefn's code runs. A body it cannot parse is answered in JSON after the caller's token
// is checked, with one structured log line and nothing of the body in the log or the answer; a
// token minted for several audiences is refused; two Authorization headers are refused.
import { readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  labelAudience,
  provisionAudience,
  startLabelFunction,
  startProvisionFunction,
  startSignupFunction,
} from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import {
  mintToken,
  pushAccount,
  schedulerAccount,
  signupAccount,
} from '../../infra/local/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';
import { newCustomer } from '../support/customers.ts';
import { uniqueName } from '../support/kube.ts';

let admin: Cluster;
let label: RunningFunction;
let provision: RunningFunction;
let signup: RunningFunction;
const tokens: Record<string, string> = {};
const elsewhere = 'https://elsewhere.kubefn.local';

type Answer = { status: number; headers: Record<string, string>; body: string };

/** One HTTP/1.1 request written by hand, so a header can be sent twice. */
function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: [string, string][],
  body = '',
): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const lines = [
        `${method} ${path} HTTP/1.1`,
        ...(headers.some(([name]) => name.toLowerCase() === 'host')
          ? []
          : [`Host: ${hostname}:${port}`]),
        'Connection: close',
        `Content-Length: ${Buffer.byteLength(body)}`,
        ...headers.map(([name, value]) => `${name}: ${value}`),
      ];
      // Not end(): a half-closed connection is closed by Node before a slow answer is written.
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...fields] = head.split('\r\n');
      const answerHeaders = Object.fromEntries(
        fields.map((line) => {
          const at = line.indexOf(':');
          return [line.slice(0, at).toLowerCase(), line.slice(at + 1).trim()];
        }),
      );
      let answerBody = rest.join('\r\n\r\n');
      if (answerHeaders['transfer-encoding'] === 'chunked') answerBody = unchunk(answerBody);
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers: answerHeaders,
        body: answerBody,
      });
    });
  });
}

function unchunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const at = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, at), 16);
    if (!size) return out;
    out += rest.slice(at + 2, at + 2 + size);
    rest = rest.slice(at + 2 + size + 2);
  }
}

/** The lines a function's log gained while `act` ran. */
async function logged(fn: RunningFunction, act: () => Promise<Answer>) {
  const file = fn.process.logFile;
  const before = (await stat(file)).size;
  const answer = await act();
  // The function writes its log to the file synchronously, before it answers.
  const lines = (await readFile(file)).subarray(before).toString('utf8').split('\n');
  return { answer, lines: lines.filter((line) => line !== '') };
}

const parsed = (lines: string[]) =>
  lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return { notJson: line };
    }
  });

beforeAll(async () => {
  admin = await adminCluster();
  [label, provision] = await Promise.all([
    startLabelFunction(admin, stack),
    startProvisionFunction(admin, stack),
  ]);
  // Never reached: every request here is refused before signup calls provision.
  signup = await startSignupFunction(stack, 'http://127.0.0.1:9', `${stack.dir}/no-such-token`);
  const mint = (account: string, audiences: string[]) =>
    mintToken(admin, account, { audiences, expirationSeconds: 3600 });
  tokens.label = await mint(schedulerAccount, [labelAudience]);
  tokens.push = await mint(pushAccount, [labelAudience]);
  tokens.provision = await mint(signupAccount, [provisionAudience]);
  // Real TokenRequest tokens whose aud lists the function's audience and another service's.
  tokens.labelAndElsewhere = await mint(schedulerAccount, [labelAudience, elsewhere]);
  tokens.elsewhereAndLabel = await mint(schedulerAccount, [elsewhere, labelAudience]);
  tokens.pushAndElsewhere = await mint(pushAccount, [labelAudience, elsewhere]);
  tokens.provisionAndElsewhere = await mint(signupAccount, [provisionAudience, elsewhere]);
});
afterAll(async () => {
  await Promise.all([label?.stop(), provision?.stop(), signup?.stop()]);
  await admin?.close();
});

describe('a body the framework cannot parse', () => {
  const secret = `password=${uniqueName('hunter')}`;
  // Not JSON, with a secret at the start (where a parser's message quotes it): 1 MB, and small
  // enough for every route's limit (signup's is 1 KB).
  const junk = `${secret}&${'x'.repeat(1024 * 1024)}`;
  const small = `${secret}&${'x'.repeat(500)}`;
  const json = ['content-type', 'application/json'] as [string, string];

  const expectNothingOfTheBody = (answer: Answer, lines: string[]) => {
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.body).not.toContain('password');
    expect(answer.body).not.toContain('xxxx');
    for (const line of parsed(lines)) expect(line).not.toHaveProperty('notJson');
    for (const line of lines) {
      expect(line).not.toContain('password');
      expect(line).not.toContain('xxxx');
    }
  };

  test('without a token: 401 in JSON, the token checked first, nothing of the body logged', async () => {
    const { answer, lines } = await logged(label, () =>
      rawRequest(label.url, 'POST', '/labels', [json], junk),
    );
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toEqual({ error: 'unauthenticated' });
    expectNothingOfTheBody(answer, lines);
    expect(parsed(lines)).toContainEqual(
      expect.objectContaining({ message: 'request body refused', reason: 'invalid-json' }),
    );
    expect(parsed(lines)).toContainEqual(
      expect.objectContaining({ message: 'caller rejected', reason: 'missing' }),
    );
  });

  test('with a valid token: 400 invalid-json in JSON, one structured line', async () => {
    const bearer = ['authorization', `Bearer ${tokens.label}`] as [string, string];
    const { answer, lines } = await logged(label, () =>
      rawRequest(label.url, 'POST', '/labels', [json, bearer], small),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid-json' });
    expectNothingOfTheBody(answer, lines);
    expect(parsed(lines)).toEqual([
      expect.objectContaining({ message: 'request body refused', reason: 'invalid-json' }),
    ]);
    // Over the route's limit (16 KB), the limit answers first.
    const { answer: large, lines: more } = await logged(label, () =>
      rawRequest(label.url, 'POST', '/labels', [json, bearer], junk),
    );
    expect(large.status).toBe(413);
    expect(JSON.parse(large.body)).toMatchObject({ error: 'too-large' });
    expectNothingOfTheBody(large, more);
  });

  test('a charset the parser refuses: 415 in JSON, after the token', async () => {
    const latin1 = ['content-type', 'application/json; charset=latin1'] as [string, string];
    const bearer = ['authorization', `Bearer ${tokens.label}`] as [string, string];
    const { answer, lines } = await logged(label, () =>
      rawRequest(label.url, 'POST', '/labels', [latin1, bearer], small),
    );
    expect(answer.status).toBe(415);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'unsupported-media-type' });
    expectNothingOfTheBody(answer, lines);
    const anonymous = await rawRequest(label.url, 'POST', '/labels', [latin1], junk);
    expect(anonymous.status).toBe(401);
  });

  test('a Pub/Sub push with a broken body: acknowledged as not JSON, nothing of it logged', async () => {
    const bearer = ['authorization', `Bearer ${tokens.push}`] as [string, string];
    const { answer, lines } = await logged(label, () =>
      rawRequest(label.url, 'POST', '/pubsub', [json, bearer], junk),
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ outcome: 'rejected', code: 'not-json' });
    expectNothingOfTheBody(answer, lines);
    // The log holds the refusal (so the checks above read a real line), without the body.
    expect(parsed(lines)).toContainEqual(
      expect.objectContaining({ message: 'push message rejected', code: 'not-json' }),
    );
  });

  test('the provisioning function answers the same way', async () => {
    const { answer, lines } = await logged(provision, () =>
      rawRequest(provision.url, 'POST', '/tenants', [json], junk),
    );
    expect(answer.status).toBe(401);
    expectNothingOfTheBody(answer, lines);
    expect(parsed(lines)).toContainEqual(
      expect.objectContaining({ message: 'caller rejected', reason: 'missing' }),
    );
    const { answer: signedIn, lines: more } = await logged(provision, () =>
      rawRequest(
        provision.url,
        'POST',
        '/tenants',
        [json, ['authorization', `Bearer ${tokens.provision}`]],
        small,
      ),
    );
    expect(signedIn.status).toBe(400);
    expect(JSON.parse(signedIn.body)).toMatchObject({ error: 'invalid-json' });
    expectNothingOfTheBody(signedIn, more);
  });

  test('the sign-up backend: no customer token 401, then a signed-in customer 400, in JSON', async () => {
    const anonymous = await logged(signup, () =>
      rawRequest(signup.url, 'POST', '/api/signup', [json], small),
    );
    expect(anonymous.answer.status).toBe(401);
    expect(JSON.parse(anonymous.answer.body)).toMatchObject({ error: 'unauthenticated' });
    expectNothingOfTheBody(anonymous.answer, anonymous.lines);

    const customer = await newCustomer('boundary');
    const { answer, lines } = await logged(signup, () =>
      rawRequest(
        signup.url,
        'POST',
        '/api/signup',
        [json, ['authorization', `Bearer ${customer.idToken}`]],
        small,
      ),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid-json' });
    expectNothingOfTheBody(answer, lines);
  });
});

describe('the exact audience', () => {
  test.each([
    ['label', 'POST', '/labels', 'label', 400],
    ['label', 'POST', '/labels', 'labelAndElsewhere', 401],
    ['label', 'POST', '/labels', 'elsewhereAndLabel', 401],
    ['label', 'POST', '/pubsub', 'push', 200],
    ['label', 'POST', '/pubsub', 'pushAndElsewhere', 401],
    ['provision', 'GET', '/tenants/no-such-tenant', 'provision', 404],
    ['provision', 'GET', '/tenants/no-such-tenant', 'provisionAndElsewhere', 401],
  ] as const)('%s %s %s with token %s: %i', async (name, method, path, token, status) => {
    const fn = name === 'label' ? label : provision;
    const body = method === 'POST' ? '{}' : '';
    const headers: [string, string][] = [['authorization', `Bearer ${tokens[token]}`]];
    if (body) headers.push(['content-type', 'application/json']);
    const { answer, lines } = await logged(fn, () =>
      rawRequest(fn.url, method, path, headers, body),
    );
    expect(answer.status).toBe(status);
    if (status === 401)
      expect(parsed(lines)).toContainEqual(
        expect.objectContaining({ message: 'caller rejected', reason: 'wrong-audience' }),
      );
  });
});

describe('ambiguous credentials', () => {
  test.each([
    ['a valid token, then garbage', ['valid', 'Bearer not-a-token']],
    ['garbage, then a valid token', ['Bearer not-a-token', 'valid']],
    ['the same valid token twice', ['valid', 'valid']],
    ['two valid tokens in one header', ['valid,valid']],
  ] as const)('%s: 401 ambiguous', async (_what, values) => {
    const bearer = `Bearer ${tokens.label}`;
    const headers: [string, string][] = values.map((value) => [
      'authorization',
      value.replaceAll('valid', bearer),
    ]);
    headers.push(['content-type', 'application/json']);
    const { answer, lines } = await logged(label, () =>
      rawRequest(label.url, 'POST', '/labels', headers, '{}'),
    );
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(parsed(lines)).toContainEqual(
      expect.objectContaining({ message: 'caller rejected', reason: 'ambiguous' }),
    );
  });

  test('a valid Authorization beside X-Serverless-Authorization (Cloud Run checks that one): 401', async () => {
    const { answer, lines } = await logged(label, () =>
      rawRequest(
        label.url,
        'POST',
        '/labels',
        [
          ['authorization', `Bearer ${tokens.label}`],
          ['x-serverless-authorization', `Bearer ${tokens.label}`],
          ['content-type', 'application/json'],
        ],
        '{}',
      ),
    );
    expect(answer.status).toBe(401);
    expect(parsed(lines)).toContainEqual(
      expect.objectContaining({ message: 'caller rejected', reason: 'ambiguous' }),
    );
  });

  test("the route is the request line's: a Host header moves nothing, and a bad one is no 500", async () => {
    const push = ['authorization', `Bearer ${tokens.push}`] as [string, string];
    const json = ['content-type', 'application/json'] as [string, string];
    // Before: routed to /pubsub (a push token passes there); the request line says /labels.
    const moved = await rawRequest(
      label.url,
      'POST',
      '/labels',
      [['host', '127.0.0.1/pubsub?'], push, json],
      '{}',
    );
    expect(moved.status).toBe(403);
    const bad = await rawRequest(label.url, 'POST', '/labels', [['host', 'a b'], json], '{}');
    expect(bad.status).toBe(401);
  });

  test('two Content-Type headers: the body type is ambiguous, 415', async () => {
    const answer = await rawRequest(
      label.url,
      'POST',
      '/labels',
      [
        ['authorization', `Bearer ${tokens.label}`],
        ['content-type', 'application/json'],
        ['content-type', 'text/plain'],
      ],
      '{}',
    );
    expect(answer.status).toBe(415);
  });
});
