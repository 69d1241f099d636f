// node:http, loaded with require() rather than an ES import. Why: on Node 22 (from 22.2x) node:http
// exports WebSocket, CloseEvent and MessageEvent as lazy getters into Node's bundled undici, and
// an ES import of a built-in builds a facade that reads every export, so `import ... from
// 'node:http'` loads undici (and http2, worker_threads, web streams): 25-35 ms of a cold start.
// require() returns the module object without touching those getters. Node 20 is unaffected.
// test/integration/provision.test.ts checks that no answer loads undici.
//
// node:https and node:tls the same way, on first use: an import() of them is asynchronous, and
// on a cold start the framework's own start-up then ran before the first request left. Measured
// against import() (`COLDSTART_COMPARE`, Node 22 and 20): the first socket opens 5.5 ms sooner
// (median of 23 runs); the first answer cost 5-15 ms less CPU in 4 of 5 runs of 20 rounds and
// the same in the fifth; the wall-clock difference, -10 to +4 ms, is within this machine's noise.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const nodeHttp = require('node:http') as typeof import('node:http');

export function nodeTls(): { https: typeof import('node:https'); tls: typeof import('node:tls') } {
  return { https: require('node:https'), tls: require('node:tls') };
}
