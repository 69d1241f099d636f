import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { expect, test } from 'vitest';
import { KubeError } from './errors.ts';
import { readWatchEvents } from './watch-stream.ts';

function body(chunks: Buffer[]): IncomingMessage {
  const stream = new PassThrough();
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  return stream as unknown as IncomingMessage;
}

test('events split across chunks, even inside a multi-byte character, are reassembled', async () => {
  const text =
    `${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'café' } } })}\n` +
    `${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } })}\n`;
  const bytes = Buffer.from(text);
  const cut = bytes.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
  const events = [];
  for await (const event of readWatchEvents(
    body([bytes.subarray(0, cut), bytes.subarray(cut)]),
    '/x',
    5_000,
  )) {
    events.push(event);
  }
  expect(events.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK']);
  expect(events[0]?.object.metadata?.name).toBe('café');
});

test('an ERROR event with a 410 Status becomes KubeError gone', async () => {
  const error = {
    type: 'ERROR',
    object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
  };
  const events = readWatchEvents(body([Buffer.from(`${JSON.stringify(error)}\n`)]), '/x', 5_000);
  const failure = await events.next().catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(KubeError);
  expect((failure as KubeError).code).toBe('gone');
});

test('a silent connection times out', async () => {
  const silent = new PassThrough() as unknown as IncomingMessage;
  const failure = await readWatchEvents(silent, '/x', 50)
    .next()
    .catch((e: unknown) => e);
  expect((failure as KubeError).code).toBe('timeout');
});
