import { expect, it } from 'vitest';
import type { LogFields } from '../../shared/log.ts';
import { publishingHeartbeat } from './heartbeat.ts';
import type { ServiceStatus } from './service.ts';

const relay = (published: number, lagMs = 0) => ({
  resourceVersion: '1',
  seenResourceVersion: '1',
  inFlight: 0,
  published,
  skipped: 0,
  synced: true,
  lagMs,
});

it('writes what was published since its previous line, only while leading', () => {
  const lines: LogFields[] = [];
  let status: ServiceStatus = {
    identity: 'a',
    state: 'relaying',
    leader: true,
    ready: true,
    checkpoint: {},
    resources: { pods: relay(10, 250), services: relay(5) },
  };
  const beat = publishingHeartbeat(
    () => status,
    'eu1',
    (_, message, fields) => lines.push({ message, ...fields }),
  );
  beat();
  status = { ...status, resources: { pods: relay(12), services: relay(5) } };
  beat();
  beat(); // a quiet cluster: published 0, still written
  status = { ...status, leader: false, resources: { pods: relay(20), services: relay(5) } };
  beat(); // a standby writes nothing
  status = { ...status, leader: true, resources: { pods: relay(3), services: relay(0) } };
  beat(); // relays started again: they count from zero
  expect(lines).toEqual([
    { message: 'watcher publishing', cell: 'eu1', published: 15, ready: true, lagMs: 250 },
    { message: 'watcher publishing', cell: 'eu1', published: 2, ready: true, lagMs: 0 },
    { message: 'watcher publishing', cell: 'eu1', published: 0, ready: true, lagMs: 0 },
    { message: 'watcher publishing', cell: 'eu1', published: 3, ready: true, lagMs: 0 },
  ]);
});
