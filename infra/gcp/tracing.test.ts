// spec.tracing under Pulumi's mocks: with cloud-trace, every service (functions and watchers) has
// KUBEFN_TRACING=cloud-trace and its project, every account a deployable runs as holds the Cloud
// Trace agent role, and no other account does; off (the default), none of it.
import { describe, expect, it } from 'vitest';
import { tracingMode } from '../../shared/trace/span.ts';
import { deploy, envOf, ofType, types } from './mocks.fixture.ts';
import { tracingRole } from './tracing.ts';

const off = await deploy();
const on = await deploy({ tracing: 'cloud-trace' });
const traceGrants = (resources: typeof off.resources) =>
  ofType(resources, types.projectMember).filter((m) => m.inputs.role === tracingRole);

describe('tracing: cloud-trace', () => {
  const services = ofType(on.resources, types.service);

  it('every service traces to Cloud Trace, in its project', () => {
    expect(services.length).toBeGreaterThan(0);
    for (const service of services) {
      const env = envOf(service);
      expect(env.KUBEFN_TRACING, service.inputs.name).toBe('cloud-trace');
      expect(env.GOOGLE_CLOUD_PROJECT, service.inputs.name).toBe('kubefn-prod');
      // What the deployable itself reads it as (shared/trace/span.ts).
      expect(tracingMode(env)).toBe('cloud-trace');
    }
  });

  it('every account a service runs as may write traces, and only those', () => {
    const runAs = new Set(
      services.map((s) => `serviceAccount:${s.inputs.template.serviceAccount}`),
    );
    const granted = traceGrants(on.resources).map((m) => m.inputs.member as string);
    expect(new Set(granted)).toEqual(runAs);
    expect(granted).toHaveLength(runAs.size);
    for (const m of traceGrants(on.resources)) expect(m.inputs.project).toBe('kubefn-prod');
  });

  it('enables the Telemetry and Cloud Trace APIs', () => {
    const apis = ofType(on.resources, types.api).map((a) => a.inputs.service);
    expect(apis).toEqual(
      expect.arrayContaining(['telemetry.googleapis.com', 'cloudtrace.googleapis.com']),
    );
  });
});

describe('tracing: off, the default', () => {
  it('sets nothing and grants nothing', () => {
    expect(off.spec.tracing).toBe('off');
    for (const service of ofType(off.resources, types.service))
      expect(envOf(service).KUBEFN_TRACING).toBeUndefined();
    expect(traceGrants(off.resources)).toEqual([]);
    const apis = ofType(off.resources, types.api).map((a) => a.inputs.service);
    expect(apis).not.toContain('telemetry.googleapis.com');
  });
});

it('refuses another mode', async () => {
  await expect(deploy({ tracing: 'otlp' })).rejects.toThrow(/tracing/);
});
