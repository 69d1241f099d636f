// Bundles each deployable in functions/ into dist/functions/<name>/index.mjs with esbuild: one
// file per function loads faster on a cold start than hundreds of node_modules files. Left out,
// and installed by the deploy from the function's package.json: the Functions Framework (the host
// that loads the function), `@google-cloud/pubsub` (the watcher's client), and `yaml`, which only
// kubeconfig files in YAML need: it was 114 KB of a 219 KB bundle, parsed on every cold start for
// nothing.
//
// Each bundle is a reproducible deploy source: its package.json pins the versions the root
// package-lock.json installs, and its own package-lock.json holds exactly their dependency tree
// from the root lockfile, so the deploy's `npm ci` installs what the tests ran against.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { build, type Plugin } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const externals = ['@google-cloud/functions-framework', '@google-cloud/pubsub', 'yaml'];

// The tracing exporter (shared/trace/otlp.ts: OpenTelemetry's SDK and OTLP exporter, imported only
// when KUBEFN_TRACING is on) is a bundle of its own beside the function's, otlp.mjs: with tracing
// off a cold start neither parses nor loads it; with it on, loading one 75 KB file took 17-18 ms
// of CPU against 170-190 ms for the same packages from node_modules (3 runs each, Node 20).
const tracerEntry = join(root, 'shared/trace/otlp.ts');
const tracerApart: Plugin = {
  name: 'kubefn-tracer-apart',
  setup(builder) {
    builder.onResolve({ filter: /\/otlp\.ts$/ }, (args) =>
      resolve(args.resolveDir, args.path) === tracerEntry
        ? { path: './otlp.mjs', external: true }
        : undefined,
    );
  },
};

/** A deploy source: the folder to upload, its entry file, and a digest of every file in it. */
export type Bundle = { dir: string; entry: string; sha256: string };

type LockEntry = {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
};
export type Lockfile = {
  name?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
};

export async function buildFunctions(
  names?: string[],
  { outDir = join(root, 'dist/functions') }: { outDir?: string } = {},
): Promise<Record<string, Bundle>> {
  const all = (await readdir(join(root, 'functions'), { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  const { engines } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    engines: Record<string, string>;
  };
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  const outputs: Record<string, Bundle> = {};
  for (const name of names ?? all) {
    const dir = join(outDir, name);
    // Built as if into dist/functions/<name> whatever outDir is: sourcemap paths are relative
    // to the output file, so every checkout and outDir gets the same bytes and the same hash.
    const virtualDir = join(root, 'dist/functions', name);
    const common = {
      absWorkingDir: root,
      write: false,
      metafile: true,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      minify: true,
      sourcemap: 'linked',
      external: externals,
      // Some dependencies are CommonJS and call require(); give the ESM bundle one.
      banner: {
        js: "import { createRequire as __kubefnRequire } from 'node:module'; const require = __kubefnRequire(import.meta.url);",
      },
      logLevel: 'warning',
    } as const;
    const result = await build({
      ...common,
      entryPoints: [join(root, 'functions', name, 'index.ts')],
      outfile: join(virtualDir, 'index.mjs'),
      // Request, Response and Headers inside the bundle are kubefn's small ones: Node's load
      // undici on first use (25-35 ms of a cold start); see shared/http/web-lite.ts.
      inject: [join(root, 'shared/http/web-lite.ts')],
      plugins: [tracerApart],
    });
    const results = [result];
    const importsOf = (r: typeof result) =>
      Object.values(r.metafile.outputs).flatMap((output) => output.imports);
    if (importsOf(result).some((i) => i.external && i.path === './otlp.mjs')) {
      results.push(
        await build({
          ...common,
          entryPoints: [tracerEntry],
          outfile: join(virtualDir, 'otlp.mjs'),
        }),
      );
    }
    // Only the externals this bundle imports (statically or not) are installed with it.
    const imported = new Set(
      results
        .flatMap(importsOf)
        .filter((i) => i.external)
        .map((i) => packageName(i.path))
        .filter((path) => externals.includes(path)),
    );
    const dependencies = Object.fromEntries(
      [...imported].sort().map((dep) => [dep, installedVersion(lock, dep)]),
    );
    // A function is hosted by the Functions Framework; anything else (the watcher) is a plain
    // service. The deploy runs this script's command from the archive (infra/gcp/sources.ts).
    const start = imported.has('@google-cloud/functions-framework')
      ? `functions-framework --target=${await functionTarget(name)}`
      : 'node index.mjs';
    const pkg = {
      name: `kubefn-${name}`,
      type: 'module',
      main: 'index.mjs',
      scripts: { start },
      // The code targets what the root supports; the deploy's runtime (nodejs22) picks the version.
      engines,
      dependencies,
    };

    // Written aside and moved in file by file: tests in other processes may be starting the
    // previous build of this bundle, which must never be missing or half written.
    await mkdir(outDir, { recursive: true });
    const staging = await mkdtemp(join(outDir, `.${name}-`));
    for (const file of results.flatMap((r) => r.outputFiles)) {
      await writeFile(join(staging, relative(virtualDir, file.path)), file.contents);
    }
    await writeFile(join(staging, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    await writeFile(
      join(staging, 'package-lock.json'),
      `${JSON.stringify(lockfileFor(lock, pkg.name, dependencies, engines), null, 2)}\n`,
    );
    const sha256 = await hashDir(staging);
    await publish(staging, dir);
    outputs[name] = { dir, entry: join(dir, 'index.mjs'), sha256 };
  }
  return outputs;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

function installedVersion(lock: Lockfile, dep: string): string {
  const version = lock.packages[`node_modules/${dep}`]?.version;
  if (!version) throw new Error(`${dep} is not installed at the top of package-lock.json`);
  return version;
}

/** The target functions/<name>/index.ts registers with ff.http(). */
async function functionTarget(name: string): Promise<string> {
  const source = await readFile(join(root, 'functions', name, 'index.ts'), 'utf8');
  const targets = [...source.matchAll(/\bff\.http\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
  if (targets.length !== 1 || !targets[0]) {
    throw new Error(
      `functions/${name}/index.ts registers ${targets.length} ff.http targets, not 1`,
    );
  }
  return targets[0];
}

type Edge = { name: string; optional: boolean; peer: boolean };

/** Edges npm installs: dependencies, optional ones, and peers unless optional. */
export function dependencyEdges(entry: LockEntry): Edge[] {
  const edges = new Map<string, Edge>();
  const add = (deps: Record<string, string> | undefined, optional: boolean, peer: boolean) => {
    for (const name of Object.keys(deps ?? {})) edges.set(name, { name, optional, peer });
  };
  add(entry.peerDependencies, false, true);
  for (const [name, meta] of Object.entries(entry.peerDependenciesMeta ?? {})) {
    if (meta.optional) edges.delete(name);
  }
  add(entry.dependencies, false, false);
  add(entry.optionalDependencies, true, false);
  return [...edges.values()];
}

/** Where npm finds `dep` for the package at `from`: nested under it first, then up the tree. */
export function resolveDependency(
  packages: Lockfile['packages'],
  from: string,
  dep: string,
): string | undefined {
  for (let base = from; ; base = base.slice(0, Math.max(0, base.lastIndexOf('/node_modules/')))) {
    const path = base ? `${base}/node_modules/${dep}` : `node_modules/${dep}`;
    if (packages[path]) return path;
    if (!base) return undefined;
  }
}

/**
 * The root lockfile cut down to `dependencies` and what they need, at the paths the root has
 * them: a subset of the root's tree resolves every dependency to the same copy. The dev,
 * optional and peer flags are the root's view; they are recomputed for this tree like npm does.
 */
function lockfileFor(
  lock: Lockfile,
  name: string,
  dependencies: Record<string, string>,
  engines: Record<string, string>,
): Lockfile {
  const rootEntry: LockEntry = { name, dependencies, engines };
  const packages: Lockfile['packages'] = { ...lock.packages, '': rootEntry };
  const reach = (follow: (edge: Edge) => boolean) => {
    const seen = new Set(['']);
    for (const path of seen) {
      for (const edge of dependencyEdges(packages[path] ?? {})) {
        const to = resolveDependency(packages, path, edge.name);
        if (!to) {
          if (edge.optional) continue;
          throw new Error(`package-lock.json has no ${edge.name} for ${path || name}`);
        }
        if (follow(edge)) seen.add(to);
      }
    }
    return seen;
  };
  const reached = reach(() => true);
  const required = reach((edge) => !edge.optional);
  const notPeer = reach((edge) => !edge.peer);
  const closure: Record<string, LockEntry> = { '': rootEntry };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path || !reached.has(path)) continue;
    const { dev, optional, devOptional, peer, extraneous, ...rest } = entry;
    closure[path] = {
      ...rest,
      ...(required.has(path) ? {} : { optional: true }),
      ...(notPeer.has(path) ? {} : { peer: true }),
    };
  }
  return { name, lockfileVersion: 3, requires: true, packages: closure };
}

/** Replaces dir's files with staging's (each rename is atomic) and removes the rest. */
async function publish(staging: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files = new Set(await readdir(staging));
  for (const stale of await readdir(dir)) {
    if (!files.has(stale)) await rm(join(dir, stale), { recursive: true, force: true });
  }
  for (const file of files) await rename(join(staging, file), join(dir, file));
  await rm(staging, { recursive: true });
}

/** sha256 over every file under dir, in path order, each as its path, size and content. */
async function hashDir(dir: string): Promise<string> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const content = await readFile(join(dir, file));
    hash.update(`${file}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outputs = await buildFunctions(
    process.argv.slice(2).length ? process.argv.slice(2) : undefined,
  );
  for (const [name, { dir, sha256 }] of Object.entries(outputs)) {
    console.log(`built ${name}: ${dir} sha256:${sha256}`);
  }
}
