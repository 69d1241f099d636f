// The signup backend's settings, from its environment, checked when the module loads:
//   KUBEFN_PROVISION_URL           the provisioning function's URL
//   KUBEFN_PROVISION_AUDIENCE      the audience it expects (defaults to its URL)
//   KUBEFN_CALLER_TOKEN_FILE       a token file to present (local stack); otherwise an ID token
//                                  from the metadata server, as on Cloud Run
//   KUBEFN_CUSTOMER_PROJECT        the Identity Platform project customers sign in with: their
//                                  ID tokens' audience and issuer
//   KUBEFN_CUSTOMER_API_KEY        that project's browser API key, which the page sends to
//                                  Identity Platform (public by design; restrict it to the
//                                  Identity Toolkit and Token Service APIs)
//   KUBEFN_CUSTOMER_JWKS_URL       Identity Platform's public keys (tests point it at a fake)
//   KUBEFN_CUSTOMER_AUTH_EMULATOR  host:port of the Firebase Auth emulator (what
//                                  FIREBASE_AUTH_EMULATOR_HOST names): the page signs in there
//                                  and unsigned tokens are accepted. Only with a demo- project,
//                                  Firebase's emulator-only ids: the backend refuses to start
//                                  with it and any other project
import * as v from 'valibot';
import {
  identityPlatformIssuer,
  verifyCustomerToken,
} from '../../shared/auth/identity-platform.ts';
import { envProblem, readEnv } from '../../shared/env.ts';
import { metadataIdToken } from '../../shared/gcp/id-token.ts';
import { signInEndpoints } from '../../shared/http/sign-in-page.ts';
import { tokenFile } from '../../shared/kube/index.ts';
import type { SignupDeps } from './app.ts';
import type { SignInConfig } from './page.ts';

const EnvSchema = v.object({
  KUBEFN_PROVISION_URL: v.pipe(
    v.string(),
    v.url(),
    v.transform((url) => url.replace(/\/+$/, '')),
  ),
  KUBEFN_PROVISION_AUDIENCE: v.optional(v.pipe(v.string(), v.minLength(1))),
  KUBEFN_CALLER_TOKEN_FILE: v.optional(v.pipe(v.string(), v.minLength(1))),
  // A Google project id.
  KUBEFN_CUSTOMER_PROJECT: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/)),
  KUBEFN_CUSTOMER_API_KEY: v.optional(v.pipe(v.string(), v.regex(/^[\w-]{10,100}$/))),
  KUBEFN_CUSTOMER_JWKS_URL: v.optional(v.pipe(v.string(), v.url())),
  KUBEFN_CUSTOMER_AUTH_EMULATOR: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.-]+:\d{1,5}$/, 'host:port')),
  ),
});

export type SignupSettings = v.InferOutput<typeof EnvSchema>;

/** Throws an EnvError naming each bad variable, synchronously: the deploy fails. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): SignupSettings {
  const settings = readEnv('signup', EnvSchema, env);
  const emulator = settings.KUBEFN_CUSTOMER_AUTH_EMULATOR;
  // Unsigned tokens must never be accepted for a real project's users.
  if (emulator && !settings.KUBEFN_CUSTOMER_PROJECT.startsWith('demo-')) {
    throw envProblem(
      'signup',
      'KUBEFN_CUSTOMER_AUTH_EMULATOR',
      'unset: the Auth emulator goes only with a demo- project (KUBEFN_CUSTOMER_PROJECT)',
    );
  }
  if (!emulator && !settings.KUBEFN_CUSTOMER_API_KEY) {
    throw envProblem('signup', 'KUBEFN_CUSTOMER_API_KEY', "the project's browser API key");
  }
  return settings;
}

/** Where the page signs customers in: Identity Platform, or the emulator standing in for it. */
export function signInConfig(settings: SignupSettings): SignInConfig {
  return signInEndpoints(settings.KUBEFN_CUSTOMER_API_KEY, settings.KUBEFN_CUSTOMER_AUTH_EMULATOR);
}

/** The settings, the customers' token check, and the caller's token (fetched on first use). */
export function depsFromEnv(env: NodeJS.ProcessEnv): SignupDeps {
  const e = settingsFromEnv(env);
  const provisionUrl = e.KUBEFN_PROVISION_URL;
  const token = e.KUBEFN_CALLER_TOKEN_FILE
    ? tokenFile(e.KUBEFN_CALLER_TOKEN_FILE)
    : metadataIdToken(e.KUBEFN_PROVISION_AUDIENCE ?? provisionUrl);
  const projectId = e.KUBEFN_CUSTOMER_PROJECT;
  const issuer = identityPlatformIssuer({ projectId, jwksUrl: e.KUBEFN_CUSTOMER_JWKS_URL });
  const emulator = e.KUBEFN_CUSTOMER_AUTH_EMULATOR !== undefined;
  return {
    provisionUrl,
    token,
    customer: (authorization) =>
      verifyCustomerToken(authorization, { projectId, issuer, emulator }),
    signIn: signInConfig(e),
  };
}
