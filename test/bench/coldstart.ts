// coldstart: time from process start to the first 200 of the provisioning function under the
// Functions Framework (a real, authenticated status request that reads the real cluster),
// against its floor: the least code that answers the same request (fixtures/provision-floor.ts:
// the same framework, jose against the same issuer's keys, the same reads over node:https, no
// kubefn code). Reference rows: a hello-world under the same framework (no I/O at all) and the
// same route built on @kubernetes/client-node 1.x (installed into .cache for this benchmark
// only). All are bundled and started the same way, runs interleaved, on the Node that runs the
// benchmark; then three more runs of each with V8's function events logged, to count what each
// compiled before its first answer. Last line: `coldstart_floor_ratio <p50 kubefn / p50 floor>`.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from 'esbuild';
import { buildFunctions } from '../../infra/build-functions.ts';
import { provisionAudience, startProvisionFunction } from '../../infra/local/deploy.ts';
import { freePort } from '../../infra/local/functions.ts';
import { kubeconfigFor, mintToken, signupAccount } from '../../infra/local/identities.ts';
import { startProcess } from '../../infra/local/processes.ts';
import { startStack } from '../../infra/local/stack.ts';
import { Cluster, fromKubeconfig } from '../../shared/kube/index.ts';
import { httpRequest } from '../support/http.ts';
import { cpuMs, median, ms, percentile } from './stats.ts';

type Variant = {
  name: string;
  target: string;
  source: string;
  path: string;
  env: Record<string, string>;
};

const rounds = Number(process.env.COLDSTART_ROUNDS ?? 10);
// COLDSTART_CPU_PROF=DIR: every function process writes a V8 CPU profile there (to see where a
// cold start's time goes; the profiler itself slows them, so such a run's figures are not kept).
const profileDir = process.env.COLDSTART_CPU_PROF;
// COLDSTART_NODE_FLAGS="--trace-gc ...": more flags for every function process (their output is in
// the stack's logs: keep them with KUBEFN_KEEP_STATE=1); like a profile, such a run is not kept.
const nodeFlags = process.env.COLDSTART_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
// COLDSTART_COMPARE=FILE: one more row, another build of the provisioning bundle (say, of another
// commit, built in its own worktree with `npx tsx infra/build-functions.ts provision`; the
// worktree needs a node_modules, a link to this one will do), so that a change is measured
// against what it changes in the same run.
const compare = process.env.COLDSTART_COMPARE;
// The functions start as deployed: without this machine's NODE_EXTRA_CA_CERTS, which Cloud Run
// does not set. On Node 20 it makes every process load the 144-certificate bundle at start
// (60-80 ms, hello-world included), and the function's first TLS context then costs 3 ms instead
// of 35-45 ms (measured); on Node 22 it changes neither.
const { NODE_EXTRA_CA_CERTS: _machineOnly, ...deployedEnv } = process.env;
const root = resolve(import.meta.dirname, '../..');
const frameworkMain = join(
  root,
  'node_modules/@google-cloud/functions-framework/build/src/main.js',
);

const stack = await startStack();
try {
  const admin = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  // One tenant for the status requests.
  const setup = await startProvisionFunction(admin, stack);
  const token = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
  const body = JSON.stringify({ customerId: 'bench', plan: 'free' });
  const created = await httpRequest(`${setup.url}/tenants`, token, 'POST', body);
  if (created.status !== 201 && created.status !== 200)
    throw new Error(`could not provision the benchmark tenant: ${created.body}`);
  await setup.stop();

  const kubeconfig = await kubeconfigFor(admin, stack, 'kubefn-provision');
  const env = {
    KUBECONFIG: kubeconfig,
    KUBEFN_AUTH_AUDIENCE: provisionAudience,
    KUBEFN_AUTH_GOOGLE: 'false',
    KUBEFN_AUTH_KUBERNETES: 'true',
    KUBEFN_ALLOW_PROVISION: `system:serviceaccount:kubefn-system:${signupAccount}`,
    NODE_ENV: 'production',
  };
  const variants: Variant[] = [
    { name: 'hello-world', target: 'hello', source: await bundle('hello'), path: '/', env: {} },
    {
      name: 'kubefn provision',
      target: 'provision',
      source: (await buildFunctions(['provision'])).provision?.entry ?? '',
      path: '/tenants/bench',
      env: {},
    },
    ...(compare
      ? [
          {
            name: 'kubefn compared',
            target: 'provision',
            source: resolve(compare),
            path: '/tenants/bench',
            env: {},
          },
        ]
      : []),
    {
      name: 'floor',
      target: 'provision',
      source: await bundle('provision-floor'),
      path: '/tenants/bench',
      env: {},
    },
    {
      name: '@kubernetes/client-node',
      target: 'provision',
      source: await bundle('provision-client-node'),
      path: '/tenants/bench',
      env: { KUBECONFIG: await inlineTokenKubeconfig(kubeconfig) },
    },
  ];
  const runs: Record<string, Run[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of round % 2 ? variants.toReversed() : variants) {
      runs[variant.name]?.push(await firstAnswer(variant, { ...env, ...variant.env }, token));
    }
  }
  console.log(
    `\ncoldstart: process start -> first 200, ${rounds} interleaved runs each, Node ${process.version}`,
  );
  console.log('  (cpu: CPU time of the function process until then, all its threads)');
  const p50 = (name: string, of: keyof Run = 'wall') =>
    median((runs[name] ?? []).map((run) => run[of]));
  for (const variant of variants) {
    const wall = (runs[variant.name] ?? []).map((run) => run.wall);
    console.log(
      `  ${variant.name.padEnd(24)} p50 ${ms(median(wall))}  p90 ${ms(percentile(wall, 90))}  min ${ms(Math.min(...wall))}  cpu p50 ${ms(p50(variant.name, 'cpu'))}`,
    );
  }
  const ours = p50('kubefn provision');
  console.log(`  kubefn / hello-world     ${(ours / p50('hello-world')).toFixed(2)}`);
  console.log(`  client-node / kubefn     ${(p50('@kubernetes/client-node') / ours).toFixed(2)}`);
  console.log(
    `  kubefn / floor, cpu      ${(p50('kubefn provision', 'cpu') / p50('floor', 'cpu')).toFixed(2)}`,
  );
  // The two run next to each other in every round: the median of each round's own ratio is the
  // least moved by the machine's drift from round to round.
  const floorRuns = runs.floor ?? [];
  const paired = (runs['kubefn provision'] ?? []).map(
    (run, i) => run.wall / (floorRuns[i]?.wall ?? Number.NaN),
  );
  console.log(
    `  kubefn / floor, paired   ${median(paired).toFixed(2)} (median of the rounds' own)`,
  );
  // Where the difference is made: three more runs of each with V8's function events logged.
  // The sizes and counts are exact; the log slows what it records, so its times (medians) are
  // for comparing the rows.
  console.log('  compiled before the first 200 (3 more runs each, V8 function events, medians):');
  for (const variant of variants) {
    const works: CompileWork[] = [];
    for (let run = 0; run < 3; run++) {
      const log = join(stack.dir, `compile-${variant.name.replace(/\W+/g, '-')}-${run}.log`);
      const flags = ['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate'];
      await firstAnswer(variant, { ...env, ...variant.env }, token, flags);
      works.push(compileWork(await readFile(log, 'utf8'), variant.source));
    }
    const of = (key: keyof CompileWork) => median(works.map((work) => work[key]));
    console.log(
      `  ${variant.name.padEnd(24)} ${(of('bytes') / 1024).toFixed(0).padStart(4)} KB parsed in ${ms(of('topLevelMs'))}, then ${String(of('functions')).padStart(3)} functions compiled in ${ms(of('lazyMs'))}`,
    );
  }
  console.log(`coldstart_floor_ratio ${(ours / p50('floor')).toFixed(2)}`);
  await admin.close();
} finally {
  await stack.stop();
}

type Run = { wall: number; cpu: number };

/** Process start to the first 200, and the CPU the process used until then. */
async function firstAnswer(
  variant: Variant,
  env: Record<string, string>,
  token: string,
  extraFlags: string[] = [],
): Promise<Run> {
  const port = await freePort();
  const profile = profileDir
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${profileDir}`,
        `--cpu-prof-name=${variant.name.replace(/\W+/g, '-')}-${port}.cpuprofile`,
      ]
    : [];
  const started = performance.now();
  const proc = startProcess(
    stack.dir,
    `bench-${variant.target}`,
    process.execPath,
    [
      ...profile,
      ...nodeFlags,
      ...extraFlags,
      frameworkMain,
      `--target=${variant.target}`,
      `--source=${variant.source}`,
      `--port=${port}`,
    ],
    { ...deployedEnv, ...env },
  );
  try {
    for (const deadline = started + 30_000; performance.now() < deadline; await sleep(2)) {
      const answer = await httpRequest(
        `http://127.0.0.1:${port}${variant.path}`,
        token,
        'GET',
      ).catch(() => ({ status: 0, body: '' }));
      if (answer.status === 200)
        return { wall: performance.now() - started, cpu: await cpuMs(proc.pid) };
      if (answer.status !== 0)
        throw new Error(`${variant.name} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    }
    throw new Error(`${variant.name} gave no 200 within 30 s`);
  } finally {
    await proc.stop();
  }
}

type CompileWork = { bytes: number; topLevelMs: number; functions: number; lazyMs: number };

/**
 * What V8 did for one file in a function-events log: its size, the top-level parse (which
 * pre-parses every function in it), and the functions it then compiled on first call and their
 * parse and bytecode time. Lines: `function,<event>,<script id>,<start>,<end>,<ms>,...`.
 */
function compileWork(log: string, file: string): CompileWork {
  const lines = log.split('\n');
  const details = lines.find(
    (l) => l.startsWith('script-details,') && l.includes(`,file://${file},`),
  );
  const id = details?.split(',')[1];
  if (!id) throw new Error(`V8's log names no script ${file}`);
  const work: CompileWork = { bytes: 0, topLevelMs: 0, functions: 0, lazyMs: 0 };
  for (const line of lines) {
    const [kind, event, script, start, end, took] = line.split(',');
    if (kind !== 'function' || script !== id) continue;
    if (event === 'parse-script') {
      work.bytes = Number(end) - Number(start);
      work.topLevelMs += Number(took);
    } else if (event === 'parse-function' || event === 'interpreter') work.lazyMs += Number(took);
    if (event === 'interpreter') work.functions++;
  }
  return work;
}

/** client-node 1.x ignores a kubeconfig user's tokenFile (it sends no Authorization header). */
async function inlineTokenKubeconfig(path: string): Promise<string> {
  const config = JSON.parse(await readFile(path, 'utf8')) as {
    users: { user: Record<string, string> }[];
  };
  for (const { user } of config.users)
    user.token = (await readFile(user.tokenFile ?? '', 'utf8')).trim();
  const out = `${path}.inline`;
  await writeFile(out, JSON.stringify(config), { mode: 0o600 });
  return out;
}

/** Bundles a fixture like infra/build-functions.ts bundles the real functions. */
async function bundle(fixture: string): Promise<string> {
  const outfile = join(root, 'dist/bench', `${fixture}.mjs`);
  const clientNode = join(root, '.cache/bench-client-node');
  if (fixture.includes('client-node')) {
    const args = [
      'install',
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--prefix',
      clientNode,
      '@kubernetes/client-node@1',
    ];
    execFileSync('npm', args, { stdio: 'ignore' });
  }
  await build({
    entryPoints: [join(import.meta.dirname, 'fixtures', `${fixture}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    external: ['@google-cloud/functions-framework'],
    nodePaths: [join(clientNode, 'node_modules')],
    banner: {
      js: "import { createRequire as __kubefnRequire } from 'node:module'; const require = __kubefnRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  return outfile;
}
