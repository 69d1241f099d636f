import { describe, expect, test } from 'vitest';
import { errorFromResponse, KubeError, redact } from './errors.ts';

const status = (code: number, reason: string, extra: object = {}) =>
  JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code,
    reason,
    message: `m ${reason}`,
    ...extra,
  });
const request = { method: 'GET', path: '/api/v1/namespaces/x' };

describe('errorFromResponse', () => {
  test.each([
    [404, status(404, 'NotFound'), 'not-found', false],
    [409, status(409, 'AlreadyExists'), 'already-exists', false],
    [409, status(409, 'Conflict'), 'conflict', false],
    [403, status(403, 'Forbidden'), 'forbidden', false],
    [401, status(401, 'Unauthorized'), 'unauthorized', false],
    [422, status(422, 'Invalid'), 'invalid', false],
    [410, status(410, 'Expired'), 'gone', false],
    [410, status(410, 'Gone'), 'gone', false],
    [429, status(429, 'TooManyRequests'), 'too-many-requests', true],
    [504, status(504, 'Timeout'), 'server-timeout', true],
    [503, status(503, 'ServiceUnavailable'), 'unavailable', true],
    [500, status(500, 'InternalError'), 'internal', false],
    [502, '<html>bad gateway</html>', 'unavailable', true],
    [415, status(415, 'UnsupportedMediaType'), 'unsupported', false],
    [418, 'teapot', 'unknown', false],
  ] as const)('%i %s -> %s', (code, body, expected, retryable) => {
    const error = errorFromResponse(code, body, request);
    expect(error).toBeInstanceOf(KubeError);
    expect(error.code).toBe(expected);
    expect(error.retryable).toBe(retryable);
    expect(error.status).toBe(code);
  });

  test('field causes and Retry-After are kept', () => {
    const body = status(422, 'Invalid', {
      details: {
        causes: [{ field: 'metadata.name', reason: 'FieldValueInvalid', message: 'bad' }],
      },
    });
    expect(errorFromResponse(422, body, request).causes).toEqual([
      { field: 'metadata.name', reason: 'FieldValueInvalid', message: 'bad' },
    ]);
    expect(
      errorFromResponse(429, status(429, 'TooManyRequests'), { ...request, retryAfter: '3' })
        .retryAfterSeconds,
    ).toBe(3);
    const fromDetails = status(429, 'TooManyRequests', { details: { retryAfterSeconds: 2 } });
    expect(errorFromResponse(429, fromDetails, request).retryAfterSeconds).toBe(2);
  });
});

describe('redact', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLWJ5dGVz';
  test.each([
    [`token ${jwt} rejected`, 'token [redacted] rejected'],
    ['Authorization: Bearer opaque-secret-123', 'Authorization: Bearer [redacted]'],
    [
      `Object 'Kind' is missing in '{"data":{"password":"hunter2"}}'`,
      "Object 'Kind' is missing in {…}",
    ],
  ])('%s', (input, output) => {
    expect(redact(input)).toBe(output);
  });

  test('a KubeError message is redacted on construction', () => {
    expect(new KubeError('unauthorized', `bad ${jwt}`).message).toBe('bad [redacted]');
  });
});
