// The whole ingress-timeout flow on the local stack, for the end-to-end test and its benchmark:
// a tenant from the real provisioning function (its monitoring Ingress carries the timeout
// annotation), and the event path (infra/local/change-flow.ts: watcher -> Pub/Sub emulator ->
// push forwarder) ending at the ingress-timeout function. The watcher runs under its own name,
// watching only this tenant's Ingresses, so it does not contend with other tests' watchers.
import { startChangeFlow } from '../../infra/local/change-flow.ts';
import {
  ingressTimeoutAudience,
  provisionAudience,
  startIngressTimeoutFunction,
  startProvisionFunction,
} from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { mintToken, signupAccount } from '../../infra/local/identities.ts';
import type { StackInfo } from '../../infra/local/stack.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { httpRequest } from './http.ts';

export type TimeoutFlow = {
  namespace: string;
  fn: RunningFunction;
  /** Pushes the function answered, by status code. */
  pushes: Map<number, number>;
  stop(): Promise<void>;
};

export async function startTimeoutFlow(
  admin: Cluster,
  stack: StackInfo,
  options: { customerId: string; env?: Record<string, string> },
): Promise<TimeoutFlow> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const provision = await startProvisionFunction(admin, stack);
    stops.push(() => provision.stop());
    const signupToken = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
    const created = await httpRequest(
      `${provision.url}/tenants`,
      signupToken,
      'POST',
      JSON.stringify({ customerId: options.customerId, plan: 'free' }),
    );
    if (created.status !== 201) throw new Error(`provision answered ${created.status}`);
    const namespace = `tenant-${options.customerId}`;

    const fn = await startIngressTimeoutFunction(admin, stack, { env: options.env ?? {} });
    stops.push(() => fn.stop());
    const pushes = new Map<number, number>();
    const flow = await startChangeFlow(admin, stack, {
      topic: `changes-${options.customerId}`,
      pushTo: { url: `${fn.url}/pubsub`, audience: ingressTimeoutAudience },
      watcherName: `watcher-${options.customerId}`.slice(0, 42),
      watch: [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace }],
      onPushAnswer: (status) => pushes.set(status, (pushes.get(status) ?? 0) + 1),
    });
    stops.push(() => flow.stop());
    return { namespace, fn, pushes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
