import { describe, expect, test } from 'vitest';
import {
  gceBackendName,
  type Ingress,
  ingressBackends,
  type Service,
  servicePort,
  syncedBackends,
} from './backends.ts';

const backend = (name: string, port: { name?: string; number?: number }) => ({
  service: { name, port },
});

describe('ingressBackends', () => {
  test('the default backend and every path, each Service port once', () => {
    const ingress: Ingress = {
      spec: {
        defaultBackend: backend('web', { number: 80 }),
        rules: [
          { http: { paths: [{ backend: backend('web', { number: 80 }) }] } },
          { http: { paths: [{ backend: backend('api', { name: 'http' }) }, {}] } },
          {},
        ],
      },
    };
    expect(ingressBackends(ingress)).toEqual([
      { service: 'web', port: { number: 80 } },
      { service: 'api', port: { name: 'http' } },
    ]);
  });
  test('an Ingress with no spec has none', () => {
    expect(ingressBackends({})).toEqual([]);
  });
});

const service = (annotations: Record<string, string> = {}): Service => ({
  metadata: { annotations },
  spec: { ports: [{ name: 'http', port: 80, nodePort: 30080 }, { port: 8443 }] },
});

describe('servicePort', () => {
  test.each([
    ['by name', { name: 'http' }, 80],
    ['by number', { number: 8443 }, 8443],
    ['an unknown name', { name: 'grpc' }, undefined],
    ['an unknown number', { number: 81 }, undefined],
  ])('%s', (_name, ref, port) => {
    expect(servicePort(service(), ref)?.port).toBe(port);
  });
});

describe('gceBackendName', () => {
  const synced = ['k8s1-abc-ns-web-80-x', 'k8s-be-30080--uid1', 'k8s-be-31000--uid1'];
  const negs = JSON.stringify({ network_endpoint_groups: { '80': 'k8s1-abc-ns-web-80-x' } });
  const port = { name: 'http', port: 80, nodePort: 30080 };
  test.each([
    [
      'the NEG named in neg-status',
      service({ 'cloud.google.com/neg-status': negs }),
      synced,
      'k8s1-abc-ns-web-80-x',
    ],
    [
      'a NEG not synced yet',
      service({ 'cloud.google.com/neg-status': negs }),
      ['k8s-be-30080--uid1'],
      undefined,
    ],
    ['the NodePort instance-group backend', service(), synced, 'k8s-be-30080--uid1'],
    [
      'unparsable neg-status falls back to the NodePort',
      service({ 'cloud.google.com/neg-status': '{' }),
      synced,
      'k8s-be-30080--uid1',
    ],
    ['nothing synced', service(), [], undefined],
  ])('%s', (_name, svc, names, expected) => {
    expect(gceBackendName(svc, port, names)).toBe(expected);
  });
  test('a port without a NodePort and no NEG has no backend', () => {
    expect(gceBackendName(service(), { port: 8443 }, synced)).toBeUndefined();
  });
});

describe('syncedBackends', () => {
  const ingress = (value?: string): Ingress => ({
    metadata: {
      annotations: value === undefined ? {} : { 'ingress.kubernetes.io/backends': value },
    },
  });
  test.each([
    ['absent', undefined, []],
    ['Unknown (not synced yet)', 'Unknown', []],
    ['not JSON', '{', []],
    ['a JSON array is not a map', '[]', []],
    [
      'synced',
      '{"k8s-be-30080--uid1":"HEALTHY","k8s1-neg":"UNKNOWN"}',
      ['k8s-be-30080--uid1', 'k8s1-neg'],
    ],
  ])('%s', (_name, value, expected) => {
    expect(syncedBackends(ingress(value))).toEqual(expected);
  });
});
