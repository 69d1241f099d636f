// kwok's configuration as the stack writes it, from stand-ins for the Stage files build.sh copies
// out of the kwok module: every stage kept, one YAML document each, and only pod-ready delayed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { writeKwokConfig } from './kwok.ts';

const dir = mkdtempSync(join(tmpdir(), 'kubefn-kwok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stages = ['node-initialize', 'node-heartbeat', 'pod-ready', 'pod-complete', 'pod-delete'];
for (const name of stages)
  writeFileSync(
    join(dir, `${name}.yaml`),
    `apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: ${name}\nspec:\n  next:\n    statusTemplate: |\n      phase: Running\n`,
  );

const written = async (podStartMs: number) => {
  const file = join(dir, `kwok-${podStartMs}.yaml`);
  await writeKwokConfig(dir, file, podStartMs);
  return parseAllDocuments(await readFile(file, 'utf8')).map(
    (doc) => doc.toJS() as { metadata: { name: string }; spec: { delay?: unknown; next: unknown } },
  );
};

test.each([
  [0, undefined],
  [1500, { durationMilliseconds: 1500 }],
])('pod start %i ms: pod-ready delay %o, the other stages as they are', async (ms, delay) => {
  const docs = await written(ms);
  expect(docs.map((d) => d.metadata.name)).toEqual(stages);
  for (const doc of docs) {
    expect(doc.spec.delay).toEqual(doc.metadata.name === 'pod-ready' ? delay : undefined);
    expect(doc.spec.next).toEqual({ statusTemplate: 'phase: Running\n' });
  }
});

test('a missing stage file says to run build.sh', async () => {
  await expect(writeKwokConfig(join(dir, 'nowhere'), join(dir, 'x.yaml'), 0)).rejects.toThrow(
    /node-initialize\.yaml is missing .*run bash infra\/local\/build\.sh/,
  );
});
