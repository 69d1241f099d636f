// The Pub/Sub emulator's REST API, as the foundation tests use it.
import { stack } from './stack.ts';

const base = `http://${stack.pubsubEmulatorHost}/v1/projects/${stack.pubsubProject}`;

export const topicPath = (topic: string) => `projects/${stack.pubsubProject}/topics/${topic}`;

export async function pubsub(method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
