import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from './traceparent.ts';

const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
const span = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  it.each([
    [`00-${trace}-${span}-01`, { traceId: trace, spanId: span, sampled: true }],
    [`00-${trace}-${span}-00`, { traceId: trace, spanId: span, sampled: false }],
    [`00-${trace.toUpperCase()}-${span}-03`, { traceId: trace, spanId: span, sampled: true }],
    // A later version may add fields; its first four are read.
    [`01-${trace}-${span}-01-extra`, { traceId: trace, spanId: span, sampled: true }],
  ])('reads %s', (value, expected) => {
    expect(parseTraceparent(value)).toEqual(expected);
  });

  it.each([
    undefined,
    '',
    'garbage',
    `00-${trace}-${span}`,
    `00-${trace}-${span}-01-extra`,
    `ff-${trace}-${span}-01`,
    `00-${'0'.repeat(32)}-${span}-01`,
    `00-${trace}-${'0'.repeat(16)}-01`,
    `00-${trace.slice(1)}-${span}-01`,
  ])('refuses %s', (value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('formats what it reads', () => {
    for (const value of [`00-${trace}-${span}-01`, `00-${trace}-${span}-00`])
      expect(
        formatTraceparent(parseTraceparent(value) ?? { traceId: '', spanId: '', sampled: false }),
      ).toBe(value);
  });
});
