// The signup backend's settings, from its environment, checked when the module loads:
//   KUBEFN_PROVISION_URL         the provisioning function's URL
//   KUBEFN_PROVISION_AUDIENCE    the audience it expects (defaults to its URL)
//   KUBEFN_CALLER_TOKEN_FILE     a token file to present (local stack); otherwise an ID token
//                                from the metadata server, as on Cloud Run
import * as v from 'valibot';
import { readEnv } from '../../shared/env.ts';
import { metadataIdToken } from '../../shared/gcp/id-token.ts';
import { tokenFile } from '../../shared/kube/index.ts';
import type { SignupDeps } from './app.ts';

const EnvSchema = v.object({
  KUBEFN_PROVISION_URL: v.pipe(
    v.string(),
    v.url(),
    v.transform((url) => url.replace(/\/+$/, '')),
  ),
  KUBEFN_PROVISION_AUDIENCE: v.optional(v.pipe(v.string(), v.minLength(1))),
  KUBEFN_CALLER_TOKEN_FILE: v.optional(v.pipe(v.string(), v.minLength(1))),
});

export type SignupSettings = v.InferOutput<typeof EnvSchema>;

/** Throws an EnvError naming each bad variable, synchronously: the deploy fails. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): SignupSettings {
  return readEnv('signup', EnvSchema, env);
}

/** The settings and the caller's token (fetched on first use). */
export function depsFromEnv(env: NodeJS.ProcessEnv): SignupDeps {
  const e = settingsFromEnv(env);
  const provisionUrl = e.KUBEFN_PROVISION_URL;
  const token = e.KUBEFN_CALLER_TOKEN_FILE
    ? tokenFile(e.KUBEFN_CALLER_TOKEN_FILE)
    : metadataIdToken(e.KUBEFN_PROVISION_AUDIENCE ?? provisionUrl);
  return { provisionUrl, token };
}
