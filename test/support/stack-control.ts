// Faults the tests inject into the shared local stack.
import { compactEtcdAt } from './etcd.ts';
import { stack, stackControl } from './stack.ts';

/** Restarts the real kube-apiserver (same port, etcd and keys); resolves once it is ready. */
export async function restartApiserver(): Promise<void> {
  const res = await fetch(`${stackControl}/restart/kube-apiserver`, { method: 'POST' });
  if (res.status !== 204) throw new Error(`restart failed: ${await res.text()}`);
}

/**
 * Freezes the real kube-controller-manager for `ms` (SIGSTOP, then SIGCONT from the stack's own
 * process, so it thaws even if the test fails): its controllers, the quota's included, stop.
 */
export async function freezeControllerManager(ms: number): Promise<void> {
  const res = await fetch(`${stackControl}/freeze/kube-controller-manager?ms=${ms}`, {
    method: 'POST',
  });
  if (res.status !== 204) throw new Error(`freeze failed: ${await res.text()}`);
}

/** Compacts etcd's history up to now, so older resourceVersions answer 410 Gone. */
export function compactEtcd(): Promise<number> {
  return compactEtcdAt(stack.etcdUrl);
}
