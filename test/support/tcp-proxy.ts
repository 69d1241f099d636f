// A TCP proxy on 127.0.0.1 in front of kube-apiserver, to cut a client off without touching the
// server: `cut()` drops every connection and refuses new ones until `restore()`; `freeze()`
// keeps connections open but stops forwarding (a half-open link, which never errors by itself).
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export type TcpProxy = {
  url: string;
  cut(): void;
  freeze(): void;
  /** Bytes the proxy holds for clients that are not reading them (TCP backpressure). */
  queuedToClients(): number;
  restore(): void;
  close(): Promise<void>;
};

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let mode: 'open' | 'cut' | 'frozen' = 'open';
  const server = createServer((client) => {
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    clients.add(client);
    client.on('close', () => clients.delete(client));
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (mode === 'open') to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${address.port}`,
    cut() {
      mode = 'cut';
      for (const socket of sockets) socket.destroy();
    },
    freeze() {
      mode = 'frozen';
    },
    queuedToClients() {
      return [...clients].reduce((sum, socket) => sum + socket.writableLength, 0);
    },
    restore() {
      mode = 'open';
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
