import { describe, expect, test } from 'vitest';
import { PublishWindow } from './publish-window.ts';

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('PublishWindow', () => {
  test('hands out at most its size, then slots in the order asked for', async () => {
    const window = new PublishWindow(2);
    const signal = new AbortController().signal;
    const granted: string[] = [];
    for (const name of ['a', 'b', 'c', 'd'])
      void window.acquire(signal).then((ok) => ok && granted.push(name));
    await settle();
    expect(granted).toEqual(['a', 'b']);
    window.release();
    await settle();
    expect(granted).toEqual(['a', 'b', 'c']);
    expect(window.used).toBe(2); // the slot passed on
    window.release();
    window.release();
    await settle();
    expect(granted).toEqual(['a', 'b', 'c', 'd']);
    expect(window.used).toBe(1);
  });

  test('open waits for a free slot without taking it', async () => {
    const window = new PublishWindow(1);
    const signal = new AbortController().signal;
    await window.acquire(signal);
    let opened = false;
    void window.open(signal).then(() => (opened = true));
    await settle();
    expect(opened).toBe(false);
    window.release();
    await settle();
    expect(opened).toBe(true);
    expect(window.used).toBe(0);
  });

  test('an abort ends the waits: no slot taken, none lost', async () => {
    const window = new PublishWindow(1);
    const stop = new AbortController();
    await window.acquire(stop.signal);
    const waiting = window.acquire(stop.signal);
    const opening = window.open(stop.signal);
    stop.abort();
    expect(await waiting).toBe(false);
    await opening;
    window.release();
    expect(window.used).toBe(0);
    expect(await window.acquire(new AbortController().signal)).toBe(true);
  });
});
