// The Pub/Sub emulator's own publish-to-push latency, the baseline of the end-to-end benchmarks:
// a topic whose push subscription ends at a local endpoint; `probe()` publishes one message and
// resolves with the milliseconds until its push arrived.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PubSub } from '@google-cloud/pubsub';

export async function emulatorProbe(pubsub: PubSub, name: string) {
  const waiting = new Map<string, () => void>();
  const endpoint = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk;
    });
    req.on('end', () => {
      const { message } = JSON.parse(body) as { message: { attributes: Record<string, string> } };
      waiting.get(message.attributes.probe ?? '')?.();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const [topic] = await pubsub.createTopic(name);
  await topic.createSubscription(`${name}-push`, {
    pushConfig: { pushEndpoint: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/` },
  });
  let sent = 0;
  return {
    async probe(timeoutMs = 30_000): Promise<number> {
      const probe = `probe-${sent++}`;
      const arrived = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${probe}: no push in ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiting.set(probe, () => {
          clearTimeout(timer);
          waiting.delete(probe);
          resolve(performance.now());
        });
      });
      const published = performance.now();
      await topic.publishMessage({ data: Buffer.from('{}'), attributes: { probe } });
      return (await arrived) - published;
    },
    close: () => new Promise<void>((resolve) => endpoint.close(() => resolve())),
  };
}
