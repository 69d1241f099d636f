// decode: list 10,000 ConfigMaps of realistic size through shared/kube, against a plain fetch +
// JSON.parse of the same list, in the same run, on the real local stack. Also reports the
// module's bundled size and import time. Last line: `decode_ratio <ours/plain>` (goal <= 1.10).
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Agent, fetch } from 'undici';
import { startStack } from '../../infra/local/stack.ts';
import { Cluster, fromKubeconfig, type KubeList } from '../../shared/kube/index.ts';
import { median, ms, percentile } from './stats.ts';

const count = Number(process.env.DECODE_COUNT ?? 10_000);
const rounds = Number(process.env.DECODE_ROUNDS ?? 15);

const stack = await startStack();
try {
  const cluster = new Cluster(await fromKubeconfig({ path: stack.kubeconfig }));
  const ns = `decode-${Date.now().toString(36)}`;
  await cluster
    .resource({ apiVersion: 'v1', kind: 'Namespace' })
    .create({ metadata: { name: ns } });
  const configMaps = cluster.resource({ apiVersion: 'v1', kind: 'ConfigMap' });

  console.log(`creating ${count} ConfigMaps in ${ns}...`);
  const started = performance.now();
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, j) =>
        configMaps.create(realistic(ns, i + j)),
      ),
    );
    if ((i + 50) % 2_000 === 0)
      console.log(`  ${i + 50} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }

  const url = `${stack.server}/api/v1/namespaces/${ns}/configmaps`;
  const dispatcher = new Agent({
    connect: {
      ca: readFileSync(stack.caFile, 'utf8'),
      cert: readFileSync(stack.adminCertFile, 'utf8'),
      key: readFileSync(stack.adminKeyFile, 'utf8'),
    },
  });
  const plain = async () => {
    const res = await fetch(url, {
      dispatcher,
      // The same bytes shared/kube gets: node:https sends no Accept-Encoding, so the API server
      // answers plain; fetch would ask for gzip, which the server applies above 128 KiB, and the
      // baseline would pay compressing and inflating 16 MiB that kubefn never asks for.
      headers: { accept: 'application/json', 'accept-encoding': 'identity' },
    });
    if (res.headers.get('content-encoding'))
      throw new Error('the baseline got a compressed answer');
    return JSON.parse(await res.text()) as KubeList;
  };
  const ours = () => configMaps.list({ namespace: ns });

  // Same answer from both, and warm connections and caches on both sides before timing.
  const [a, b] = [await ours(), await plain()];
  // count + kube-root-ca.crt, which the root-CA publisher adds to every namespace.
  if (a.items.length !== count + 1 || b.items.length !== count + 1) {
    throw new Error(
      `expected ${count} items; shared/kube listed ${a.items.length}, fetch ${b.items.length}`,
    );
  }
  const bytes = Buffer.byteLength(JSON.stringify(b));
  for (let i = 0; i < 2; i++) await Promise.all([ours(), plain()].map((p) => p.then(() => {})));

  const times = { ours: [] as number[], plain: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    for (const [side, run] of round % 2
      ? ([
          ['plain', plain],
          ['ours', ours],
        ] as const)
      : ([
          ['ours', ours],
          ['plain', plain],
        ] as const)) {
      const t = performance.now();
      await run();
      times[side].push(performance.now() - t);
    }
  }
  const size = await bundle();
  console.log(`
decode: list of ${count} ConfigMaps, ${(bytes / 2 ** 20).toFixed(1)} MiB of JSON, ${rounds} interleaved rounds each
  shared/kube list       p50 ${ms(median(times.ours))}  p90 ${ms(percentile(times.ours, 90))}
  fetch + JSON.parse     p50 ${ms(median(times.plain))}  p90 ${ms(percentile(times.plain, 90))}
  shared/kube bundled    ${(size.bytes / 1024).toFixed(1)} KiB minified (esbuild, node22, yaml excluded: loaded only for kubeconfig files)
  import time            ${ms(size.importMs)} median of 5 fresh processes (an empty module: ${ms(size.baselineMs)})`);
  console.log(`decode_ratio ${(median(times.ours) / median(times.plain)).toFixed(2)}`);
  await dispatcher.close();
  await cluster.close();
} finally {
  await stack.stop();
}

/** A ConfigMap like the ones kubectl apply leaves behind: labels, annotations, a few data keys. */
function realistic(namespace: string, i: number) {
  const data: Record<string, string> = {};
  for (let k = 0; k < 6; k++)
    data[`setting-${k}.yaml`] = `key: value-${i}-${k}\nlimit: ${i * k}\n`.repeat(3);
  const metadata = {
    name: `cm-${String(i).padStart(5, '0')}`,
    namespace,
    labels: {
      app: `app-${i % 20}`,
      tier: i % 3 ? 'backend' : 'frontend',
      'app.kubernetes.io/managed-by': 'kubefn',
    },
    annotations: { 'kubefn.dev/owner': `customer-${i % 100}`, 'kubefn.dev/note': 'x'.repeat(200) },
  };
  return { metadata, data };
}

async function bundle(): Promise<{ bytes: number; importMs: number; baselineMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'kubefn-bundle-'));
  const outfile = join(dir, 'kube.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, '../../shared/kube/index.ts')],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    external: ['yaml'],
    outfile,
    logLevel: 'silent',
  });
  const empty = join(dir, 'empty.mjs');
  execFileSync('sh', ['-c', `echo "export {}" > ${empty}`]);
  const timeImport = (file: string) => {
    const runs = Array.from({ length: 5 }, () =>
      Number(
        execFileSync(process.execPath, [
          '-e',
          `const t=performance.now();import(${JSON.stringify(file)}).then(()=>console.log(performance.now()-t))`,
        ]).toString(),
      ),
    );
    return median(runs);
  };
  return {
    bytes: statSync(outfile).size,
    importMs: timeImport(outfile),
    baselineMs: timeImport(empty),
  };
}
