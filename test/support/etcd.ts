// Compacts a local stack's etcd history up to now, so older resourceVersions answer 410 Gone:
// the fault tests, the chaos run and the scale benchmark force relists with it.
export async function compactEtcdAt(etcdUrl: string): Promise<number> {
  // The revision of any read is the store's current one.
  const range = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
  });
  const revision = Number(
    ((await range.json()) as { header: { revision: string } }).header.revision,
  );
  const compaction = await fetch(`${etcdUrl}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision, physical: true }),
  });
  if (!compaction.ok) throw new Error(`etcd compaction failed: ${await compaction.text()}`);
  return revision;
}
