// Tracing on: spans recorded by OpenTelemetry's SDK and sent in batches by its OTLP/HTTP exporter.
//   KUBEFN_TRACING=otlp         to OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
//                               default http://localhost:4318; OTEL_EXPORTER_OTLP_HEADERS for
//                               headers, read by the exporter): the local Jaeger, or a collector
//   KUBEFN_TRACING=cloud-trace  to Cloud Trace's OTLP endpoint (telemetry.googleapis.com), with the
//                               service account's access token from the metadata server, in
//                               GOOGLE_CLOUD_PROJECT (the account needs roles/cloudtrace.agent)
// Imported only by ./span.ts, only when tracing is on; deployed as a bundle of its own, otlp.mjs
// beside the function's (infra/build-functions.ts), so a cold start with tracing off never loads it.
//
// Sampling is OpenTelemetry's default, parent-based: a trace the caller marked sampled (the
// sign-up page, the watcher) is recorded; one it marked not sampled is not; a new trace is.
import type { SpanOptions as OtelSpanOptions, Tracer } from '@opentelemetry/api';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import type { Recorder, SpanKind, TracingMode } from './span.ts';

/** Cloud Trace's OTLP/HTTP endpoint for traces (Telemetry API). */
export const cloudTraceUrl = 'https://telemetry.googleapis.com/v1/traces';

const [api, sdk, exporterModule, resources] = await Promise.all([
  import('@opentelemetry/api'),
  import('@opentelemetry/sdk-trace'),
  import('@opentelemetry/exporter-trace-otlp-http'),
  import('@opentelemetry/resources'),
]);

const kinds: Record<SpanKind, number> = {
  internal: api.SpanKind.INTERNAL,
  server: api.SpanKind.SERVER,
  client: api.SpanKind.CLIENT,
  producer: api.SpanKind.PRODUCER,
  consumer: api.SpanKind.CONSUMER,
};

let provider: TracerProvider | undefined;

/**
 * The deployable's name in traces: OTEL_SERVICE_NAME, Cloud Run's K_SERVICE, the Functions
 * Framework's target, or the folder of the script run (dist/functions/watcher/index.mjs: watcher).
 */
export function serviceName(env: NodeJS.ProcessEnv, argv = process.argv): string {
  const target = argv.find((arg) => arg.startsWith('--target='))?.slice('--target='.length);
  const folder = argv[1]?.match(/([^/\\]+)[/\\]index\.[mc]?[jt]s$/)?.[1];
  return (
    env.OTEL_SERVICE_NAME || env.K_SERVICE || env.FUNCTION_TARGET || target || folder || 'kubefn'
  );
}

function exporterFor(env: NodeJS.ProcessEnv, mode: TracingMode) {
  if (mode !== 'cloud-trace') return new exporterModule.OTLPTraceExporter();
  // Imported here, in cloud-trace mode only: shared/gcp reaches the transport, which records its
  // spans through shared/trace, so a static import would tie the folders in a cycle.
  const token = import('../gcp/access-token.ts').then((m) => m.metadataAccessToken());
  const project = env.GOOGLE_CLOUD_PROJECT ?? '';
  return new exporterModule.OTLPTraceExporter({
    url: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || cloudTraceUrl,
    headers: async () => ({
      authorization: `Bearer ${await (await token)()}`,
      'x-goog-user-project': project,
    }),
  });
}

export function otlpRecorder(env: NodeJS.ProcessEnv, mode: TracingMode = 'otlp'): Recorder {
  provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': serviceName(env),
      // Cloud Trace's OTLP endpoint files spans under the resource's project.
      ...(mode === 'cloud-trace' ? { 'gcp.project_id': env.GOOGLE_CLOUD_PROJECT ?? '' } : {}),
    }),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: exporterFor(env, mode),
        // Short: a function's instance may be throttled or stopped soon after it answers.
        scheduledDelayMillis: 200,
      }),
    ],
  });
  const tracer: Tracer = provider.getTracer('kubefn');
  return (name, parent, options) => {
    const parentContext = parent
      ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.sampled ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE,
          isRemote: true,
        })
      : api.ROOT_CONTEXT;
    const spanOptions: OtelSpanOptions = { kind: kinds[options.kind ?? 'internal'] };
    const attributes = defined(options.attributes);
    if (attributes) spanOptions.attributes = attributes;
    const span = tracer.startSpan(name, spanOptions, parentContext);
    const ids = span.spanContext();
    return {
      context: {
        traceId: ids.traceId,
        spanId: ids.spanId,
        sampled: (ids.traceFlags & api.TraceFlags.SAMPLED) === api.TraceFlags.SAMPLED,
      },
      set: (more) => {
        const values = defined(more);
        if (values) span.setAttributes(values);
      },
      fail: (message) => span.setStatus({ code: api.SpanStatusCode.ERROR, message }),
      rename: (newName) => span.updateName(newName),
      end: () => span.end(),
    };
  };
}

export async function flush(): Promise<void> {
  await provider?.forceFlush();
}

function defined(
  attributes: Record<string, string | number | boolean | undefined> | undefined,
): Record<string, string | number | boolean> | undefined {
  if (!attributes) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}
