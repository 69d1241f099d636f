// Faults the tests inject into the shared local stack.
import { compactEtcdAt } from './etcd.ts';
import { stack, stackControl } from './stack.ts';

async function control(path: string, what: string): Promise<void> {
  const res = await fetch(`${stackControl}${path}`, { method: 'POST' });
  if (res.status !== 204) throw new Error(`${what} failed: ${res.status} ${await res.text()}`);
}

/**
 * Restarts the real kube-apiserver (same port, etcd and keys) of the first cell; resolves once
 * it is ready.
 */
export function restartApiserver(): Promise<void> {
  return control('/restart/kube-apiserver', 'restart');
}

/**
 * Stops, starts again or restarts one cell's kube-apiserver (same port, etcd and keys): the
 * cell is down to every client meanwhile, its etcd, controllers and nodes still running. `start`
 * and `restart` resolve once it is ready; each is a no-op when already so.
 */
export function cellApiserver(cell: string, action: 'stop' | 'start' | 'restart'): Promise<void> {
  return control(
    `/cells/${encodeURIComponent(cell)}/kube-apiserver/${action}`,
    `${action} ${cell}`,
  );
}

/**
 * Freezes the real kube-controller-manager for `ms` (SIGSTOP, then SIGCONT from the stack's own
 * process, so it thaws even if the test fails): its controllers, the quota's included, stop.
 */
export function freezeControllerManager(ms: number): Promise<void> {
  return control(`/freeze/kube-controller-manager?ms=${ms}`, 'freeze');
}

/** Compacts etcd's history up to now, so older resourceVersions answer 410 Gone. */
export function compactEtcd(): Promise<number> {
  return compactEtcdAt(stack.etcdUrl);
}
