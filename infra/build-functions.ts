// Bundles each deployable in functions/ into dist/functions/<name>/index.mjs with esbuild: one
// file per function loads faster on a cold start than hundreds of node_modules files. Left out,
// and installed by the deploy from the function's package.json: the Functions Framework (the host
// that loads the function), and `yaml`, which only kubeconfig files in YAML need: it was 114 KB
// of a 219 KB bundle, parsed on every cold start for nothing.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const { dependencies } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const runtimeDependencies = Object.fromEntries(
  ['@google-cloud/functions-framework', '@google-cloud/pubsub', 'yaml'].map((name) => [
    name,
    dependencies[name] ?? '*',
  ]),
);

export async function buildFunctions(names?: string[]): Promise<Record<string, string>> {
  const all = (await readdir(join(root, 'functions'), { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  const outputs: Record<string, string> = {};
  for (const name of names ?? all) {
    const outdir = join(root, 'dist/functions', name);
    await build({
      entryPoints: [join(root, 'functions', name, 'index.ts')],
      outfile: join(outdir, 'index.mjs'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      minify: true,
      sourcemap: 'linked',
      external: Object.keys(runtimeDependencies),
      // Request, Response and Headers inside the bundle are kubefn's small ones: Node's load
      // undici on first use (25-35 ms of a cold start); see shared/http/web-lite.ts.
      inject: [join(root, 'shared/http/web-lite.ts')],
      // Some dependencies are CommonJS and call require(); give the ESM bundle one.
      banner: {
        js: "import { createRequire as __kubefnRequire } from 'node:module'; const require = __kubefnRequire(import.meta.url);",
      },
      logLevel: 'warning',
    });
    await writeFile(
      join(outdir, 'package.json'),
      JSON.stringify(
        {
          name: `kubefn-${name}`,
          type: 'module',
          main: 'index.mjs',
          dependencies: runtimeDependencies,
        },
        null,
        2,
      ),
    );
    outputs[name] = join(outdir, 'index.mjs');
  }
  return outputs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outputs = await buildFunctions(
    process.argv.slice(2).length ? process.argv.slice(2) : undefined,
  );
  for (const [name, file] of Object.entries(outputs)) console.log(`built ${name}: ${file}`);
}
