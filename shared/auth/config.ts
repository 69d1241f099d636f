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
import type { KubeClient } from '../kube/index.ts';
import { googleIssuer, kubernetesIssuer, type TrustedIssuer } from './issuers.ts';
import type { CallerRule } from './middleware.ts';

const flag = (fallback: 'true' | 'false') =>
  v.pipe(
    v.optional(v.picklist(['true', 'false']), fallback),
    v.transform((value) => value === 'true'),
  );

const principal = v.union([
  v.pipe(v.string(), v.email()),
  v.pipe(v.string(), v.regex(/^system:serviceaccount:[a-z0-9-]{1,63}:[a-z0-9.-]{1,253}$/)),
]);

const AuthEnvSchema = v.object({
  KUBEFN_AUTH_AUDIENCE: v.pipe(v.string(), v.url()),
  KUBEFN_AUTH_PLATFORM_VERIFIED: flag('false'),
  KUBEFN_AUTH_GOOGLE: flag('true'),
  KUBEFN_AUTH_GOOGLE_JWKS_URL: v.optional(v.pipe(v.string(), v.url())),
  KUBEFN_AUTH_KUBERNETES: flag('false'),
});

export type AuthSettings = v.InferOutput<typeof AuthEnvSchema>;

export class AuthConfigError extends Error {
  override readonly name = 'AuthConfigError';
}

/** Reads and checks the settings; throws AuthConfigError naming each bad variable. */
export function authSettingsFromEnv(env: NodeJS.ProcessEnv): AuthSettings {
  const result = v.safeParse(AuthEnvSchema, env);
  if (!result.success) throw new AuthConfigError(describe(result.issues));
  return result.output;
}

/** The allow-list of one route (`push` reads KUBEFN_ALLOW_PUSH); empty allows nobody. */
export function allowListFromEnv(env: NodeJS.ProcessEnv, route: string): string[] {
  const name = `KUBEFN_ALLOW_${route.toUpperCase().replace(/-/g, '_')}`;
  const entries = (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const result = v.safeParse(v.array(principal), entries);
  if (!result.success)
    throw new AuthConfigError(
      `${name}: each entry must be a service-account email or system:serviceaccount:NS:NAME`,
    );
  return result.output;
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
    if (!kube) throw new AuthConfigError('KUBEFN_AUTH_KUBERNETES needs a Kubernetes client');
    issuers.push(await kubernetesIssuer(kube));
  }
  if (issuers.length === 0)
    throw new AuthConfigError(
      'no trusted issuer: enable KUBEFN_AUTH_GOOGLE or KUBEFN_AUTH_KUBERNETES',
    );
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

function describe(issues: v.BaseIssue<unknown>[]): string {
  return issues
    .map(
      (issue) =>
        `${issue.path?.map((p) => String(p.key)).join('.') ?? 'environment'}: ${issue.message}`,
    )
    .join('; ');
}
