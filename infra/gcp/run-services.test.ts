// Every Cloud Run service the program defines, started here the way its definition says: the
// archive the program uploads, unpacked in an empty folder, its command and args run by Node with
// the definition's environment (plus what Cloud Run itself adds: PORT, K_SERVICE and a metadata
// server, the fake one). Then each gets what its callers send (a Pub/Sub push per subscription,
// a Cloud Scheduler call per job, the page, the probes) and must answer as kubefn. A definition
// that would run a placeholder image, or a command its archive does not hold, fails here.
// The cluster's DNS endpoint cannot be reached from here: calls that need it answer kubefn's
// retryable error, which is still kubefn answering.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGoogle, startFakeGoogle } from '../../test/support/fakes/google.ts';
import { type Bundle, buildFunctions } from '../build-functions.ts';
import { freePort } from '../local/functions.ts';
import {
  baseSpec,
  deploy,
  envOf,
  fakeSources,
  ofType,
  type Registered,
  types,
} from './mocks.fixture.ts';
import {
  cellFunctions,
  cellServiceName,
  type Deployable,
  deployables,
  globalServiceName,
  routes,
  type Sources,
} from './names.ts';
import { packBundle } from './sources.ts';

// Placement (functions/placement) is being written: until its index.ts exists, its service is
// defined from a made-up source and not started. Nothing else is skipped.
const root = join(import.meta.dirname, '../..');
const built = deployables.filter(
  (name) => name !== 'placement' || existsSync(join(root, 'functions/placement/index.ts')),
);
const serviceNames = [
  ...(built.includes('placement') ? [globalServiceName('placement')] : []),
  globalServiceName('signup'),
  ...baseSpec.cells.flatMap((cell) =>
    [...cellFunctions, 'watcher' as const].map((name) => cellServiceName(cell.name, name)),
  ),
];

const run = promisify(execFile);
let tmp: string;
let bundles: Record<string, Bundle>;
let sources: Sources;
let resources: Registered[];
let google: FakeGoogle;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'kubefn-gcp-run-'));
  bundles = await buildFunctions([...built], { outDir: join(tmp, 'functions') });
  // npm ci from npm's cache: the root's `npm ci` put every package of the lockfile there. One at
  // a time, as deploySources does (it wants every deployable).
  sources = fakeSources();
  for (const name of built) {
    const bundle = bundles[name];
    if (!bundle) throw new Error(`no bundle for ${name}`);
    const packed = await packBundle(bundle, name, { outDir: tmp, offline: true });
    sources[name] = { ...packed, sha256: bundle.sha256 };
  }
  ({ resources } = await deploy({}, sources));
  google = await startFakeGoogle();
  // Seven archives, each an npm ci: minutes on a shared machine.
}, 600_000);

afterAll(async () => {
  await google?.close();
  await rm(tmp, { recursive: true, force: true });
}, 60_000);

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('the sources', () => {
  it.each(built as Deployable[])(
    '%s: its archive holds its bundle, node_modules and its command',
    async (name) => {
      const source = sources[name];
      expect(source.sha256).toBe(bundles[name]?.sha256);
      const { stdout } = await run('tar', ['-tzf', source.archive], { maxBuffer: 1 << 26 });
      const files = stdout.split('\n');
      for (const file of ['./index.mjs', './package.json', './package-lock.json'])
        expect(files).toContain(file);
      expect(source.command[0]).toBe('node');
      expect(files).toContain(`./${source.command[1]}`);
      if (name === 'watcher') expect(source.command).toEqual(['node', 'index.mjs']);
      else expect(source.command.slice(2)).toEqual([`--target=${name}`]);
    },
  );

  it('packs the same bytes every time', async () => {
    const again = await packBundle(bundles.watcher as Bundle, 'watcher', {
      outDir: await mkdtemp(join(tmp, 'again-')),
      offline: true,
    });
    expect(await sha256(again.archive)).toBe(await sha256(sources.watcher.archive));
  }, 120_000);
});

/** The archive a service's container runs, as the program uploads it. */
async function archiveOf(service: Registered): Promise<string> {
  const container = service.inputs.template.containers[0];
  // A placeholder image, or an image built elsewhere, runs something other than this archive.
  expect(container.image, `${service.inputs.name} runs image ${container.image}`).toBe('scratch');
  expect(container.baseImageUri).toMatch(/\/runtimes\/nodejs22$/);
  const object = container.sourceCode?.cloudStorageSource?.object;
  const uploaded = ofType(resources, types.bucketObject).find((o) => o.inputs.name === object);
  if (!uploaded) throw new Error(`${service.inputs.name}: no uploaded object ${object}`);
  return await uploaded.inputs.source.path;
}

type Started = { url: string; stop: () => Promise<void>; output: () => string };

/** Unpacks the archive into an empty folder and runs the container's command there. */
async function startAsDefined(service: Registered): Promise<Started> {
  const container = service.inputs.template.containers[0];
  const dir = await mkdtemp(join(tmp, `${service.inputs.name}-`));
  await run('tar', ['-xzf', await archiveOf(service), '-C', dir]);
  const [command, ...args] = [...container.commands, ...(container.args ?? [])];
  expect(command, `${service.inputs.name}'s command`).toBe('node'); // the base image's node
  await access(join(dir, args[0])); // a command the archive does not hold fails here
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      ...envOf(service),
      // What Cloud Run adds to every container (its container contract), and its metadata server.
      PORT: String(port),
      K_SERVICE: service.inputs.name,
      K_REVISION: `${service.inputs.name}-00001-abc`,
      K_CONFIGURATION: service.inputs.name,
      GCE_METADATA_HOST: google.metadataHost,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${service.inputs.name} exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`${service.inputs.name} never listened:\n${output}`);
    const up = await fetch(`${url}/livez`).then(
      () => true,
      () => false,
    );
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

/** A Google ID token as Cloud Run hands it on after its IAM check: claims, signature removed. */
function platformToken(email: string, audience: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { iss: 'https://accounts.google.com', aud: audience, email, email_verified: true };
  return `${part({ alg: 'RS256', kid: 'k', typ: 'JWT' })}.${part({ ...claims, sub: '1', iat: now, exp: now + 600 })}.SIGNATURE_REMOVED_BY_GOOGLE`;
}

type Call = {
  what: string;
  path: string;
  init: RequestInit;
  kubefn: (res: Response, body: string) => void;
};

/** kubefn's push route: its JSON outcome, whatever the message made of it. */
const pushOutcome = (res: Response, body: string) => {
  expect([200, 503]).toContain(res.status);
  expect(typeof JSON.parse(body).outcome).toBe('string');
};
/** kubefn's error rendering: a code; 503 here, as the cluster is out of reach. */
const kubefnError = (status: number) => (res: Response, body: string) => {
  expect(res.status).toBe(status);
  expect(typeof JSON.parse(body).error).toBe('string');
};

/** What each service's callers send it, read from the program's own subscriptions and jobs. */
function callsTo(service: Registered): Call[] {
  const base = (uri: string) => uri.startsWith(`https://${service.inputs.name}-x.a.run.app/`);
  const pushes = ofType(resources, types.subscription)
    .filter((s) => s.inputs.pushConfig && base(s.inputs.pushConfig.pushEndpoint))
    .map((s): Call => {
      const { pushEndpoint, oidcToken } = s.inputs.pushConfig;
      const message = {
        data: Buffer.from('{}').toString('base64'),
        messageId: '1',
        attributes: {},
      };
      return {
        what: `a push from ${s.inputs.name}`,
        path: new URL(pushEndpoint).pathname,
        init: {
          method: 'POST',
          headers: {
            authorization: `Bearer ${platformToken(oidcToken.serviceAccountEmail, oidcToken.audience)}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            message,
            subscription: `projects/p/subscriptions/${s.inputs.name}`,
          }),
        },
        kubefn: pushOutcome,
      };
    });
  const jobs = ofType(resources, types.job)
    .filter((j) => base(j.inputs.httpTarget.uri))
    .map((j): Call => {
      const { uri, httpMethod, oidcToken } = j.inputs.httpTarget;
      expect(new URL(uri).pathname).toBe(routes.resync);
      return {
        what: `the Scheduler job ${j.inputs.name}`,
        path: new URL(uri).pathname,
        init: {
          method: httpMethod,
          headers: {
            authorization: `Bearer ${platformToken(oidcToken.serviceAccountEmail, oidcToken.audience)}`,
          },
        },
        kubefn: kubefnError(503),
      };
    });
  const page: Call[] =
    service.inputs.name === 'kubefn-signup'
      ? [
          {
            what: 'the sign-up page',
            path: '/',
            init: {},
            kubefn: (res, body) => {
              expect(res.status).toBe(200);
              expect(body).toContain('<title>kubefn · sign up</title>');
              expect(body).toContain(envOf(service).KUBEFN_CUSTOMER_API_KEY);
            },
          },
          {
            what: 'a sign-up without a customer token',
            path: '/api/signup',
            init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
            kubefn: kubefnError(401),
          },
        ]
      : [];
  const probes: Call[] = service.inputs.name.endsWith('-watcher')
    ? [
        {
          what: 'the startup and liveness probe',
          path: service.inputs.template.containers[0].startupProbe.httpGet.path,
          init: {},
          kubefn: (res, body) => {
            expect(res.status).toBe(200);
            expect(JSON.parse(body)).toEqual({ ok: true });
          },
        },
        {
          what: 'its status page',
          path: '/status',
          init: {},
          kubefn: (res, body) => {
            expect(res.status).toBe(200);
            expect(JSON.parse(body).identity).toMatch(/\S/);
          },
        },
      ]
    : [];
  return [...pushes, ...jobs, ...page, ...probes];
}

it('defines exactly the services started here, and placement', () => {
  expect(
    ofType(resources, types.service)
      .map((s) => s.inputs.name)
      .sort(),
  ).toEqual([...new Set([...serviceNames, globalServiceName('placement')])].sort());
});

it.each(serviceNames)(
  '%s starts kubefn from its own definition and answers its callers',
  async (name) => {
    const service = ofType(resources, types.service).find((s) => s.inputs.name === name);
    if (!service) throw new Error(`no service ${name}`);
    const calls = callsTo(service);
    expect(calls.length, 'every service has callers to answer').toBeGreaterThan(0);
    const started = await startAsDefined(service);
    try {
      for (const call of calls) {
        const res = await fetch(`${started.url}${call.path}`, {
          ...call.init,
          signal: AbortSignal.timeout(15_000),
        });
        const body = await res.text();
        try {
          call.kubefn(res, body);
        } catch (error) {
          throw new Error(
            `${call.what} (${call.path}): ${res.status} ${body.slice(0, 300)}\n${error}`,
          );
        }
      }
    } finally {
      await started.stop();
    }
  },
  60_000,
);
