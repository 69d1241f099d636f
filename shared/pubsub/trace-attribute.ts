// The message attribute Google's Pub/Sub clients carry W3C trace context in: `googclient_` and
// the propagator's key (`modernAttributeName` in @google-cloud/pubsub's telemetry-tracing.ts).
// kubefn sets and reads it itself: the client's own tracing (enableOpenTelemetryTracing) would
// load OpenTelemetry in every deployable that publishes, and it overwrites the attribute only
// when that tracing is on.
export const traceparentAttribute = 'googclient_traceparent';
