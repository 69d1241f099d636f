// Listing at scale (selectors, lazy pagination over more than 500 objects) and the pleasant
// layer: collections, label filters, read-only items whose label changes are version-guarded.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Cluster, type Item, KubeError } from '../../shared/kube/index.ts';
import { closeTestNamespace, openTestNamespace } from '../support/cluster.ts';
import { uniqueName } from '../support/kube.ts';

let cluster: Cluster;
let ns: string;
const total = 600;
const configMaps = () => cluster.resource({ apiVersion: 'v1', kind: 'ConfigMap' });

beforeAll(async () => {
  ({ cluster, ns } = await openTestNamespace('bulk'));
  const names = Array.from({ length: total }, (_, i) => i);
  // 20 requests in flight at a time.
  for (let start = 0; start < total; start += 20) {
    await Promise.all(
      names.slice(start, start + 20).map((i) =>
        configMaps().create({
          metadata: {
            name: `item-${String(i).padStart(4, '0')}`,
            namespace: ns,
            labels: {
              parity: i % 2 === 0 ? 'even' : 'odd',
              ...(i % 100 === 0 ? { round: 'yes' } : {}),
            },
          },
          data: { i: String(i) },
        }),
      ),
    );
  }
});
afterAll(() => closeTestNamespace(cluster, ns));

describe('listing', () => {
  test('pages are fetched lazily, `limit` at a time, until the continue token runs out', async () => {
    const sizes: number[] = [];
    const pages = configMaps().pages({ namespace: ns, limit: 250, labelSelector: 'parity' });
    const first = await pages.next();
    expect(first.value?.items).toHaveLength(250);
    expect(first.value?.metadata.continue).toBeTruthy();
    sizes.push(first.value?.items.length ?? 0);
    for await (const page of pages) sizes.push(page.items.length);
    expect(sizes).toEqual([250, 250, 100]);
  });

  test('items() walks every page; label and field selectors filter on the server', async () => {
    let count = 0;
    for await (const _ of configMaps().items({ namespace: ns, labelSelector: 'parity' })) count++;
    expect(count).toBe(total);
    const even = await configMaps().list({ namespace: ns, labelSelector: 'parity=even' });
    expect(even.items).toHaveLength(total / 2);
    const rounds = await configMaps().list({
      namespace: ns,
      labelSelector: 'parity=even,round=yes',
    });
    expect(rounds.items.map((i) => i.metadata?.name)).toHaveLength(6);
    const one = await configMaps().list({
      namespace: ns,
      fieldSelector: 'metadata.name=item-0042',
    });
    expect(one.items.map((i) => i.data)).toEqual([{ i: '42' }]);
  });
});

describe('the pleasant layer', () => {
  test('a collection is async iterable and filterable by labels', async () => {
    const collection = cluster.collection({ apiVersion: 'v1', kind: 'ConfigMap' }, ns);
    const names: string[] = [];
    for await (const item of collection.filter({ round: 'yes' })) names.push(item.name);
    expect(names).toEqual([
      'item-0000',
      'item-0100',
      'item-0200',
      'item-0300',
      'item-0400',
      'item-0500',
    ]);
    let odd = 0;
    for await (const _ of collection.filter({ parity: 'odd', round: null })) odd++;
    expect(odd).toBe(total / 2);
  });

  test('items are read-only; label changes return a new version; a stale item fails loudly', async () => {
    const collection = cluster.collection({ apiVersion: 'v1', kind: 'ConfigMap' }, ns);
    const item: Item = await collection.get('item-0007');
    expect(Object.isFrozen(item.object.metadata?.labels)).toBe(true);
    expect(() => {
      (item.object.metadata?.labels as Record<string, string>).parity = 'even';
    }).toThrow(TypeError);

    const labelled = await item.setLabel('tier', 'gold');
    expect(labelled.labels).toMatchObject({ tier: 'gold', parity: 'odd' });
    expect(labelled.resourceVersion).not.toBe(item.resourceVersion);
    const unlabelled = await labelled.deleteLabel('tier');
    expect(unlabelled.labels).not.toHaveProperty('tier');

    // `item` is two versions old now: its change must not overwrite the newer ones.
    const stale = await item.setLabel('tier', 'silver').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(stale).toBeInstanceOf(KubeError);
    expect((stale as KubeError).code).toBe('conflict');
    expect((await collection.get('item-0007')).labels).not.toHaveProperty('tier');
  });

  test('namespaces: create, find by label, delete through the entry point', async () => {
    const name = uniqueName('entry');
    const created = await cluster.namespaces.create({
      metadata: { name, labels: { probe: name } },
    });
    expect(created.name).toBe(name);
    const found: string[] = [];
    for await (const item of cluster.namespaces.filter({ probe: name })) found.push(item.name);
    expect(found).toEqual([name]);
    await created.delete();
    expect((await cluster.namespaces.get(name)).object.status).toMatchObject({
      phase: 'Terminating',
    });
  });
});
