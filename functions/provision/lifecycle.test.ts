// A tenant request's date, checked before anything is read or written: time frozen, and a cluster
// that fails the test's way when touched (so "reached the cluster" means "passed the check").
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import type { ProvisionDeps } from './handler.ts';
import { applyTenantRequest } from './lifecycle.ts';

const now = Date.parse('2026-12-03T10:00:00Z');
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now);
});
afterEach(() => vi.useRealTimers());

const touched = new Error('the cluster was called');
const deps = {
  cluster: new Proxy(
    {},
    {
      get: () => () => {
        throw touched;
      },
    },
  ),
  namespacePrefix: 'tenant-',
} as unknown as ProvisionDeps;
const at = (offsetMs: number) => new Date(now + offsetMs).toISOString();

test.each([
  { when: 'now', requestedAt: at(0), refused: false },
  { when: 'in the past', requestedAt: '2020-01-01T00:00:00Z', refused: false },
  { when: 'within the 5 min skew', requestedAt: at(5 * 60_000), refused: false },
  { when: 'just beyond the skew', requestedAt: at(5 * 60_000 + 1000), refused: true },
  { when: 'in 2999', requestedAt: '2999-01-01T00:00:00Z', refused: true },
  { when: 'ahead, with an offset', requestedAt: '2026-12-03T12:00:00+01:00', refused: true },
])('a request dated $when: refused $refused', async ({ requestedAt, refused }) => {
  for (const action of ['suspend', 'resume'] as const) {
    const applied = applyTenantRequest({ action, customerId: 'acme', requestedAt }, deps);
    if (refused)
      await expect(applied).rejects.toMatchObject({
        code: 'requested-in-future',
        retryable: false,
      });
    else await expect(applied).rejects.toBe(touched);
  }
});
