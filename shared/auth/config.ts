// Who may call what, from the deployment's environment, validated at start-up so that a typo
// fails the deploy instead of opening or closing an endpoint by surprise.
//
//   KUBEFN_AUTH_AUDIENCE            the exact `aud` callers' tokens must carry (required)
//   KUBEFN_AUTH_PLATFORM_VERIFIED   "true" behind Cloud Run's IAM check (claims only); default false
//   KUBEFN_AUTH_GOOGLE              trust Google-signed tokens; default true
//   KUBEFN_AUTH_GOOGLE_JWKS_URL     Google's keys (tests point it at a local fake)
//   KUBEFN_AUTH_KUBERNETES          trust the cluster's service-account issuer; default false
//   KUBEFN_ALLOW_<ROUTE>            comma-separated principals for one route, e.g. KUBEFN_ALLOW_PUSH
import * as v from 'valibot';
import { commaList, EnvError, flag, readEnv } from '../env.ts';
import type { KubeClient } from '../kube/index.ts';
import { isDnsLabel, isDnsSubdomain } from '../kube/names.ts';
import type { Logger } from '../log.ts';
import { googleIssuer, kubernetesIssuer, type TrustedIssuer } from './issuers.ts';
import type { VerifyOptions } from './verify-token.ts';

/** One route's caller check (shared/http/require-caller.ts applies it). */
export type CallerRule = VerifyOptions & {
  /** Principal ids allowed here: Google service-account emails or system:serviceaccount:NS:NAME. */
  allow: string[];
  log?: Logger;
};

/** A Kubernetes service account as its tokens name it: its namespace, then its name. */
function isServiceAccountUser(id: string): boolean {
  const [system, serviceaccount, namespace = '', name = '', ...rest] = id.split(':');
  return (
    system === 'system' &&
    serviceaccount === 'serviceaccount' &&
    rest.length === 0 &&
    isDnsLabel(namespace) &&
    isDnsSubdomain(name)
  );
}

const principal = v.union([
  v.pipe(v.string(), v.email()),
  v.pipe(v.string(), v.check(isServiceAccountUser, 'system:serviceaccount:NAMESPACE:NAME')),
]);

/** The KUBEFN_AUTH_* entries, for a deployable's own schema (shared/env.ts) to include. */
export const authEnvEntries = {
  KUBEFN_AUTH_AUDIENCE: v.pipe(v.string(), v.url()),
  KUBEFN_AUTH_PLATFORM_VERIFIED: flag('false'),
  KUBEFN_AUTH_GOOGLE: flag('true'),
  KUBEFN_AUTH_GOOGLE_JWKS_URL: v.optional(v.pipe(v.string(), v.url())),
  KUBEFN_AUTH_KUBERNETES: flag('false'),
};
const AuthEnvSchema = v.object(authEnvEntries);

export type AuthSettings = v.InferOutput<typeof AuthEnvSchema>;

/** A wrong auth setting: an EnvError (code 'config') naming the variable. */
export class AuthConfigError extends EnvError {
  override readonly name = 'AuthConfigError';
  constructor(problems: EnvError['problems']) {
    super('auth', problems);
  }
}

function readAuthEnv<TSchema extends v.GenericSchema<NodeJS.ProcessEnv, unknown>>(
  schema: TSchema,
  env: NodeJS.ProcessEnv,
): v.InferOutput<TSchema> {
  try {
    return readEnv('auth', schema, env);
  } catch (error) {
    throw error instanceof EnvError ? new AuthConfigError(error.problems) : error;
  }
}

/** Reads and checks the settings; throws an EnvError naming each bad variable. */
export function authSettingsFromEnv(env: NodeJS.ProcessEnv): AuthSettings {
  return readAuthEnv(AuthEnvSchema, env);
}

/** The name of a route's allow-list variable: `push` reads KUBEFN_ALLOW_PUSH. */
export const allowVariable = (route: string) =>
  `KUBEFN_ALLOW_${route.toUpperCase().replace(/-/g, '_')}`;

/** One route's allow-list, as an entry of a deployable's schema; empty allows nobody. */
export const allowList = v.pipe(
  commaList,
  v.check(
    (entries) => entries.every((entry) => v.is(principal, entry)),
    'each entry must be a service-account email or system:serviceaccount:NS:NAME',
  ),
);

/** The allow-list of one route (`push` reads KUBEFN_ALLOW_PUSH); empty allows nobody. */
export function allowListFromEnv(env: NodeJS.ProcessEnv, route: string): string[] {
  const name = allowVariable(route);
  return readAuthEnv(v.object({ [name]: allowList }), env)[name] ?? [];
}

/** The trusted issuers the settings name; the Kubernetes one needs the cluster's client. */
export async function trustedIssuers(
  settings: AuthSettings,
  kube?: KubeClient,
): Promise<TrustedIssuer[]> {
  const issuers: TrustedIssuer[] = [];
  if (settings.KUBEFN_AUTH_GOOGLE) {
    issuers.push(
      googleIssuer(
        settings.KUBEFN_AUTH_GOOGLE_JWKS_URL
          ? { jwksUrl: settings.KUBEFN_AUTH_GOOGLE_JWKS_URL }
          : {},
      ),
    );
  }
  if (settings.KUBEFN_AUTH_KUBERNETES) {
    if (!kube)
      throw new AuthConfigError([
        { variable: 'KUBEFN_AUTH_KUBERNETES', expected: 'needs a Kubernetes client' },
      ]);
    issuers.push(await kubernetesIssuer(kube));
  }
  if (issuers.length === 0)
    throw new AuthConfigError([
      {
        variable: 'KUBEFN_AUTH_GOOGLE, KUBEFN_AUTH_KUBERNETES',
        expected: 'no trusted issuer: enable one',
      },
    ]);
  return issuers;
}

/** The rule for one route, ready for requireCaller. */
export function callerRule(
  settings: AuthSettings,
  issuers: TrustedIssuer[],
  allow: string[],
): CallerRule {
  return {
    audience: settings.KUBEFN_AUTH_AUDIENCE,
    platformVerified: settings.KUBEFN_AUTH_PLATFORM_VERIFIED,
    issuers,
    allow,
  };
}
