// Raw access to one cell's kube-apiserver in a multi-cell stack (the cells project), as kube.ts
// is to the first: plain fetch with the cell's own CA and admin client certificate. A cell whose
// kube-apiserver is stopped refuses the connection: `fetch` throws.
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import type { CellInfo } from '../../infra/local/stack.ts';
import type { KubeAnswer } from './kube.ts';
import { stack } from './stack.ts';

export type CellKube = {
  cell: CellInfo;
  /** Calls the cell's API as its admin. */
  (method: string, path: string, body?: unknown): Promise<KubeAnswer>;
};

/** The stack's cell `name`; fails the test file at once when the stack does not run it. */
export function cellInfo(name: string): CellInfo {
  const cell = stack.cells[name];
  if (!cell) throw new Error(`the stack runs no cell ${name}: ${Object.keys(stack.cells)}`);
  return cell;
}

export function cellKube(name: string): CellKube {
  const cell = cellInfo(name);
  const admin = new Agent({
    connect: {
      ca: readFileSync(cell.caFile, 'utf8'),
      cert: readFileSync(cell.adminCertFile, 'utf8'),
      key: readFileSync(cell.adminKeyFile, 'utf8'),
    },
  });
  const call = async (method: string, path: string, body?: unknown): Promise<KubeAnswer> => {
    const res = await fetch(`${cell.server}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      dispatcher: admin,
    });
    // /readyz and /livez answer plain text ("ok").
    const json = res.headers.get('content-type')?.includes('json') ?? false;
    const text = await res.text();
    return { status: res.status, body: json && text ? JSON.parse(text) : {} };
  };
  return Object.assign(call, { cell });
}
