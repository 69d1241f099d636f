// The baseline of the end-to-end benchmarks: a probe message published at the moment a change is
// answered, on the watcher's topic with the watcher's own publisher (functions/watcher/publisher.ts:
// its batching and ordering), so it reaches the same subscription's push loops at about the
// same moment as the change's message. The emulator pushes from two loops per subscription that
// sleep 100 ms when they find nothing: a probe sent alone, after the previous push landed, is
// locked to their phase; one sent beside the change shares it. The subscription's filter keeps
// the probe from the function (the local forwarder answers 204); its time is publish to arrival
// at the forwarder, told through `arrived` (the forwarder's onArrival).
import { setTimeout as sleep } from 'node:timers/promises';
import { createPublisher } from '../../functions/watcher/publisher.ts';
import type { PushedMessage } from '../../infra/local/push-forwarder.ts';
import { epochNow } from './path-timings.ts';

export function emulatorProbe(options: { projectId: string; topic: string }) {
  const publisher = createPublisher({ ...options, log: () => {} });
  const sent = new Map<string, number>();
  const landed = new Map<string, number>();
  let count = 0;
  return {
    /** Publishes one probe now; its name. */
    send(): string {
      const probe = `probe-${count++}`;
      sent.set(probe, epochNow());
      void publisher.publish({
        data: Buffer.from('{}'),
        attributes: { probe },
        orderingKey: `probe/${probe}`,
      });
      return probe;
    },
    /** The forwarder's onArrival: notes a probe's arrival. */
    arrived(message: PushedMessage): void {
      const probe = message.attributes.probe;
      if (probe && !landed.has(probe)) landed.set(probe, epochNow());
    },
    /** When the probe reached the forwarder (epoch ms), once it has. */
    landedAt: (probe: string) => landed.get(probe),
    /** Milliseconds from the probe's publish to its push. */
    async latency(probe: string, timeoutMs = 30_000): Promise<number> {
      for (const deadline = Date.now() + timeoutMs; !landed.has(probe); await sleep(1))
        if (Date.now() > deadline) throw new Error(`${probe}: no push in ${timeoutMs} ms`);
      return (landed.get(probe) ?? 0) - (sent.get(probe) ?? 0);
    },
    close: () => publisher.close(),
  };
}
