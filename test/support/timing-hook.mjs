// Preloaded (NODE_OPTIONS=--import) into the watcher and the functions by the end-to-end
// benchmarks, never by a deploy: it notes when things happen inside that process, so a benchmark
// can tell kubefn's own part of a path from the emulator's and the API server's without timing
// code in production. Notes are kept raw (the work is done by the benchmark, not on the path) and
// appended to $KUBEFN_TIMING_DIR/<pid>.jsonl every 250 ms and at exit, one JSON line each:
//   start     the process's argv (which deployable it is)
//   watch     a chunk of a watch answer's body as it arrived (res: which answer; text)
//   in, done  a request reached this process's server (url), its answer finished
//   out, got  a request this process made (method, path), its answer's headers arrived
//   publish, acked  @google-cloud/pubsub's publishMessage called, and acknowledged (attributes)
//   probe     with $KUBEFN_TIMING_PROBE, the probe published just before each change message:
//             a message of its own (attribute probe = the change's eventKey, its own ordering
//             key) through the same client at the same moment, the benchmarks' baseline; the
//             subscriptions' filters keep it from the functions
// `t` is epoch milliseconds with sub-millisecond precision (timeOrigin + now), comparable across
// the processes of one machine.
import dc from 'node:diagnostics_channel';
import { appendFile, appendFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.KUBEFN_TIMING_DIR;
if (dir) {
  const file = join(dir, `${process.pid}.jsonl`);
  const now = () => performance.timeOrigin + performance.now();
  let notes = [{ kind: 'start', t: now(), argv: process.argv.slice(1) }];
  const note = (entry) => notes.push(entry);
  const take = () => {
    const text = notes.map((n) => `${JSON.stringify(n)}\n`).join('');
    notes = [];
    return text;
  };
  setInterval(() => {
    if (notes.length) appendFile(file, take(), () => {});
  }, 250).unref();
  process.on('exit', () => {
    if (notes.length) appendFileSync(file, take());
  });

  const ids = new WeakMap();
  let next = 0;
  const idOf = (object) => {
    if (!ids.has(object)) ids.set(object, next++);
    return ids.get(object);
  };
  dc.subscribe('http.server.request.start', ({ request }) =>
    note({ kind: 'in', t: now(), id: idOf(request), url: request.url }),
  );
  dc.subscribe('http.server.response.finish', ({ request }) =>
    note({ kind: 'done', t: now(), id: idOf(request) }),
  );
  dc.subscribe('http.client.request.start', ({ request }) =>
    note({ kind: 'out', t: now(), id: idOf(request), method: request.method, path: request.path }),
  );
  dc.subscribe('http.client.response.finish', ({ request, response }) => {
    const id = idOf(request);
    note({ kind: 'got', t: now(), id });
    if (!/[?&]watch=(true|1)/.test(request.path)) return;
    // The body's chunks as the socket hands them over, before the client reads them.
    const push = response.push;
    response.push = function (chunk, encoding) {
      if (chunk) note({ kind: 'watch', t: now(), res: id, text: String(chunk) });
      return push.call(this, chunk, encoding);
    };
  });
  // Only the watcher publishes; a function is not made to load the Pub/Sub client.
  if (process.argv[1]?.endsWith('watcher/index.mjs')) {
    const { Topic } = await import('@google-cloud/pubsub');
    const publishMessage = Topic.prototype.publishMessage;
    Topic.prototype.publishMessage = function (message, ...rest) {
      const attributes = message?.attributes ?? {};
      if (process.env.KUBEFN_TIMING_PROBE && attributes.eventKey) {
        const probe = { probe: attributes.eventKey };
        note({ kind: 'probe', t: now(), attributes: probe });
        const data = Buffer.from('{}');
        const orderingKey = `probe/${attributes.eventKey}`;
        publishMessage.call(this, { data, attributes: probe, orderingKey }).catch(() => {});
      }
      note({ kind: 'publish', t: now(), attributes });
      const sent = publishMessage.call(this, message, ...rest);
      sent?.then?.(
        () => note({ kind: 'acked', t: now(), attributes }),
        () => {},
      );
      return sent;
    };
  }
}
