// A configuration mistake fails the deploy: each function's settings are read synchronously when
// its module loads, so the Functions Framework cannot load the target and exits non-zero naming
// the variable (before, the mistake became a rejected promise and every request answered 500).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, test } from 'vitest';
import { EnvError } from '../shared/env.ts';
import * as ingressTimeout from './ingress-timeout/config.ts';
import * as label from './label/config.ts';
import * as provision from './provision/config.ts';
import * as signup from './signup/config.ts';

const root = join(import.meta.dirname, '..');
const complete = {
  KUBEFN_AUTH_AUDIENCE: 'https://fn.example',
  KUBEFN_PROVISION_URL: 'https://provision.example',
  KUBEFN_CUSTOMER_PROJECT: 'demo-kubefn',
  KUBEFN_CUSTOMER_AUTH_EMULATOR: '127.0.0.1:9099',
};

// `auth`: the deployable reads kubefn's auth settings (allow-lists), so a bad one must stop it.
// signup has none: its callers are customers, checked against Identity Platform.
describe.each([
  { name: 'label', depsFromEnv: label.depsFromEnv, variable: 'KUBEFN_AUTH_AUDIENCE', auth: true },
  {
    name: 'provision',
    depsFromEnv: provision.depsFromEnv,
    variable: 'KUBEFN_AUTH_AUDIENCE',
    auth: true,
  },
  {
    name: 'ingress-timeout',
    depsFromEnv: ingressTimeout.depsFromEnv,
    variable: 'KUBEFN_AUTH_AUDIENCE',
    auth: true,
  },
  {
    name: 'signup',
    depsFromEnv: signup.depsFromEnv,
    variable: 'KUBEFN_PROVISION_URL',
    auth: false,
  },
])('$name', ({ depsFromEnv, variable, auth }) => {
  test(`a missing ${variable} throws synchronously, naming it`, () => {
    const env: Record<string, string> = { ...complete };
    delete env[variable];
    expect(() => depsFromEnv(env)).toThrow(EnvError);
    expect(() => depsFromEnv(env)).toThrow(variable);
  });

  test('a bad allow-list is named, its value is not', () => {
    const secret = 's3cret-value-not-a-principal';
    const env = { ...complete, KUBEFN_ALLOW_PUSH: secret, KUBEFN_AUTH_GOOGLE: secret };
    let message = '';
    try {
      const pending = depsFromEnv(env);
      if (pending instanceof Promise) pending.catch(() => {});
    } catch (error) {
      message = (error as Error).message;
    }
    if (!auth) {
      expect(message).toBe(''); // nothing of it reads these
      return;
    }
    expect(message).toContain('KUBEFN_AUTH_GOOGLE');
    expect(message).not.toContain(secret);
  });
});

describe('under the Functions Framework', () => {
  let dir = '';
  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  test('a missing KUBEFN_AUTH_AUDIENCE stops the function loading: exit non-zero, named', async () => {
    // dist/ is made by the first build; a clean checkout running this test first has none.
    await mkdir(join(root, 'dist'), { recursive: true });
    dir = await mkdtemp(join(root, 'dist', 'entry-test-'));
    await build({
      entryPoints: [join(root, 'functions/label/index.ts')],
      outfile: join(dir, 'index.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      banner: {
        js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
      },
      logLevel: 'silent',
    });
    const frameworkMain = join(
      createRequire(import.meta.url).resolve('@google-cloud/functions-framework'),
      '../main.js',
    );
    const env = { ...process.env, NODE_ENV: 'production', KUBEFN_AUTH_AUDIENCE: '' };
    delete (env as Record<string, string | undefined>).KUBEFN_AUTH_AUDIENCE;
    const child = spawn(
      process.execPath,
      [frameworkMain, '--target=label', `--source=${join(dir, 'index.mjs')}`, '--port=0'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running after 8 s');
      }, 8_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode ?? -1);
      });
    });
    expect(code).not.toBe(0);
    expect(code).not.toBe('still running after 8 s');
    expect(output).toContain('KUBEFN_AUTH_AUDIENCE');
  }, 15_000);
});
