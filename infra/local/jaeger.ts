// Jaeger's all-in-one (built by build-jaeger.sh): the local trace backend. It receives spans over
// OTLP/HTTP and serves its query API (/api/traces), from memory. Not part of startStack: only the
// tracing test starts it, beside the stack (give the functions and the watcher
// KUBEFN_TRACING=otlp and OTEL_EXPORTER_OTLP_ENDPOINT=otlpEndpoint). Its web UI at queryUrl is a
// placeholder page in the Go module (the real one is a separate npm build); the API is complete.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { binDir } from './binaries.ts';
import { freePorts } from './free-ports.ts';
import { type Managed, startProcess } from './processes.ts';
import { waitFor } from './wait-for.ts';

export type Jaeger = {
  /** OTEL_EXPORTER_OTLP_ENDPOINT for the processes whose spans it should receive. */
  otlpEndpoint: string;
  /** The query API (and the UI's placeholder). */
  queryUrl: string;
  process: Managed;
  stop(): Promise<void>;
};

/** A span as Jaeger's query API answers it, with its service's name resolved. */
export type JaegerSpan = {
  traceId: string;
  spanId: string;
  /** The parent's span id (CHILD_OF), if any. */
  parentId: string | undefined;
  service: string;
  name: string;
  tags: Record<string, unknown>;
};

export const jaegerBinary = join(binDir, 'jaeger-all-in-one');

/**
 * `otlpGrpcPort`: its OTLP gRPC receiver's port, when something already sends there (the stack's
 * kube-apiservers: StackInfo's apiserverTracingEndpoint); otherwise a free one.
 */
export async function startJaeger(
  stateDir: string,
  timeoutMs = 60_000,
  otlpGrpcPort?: number,
): Promise<Jaeger> {
  if (!existsSync(jaegerBinary))
    throw new Error(`no ${jaegerBinary}: run infra/local/build.sh (npm test runs it)`);
  // Every port Jaeger opens, on 127.0.0.1 and free: tests run beside other stacks.
  const free = await freePorts([
    'otlpHttp',
    'otlpGrpc',
    'query',
    'queryGrpc',
    'admin',
    'collectorHttp',
    'collectorGrpc',
  ] as const);
  const ports = { ...free, otlpGrpc: otlpGrpcPort ?? free.otlpGrpc };
  const at = (port: number) => `127.0.0.1:${port}`;
  const proc = startProcess(
    stateDir,
    'jaeger',
    jaegerBinary,
    [
      `--collector.otlp.http.host-port=${at(ports.otlpHttp)}`,
      `--collector.otlp.grpc.host-port=${at(ports.otlpGrpc)}`,
      `--query.http-server.host-port=${at(ports.query)}`,
      `--query.grpc-server.host-port=${at(ports.queryGrpc)}`,
      `--admin.http.host-port=${at(ports.admin)}`,
      `--collector.http-server.host-port=${at(ports.collectorHttp)}`,
      `--collector.grpc-server.host-port=${at(ports.collectorGrpc)}`,
      '--memory.max-traces=100000',
    ],
    // Its own spans off: it would export them to localhost:4317 and log each failure.
    { ...process.env, SPAN_STORAGE_TYPE: 'memory', OTEL_TRACES_SAMPLER: 'always_off' },
  );
  const queryUrl = `http://${at(ports.query)}`;
  try {
    await waitFor(proc, timeoutMs, async () => (await fetch(`${queryUrl}/api/services`)).ok);
    // The query API can answer before the OTLP receiver listens.
    await waitFor(proc, timeoutMs, async () => {
      const res = await fetch(`http://${at(ports.otlpHttp)}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      return res.status < 500;
    });
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    otlpEndpoint: `http://${at(ports.otlpHttp)}`,
    queryUrl,
    process: proc,
    stop: () => proc.stop(),
  };
}

/** The spans Jaeger holds for one trace (none yet: an empty list). */
export async function traceSpans(queryUrl: string, traceId: string): Promise<JaegerSpan[]> {
  const res = await fetch(`${queryUrl}/api/traces/${traceId}`);
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`Jaeger answered ${res.status} for trace ${traceId}`);
  const body = (await res.json()) as {
    data: {
      spans: {
        traceID: string;
        spanID: string;
        operationName: string;
        processID: string;
        references?: { refType: string; spanID: string }[];
        tags?: { key: string; value: unknown }[];
      }[];
      processes: Record<string, { serviceName: string }>;
    }[];
  };
  return body.data.flatMap((trace) =>
    trace.spans.map((span) => ({
      traceId: span.traceID,
      spanId: span.spanID,
      parentId: span.references?.find((r) => r.refType === 'CHILD_OF')?.spanID,
      service: trace.processes[span.processID]?.serviceName ?? '',
      name: span.operationName,
      tags: Object.fromEntries((span.tags ?? []).map((t) => [t.key, t.value])),
    })),
  );
}
