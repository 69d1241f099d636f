// Pub/Sub between the watcher (and label's callers) and the functions: topics, push
// subscriptions with OIDC tokens of the push account, and a dead-letter topic for what keeps
// failing, with the service agent's grants it needs and a subscription that keeps it.
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import type { defineFunctions } from './functions.ts';
import { delivery, type FunctionName, routes, topicNames } from './names.ts';

type Functions = ReturnType<typeof defineFunctions>;

export function definePubsub(
  ctx: Context,
  accounts: Accounts,
  { services, invokerGrants }: Functions,
) {
  const { project, spec, opts, member } = ctx;
  const topic = (key: keyof typeof topicNames) =>
    new gcp.pubsub.Topic(`topic-${key}`, { project, name: topicNames[key] }, ctx.afterApis);
  const changes = topic('changes');
  const labelRequests = topic('labelRequests');
  const deadLetter = topic('deadLetter');
  const resyncBatches = topic('resyncBatches');

  new gcp.pubsub.TopicIAMMember(
    'watcher-publishes-changes',
    {
      project,
      topic: changes.name,
      role: 'roles/pubsub.publisher',
      member: member(accounts.watcher),
    },
    opts,
  );
  // The scheduled check publishes its batches when the tenants are more than one batch.
  new gcp.pubsub.TopicIAMMember(
    'provision-publishes-resync-batches',
    {
      project,
      topic: resyncBatches.name,
      role: 'roles/pubsub.publisher',
      member: member(accounts.provision),
    },
    opts,
  );
  spec.labelCallers.forEach((email, i) => {
    new gcp.pubsub.TopicIAMMember(
      `label-caller-publishes-${i}`,
      {
        project,
        topic: labelRequests.name,
        role: 'roles/pubsub.publisher',
        member: `serviceAccount:${email}`,
      },
      opts,
    );
  });

  // Messages published to a topic without a subscription are lost: the dead-letter topic has
  // one, kept for 7 days, never expiring.
  const deadLetterSubscription = new gcp.pubsub.Subscription(
    'sub-dead-letter',
    {
      project,
      name: 'kubefn-dead-letter',
      topic: deadLetter.name,
      ackDeadlineSeconds: 60,
      messageRetentionDuration: delivery.deadLetterRetention,
      retainAckedMessages: false,
      expirationPolicy: { ttl: '' },
    },
    opts,
  );

  // Pub/Sub's service agent, created now if the project has none yet (a grant to an agent
  // that does not exist fails). It moves messages to the dead-letter topic.
  const agent = new gcp.projects.ServiceIdentity(
    'pubsub-agent',
    { project, service: 'pubsub.googleapis.com' },
    ctx.afterApis,
  ).member;
  const agentPublishes = new gcp.pubsub.TopicIAMMember(
    'pubsub-agent-publishes-dead-letter',
    { project, topic: deadLetter.name, role: 'roles/pubsub.publisher', member: agent },
    opts,
  );
  // Projects from before 2021-04-08 need the agent to mint the push OIDC tokens; granted on the
  // push account only, not the project.
  new gcp.serviceaccount.IAMMember(
    'pubsub-agent-mints-push-tokens',
    {
      serviceAccountId: accounts.push.name,
      role: 'roles/iam.serviceAccountTokenCreator',
      member: agent,
    },
    opts,
  );

  const pushSubscription = (
    key: string,
    target: Exclude<FunctionName, 'signup'>,
    from: gcp.pubsub.Topic,
    extra: { filter?: string; enableMessageOrdering: boolean },
    route: string = routes.push,
  ) => {
    const subscription = new gcp.pubsub.Subscription(
      `sub-${key}`,
      {
        project,
        name: `kubefn-${key}`,
        topic: from.name,
        ackDeadlineSeconds: delivery.ackDeadlineSeconds,
        pushConfig: {
          pushEndpoint: pulumi.interpolate`${services[target].uri}${route}`,
          // Explicit: without it the token's aud is the endpoint URL (with /pubsub), which the
          // function's exact audience check refuses.
          oidcToken: { serviceAccountEmail: accounts.push.email, audience: ctx.audience(target) },
        },
        retryPolicy: {
          minimumBackoff: delivery.minimumBackoff,
          maximumBackoff: delivery.maximumBackoff,
        },
        deadLetterPolicy: {
          deadLetterTopic: deadLetter.id,
          maxDeliveryAttempts: delivery.maxDeliveryAttempts,
        },
        expirationPolicy: { ttl: '' },
        ...extra,
      },
      // The first deliveries need the invoker grants (a 403 counts against the dead-letter
      // budget). Filter and ordering cannot change after creation.
      { ...opts, dependsOn: [...invokerGrants, agentPublishes] },
    );
    new gcp.pubsub.SubscriptionIAMMember(
      `pubsub-agent-acks-${key}`,
      { project, subscription: subscription.name, role: 'roles/pubsub.subscriber', member: agent },
      opts,
    );
    return subscription;
  };

  return {
    topics: { changes, labelRequests, deadLetter, resyncBatches },
    subscriptions: {
      // The watcher publishes with ordering keys (group/kind/namespace/name) and a kind
      // attribute (shared/events/change.ts); this one takes only Ingress changes, in order.
      ingressChanges: pushSubscription('ingress-timeout-changes', 'ingress-timeout', changes, {
        filter: 'attributes.kind = "Ingress"',
        enableMessageOrdering: true,
      }),
      // Label requests (functions/label/schema.ts) from the configured labelCallers.
      labelRequests: pushSubscription('label-requests', 'label', labelRequests, {
        enableMessageOrdering: false,
      }),
      // Batches of a fanned-out scheduled check, to provision (functions/provision/fanout.ts).
      resyncBatches: pushSubscription(
        'provision-resync-batches',
        'provision',
        resyncBatches,
        { enableMessageOrdering: false },
        routes.resyncBatches,
      ),
      deadLetter: deadLetterSubscription,
    },
  };
}
