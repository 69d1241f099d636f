// Every event trigger on the local stack, for the end-to-end test and the heal benchmark: the
// provisioning, label and ingress-timeout functions, the triggers of infra/subscriptions.ts on
// their own topics (the same subscriptions, filters and routes as production, named after this
// flow), and the watcher on its default targets narrowed to this flow's customers (a label
// selector added to each target), so it shares the stack with other tests without acting on
// their tenants or they on its.

import { defaultTargets } from '../../functions/watcher/config.ts';
import { startChangeFlow } from '../../infra/local/change-flow.ts';
import {
  ingressTimeoutAudience,
  labelAudience,
  provisionAudience,
  startIngressTimeoutFunction,
  startLabelFunction,
  startProvisionFunction,
} from '../../infra/local/deploy.ts';
import type { RunningFunction } from '../../infra/local/functions.ts';
import { mintToken, signupAccount } from '../../infra/local/identities.ts';
import type { PushedMessage } from '../../infra/local/push-forwarder.ts';
import type { StackInfo } from '../../infra/local/stack.ts';
import { subscribe } from '../../infra/local/triggers.ts';
import { type Trigger, type TriggerKey, triggers } from '../../infra/subscriptions.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { customerLabel } from '../../shared/labels.ts';
import { signUpTenant } from './http.ts';

export type EventFlow = {
  namespacePrefix: string;
  provision: RunningFunction;
  /** A token provision's POST /tenants accepts (the signup backend's). */
  signupToken: string;
  /** Pushes per trigger: delivered to the function (by status) or kept back by the filter (204). */
  pushes: Record<TriggerKey, Map<number, number>>;
  /** The answer to the message with this `eventKey` attribute through one trigger (204: filtered). */
  answerTo(trigger: TriggerKey, eventKey: string): number | undefined;
  /** Publishes a tenant request as a billing system would (ordering key: the customer id). */
  publishTenantRequest(request: Record<string, unknown>): Promise<void>;
  /**
   * Publishes a message on this flow's changes topic as anyone allowed to publish there could
   * (the watcher's shape, shared/events/change.ts, but its content as given).
   */
  publishChange(data: Record<string, unknown>, attributes: Record<string, string>): Promise<void>;
  /** Creates a tenant through provision's HTTP route; its namespace. */
  signUp(customerId: string, body?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
};

export async function startEventFlow(
  admin: Cluster,
  stack: StackInfo,
  options: {
    name: string;
    customers: string[];
    /** Told of each push as it reaches a trigger's forwarder, before the filter (benchmarks). */
    onArrival?: (trigger: TriggerKey, message: PushedMessage) => void;
  },
): Promise<EventFlow> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const namespacePrefix = `${options.name}-`;
    const env = { KUBEFN_NAMESPACE_PREFIX: namespacePrefix };
    const [provision, label, ingressTimeout] = await Promise.all([
      startProvisionFunction(admin, stack, { env }),
      startLabelFunction(admin, stack),
      startIngressTimeoutFunction(admin, stack),
    ]);
    stops.push(
      () => provision.stop(),
      () => label.stop(),
      () => ingressTimeout.stop(),
    );
    const functions = {
      provision: { url: provision.url, audience: provisionAudience },
      label: { url: label.url, audience: labelAudience },
      'ingress-timeout': { url: ingressTimeout.url, audience: ingressTimeoutAudience },
    };
    const topicOf = {
      changes: `${options.name}-changes`,
      tenantRequests: `${options.name}-tenants`,
    };
    const pushes = Object.fromEntries(
      Object.keys(triggers).map((key) => [key, new Map<number, number>()]),
    ) as EventFlow['pushes'];
    const answers = new Map<string, number>();
    for (const [key, trigger] of Object.entries(triggers) as [TriggerKey, Trigger][]) {
      if (trigger.topic !== 'changes' && trigger.topic !== 'tenantRequests') continue;
      // Tenant requests straight to provision, as placement forwards them to the tenant's cell.
      const fn = functions[trigger.target === 'placement' ? 'provision' : trigger.target];
      const subscribed = await subscribe(admin, stack, {
        topic: topicOf[trigger.topic],
        subscription: `${options.name}-${trigger.subscription}`,
        url: `${fn.url}${trigger.route}`,
        audience: fn.audience,
        filter: trigger.filter,
        ordered: trigger.ordered,
        onAnswer: (status, attributes) => {
          pushes[key].set(status, (pushes[key].get(status) ?? 0) + 1);
          if (attributes.eventKey) answers.set(`${key} ${attributes.eventKey}`, status);
        },
        ...(options.onArrival
          ? { onArrival: (message: PushedMessage) => options.onArrival?.(key, message) }
          : {}),
      });
      stops.push(() => subscribed.close());
    }
    const scope = `${customerLabel} in (${options.customers.join(',')})`;
    const flow = await startChangeFlow(admin, stack, {
      topic: topicOf.changes,
      watcherName: `${options.name}-watcher`.slice(0, 42),
      watch: defaultTargets.map((target) => ({
        ...target,
        ...(target.labelSelector ? { labelSelector: `${target.labelSelector},${scope}` } : {}),
        ...(target.namespaceSelector
          ? { namespaceSelector: `${target.namespaceSelector},${scope}` }
          : {}),
      })),
    });
    stops.push(() => flow.stop());

    const signupToken = await mintToken(admin, signupAccount, { audiences: [provisionAudience] });
    const publish = async (topic: string, message: Record<string, unknown>) => {
      const url = `http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}/topics/${topic}:publish`;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [message] }),
      });
      if (!res.ok) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
    };
    const base64 = (data: unknown) => Buffer.from(JSON.stringify(data)).toString('base64');
    return {
      namespacePrefix,
      provision,
      signupToken,
      pushes,
      answerTo: (trigger, eventKey) => answers.get(`${trigger} ${eventKey}`),
      publishTenantRequest: (request) =>
        publish(topicOf.tenantRequests, {
          data: base64(request),
          orderingKey: String(request.customerId ?? ''),
        }),
      publishChange: (data, attributes) =>
        publish(topicOf.changes, { data: base64(data), attributes }),
      async signUp(customerId, body = {}) {
        await signUpTenant(provision.url, signupToken, customerId, body);
        return namespacePrefix + customerId;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
