// shared/'s folders import one another in one direction only: a cycle between two of them
// (shared/kube and shared/gcp imported each other through the transport until issue 27) means
// a concern lives in the wrong folder. Type-only imports count too.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect, test } from 'vitest';

const shared = import.meta.dirname;

function folderEdges(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  const folderOf = (path: string) => relative(shared, path).split('/').slice(0, -1)[0];
  for (const entry of readdirSync(shared, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const from = folderOf(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/\bfrom\s+'(\.[^']+)'/g)) {
      const to = folderOf(resolve(dirname(file), spec ?? ''));
      if (from === undefined || to === undefined || to === from || to.startsWith('..')) continue;
      edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }
  return edges;
}

test("no import cycle between shared/'s folders", () => {
  const edges = folderEdges();
  const cycles: string[] = [];
  const visit = (folder: string, path: string[]) => {
    for (const next of edges.get(folder) ?? []) {
      if (next === path[0]) cycles.push([...path, next].join(' -> '));
      else if (!path.includes(next) && next > (path[0] ?? '')) visit(next, [...path, next]);
    }
  };
  for (const folder of edges.keys()) visit(folder, [folder]);
  expect(cycles).toEqual([]);
  // The edges this rule is about: both reach the transport, neither the other's way back.
  expect(edges.get('gcp')?.has('kube')).toBeFalsy();
  expect(edges.get('kube')?.has('transport')).toBe(true);
  expect(edges.get('gcp')?.has('transport')).toBe(true);
});
