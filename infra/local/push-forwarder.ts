// What the Pub/Sub emulator does not do, between its push and the function:
// - Real push delivery carries an OIDC token of the subscription's service account; the emulator
//   sends no token at all. This forwarder passes the push on unchanged with such a token
//   (locally a Kubernetes token of kubefn-push), so the functions' auth stays on.
// - Real Pub/Sub applies a subscription's filter; the emulator (528.0.0) stores it and delivers
//   every message anyway. Given the subscription's filter (infra/subscriptions.ts), the forwarder
//   answers a message the filter excludes 204 without calling the function: acknowledged, as
//   Pub/Sub acknowledges what it never delivers. So the local stack routes as production does.
// It relays the function's answer, so Pub/Sub's ack or redelivery behaves as in production.
// Tests and benchmarks may be told of each push as it arrives (before the filter) and of each
// answer with its body: the local stack's only view of the push itself.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileFilter } from '../pubsub-filter.ts';

export type PushedMessage = {
  messageId: string;
  attributes: Record<string, string>;
  /** When the emulator took the publish (RFC 3339), as the envelope says. */
  publishTime?: string | undefined;
};

export type ForwarderOptions = {
  /** The subscription's filter (Pub/Sub's syntax); absent: every message reaches the function. */
  filter?: string;
  /** Told of each message the filter kept from the function (acknowledged). */
  onFilteredOut?: (message: PushedMessage) => void;
  /** Told of each push as soon as its body is read, before the filter (benchmarks time it). */
  onArrival?: (message: PushedMessage) => void;
};

export async function startPushForwarder(
  target: string,
  token: string,
  /**
   * Told of each answer the function gave, once its body is read, with the message's attributes
   * (to tell which one) and the body (the function's outcome).
   */
  onAnswer: (status: number, attributes: Record<string, string>, body: string) => void = () => {},
  options: ForwarderOptions = {},
): Promise<{ url: string; close(): Promise<void> }> {
  // A filter Pub/Sub would refuse fails here, before anything is delivered (FilterError).
  const matches = compileFilter(options.filter);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const message = messageOf(body);
      if (message) options.onArrival?.(message);
      const excluded =
        options.filter && message && !matches(message.attributes) ? message : undefined;
      if (excluded) {
        options.onFilteredOut?.(excluded);
        res.writeHead(204).end();
        return;
      }
      const forward = request(
        target,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        },
        (answer) => {
          const status = answer.statusCode ?? 0;
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () =>
            onAnswer(status, message?.attributes ?? {}, Buffer.concat(chunks).toString('utf8')),
          );
          res.writeHead(answer.statusCode ?? 502);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The pushed message's id and attributes; undefined for a body that is not a push envelope, which
 * is passed on unfiltered: the function's own check refuses it (and says why), as it would a
 * malformed push in production.
 */
function messageOf(body: Buffer): PushedMessage | undefined {
  let envelope: unknown;
  try {
    envelope = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const message = (envelope as { message?: unknown } | null)?.message;
  if (typeof message !== 'object' || message === null) return undefined;
  const {
    attributes = {},
    messageId = '',
    publishTime,
  } = message as {
    attributes?: Record<string, string>;
    messageId?: string;
    publishTime?: unknown;
  };
  if (typeof attributes !== 'object' || attributes === null) return undefined;
  if (!Object.values(attributes).every((value) => typeof value === 'string')) return undefined;
  return {
    messageId: String(messageId),
    attributes,
    publishTime: typeof publishTime === 'string' ? publishTime : undefined,
  };
}
