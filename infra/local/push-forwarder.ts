// The one thing the Pub/Sub emulator cannot do: real push delivery carries an OIDC token of the
// subscription's service account; the emulator sends no token at all. This forwarder receives
// the emulator's push and passes it on unchanged with such a token (locally a Kubernetes token of
// kubefn-push), so the functions' auth stays on. It relays the function's answer, so
// Pub/Sub's ack or redelivery behaves as in production.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startPushForwarder(
  target: string,
  token: string,
  onAnswer: (status: number) => void = () => {},
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const forward = request(
        target,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        },
        (answer) => {
          onAnswer(answer.statusCode ?? 0);
          res.writeHead(answer.statusCode ?? 502);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
