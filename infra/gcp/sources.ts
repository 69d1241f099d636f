// From the bundles infra/build-functions.ts makes to what the deployment uploads:
//   - a function: its bundle folder as is (Cloud Run's build runs `npm ci` from its lockfile),
//     with the Functions Framework target its package.json starts (the `ff.http` name);
//   - the watcher: run without a build (`node index.mjs` on the nodejs22 base image), so its
//     archive carries node_modules, installed here from the bundle's own lockfile.
// The bundle's sha256 covers package.json and package-lock.json, hence node_modules too.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Bundle } from '../build-functions.ts';
import { type FunctionName, functionNames, type Sources } from './names.ts';

const run = promisify(execFile);

/** The Functions Framework target a bundle's start script names. */
export async function functionTarget(bundle: Bundle): Promise<string> {
  const pkg = JSON.parse(await readFile(join(bundle.dir, 'package.json'), 'utf8')) as {
    scripts?: { start?: string };
  };
  const target = /^functions-framework --target=(\S+)$/.exec(pkg.scripts?.start ?? '')?.[1];
  if (!target) throw new Error(`${bundle.dir}/package.json does not start a function target`);
  return target;
}

/**
 * A tar.gz of the watcher's bundle with its production dependencies, the same bytes for the same
 * bundle (sorted names, fixed times and owners, gzip without a timestamp; GNU tar).
 */
export async function packWatcher(
  bundle: Bundle,
  { outDir, offline = false }: { outDir: string; offline?: boolean },
): Promise<string> {
  const staging = await mkdtemp(join(outDir, '.watcher-'));
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
    const archive = join(outDir, `watcher-${bundle.sha256}.tar.gz`);
    await run('sh', [
      '-c',
      'tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - . | gzip -9n > "$2"',
      'pack',
      staging,
      archive,
    ]);
    return archive;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Every deployable's source, from buildFunctions()'s output. */
export async function deploySources(
  bundles: Record<string, Bundle>,
  { outDir, offline = false }: { outDir: string; offline?: boolean },
): Promise<Sources> {
  const bundle = (name: string) => {
    const found = bundles[name];
    if (!found) throw new Error(`no bundle for ${name}`);
    return found;
  };
  const functions = await Promise.all(
    functionNames.map(async (name) => {
      const b = bundle(name);
      return [name, { dir: b.dir, sha256: b.sha256, target: await functionTarget(b) }] as const;
    }),
  );
  const watcher = bundle('watcher');
  return {
    ...(Object.fromEntries(functions) as Record<FunctionName, Sources[FunctionName]>),
    watcher: { archive: await packWatcher(watcher, { outDir, offline }), sha256: watcher.sha256 },
  };
}
