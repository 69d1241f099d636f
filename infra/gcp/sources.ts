// From the bundles infra/build-functions.ts makes to what the deployment uploads and runs. Every
// deployable, function or watcher, is deployed the same way, with no build step: a reproducible
// tar.gz of its bundle with its production node_modules (installed here from the bundle's own
// lockfile), run on the nodejs22 base image by the command its package.json starts, resolved to
// a file inside the archive (`functions-framework --target=X` -> `node
// node_modules/@google-cloud/functions-framework/build/src/main.js --target=X`).
// Why no build: a Cloud Run service's buildConfig only records where a build came from and starts
// none (docs/deploy.md, "Why no build"), so what the archive holds is exactly what the revision
// runs.
// The bundle's sha256 covers package.json and package-lock.json, hence node_modules too.
import { execFile } from 'node:child_process';
import { access, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import type { Bundle } from '../build-functions.ts';
import { type Deployable, deployables, type Sources } from './names.ts';

const run = promisify(execFile);

type PackageJson = {
  scripts?: { start?: string };
  dependencies?: Record<string, string>;
  bin?: string | Record<string, string>;
};
const readPackage = async (dir: string): Promise<PackageJson> =>
  JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;

/**
 * The command a bundle's start script runs, as `node <file> ...args` with the file inside the
 * bundle folder `dir` (node_modules installed): `node index.mjs` as is, or a package's bin
 * (`functions-framework --target=X`) resolved through that package's package.json.
 */
async function startCommand(dir: string): Promise<string[]> {
  const script = (await readPackage(dir)).scripts?.start;
  const [program, ...args] = script?.trim().split(/\s+/) ?? [];
  if (!program) throw new Error(`${dir}/package.json has no start script`);
  // `node FILE ...` as it is; a package's bin resolved to its file, its arguments kept.
  const [file, rest] =
    program === 'node' ? [args[0], args.slice(1)] : [await binFile(dir, program), args];
  if (!file) throw new Error(`${dir}/package.json starts node with no file`);
  await access(join(dir, file)).catch(() => {
    throw new Error(`${dir}: the start script's ${file} is not in the bundle`);
  });
  return ['node', file, ...rest];
}

/** The file a bin name stands for, in the installed dependency that declares it. */
async function binFile(dir: string, name: string): Promise<string> {
  for (const dep of Object.keys((await readPackage(dir)).dependencies ?? {})) {
    const { bin } = await readPackage(join(dir, 'node_modules', dep));
    // A string bin is named after the package, without its scope.
    const path =
      typeof bin === 'string' ? (dep.split('/').pop() === name ? bin : undefined) : bin?.[name];
    if (path) return join('node_modules', dep, normalize(path));
  }
  throw new Error(`${dir}: no dependency provides the command ${name}`);
}

/**
 * A tar.gz of a bundle with its production dependencies, the same bytes for the same bundle
 * (sorted names, fixed times and owners, gzip without a timestamp; GNU tar), and the command
 * that starts it from the archive's root.
 */
export async function packBundle(
  bundle: Bundle,
  name: Deployable,
  { outDir, offline = false }: { outDir: string; offline?: boolean },
): Promise<{ archive: string; command: string[] }> {
  const staging = await mkdtemp(join(outDir, `.${name}-`));
  try {
    await cp(bundle.dir, staging, { recursive: true });
    await run(
      'npm',
      [
        'ci',
        '--omit=dev',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        ...(offline ? ['--offline'] : []),
      ],
      { cwd: staging },
    );
    const command = await startCommand(staging);
    const archive = join(outDir, `${name}-${bundle.sha256}.tar.gz`);
    await run('sh', [
      '-c',
      'tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - . | gzip -9n > "$2"',
      'pack',
      staging,
      archive,
    ]);
    return { archive, command };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Every deployable's source, from buildFunctions()'s output. */
export async function deploySources(
  bundles: Record<string, Bundle>,
  options: { outDir: string; offline?: boolean },
): Promise<Sources> {
  const entries = [];
  // One at a time: each runs npm ci, and they share npm's cache.
  for (const name of deployables) {
    const bundle = bundles[name];
    if (!bundle) throw new Error(`no bundle for ${name}`);
    const packed = await packBundle(bundle, name, options);
    entries.push([name, { ...packed, sha256: bundle.sha256 }] as const);
  }
  return Object.fromEntries(entries) as Sources;
}
