// Pub/Sub between the watchers (and label's and billing's publishers) and the functions: one
// topic per entry of infra/subscriptions.ts's `topics`, shared by every cell, and push
// subscriptions (OIDC token of the push account, the trigger's filter, route and ordering): a
// per-cell trigger once per cell (`cellTrigger`: its own name, and only the messages whose
// `cluster` attribute is the cell's) to that cell's function, a global one once to placement.
// And a dead-letter topic for what keeps failing, with the service agent's grants it needs and a
// subscription that keeps it.
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { parseFilter } from '../pubsub-filter.ts';
import {
  cellTrigger,
  type TopicKey,
  type Trigger,
  type TriggerKey,
  topics,
  triggers,
} from '../subscriptions.ts';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import type { defineFunctions } from './functions.ts';
import { delivery } from './names.ts';

type Functions = ReturnType<typeof defineFunctions>;

export function definePubsub(
  ctx: Context,
  accounts: Accounts,
  { global, cells, invokerGrants }: Functions,
) {
  const { project, spec, opts, member } = ctx;
  const topicOf = Object.fromEntries(
    (Object.keys(topics) as TopicKey[]).map((key) => [
      key,
      new gcp.pubsub.Topic(`topic-${key}`, { project, name: topics[key] }, ctx.afterApis),
    ]),
  ) as Record<TopicKey, gcp.pubsub.Topic>;
  const { changes, labelRequests, tenantRequests, tenantOutcomes, deadLetter, resyncBatches } =
    topicOf;

  for (const cell of spec.cells) {
    const own = accounts.cell(cell.name);
    new gcp.pubsub.TopicIAMMember(
      `${cell.name}-watcher-publishes-changes`,
      {
        project,
        topic: changes.name,
        role: 'roles/pubsub.publisher',
        member: member(own.watcher),
      },
      opts,
    );
    // The scheduled check publishes its batches when the tenants are more than one batch.
    new gcp.pubsub.TopicIAMMember(
      `${cell.name}-provision-publishes-resync-batches`,
      {
        project,
        topic: resyncBatches.name,
        role: 'roles/pubsub.publisher',
        member: member(own.provision),
      },
      opts,
    );
    // Each tenant request's outcome (functions/provision/outcomes.ts), CloudEvents.
    new gcp.pubsub.TopicIAMMember(
      `${cell.name}-provision-publishes-tenant-outcomes`,
      {
        project,
        topic: tenantOutcomes.name,
        role: 'roles/pubsub.publisher',
        member: member(own.provision),
      },
      opts,
    );
  }
  // Placement's moves have outcome events too (functions/placement/move.ts).
  new gcp.pubsub.TopicIAMMember(
    'placement-publishes-tenant-outcomes',
    {
      project,
      topic: tenantOutcomes.name,
      role: 'roles/pubsub.publisher',
      member: member(accounts.placement),
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
  // Billing or CRM: sign-ups, plan changes, suspensions, for placement's /pubsub/tenants.
  spec.tenantRequestPublishers.forEach((email, i) => {
    new gcp.pubsub.TopicIAMMember(
      `tenant-request-publisher-${i}`,
      {
        project,
        topic: tenantRequests.name,
        role: 'roles/pubsub.publisher',
        member: `serviceAccount:${email}`,
      },
      opts,
    );
    // ... and hears back: it may attach its own subscriptions (in its project) to the outcomes.
    new gcp.pubsub.TopicIAMMember(
      `tenant-outcome-subscriber-${i}`,
      {
        project,
        topic: tenantOutcomes.name,
        role: 'roles/pubsub.subscriber',
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

  // One per trigger and cell (or once, a global trigger). The logical name follows the
  // subscription's (kubefn-label-requests-eu1 is sub-label-requests-eu1), so a trigger keeps its
  // resource.
  const pushSubscription = (
    trigger: Trigger,
    target: { service: gcp.cloudrunv2.Service; audience: string },
  ) => {
    // A filter Pub/Sub would refuse fails the preview here, not the creation later.
    parseFilter(trigger.filter ?? '');
    const key = trigger.subscription.replace(/^kubefn-/, '');
    const subscription = new gcp.pubsub.Subscription(
      `sub-${key}`,
      {
        project,
        name: trigger.subscription,
        topic: topicOf[trigger.topic].name,
        ackDeadlineSeconds: delivery.ackDeadlineSeconds,
        pushConfig: {
          pushEndpoint: pulumi.interpolate`${target.service.uri}${trigger.route}`,
          // Explicit: without it the token's aud is the endpoint URL (with the route), which the
          // function's exact audience check refuses.
          oidcToken: {
            serviceAccountEmail: accounts.push.email,
            audience: target.audience,
          },
        },
        ...(trigger.filter ? { filter: trigger.filter } : {}),
        enableMessageOrdering: trigger.ordered,
        retryPolicy: {
          minimumBackoff: delivery.minimumBackoff,
          maximumBackoff: delivery.maximumBackoff,
        },
        deadLetterPolicy: {
          deadLetterTopic: deadLetter.id,
          maxDeliveryAttempts: delivery.maxDeliveryAttempts,
        },
        expirationPolicy: { ttl: '' },
      },
      // The first deliveries need the invoker grants (a 403 counts against the dead-letter
      // budget). Filter and ordering cannot change after creation: a new filter is a new name.
      { ...opts, dependsOn: [...invokerGrants, agentPublishes] },
    );
    new gcp.pubsub.SubscriptionIAMMember(
      `pubsub-agent-acks-${key}`,
      { project, subscription: subscription.name, role: 'roles/pubsub.subscriber', member: agent },
      opts,
    );
    return subscription;
  };

  const pushSubscriptions: Record<string, gcp.pubsub.Subscription> = {};
  for (const key of Object.keys(triggers) as TriggerKey[]) {
    const trigger: Trigger = triggers[key];
    if (trigger.scope === 'global') {
      if (trigger.target !== 'placement')
        throw new Error(`${key}: a global trigger's target is placement, not ${trigger.target}`);
      pushSubscriptions[key] = pushSubscription(trigger, {
        service: global.placement,
        audience: ctx.audience('placement'),
      });
      continue;
    }
    if (trigger.target === 'placement') throw new Error(`${key}: placement is global`);
    for (const cell of spec.cells) {
      const own = cellTrigger(trigger, cell.name);
      pushSubscriptions[`${key}-${cell.name}`] = pushSubscription(own, {
        service: cells[cell.name]?.[trigger.target] as gcp.cloudrunv2.Service,
        audience: ctx.cellAudience(cell.name, trigger.target),
      });
    }
  }

  return {
    topics: topicOf,
    subscriptions: { ...pushSubscriptions, deadLetter: deadLetterSubscription },
  };
}
