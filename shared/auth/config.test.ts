import { expect, test } from 'vitest';
import {
  AuthConfigError,
  allowListFromEnv,
  authSettingsFromEnv,
  trustedIssuers,
} from './config.ts';

test('defaults: Google trusted, signatures verified in the app', () => {
  const settings = authSettingsFromEnv({ KUBEFN_AUTH_AUDIENCE: 'https://fn.example/push' });
  expect(settings).toMatchObject({
    KUBEFN_AUTH_PLATFORM_VERIFIED: false,
    KUBEFN_AUTH_GOOGLE: true,
    KUBEFN_AUTH_KUBERNETES: false,
  });
});

test.each([
  [{}, 'KUBEFN_AUTH_AUDIENCE'],
  [{ KUBEFN_AUTH_AUDIENCE: 'not a url' }, 'KUBEFN_AUTH_AUDIENCE'],
  [
    { KUBEFN_AUTH_AUDIENCE: 'https://x', KUBEFN_AUTH_PLATFORM_VERIFIED: 'yes' },
    'KUBEFN_AUTH_PLATFORM_VERIFIED',
  ],
])('%o is refused, naming %s', (env, variable) => {
  expect(() => authSettingsFromEnv(env)).toThrow(AuthConfigError);
  expect(() => authSettingsFromEnv(env)).toThrow(variable);
});

test('allow-lists per route take emails and service accounts, nothing else', () => {
  const env = {
    KUBEFN_ALLOW_PUSH:
      'pusher@p.iam.gserviceaccount.com, system:serviceaccount:kubefn-system:kubefn-watcher',
    KUBEFN_ALLOW_HTTP: 'everyone',
  };
  expect(allowListFromEnv(env, 'push')).toEqual([
    'pusher@p.iam.gserviceaccount.com',
    'system:serviceaccount:kubefn-system:kubefn-watcher',
  ]);
  expect(allowListFromEnv(env, 'resync')).toEqual([]);
  expect(() => allowListFromEnv(env, 'http')).toThrow('KUBEFN_ALLOW_HTTP');
});

test('no issuer at all is a configuration error', async () => {
  const settings = authSettingsFromEnv({
    KUBEFN_AUTH_AUDIENCE: 'https://x',
    KUBEFN_AUTH_GOOGLE: 'false',
  });
  await expect(trustedIssuers(settings)).rejects.toThrow(AuthConfigError);
});
