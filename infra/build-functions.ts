// Bundles each deployable in functions/ into dist/functions/<name>/index.mjs with esbuild: one
// file per function loads faster on a cold start than hundreds of node_modules files. The
// Functions Framework stays external: it is the host that loads the function, and the deploy
// installs it from package.json.
import { readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');

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
      external: ['@google-cloud/functions-framework'],
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
          dependencies: { '@google-cloud/functions-framework': '^5.0.5' },
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
