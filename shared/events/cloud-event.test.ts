// Every attribute set kubefn publishes as a CloudEvent is read back by the `cloudevents` SDK
// (npm), as Eventarc's consumers would: Pub/Sub's binary mode maps `ce-*` attributes and
// `content-type` to the HTTP binding's headers one for one, so HTTP.toEvent checks them.
import { describe, expect, test } from 'vitest';
import { readCloudEvent } from '../../test/support/cloud-events.ts';
import { changeMessage } from './change.ts';
import { cloudEventAttributes } from './cloud-event.ts';

const ingress = {
  apiVersion: 'networking.k8s.io/v1',
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'Ingress',
};

describe('change messages are CloudEvents', () => {
  test.each(['ADDED', 'MODIFIED', 'DELETED'] as const)('%s', (type) => {
    const object = {
      metadata: { name: 'web', namespace: 'tenant-a', uid: 'u-1', resourceVersion: '42' },
    };
    const message = changeMessage(ingress, { type, object }, 'cell-a');
    const event = readCloudEvent(message.attributes, message.data);
    expect(event).toMatchObject({
      specversion: '1.0',
      id: `u-1/42/${type}`,
      source: '//kubefn.dev/clusters/cell-a/watcher',
      type: `dev.kubefn.object.${type.toLowerCase()}`,
      subject: 'networking.k8s.io/Ingress/tenant-a/web',
      datacontenttype: 'application/json',
    });
    // The id is the event key consumers already deduplicate on.
    expect(event.id).toBe(message.attributes.eventKey);
    expect(event.data).toEqual(JSON.parse(message.data.toString()));
  });
});

describe('cloudEventAttributes', () => {
  test('the SDK refuses a message without the required attributes (the check can fail)', () => {
    const { 'ce-source': _, ...noSource } = cloudEventAttributes({
      id: '1',
      source: '/s',
      type: 't',
    });
    expect(() => readCloudEvent(noSource, '{}')).toThrow();
  });
  test('an extension name the spec forbids is refused', () => {
    expect(() =>
      cloudEventAttributes({ id: '1', source: '/s', type: 't', extensions: { Bad_Name: 'x' } }),
    ).toThrow(/extension/);
  });
});
