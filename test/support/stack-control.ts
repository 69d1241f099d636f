// Faults the tests inject into the shared local stack.
import { stack, stackControl } from './stack.ts';

/** Restarts the real kube-apiserver (same port, etcd and keys); resolves once it is ready. */
export async function restartApiserver(): Promise<void> {
  const res = await fetch(`${stackControl}/restart/kube-apiserver`, { method: 'POST' });
  if (res.status !== 204) throw new Error(`restart failed: ${await res.text()}`);
}

/** Compacts etcd's history up to now, so older resourceVersions answer 410 Gone. */
export async function compactEtcd(): Promise<number> {
  const etcd = stack.etcdUrl;
  // The revision of any read is the store's current one.
  const range = await fetch(`${etcd}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
  });
  const revision = Number(
    ((await range.json()) as { header: { revision: string } }).header.revision,
  );
  const compaction = await fetch(`${etcd}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision, physical: true }),
  });
  if (!compaction.ok) throw new Error(`etcd compaction failed: ${await compaction.text()}`);
  return revision;
}
