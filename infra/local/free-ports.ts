// Ports for the local stack's processes, all on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for the stack's processes, chosen below the kernel's ephemeral range. A port from
 * listen(0) is an ephemeral one, and the processes bind theirs seconds later (the Pub/Sub
 * emulator's JVM takes longest): meanwhile any outgoing connection on the machine may be given
 * the same port as its source, and the bind fails (a CI run lost the emulator that way). Below
 * the range, only another listener can take it.
 */
export async function freePorts<Name extends string>(
  names: readonly Name[],
): Promise<Record<Name, number>> {
  const [low, high] = belowEphemeralRange();
  // Hold every listener open until all ports are known, so no port is handed out twice.
  const servers: ReturnType<typeof createServer>[] = [];
  for (let attempt = 0; servers.length < names.length; attempt++) {
    if (attempt > 1000) throw new Error(`no ${names.length} free ports in ${low}-${high}`);
    const port = low + Math.floor(Math.random() * (high - low));
    const server = createServer();
    const bound = await new Promise<boolean>((ok) => {
      server.once('error', () => ok(false));
      server.listen(port, '127.0.0.1', () => ok(true));
    });
    if (bound) servers.push(server);
  }
  const ports = servers.map((s, i) => [names[i], (s.address() as { port: number }).port]);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return Object.fromEntries(ports) as Record<Name, number>;
}

/** Linux's range is in /proc (32768-60999 by default); below it down to 20000 is ours. */
function belowEphemeralRange(): [number, number] {
  try {
    const [first] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (first !== undefined && first > 21_000) return [20_000, first];
  } catch {
    // not Linux: the default range's floor
  }
  return [20_000, 32_768];
}
