// Reads a watch response: one JSON event per line. Reads only when the consumer asks for the
// next event (so a slow consumer slows the socket, not memory), and gives up on a connection
// that stays silent longer than `inactivityMs` while we are waiting on it (a half-open socket
// never errors by itself).
import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { errorFromStatus, KubeError } from './errors.ts';
import type { KubeObject } from './types.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
export type WatchEvent<T extends KubeObject = KubeObject> = { type: WatchEventType; object: T };

export async function* readWatchEvents<T extends KubeObject>(
  body: IncomingMessage,
  path: string,
  inactivityMs: number,
): AsyncGenerator<WatchEvent<T>> {
  const chunks = body[Symbol.asyncIterator]();
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  try {
    for (;;) {
      const next = await nextWithin(chunks, inactivityMs, path);
      if (next.done) return;
      buffered += decoder.write(next.value as Buffer);
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (!line.trim()) continue;
        const event = JSON.parse(line) as { type: string; object: T };
        if (event.type === 'ERROR') throw errorFromStatus(event.object as never, path);
        yield event as WatchEvent<T>;
      }
    }
  } finally {
    body.destroy();
  }
}

async function nextWithin(
  chunks: AsyncIterator<unknown>,
  ms: number,
  path: string,
): Promise<IteratorResult<unknown>> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KubeError('timeout', `watch ${path} was silent for ${ms / 1000} s`)),
      ms,
    );
  });
  try {
    return await Promise.race([chunks.next(), silent]);
  } finally {
    clearTimeout(timer);
  }
}
