// infra/k8s/install.ts, the operator's command that puts kubefn's RBAC on a cluster, against the
// real kube-apiserver. Dry runs only: the suite's stack binds both kinds of subjects, and a real
// install of one kind would take the other's rights away from the tests running beside this one.
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { install } from '../../infra/k8s/install.ts';
import { applyIdentities } from '../../infra/local/identities.ts';
import { cellAccountEmail } from '../../shared/identities.ts';
import type { Cluster } from '../../shared/kube/index.ts';
import { adminCluster, stack } from '../support/cluster.ts';

let admin: Cluster;
const crb = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' } as const;

beforeAll(async () => {
  admin = await adminCluster();
  await applyIdentities(admin); // the suite's own RBAC, as every stack test has it
});
afterAll(() => admin.close());

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line) => out.push(String(line)));
  const error = vi.spyOn(console, 'error').mockImplementation((line) => err.push(String(line)));
  try {
    return { code: await install(args), out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

test("a dry run for a GKE cell lists every object, binding the cell's accounts, and stores nothing", async () => {
  const before = await admin.resource(crb).get('kubefn-provision');
  const { code, out } = await run([
    '--kubeconfig',
    stack.kubeconfig,
    '--subjects',
    'google:my-project-42',
    '--cell',
    'eu1',
    '--dry-run',
  ]);
  expect(code).toBe(0);
  expect(out).toContain('would apply Namespace kubefn-system');
  expect(out).toContain('would apply ClusterRoleBinding kubefn-provision');
  // Google subjects only: no ServiceAccounts are created for GKE.
  expect(out.some((line) => line.includes('ServiceAccount'))).toBe(false);
  const after = await admin.resource(crb).get('kubefn-provision');
  expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  expect(JSON.stringify(after.subjects)).not.toContain(
    cellAccountEmail('eu1', 'provision', 'my-project-42'),
  );
});

test('google subjects without a cell: exit 2, nothing applied (each cell binds its own accounts)', async () => {
  const { code } = await run([
    '--kubeconfig',
    stack.kubeconfig,
    '--subjects',
    'google:my-project-42',
  ]);
  expect(code).toBe(2);
});

test.each([
  { what: 'no --subjects', args: [] },
  { what: 'an invalid project id', args: ['--subjects', 'google:X'] },
  { what: 'an unknown option', args: ['--subjects', 'serviceaccounts', '--force'] },
])('$what: exit 2 with the usage, nothing applied', async ({ args }) => {
  const { code, out, err } = await run(['--kubeconfig', stack.kubeconfig, ...args]);
  expect(code).toBe(2);
  expect(out).toEqual([]);
  expect(err.join('\n')).toContain('usage: npx tsx infra/k8s/install.ts');
});
