import { expect, test } from 'vitest';
import { EnvError } from '../../shared/env.ts';
import { settingsFromEnv, signInConfig } from './config.ts';

const base = { KUBEFN_PROVISION_URL: 'https://provision.example' };

test.each([
  [
    'the emulator with a production project',
    { KUBEFN_CUSTOMER_PROJECT: 'acme-prod', KUBEFN_CUSTOMER_AUTH_EMULATOR: '127.0.0.1:9099' },
    'KUBEFN_CUSTOMER_AUTH_EMULATOR',
  ],
  [
    'a production project without its API key',
    { KUBEFN_CUSTOMER_PROJECT: 'acme-prod' },
    'KUBEFN_CUSTOMER_API_KEY',
  ],
  ['no project', {}, 'KUBEFN_CUSTOMER_PROJECT'],
  [
    'a project id that is none',
    { KUBEFN_CUSTOMER_PROJECT: 'Acme Prod' },
    'KUBEFN_CUSTOMER_PROJECT',
  ],
  [
    'an emulator address that is no host:port',
    { KUBEFN_CUSTOMER_PROJECT: 'demo-kubefn', KUBEFN_CUSTOMER_AUTH_EMULATOR: 'http://x' },
    'KUBEFN_CUSTOMER_AUTH_EMULATOR',
  ],
])('refuses to start: %s (names %s)', (_what, env, variable) => {
  expect(() => settingsFromEnv({ ...base, ...env })).toThrow(EnvError);
  expect(() => settingsFromEnv({ ...base, ...env })).toThrow(variable);
});

test('the emulator with a demo- project: the page signs in there', () => {
  const settings = settingsFromEnv({
    ...base,
    KUBEFN_CUSTOMER_PROJECT: 'demo-kubefn',
    KUBEFN_CUSTOMER_AUTH_EMULATOR: '127.0.0.1:9099',
  });
  expect(signInConfig(settings)).toMatchObject({
    identityToolkit: 'http://127.0.0.1:9099/identitytoolkit.googleapis.com',
    secureToken: 'http://127.0.0.1:9099/securetoken.googleapis.com',
    emulator: true,
  });
});

test('a production project: Identity Platform itself, with the project’s key', () => {
  const settings = settingsFromEnv({
    ...base,
    KUBEFN_CUSTOMER_PROJECT: 'acme-prod',
    KUBEFN_CUSTOMER_API_KEY: 'AIzaSyExampleExampleExample',
  });
  expect(signInConfig(settings)).toEqual({
    apiKey: 'AIzaSyExampleExampleExample',
    identityToolkit: 'https://identitytoolkit.googleapis.com',
    secureToken: 'https://securetoken.googleapis.com',
    emulator: false,
  });
});
