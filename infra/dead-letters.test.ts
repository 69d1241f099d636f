import { describe, expect, test } from 'vitest';
import {
  type DeadLetter,
  deadLetterAttributes,
  original,
  parseCommand,
  sourceTopic,
  summary,
  UsageError,
} from './dead-letters.ts';

describe('parseCommand', () => {
  test.each([
    [
      ['list'],
      {
        command: 'list',
        subscription: 'kubefn-dead-letter',
        attributes: [],
        max: 100,
        dryRun: false,
      },
    ],
    [
      ['list', '--subscription', 'other', '--max', '5', '--attribute', 'kind=Ingress'],
      {
        command: 'list',
        subscription: 'other',
        attributes: [['kind', 'Ingress']],
        max: 5,
        dryRun: false,
      },
    ],
    [
      ['replay', '--attribute', 'a=1', '--attribute', 'b=x=y', '--attribute', 'c=', '--dry-run'],
      {
        command: 'replay',
        subscription: 'kubefn-dead-letter',
        attributes: [
          ['a', '1'],
          ['b', 'x=y'],
          ['c', ''],
        ],
        max: 100,
        dryRun: true,
      },
    ],
    [
      ['replay', '--topic', 'kubefn-changes'],
      {
        command: 'replay',
        subscription: 'kubefn-dead-letter',
        attributes: [],
        max: 100,
        topic: 'kubefn-changes',
        dryRun: false,
      },
    ],
  ])('%j', (argv, expected) => {
    expect(parseCommand(argv)).toEqual(expected);
  });

  test.each([
    [[], 'no command'],
    [['purge'], 'unknown command "purge"'],
    [['list', 'extra'], 'unexpected argument "extra"'],
    [['list', '--force'], "Unknown option '--force'"],
    [['list', '--dry-run'], '--topic and --dry-run are for replay'],
    [['list', '--topic', 't'], '--topic and --dry-run are for replay'],
    [['list', '--attribute', 'novalue'], 'expected key=value'],
    [['list', '--attribute', '=v'], 'expected key=value'],
    [['list', '--max', '0'], '--max'],
    [['list', '--max', '1.5'], '--max'],
    [['list', '--max', 'lots'], '--max'],
    [['list', '--max', '10001'], '--max'],
    [['list', '--max'], "Option '--max <value>' argument missing"],
    [['list', '--subscription', ''], '--subscription'],
    [['replay', '--topic', 'kubefn-dead-letter'], 'not the dead-letter topic'],
  ])('%j is a usage error: %s', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});

test.each([
  ['kubefn-ingress-timeout-changes', 'kubefn-changes'],
  ['projects/p/subscriptions/kubefn-label-changes', 'kubefn-changes'],
  ['kubefn-provision-changes', 'kubefn-changes'],
  ['kubefn-label-requests', 'kubefn-label-requests'],
  ['kubefn-placement-tenant-requests', 'kubefn-tenant-requests'],
  ['kubefn-provision-resync-batches', 'kubefn-resync-batches'],
  // A cell's own copy of a per-cell trigger (infra/subscriptions.ts cellTrigger).
  ['kubefn-provision-changes-eu1', 'kubefn-changes'],
  ['projects/p/subscriptions/kubefn-label-requests-us1', 'kubefn-label-requests'],
  // Tenant requests are global: no cell copy; nor is a name that is no cell's.
  ['kubefn-placement-tenant-requests-eu1', undefined],
  ['kubefn-provision-changes-Not_A_Cell', undefined],
  ['somebody-elses', undefined],
  [undefined, undefined],
])('a message dead-lettered from %s is replayed to %s', (subscription, topic) => {
  expect(sourceTopic(subscription)).toBe(topic);
});

const message: DeadLetter = {
  ackId: 'ack-1',
  messageId: '42',
  data: Buffer.from('{"secret":"hunter2"}'),
  attributes: {
    kind: 'Ingress',
    [deadLetterAttributes.subscription]: 'kubefn-ingress-timeout-changes',
    [deadLetterAttributes.subscriptionProject]: 'p',
    [deadLetterAttributes.deliveryCount]: '10',
    [deadLetterAttributes.publishTime]: '2026-01-01T00:00:00.000Z',
  },
  orderingKey: 'networking.k8s.io/Ingress/ns/web',
  publishTime: '2026-01-01T00:10:00.000Z',
};

test('a listed message says where it came from and its size, never its data', () => {
  const listed = summary(message);
  expect(listed).toEqual({
    messageId: '42',
    sourceSubscription: 'kubefn-ingress-timeout-changes',
    sourceProject: 'p',
    firstPublished: '2026-01-01T00:00:00.000Z',
    deadLettered: '2026-01-01T00:10:00.000Z',
    deliveryCount: 10,
    orderingKey: 'networking.k8s.io/Ingress/ns/web',
    attributes: { kind: 'Ingress' },
    bytes: 20,
  });
  expect(JSON.stringify(listed)).not.toContain('hunter2');
});

test("a replayed message is the original: data, ordering key, attributes without Pub/Sub's", () => {
  expect(original(message)).toEqual({
    data: message.data,
    attributes: { kind: 'Ingress' },
    orderingKey: message.orderingKey,
  });
});
