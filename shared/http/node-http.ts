// node:http, loaded with require() rather than an ES import. Why: on Node 22 (from 22.2x) node:http
// exports WebSocket, CloseEvent and MessageEvent as lazy getters into Node's bundled undici, and
// an ES import of a built-in builds a facade that reads every export, so `import ... from
// 'node:http'` loads undici (and http2, worker_threads, web streams): 25-35 ms of a cold start.
// require() returns the module object without touching those getters. Node 20 is unaffected.
// test/integration/provision.test.ts checks that no answer loads undici.
import { createRequire } from 'node:module';

export const nodeHttp = createRequire(import.meta.url)('node:http') as typeof import('node:http');
