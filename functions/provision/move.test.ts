// What a move carries from the source (functions/provision/move.ts): only what someone other than
// kubefn's provisioning set, read from managedFields as the API server records it.
import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../shared/kube/index.ts';
import { carriedFields } from './move.ts';

const deployment = (managedFields: object[], extra: object = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'monitoring',
    namespace: 'tenant-a',
    labels: { app: 'monitoring', team: 'blue', 'kubefn.dev/customer': 'a' },
    annotations: {
      'deployment.kubernetes.io/revision': '3',
      'kubefn.dev/replicas-before-suspend': '{"replicas":2}',
    },
    managedFields,
    ...extra,
  } as NonNullable<KubeObject['metadata']>,
  spec: { replicas: 3 },
});

const owns = (manager: string, fieldsV1: object) => ({ manager, operation: 'Apply', fieldsV1 });

describe('carriedFields', () => {
  test.each([
    {
      name: "kubefn's own managers carry nothing",
      object: deployment([
        owns('kubefn-provision', { 'f:metadata': { 'f:labels': { 'f:app': {} } } }),
        owns('kubefn-defaults', { 'f:spec': { 'f:replicas': {} } }),
        owns('kubefn-move', { 'f:metadata': { 'f:labels': { 'f:team': {} } } }),
      ]),
      carried: [],
    },
    {
      name: "an operator's replicas and label, under their manager",
      object: deployment([
        owns('kubectl-scale', { 'f:spec': { 'f:replicas': {} } }),
        owns('kubectl-label', { 'f:metadata': { 'f:labels': { 'f:team': {} } } }),
      ]),
      carried: [
        { manager: 'kubectl-scale', replicas: 3 },
        { manager: 'kubectl-label', labels: { team: 'blue' } },
      ],
    },
    {
      name: "Kubernetes' keys and the keys kubefn decides are never carried",
      object: deployment([
        owns('kube-controller-manager', {
          'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } },
        }),
        owns('intruder', { 'f:metadata': { 'f:labels': { 'f:kubefn.dev/customer': {} } } }),
      ]),
      carried: [],
    },
    {
      name: "a suspension's record is carried with its manager",
      object: deployment([
        owns('kubefn-lifecycle', {
          'f:metadata': { 'f:annotations': { 'f:kubefn.dev/replicas-before-suspend': {} } },
          'f:spec': { 'f:replicas': {} },
        }),
      ]),
      carried: [
        {
          manager: 'kubefn-lifecycle',
          annotations: { 'kubefn.dev/replicas-before-suspend': '{"replicas":2}' },
          replicas: 3,
        },
      ],
    },
    {
      name: 'two entries of one manager (Apply and Update) are one',
      object: deployment([
        owns('ops', { 'f:metadata': { 'f:labels': { 'f:team': {} } } }),
        { ...owns('ops', { 'f:spec': { 'f:replicas': {} } }), operation: 'Update' },
      ]),
      carried: [{ manager: 'ops', labels: { team: 'blue' }, replicas: 3 }],
    },
    {
      name: 'a key whose value is gone is not carried',
      object: deployment([owns('ops', { 'f:metadata': { 'f:labels': { 'f:removed': {} } } })]),
      carried: [],
    },
  ])('$name', ({ object, carried }) => {
    const base = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'monitoring' };
    expect(carriedFields(object)).toEqual(carried.map((c) => ({ ...base, ...c })));
  });
});
