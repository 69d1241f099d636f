import { expect, test } from 'vitest';
import { EnvError } from '../../shared/env.ts';
import { settingsFromEnv, signInConfig } from './config.ts';

const cells = JSON.stringify([
  { name: 'eu1', region: 'europe-west1', provisionUrl: 'https://eu1.example/' },
]);
const base = {
  KUBEFN_CELLS: cells,
  KUBEFN_CONSOLE_OPERATORS: 'Ops@example.com, sre@example.com',
  KUBEFN_OPERATOR_PROJECT: 'demo-kubefn',
  KUBEFN_OPERATOR_AUTH_EMULATOR: '127.0.0.1:9099',
};

test('the emulator settings: operators in lower case, the cells read', () => {
  const settings = settingsFromEnv(base);
  expect(settings.KUBEFN_CONSOLE_OPERATORS).toEqual(['ops@example.com', 'sre@example.com']);
  expect(settings.cells.map((c) => c.provisionUrl)).toEqual(['https://eu1.example']);
  expect(signInConfig(settings)).toMatchObject({
    emulator: true,
    identityToolkit: 'http://127.0.0.1:9099/identitytoolkit.googleapis.com',
  });
});

test.each([
  ['no operator', { KUBEFN_CONSOLE_OPERATORS: '' }, 'KUBEFN_CONSOLE_OPERATORS'],
  ['an operator that is no email', { KUBEFN_CONSOLE_OPERATORS: 'ops' }, 'KUBEFN_CONSOLE_OPERATORS'],
  [
    'the emulator with a real project',
    { KUBEFN_OPERATOR_PROJECT: 'kubefn-prod' },
    'KUBEFN_OPERATOR_AUTH_EMULATOR',
  ],
  [
    'no emulator and no API key',
    { KUBEFN_OPERATOR_AUTH_EMULATOR: undefined, KUBEFN_OPERATOR_PROJECT: 'kubefn-prod' },
    'KUBEFN_OPERATOR_API_KEY',
  ],
  ['cells that are not JSON', { KUBEFN_CELLS: '[' }, 'KUBEFN_CELLS'],
  ['no cell', { KUBEFN_CELLS: '[]' }, 'KUBEFN_CELLS'],
])('refuses to start with %s, naming %s', (_, change, variable) => {
  const env = { ...base, ...change };
  expect(() => settingsFromEnv(env)).toThrow(EnvError);
  expect(() => settingsFromEnv(env)).toThrow(variable);
});

test('production: a project, its API key and the Google client id', () => {
  const settings = settingsFromEnv({
    ...base,
    KUBEFN_OPERATOR_AUTH_EMULATOR: undefined,
    KUBEFN_OPERATOR_PROJECT: 'kubefn-prod',
    KUBEFN_OPERATOR_API_KEY: 'AIzaSyExampleKey0000',
    KUBEFN_OPERATOR_GOOGLE_CLIENT_ID: '1234567890-abc.apps.googleusercontent.com',
  });
  expect(signInConfig(settings)).toMatchObject({
    emulator: false,
    identityToolkit: 'https://identitytoolkit.googleapis.com',
  });
});
