// The leading watcher's line each minute, 'watcher publishing': its cell, the changes it published
// since its previous line, whether every relay is synced, and the oldest unacknowledged change's
// wait. The metric kubefn/watcher_published reads it (infra/gcp/metrics.ts), and the alert "a
// watcher not publishing" fires when a cell's lines stop: no leader, or a leader whose process
// hangs. A quiet cluster still writes it, with published 0: silence means the watcher, not the
// cluster. A standby instance writes nothing (its silence would hide a missing leader).
import type { Logger } from '../../shared/log.ts';
import type { ServiceStatus } from './service.ts';

export const heartbeatMs = 60_000;

/** A function to call every heartbeatMs: writes the line while this instance leads. */
export function publishingHeartbeat(
  status: () => ServiceStatus,
  cell: string,
  log: Logger,
): () => void {
  let previous = 0;
  return () => {
    const { leader, ready, resources } = status();
    const relays = Object.values(resources);
    const total = relays.reduce((sum, r) => sum + r.published, 0);
    // Relays started again (a new term as leader) count from zero.
    const published = total >= previous ? total - previous : total;
    previous = total;
    if (!leader) return;
    log('INFO', 'watcher publishing', {
      cell,
      published,
      ready,
      lagMs: Math.max(0, ...relays.map((r) => r.lagMs)),
    });
  };
}
