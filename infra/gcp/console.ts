// What the operator console (functions/console) may read and do on Pub/Sub, when the spec has a
// console: its own pull subscriptions on the changes and tenant-outcome topics (its live stream;
// kept an hour, expiring a day after the console last read them), reading and acknowledging the
// dead letters, and publishing a replayed one to the topic its source subscription reads (the
// topics of infra/subscriptions.ts's triggers). Nothing else: its reads and decisions on tenants
// go through each cell's provision (functions.ts grants it the invoker there, env.ts names it in
// KUBEFN_ALLOW_OPERATOR), never to a cluster.
import * as gcp from '@pulumi/gcp';
import { triggers } from '../subscriptions.ts';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import type { definePubsub } from './pubsub.ts';

/** The console's subscriptions, by the names its settings default to (functions/console/config.ts). */
export const consoleSubscriptionNames = {
  changes: 'kubefn-console-changes',
  outcomes: 'kubefn-console-outcomes',
} as const;

export function defineConsolePubsub(
  ctx: Context,
  accounts: Accounts,
  pubsub: ReturnType<typeof definePubsub>,
) {
  if (!accounts.console) return undefined;
  const { project, opts, member } = ctx;
  const reader = member(accounts.console);
  const stream = (key: keyof typeof consoleSubscriptionNames, topic: gcp.pubsub.Topic) => {
    const subscription = new gcp.pubsub.Subscription(
      `sub-console-${key}`,
      {
        project,
        name: consoleSubscriptionNames[key],
        topic: topic.name,
        ackDeadlineSeconds: 30,
        // A live view: what nobody read within the hour is of no use to it.
        messageRetentionDuration: '3600s',
        expirationPolicy: { ttl: '86400s' },
      },
      opts,
    );
    new gcp.pubsub.SubscriptionIAMMember(
      `console-reads-${key}`,
      { project, subscription: subscription.name, role: 'roles/pubsub.subscriber', member: reader },
      opts,
    );
    return subscription;
  };
  const subscriptions = {
    changes: stream('changes', pubsub.topics.changes),
    outcomes: stream('outcomes', pubsub.topics.tenantOutcomes),
  };
  new gcp.pubsub.SubscriptionIAMMember(
    'console-reads-dead-letters',
    {
      project,
      subscription: pubsub.subscriptions.deadLetter.name,
      role: 'roles/pubsub.subscriber',
      member: reader,
    },
    opts,
  );
  const replayTopics = [...new Set(Object.values(triggers).map((t) => t.topic))];
  for (const key of replayTopics)
    new gcp.pubsub.TopicIAMMember(
      `console-replays-to-${key}`,
      { project, topic: pubsub.topics[key].name, role: 'roles/pubsub.publisher', member: reader },
      opts,
    );
  return { subscriptions };
}
