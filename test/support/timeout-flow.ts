// The whole ingress-timeout flow on the local stack, for the end-to-end test and its benchmark:
// a tenant from the real provisioning function (its monitoring Ingress carries the timeout
// annotation), and the event path (infra/local/change-flow.ts: watcher -> Pub/Sub emulator ->
// push forwarder) ending at the ingress-timeout function, through a subscription with the
// production trigger's filter and ordering (infra/subscriptions.ts ingressTimeoutChanges). The
// watcher runs under its own name, watching only this tenant's Ingresses, so it does not contend
// with other tests' watchers.
import { startChangeFlow } from '../../infra/local/change-flow.ts';
import {
  ingressTimeoutAudience,
  provisionAudience,
  startIngressTimeoutFunction,
  startProvisionFunction,
} from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { mintToken, signupAccount } from '../../infra/local/identities.ts';
import type { PushedMessage } from '../../infra/local/push-forwarder.ts';
import type { StackInfo } from '../../infra/local/stack.ts';
import { triggers } from '../../infra/subscriptions.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { signUpTenant } from './http.ts';

export type PushAnswer = { status: number; body: string };

export type TimeoutFlow = {
  namespace: string;
  fn: RunningFunction;
  /** Pushes answered, by status code (204: kept back by the subscription's filter). */
  pushes: Map<number, number>;
  /** The answer to the push of the message with this `eventKey` attribute, once answered. */
  answerTo(eventKey: string): PushAnswer | undefined;
  stop(): Promise<void>;
};

export async function startTimeoutFlow(
  admin: Cluster,
  stack: StackInfo,
  options: {
    customerId: string;
    env?: Record<string, string>;
    /** Told of each push as it reaches the forwarder (benchmarks time it). */
    onArrival?: (message: PushedMessage) => void;
  },
): Promise<TimeoutFlow> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const provision = await startProvisionFunction(admin, stack);
    stops.push(() => provision.stop());
    const signupToken = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
    await signUpTenant(provision.url, signupToken, options.customerId);
    const namespace = `tenant-${options.customerId}`;

    const fn = await startIngressTimeoutFunction(admin, stack, { env: options.env ?? {} });
    stops.push(() => fn.stop());
    const pushes = new Map<number, number>();
    const answers = new Map<string, PushAnswer>();
    const trigger = triggers.ingressTimeoutChanges;
    const topic = `changes-${options.customerId}`;
    const flow = await startChangeFlow(admin, stack, {
      topic,
      pushTo: [
        {
          subscription: `${topic}-push`,
          url: `${fn.url}${trigger.route}`,
          audience: ingressTimeoutAudience,
          filter: trigger.filter,
          ordered: trigger.ordered,
          onAnswer: (status, attributes, body) => {
            pushes.set(status, (pushes.get(status) ?? 0) + 1);
            if (attributes.eventKey) answers.set(attributes.eventKey, { status, body });
          },
          onArrival: options.onArrival,
        },
      ],
      watcherName: `watcher-${options.customerId}`.slice(0, 42),
      watch: [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace }],
    });
    stops.push(() => flow.stop());
    return { namespace, fn, pushes, answerTo: (key) => answers.get(key), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
