// FAKE Compute Engine v1 API, backend services only: there is no emulator for the Compute API.
// It follows the documented contract (compute/docs/reference/rest/v1/backendServices get and
// patch, globalOperations and regionOperations get and wait):
// - GET returns the resource with a `fingerprint`; PATCH must carry the current one, else 412
//   with reason conditionNotMet; every update gives a new fingerprint;
// - PATCH returns an Operation (RUNNING); the change is applied when the Operation turns DONE,
//   `operationMs` later; `.../operations/OP/wait` returns once it is DONE (or after a bound);
// - `requestId`: a PATCH repeated with the same id returns the same Operation, applied once;
// - a missing token is 401, a wrong one 403 (forbidden), an unknown resource 404 (notFound),
//   always in Google's error shape.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

type Service = { name: string; timeoutSec: number; fingerprint: string; [field: string]: unknown };
type Operation = {
  kind: 'compute#operation';
  name: string;
  operationType: 'patch';
  status: 'RUNNING' | 'DONE';
  targetLink: string;
  region?: string;
};

export type FakeCompute = {
  /** Base URL, for KUBEFN_COMPUTE_URL. */
  url: string;
  addBackendService(service: { name: string; region?: string; timeoutSec?: number }): void;
  backendService(name: string, region?: string): Service | undefined;
  /** Every request, as "METHOD path" (query left out). */
  calls: string[];
  /** The next request of `method` answers `status` with `reason` instead. */
  failNext(method: string, status: number, reason: string): void;
  close(): Promise<void>;
};

const fingerprint = () => randomBytes(8).toString('base64');

export async function startFakeCompute(options: {
  project: string;
  token: string;
  operationMs?: number;
}): Promise<FakeCompute> {
  const services = new Map<string, Service>();
  const operations = new Map<string, Operation>();
  const byRequestId = new Map<string, Operation>();
  const failures: { method: string; status: number; reason: string }[] = [];
  const calls: string[] = [];
  const key = (scope: string, name: string) => `${scope}/${name}`;

  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk;
    });
    req.on('end', () => void handle(req.method ?? 'GET', req.url ?? '/', req.headers, body));

    const error = (status: number, reason: string, message: string) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          error: { code: status, message, errors: [{ domain: 'global', reason, message }] },
        }),
      );
    const json = (value: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));

    async function handle(
      method: string,
      rawUrl: string,
      headers: NodeJS.Dict<string | string[]>,
      text: string,
    ) {
      const url = new URL(rawUrl, 'http://fake');
      calls.push(`${method} ${url.pathname}`);
      const auth = headers.authorization;
      if (!auth) return error(401, 'required', 'Login Required.');
      if (auth !== `Bearer ${options.token}`)
        return error(403, 'forbidden', 'Required permission is missing.');
      const failure = failures.findIndex((f) => f.method === method);
      if (failure >= 0) {
        const [f] = failures.splice(failure, 1);
        return error(f?.status ?? 500, f?.reason ?? 'backendError', 'injected failure');
      }
      const match =
        /^\/compute\/v1\/projects\/([^/]+)\/(global|regions\/[^/]+)\/(backendServices|operations)\/([^/]+)(\/wait)?$/.exec(
          url.pathname,
        );
      if (!match || match[1] !== options.project)
        return error(404, 'notFound', `The resource '${url.pathname}' was not found`);
      const [, , scope = '', collection, name = '', wait] = match;

      if (collection === 'operations') {
        const operation = operations.get(key(scope, name));
        if (!operation) return error(404, 'notFound', `The resource '${name}' was not found`);
        if (wait && method === 'POST')
          for (let i = 0; i < 100 && operation.status !== 'DONE'; i++) await sleep(20);
        return json(operation);
      }
      const service = services.get(key(scope, name));
      if (!service) return error(404, 'notFound', `The resource '${name}' was not found`);
      if (method === 'GET') return json(service);
      if (method !== 'PATCH') return error(405, 'badRequest', 'Method not allowed');

      const requestId = url.searchParams.get('requestId');
      const repeated = requestId ? byRequestId.get(requestId) : undefined;
      if (repeated) return json(repeated);
      const patch = JSON.parse(text || '{}') as Record<string, unknown>;
      if (patch.fingerprint !== service.fingerprint)
        return error(
          412,
          'conditionNotMet',
          'Supplied fingerprint does not match current metadata fingerprint.',
        );
      const operation: Operation = {
        kind: 'compute#operation',
        name: `operation-${randomBytes(6).toString('hex')}`,
        operationType: 'patch',
        status: 'RUNNING',
        targetLink: `${url.pathname}`,
        ...(scope.startsWith('regions/') ? { region: scope.slice('regions/'.length) } : {}),
      };
      operations.set(key(scope, operation.name), operation);
      if (requestId) byRequestId.set(requestId, operation);
      setTimeout(() => {
        const { fingerprint: _ignored, ...fields } = patch;
        Object.assign(service, fields, { fingerprint: fingerprint() });
        operation.status = 'DONE';
      }, options.operationMs ?? 50);
      return json(operation);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/compute/v1`;
  return {
    url,
    calls,
    addBackendService({ name, region, timeoutSec = 30 }) {
      const scope = region ? `regions/${region}` : 'global';
      services.set(key(scope, name), { name, timeoutSec, fingerprint: fingerprint() });
    },
    backendService: (name, region) =>
      services.get(key(region ? `regions/${region}` : 'global', name)),
    failNext: (method, status, reason) => failures.push({ method, status, reason }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
