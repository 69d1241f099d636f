import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type Bundle,
  buildFunctions,
  dependencyEdges,
  type Lockfile,
  resolveDependency,
} from './build-functions.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));
const rootLock: Lockfile = await readJson(join(root, 'package-lock.json'));
const flags = ['dev', 'optional', 'devOptional', 'peer', 'extraneous'];
const withoutFlags = (entry: object) =>
  Object.fromEntries(Object.entries(entry).filter(([key]) => !flags.includes(key)));

// Built into a folder of its own (not dist/, which the integration tests build into), twice, at
// different paths.
let tmp: string;
let first: Record<string, Bundle>;
let second: Record<string, Bundle>;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'kubefn-build-'));
  first = await buildFunctions(undefined, { outDir: join(tmp, 'a') });
  second = await buildFunctions(undefined, { outDir: join(tmp, 'b') });
}, 30_000);

afterAll(() => rm(tmp, { recursive: true, force: true }));

it('builds every deployable, and the same tree hashes the same wherever it is built', async () => {
  const folders = (await readdir(join(root, 'functions'), { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  expect(Object.keys(first).sort()).toEqual(folders.sort());
  for (const [name, bundle] of Object.entries(first)) {
    expect(bundle.dir).toBe(join(tmp, 'a', name));
    expect(bundle.entry).toBe(join(bundle.dir, 'index.mjs'));
    expect(bundle.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(second[name]?.sha256).toBe(bundle.sha256);
  }
  expect(new Set(Object.values(first).map((b) => b.sha256)).size).toBe(folders.length);
});

it('keeps checkout and output paths out of the bundle and its sourcemap', async () => {
  for (const { entry } of Object.values(first)) {
    const map = await readJson(`${entry}.map`);
    for (const source of map.sources) expect(isAbsolute(source)).toBe(false);
    for (const text of [await readFile(entry, 'utf8'), JSON.stringify(map)]) {
      expect(text).not.toContain(root);
      expect(text).not.toContain(tmp);
    }
  }
});

it('clears the output folder, so a stale file never enters the hash', async () => {
  const { dir, sha256 } = first.signup as Bundle;
  await writeFile(join(dir, 'stale.js'), 'old');
  const rebuilt = await buildFunctions(['signup'], { outDir: join(tmp, 'a') });
  expect(existsSync(join(dir, 'stale.js'))).toBe(false);
  expect(rebuilt.signup?.sha256).toBe(sha256);
});

it('pins what each bundle imports at the versions the root lockfile installs', async () => {
  for (const [name, { dir }] of Object.entries(first)) {
    const pkg = await readJson(join(dir, 'package.json'));
    for (const [dep, version] of Object.entries(pkg.dependencies)) {
      expect(version).toBe(rootLock.packages[`node_modules/${dep}`]?.version);
    }
    if (name === 'watcher') {
      expect(Object.keys(pkg.dependencies)).toContain('@google-cloud/pubsub');
      expect(pkg.dependencies).not.toHaveProperty('@google-cloud/functions-framework');
      expect(pkg.scripts).toEqual({ start: 'node index.mjs' });
    } else {
      expect(Object.keys(pkg.dependencies)).toContain('@google-cloud/functions-framework');
      expect(pkg.scripts).toEqual({ start: `functions-framework --target=${name}` });
    }
  }
});

it('locks exactly the closure of those dependencies, where the root lockfile has them', async () => {
  for (const { dir } of Object.values(first)) {
    const pkg = await readJson(join(dir, 'package.json'));
    const lock: Lockfile = await readJson(join(dir, 'package-lock.json'));
    expect(lock.lockfileVersion).toBe(3);
    expect(lock.packages['']?.dependencies).toEqual(pkg.dependencies);
    const reached = new Set(['']);
    for (const path of reached) {
      for (const edge of dependencyEdges(lock.packages[path] ?? {})) {
        // Present, and the same copy the root resolves to; absent only if optional there too.
        const to = resolveDependency(lock.packages, path, edge.name);
        expect(to, `${edge.name} of ${path}`).toBe(
          resolveDependency(rootLock.packages, path, edge.name),
        );
        if (to) reached.add(to);
        else expect(edge.optional).toBe(true);
      }
    }
    expect(Object.keys(lock.packages).sort()).toEqual([...reached].sort());
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path) expect(withoutFlags(entry)).toEqual(withoutFlags(rootLock.packages[path] ?? {}));
    }
  }
});

it.each(['label', 'watcher'])(
  '%s installs offline with npm ci, at the locked versions',
  async (name) => {
    const copy = join(tmp, 'ci', name);
    await cp((first[name] as Bundle).dir, copy, { recursive: true });
    await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: copy,
    });
    await run('npm', ['ls', '--omit=dev'], { cwd: copy });
    const lock: Lockfile = await readJson(join(copy, 'package-lock.json'));
    for (const [path, entry] of Object.entries(lock.packages)) {
      const installed = join(copy, path, 'package.json');
      if (!path || (entry.optional && !existsSync(installed))) continue;
      expect((await readJson(installed)).version, path).toBe(entry.version);
    }
  },
  30_000,
);
