// From real bundles to the deployment's sources: each function's target is the one its bundle
// starts (build-functions.ts reads it from the function's index.ts), and the watcher's archive (node_modules installed from its lockfile, from
// npm's cache here) is the same bytes each time.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Bundle, buildFunctions } from '../build-functions.ts';
import { functionNames, type Sources } from './names.ts';
import { deploySources, packWatcher } from './sources.ts';

const run = promisify(execFile);
let tmp: string;
let bundles: Record<string, Bundle>;
let sources: Sources;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'kubefn-gcp-sources-'));
  bundles = await buildFunctions(undefined, { outDir: join(tmp, 'functions') });
  sources = await deploySources(bundles, { outDir: tmp, offline: true });
}, 120_000);

afterAll(() => rm(tmp, { recursive: true, force: true }));

it.each(functionNames)('%s is deployed with the target its bundle starts', async (name) => {
  // The start script is what the local stack and its tests run (functions-framework --target).
  const pkg = JSON.parse(await readFile(join(sources[name].dir, 'package.json'), 'utf8'));
  expect(pkg.scripts.start).toBe(`functions-framework --target=${sources[name].target}`);
  expect(sources[name].target).toBe(name);
  expect(sources[name].sha256).toBe(bundles[name]?.sha256);
  expect(sources[name].dir).toBe(bundles[name]?.dir);
});

it('packs the watcher with its dependencies, the same bytes every time', async () => {
  const watcher = bundles.watcher as Bundle;
  expect(sources.watcher.sha256).toBe(watcher.sha256);
  const { stdout } = await run('tar', ['-tzf', sources.watcher.archive], { maxBuffer: 1 << 24 });
  const files = stdout.split('\n');
  for (const file of ['./index.mjs', './package.json', './package-lock.json'])
    expect(files).toContain(file);
  expect(files).toContain('./node_modules/@google-cloud/pubsub/package.json');
  const digest = async (file: string) =>
    createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  const first = await digest(sources.watcher.archive);
  const again = await packWatcher(watcher, {
    outDir: await mkdtemp(join(tmp, 'again-')),
    offline: true,
  });
  expect(await digest(again)).toBe(first);
}, 120_000);
