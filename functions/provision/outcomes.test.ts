import { describe, expect, test } from 'vitest';
import { DomainError } from '../../shared/errors.ts';
import { KubeError } from '../../shared/kube/index.ts';
import { readCloudEvent } from '../../test/support/cloud-events.ts';
import { type OutcomeRequest, outcomeMessage, type Stage, withOutcomes } from './outcomes.ts';

const request: OutcomeRequest = {
  action: 'cancel',
  customerId: 'acme',
  namespace: 'tenant-acme',
  via: 'pubsub',
  request: '2026-12-07T10:00:00Z',
  requestedAt: '2026-12-07T10:00:00Z',
};

describe('outcomeMessage', () => {
  test('a CloudEvent the SDK accepts, with a stable id and the filter attributes', () => {
    const message = outcomeMessage(request, 'held', { heldAt: 'x' }, 'eu1', '2026-12-07T10:00:01Z');
    const event = readCloudEvent(message.attributes, message.data);
    expect(event).toMatchObject({
      id: 'acme/cancel/2026-12-07T10:00:00Z/held',
      source: '//kubefn.dev/clusters/eu1/provision',
      type: 'dev.kubefn.tenant.held',
      subject: 'tenants/acme',
      // The SDK normalises the time to milliseconds.
      time: '2026-12-07T10:00:01.000Z',
    });
    expect(event.data).toEqual({
      customerId: 'acme',
      namespace: 'tenant-acme',
      action: 'cancel',
      stage: 'held',
      via: 'pubsub',
      requestedAt: '2026-12-07T10:00:00Z',
      heldAt: 'x',
    });
    expect(message.attributes).toMatchObject({
      customerId: 'acme',
      action: 'cancel',
      stage: 'held',
    });
    expect(message.orderingKey).toBe('acme');
    // The same request and stage, later: the same id (a redelivery is recognisable).
    const again = outcomeMessage(request, 'held', { heldAt: 'x' }, 'eu1', '2026-12-07T11:00:00Z');
    expect(again.attributes['ce-id']).toBe(message.attributes['ce-id']);
  });
});

describe('withOutcomes', () => {
  const run = async (work: () => Promise<unknown>) => {
    const emitted: [Stage, Record<string, unknown> | undefined][] = [];
    const outcomes = {
      emit: async (_: OutcomeRequest, stage: Stage, data?: Record<string, unknown>) => {
        emitted.push([stage, data]);
      },
    };
    await withOutcomes(outcomes, request, work, async () => ({ stage: 'succeeded' })).catch(
      () => {},
    );
    return emitted.map(([stage, data]) => (data?.code ? `${stage} ${data.code}` : stage));
  };
  test.each([
    { what: 'done', work: async () => 'ok', stages: ['requested', 'succeeded'] },
    {
      what: 'refused (final)',
      work: async () => {
        throw new DomainError('confirmation-required', 'repeat the id');
      },
      stages: ['requested', 'failed confirmation-required'],
    },
    {
      what: 'held',
      work: async () => {
        throw new DomainError('deletion-held', 'held', { heldAt: 'x' });
      },
      stages: ['requested', 'held'],
    },
    {
      what: 'a failure a retry can fix: not final, no failed',
      work: async () => {
        throw new KubeError('unavailable', 'down');
      },
      stages: ['requested'],
    },
    {
      what: 'a bug',
      work: async () => {
        throw new Error('boom');
      },
      stages: ['requested', 'failed internal'],
    },
  ])('$what', async ({ work, stages }) => {
    expect(await run(work)).toEqual(stages);
  });
});
