// The triggers of infra/subscriptions.ts on the local stack: for each, its topic and push
// subscription on the Pub/Sub emulator (the same name, filter and ordering as on Google Cloud),
// pushed through a forwarder (push-forwarder.ts: the OIDC token, and the filter the emulator
// stores but does not apply) to the function's route. What `npm start` runs and the tests use.
import type { Cluster } from '../../shared/kube/index.ts';
import { type Consumer, cellTrigger, type Trigger, topics, triggers } from '../subscriptions.ts';
import { mintToken, pushAccount } from './identities.ts';
import { type PushedMessage, startPushForwarder } from './push-forwarder.ts';
import type { StackInfo } from './stack.ts';

export type PushTarget = {
  topic: string;
  subscription: string;
  /** The function route pushes go to, and the audience its tokens must carry. */
  url: string;
  audience: string;
  filter?: string | undefined;
  ordered?: boolean | undefined;
  /**
   * Told of each push's answer (the function's status and body, or 204 and '' for a message
   * filtered out).
   */
  onAnswer?:
    | ((status: number, attributes: Record<string, string>, body: string) => void)
    | undefined;
  /** Told of each push as it reaches the forwarder, before the filter. */
  onArrival?: ((message: PushedMessage) => void) | undefined;
};

export type Subscribed = { close(): Promise<void> };

/** One topic and push subscription on the emulator, and its forwarder. */
export async function subscribe(
  admin: Cluster,
  stack: StackInfo,
  target: PushTarget,
): Promise<Subscribed> {
  const token = await mintToken(admin, pushAccount, {
    audiences: [target.audience],
    expirationSeconds: 24 * 3600,
  });
  const forwarder = await startPushForwarder(
    target.url,
    token,
    (status, attributes, body) => target.onAnswer?.(status, attributes, body),
    {
      ...(target.filter ? { filter: target.filter } : {}),
      onFilteredOut: (message) => target.onAnswer?.(204, message.attributes, ''),
      ...(target.onArrival ? { onArrival: target.onArrival } : {}),
    },
  );
  try {
    await emulator(stack, `topics/${target.topic}`);
    await emulator(stack, `subscriptions/${target.subscription}`, {
      topic: `projects/${stack.pubsubProject}/topics/${target.topic}`,
      pushConfig: { pushEndpoint: forwarder.url },
      ackDeadlineSeconds: 30,
      ...(target.filter ? { filter: target.filter } : {}),
      ...(target.ordered ? { enableMessageOrdering: true } : {}),
    });
  } catch (error) {
    await forwarder.close();
    throw error;
  }
  return forwarder;
}

/**
 * Every trigger of infra/subscriptions.ts whose target is running, each told to `onAnswer`; for
 * a cell's functions (`cell`), the cell's own copy of each per-cell trigger (cellTrigger).
 */
export async function subscribeAll(
  admin: Cluster,
  stack: StackInfo,
  functions: Partial<Record<Consumer, { url: string; audience: string }>>,
  onAnswer?: (trigger: Trigger, status: number) => void,
  cell?: string,
): Promise<Subscribed> {
  const subscribed: Subscribed[] = [];
  const close = async () => {
    for (const s of subscribed) await s.close().catch(() => {});
  };
  // Every topic, those no trigger of kubefn's reads too (kubefn-tenant-outcomes: the SaaS app
  // subscribes), so a function publishing there finds it.
  for (const topic of Object.values(topics)) await emulator(stack, `topics/${topic}`);
  try {
    for (const base of Object.values(triggers) as Trigger[]) {
      const trigger = cell ? cellTrigger(base, cell) : base;
      const fn = functions[trigger.target];
      if (!fn) continue;
      subscribed.push(
        await subscribe(admin, stack, {
          topic: topics[trigger.topic],
          subscription: trigger.subscription,
          url: `${fn.url}${trigger.route}`,
          audience: fn.audience,
          filter: trigger.filter,
          ordered: trigger.ordered,
          onAnswer: (status) => onAnswer?.(trigger, status),
        }),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}

/** Creates a topic or subscription on the emulator; one that exists (kept state) is fine. */
export async function emulator(stack: StackInfo, path: string, body?: unknown): Promise<void> {
  const base = `http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}`;
  const res = await fetch(`${base}/${path}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok && res.status !== 409)
    throw new Error(`Pub/Sub emulator PUT ${path}: ${res.status} ${await res.text()}`);
}
