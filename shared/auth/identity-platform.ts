// Customers' ID tokens: Google Cloud Identity Platform (Firebase Authentication) signs them for
// a project. Verified as Firebase documents it: RS256 against the published keys (the same
// cached remote key set as Google's issuer), `iss` https://securetoken.google.com/<project>,
// `aud` the project and nothing else, not expired, issued and signed in (auth_time) in the past,
// `sub` (the user id) a non-empty string of at most 128 characters.
//
// The Firebase Auth emulator's tokens carry the same claims, unsigned (alg "none"): they are
// accepted only by a verifier built for the emulator, which its settings allow only with a
// demo- project (functions/signup/config.ts).
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, UnsecuredJWT } from 'jose';
import { AuthError } from './errors.ts';
import type { Principal, TrustedIssuer } from './issuers.ts';
import { translate, verifyToken } from './verify-token.ts';

export const securetokenJwksUrl =
  'https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com';

/** The custom claim where the SaaS puts the paid plan a user may sign up for. */
export const entitlementClaim = 'kubefnPlan';

export type Customer = Extract<Principal, { kind: 'customer' }>;

export const identityPlatformIssuerName = (projectId: string) =>
  `https://securetoken.google.com/${projectId}`;

/** `keys` replaces the published key set (unit tests); `jwksUrl` moves it (the tests' fake). */
export function identityPlatformIssuer(options: {
  projectId: string;
  jwksUrl?: string | undefined;
  keys?: JWTVerifyGetKey;
}): TrustedIssuer {
  return {
    names: [identityPlatformIssuerName(options.projectId)],
    keys: options.keys ?? createRemoteJWKSet(new URL(options.jwksUrl ?? securetokenJwksUrl)),
    algorithms: ['RS256'],
    // ID tokens live an hour; the page refreshes them.
    maxTokenAgeSeconds: 3600,
    googleSigned: false,
    principal: customerOf,
  };
}

function customerOf(claims: JWTPayload): Customer {
  const {
    sub,
    email,
    email_verified: verified,
    auth_time: authTime,
  } = claims as JWTPayload & {
    email?: unknown;
    email_verified?: unknown;
    auth_time?: unknown;
  };
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128)
    throw new AuthError('bad-claims', 'sub must be the user id');
  if (typeof authTime !== 'number') throw new AuthError('bad-claims', 'auth_time is required');
  const entitlement = claims[entitlementClaim];
  const provider = (claims.firebase as { sign_in_provider?: unknown } | undefined)
    ?.sign_in_provider;
  return {
    kind: 'customer',
    id: sub,
    email: typeof email === 'string' ? email : undefined,
    emailVerified: typeof email === 'string' && verified === true,
    // Anything but a plan's name is no entitlement.
    entitlement:
      typeof entitlement === 'string' && /^[a-z0-9-]{1,40}$/.test(entitlement)
        ? entitlement
        : undefined,
    authTime,
    ...(typeof provider === 'string' ? { signInProvider: provider } : {}),
  };
}

export type CustomerTokenOptions = {
  /** The Identity Platform project: the tokens' only audience. */
  projectId: string;
  issuer: TrustedIssuer;
  /** Accept the Auth emulator's unsigned tokens, and only those. */
  emulator: boolean;
  /** Seconds since the epoch; for tests. */
  now?: (() => number) | undefined;
};

const clockToleranceSeconds = 30;

/** The customer an `Authorization: Bearer <ID token>` header names; AuthError otherwise. */
export async function verifyCustomerToken(
  authorization: string | undefined,
  options: CustomerTokenOptions,
): Promise<Customer> {
  const principal = options.emulator
    ? await emulatorToken(authorization, options)
    : await verifyToken(authorization, {
        audience: options.projectId,
        issuers: [options.issuer],
        clockToleranceSeconds,
        now: options.now,
      });
  if (principal.kind !== 'customer') throw new AuthError('bad-claims', 'not a customer token');
  const now = options.now?.() ?? Date.now() / 1000;
  if (principal.authTime > now + clockToleranceSeconds)
    throw new AuthError('not-yet-valid', 'auth_time is in the future');
  return principal;
}

/** The emulator's token: the same form and claim checks as a signed one, no signature. */
async function emulatorToken(
  authorization: string | undefined,
  options: CustomerTokenOptions,
): Promise<Principal> {
  if (!authorization) throw new AuthError('missing');
  if (authorization.includes(',')) throw new AuthError('ambiguous', 'more than one credential');
  const token = /^Bearer ([\w-]+\.[\w-]+\.)$/i.exec(authorization.trim())?.[1];
  if (!token)
    throw new AuthError('alg-not-allowed', 'the emulator mode takes unsigned tokens only');
  try {
    const { payload } = UnsecuredJWT.decode(token, {
      issuer: options.issuer.names,
      audience: options.projectId,
      clockTolerance: clockToleranceSeconds,
      maxTokenAge: options.issuer.maxTokenAgeSeconds,
      requiredClaims: ['exp', 'iat'],
      ...(options.now ? { currentDate: new Date(options.now() * 1000) } : {}),
    });
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (audiences.length !== 1) throw new AuthError('wrong-audience', 'more than one audience');
    return options.issuer.principal(payload);
  } catch (error) {
    throw translate(error);
  }
}
