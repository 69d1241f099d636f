import { expect, test } from 'vitest';
import { cellSays } from './resync.ts';

const answer = (status: number, body: object, code?: string) => ({
  status,
  text: JSON.stringify(body),
  code,
});

test.each([
  ['its 404 for a missing tenant: done', answer(404, {}, 'no-such-tenant'), 'gone'],
  ['a 404 of another kind (a route, a proxy): nothing', answer(404, {}, undefined), 'unknown'],
  ['still held', answer(200, { phase: 'Ready', deletionHeld: true }), 'held'],
  ['approved, the namespace terminating', answer(200, { phase: 'Terminating' }), 'held'],
  ['the hold dropped', answer(200, { phase: 'Ready' }), 'kept'],
  ['suspended, not held', answer(200, { phase: 'Suspended' }), 'kept'],
  ['the cell down', answer(503, {}, 'cluster-unavailable'), 'unknown'],
  ['no answer at all', undefined, 'unknown'],
])('%s', (_, given, expected) => {
  expect(cellSays(given)).toBe(expected);
});
