// The local stack's etcd: one member, its data in the state folder.
import { join } from 'node:path';
import { fetch } from 'undici';
import { binDir } from './binaries.ts';
import { type Managed, startProcess } from './processes.ts';
import { waitFor } from './wait-for.ts';

export function startEtcd(dir: string, url: string, peerPort: number): Managed {
  return startProcess(dir, 'etcd', join(binDir, 'etcd'), [
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    '--unsafe-no-fsync', // test data only: durability is not the point, speed is
    '--log-level=warn',
  ]);
}

export async function waitForEtcd(etcd: Managed, url: string): Promise<void> {
  await waitFor(etcd, 30_000, async () => {
    const body = await (await fetch(`${url}/health`)).json();
    return (body as { health?: string }).health === 'true';
  });
}
