// The watcher deployable's health endpoints, for Cloud Run's probes and for people, answered
// from the service's status():
//   /livez    200 while the process serves
//   /readyz   200 once it leads and every resource is listed (or resumed), else 503
//   /status   identity, leader, checkpoint save state, and each resource's relay status
import type { Server } from 'node:http';
import { nodeHttp } from '../../shared/transport/node-http.ts';
import type { ServiceStatus } from './service.ts';

export function healthServer(status: () => ServiceStatus): Server {
  return nodeHttp.createServer((req, res) => {
    const answer = (code: number, body: unknown) =>
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/livez') return answer(200, { ok: true });
    const now = status();
    if (req.url === '/readyz')
      return answer(now.ready ? 200 : 503, { ready: now.ready, leader: now.leader });
    if (req.url === '/status')
      return answer(200, {
        identity: now.identity,
        leader: now.leader,
        checkpoint: now.checkpoint,
        resources: now.resources,
      });
    answer(404, { error: 'not-found' });
  });
}
