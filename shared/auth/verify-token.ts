// Verifies a caller's bearer token against the trusted issuers and returns the principal.
// Checks run in a fixed order (form, algorithm, issuer, signature, time, audience, principal),
// and every failure has its own code.
//
// The audience is exact: `aud` is the endpoint's audience, or a list of only that one. A token
// minted for several services (a TokenRequest with two audiences) is refused: any of them could
// replay it here. Google's ID tokens carry a single audience, so nothing legitimate is lost.
import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import { AuthError } from './errors.ts';
import type { Principal, TrustedIssuer } from './issuers.ts';

export type VerifyOptions = {
  /**
   * The exact `aud` this endpoint expects (its URL, as configured on the push subscription): the
   * token's only audience.
   */
  audience: string;
  issuers: TrustedIssuer[];
  /**
   * Behind Cloud Run's IAM check, which verifies the token and then strips its signature
   * (SIGNATURE_REMOVED_BY_GOOGLE): read the claims only. Set per endpoint, never a fallback.
   */
  platformVerified?: boolean | undefined;
  clockToleranceSeconds?: number | undefined;
  /** Seconds since the epoch; for tests. */
  now?: (() => number) | undefined;
};

const removedSignature = 'SIGNATURE_REMOVED_BY_GOOGLE';

export async function verifyToken(
  authorization: string | undefined,
  options: VerifyOptions,
): Promise<Principal> {
  return (await checkToken(authorization, options)).principal;
}

/**
 * verifyToken, and until when (seconds since the epoch) the token stays acceptable: its exp, or
 * its issuer's age limit if that comes first (the clock tolerance not counted).
 */
export async function checkToken(
  authorization: string | undefined,
  options: VerifyOptions,
): Promise<{ principal: Principal; validUntil: number }> {
  if (!authorization) throw new AuthError('missing');
  // Two Authorization headers arrive joined with ", " (shared/http/functions-framework.ts, as
  // Fetch's Headers do); a bearer JWT never holds a comma. Which one counts is not ours to guess.
  if (authorization.includes(',')) throw new AuthError('ambiguous', 'more than one credential');
  const match = /^Bearer ([\w-]+\.[\w-]*\.[\w-]*)$/i.exec(authorization.trim());
  const token = match?.[1];
  if (!token) throw new AuthError('malformed', 'expected "Bearer <JWT>"');

  let alg: string | undefined;
  let claims: JWTPayload;
  try {
    alg = decodeProtectedHeader(token).alg;
    claims = decodeJwt(token);
  } catch {
    throw new AuthError('malformed', 'not a JWT');
  }
  const issuer = options.issuers.find((i) => i.names.includes(String(claims.iss)));
  if (!alg || alg === 'none' || (issuer && !issuer.algorithms.includes(alg))) {
    throw new AuthError('alg-not-allowed', alg ?? 'no alg');
  }
  if (!issuer) throw new AuthError('untrusted-issuer');
  const tolerance = options.clockToleranceSeconds ?? 30;

  if (token.endsWith(`.${removedSignature}`)) {
    if (!options.platformVerified || !issuer.googleSigned) {
      throw new AuthError('signature-removed', 'this endpoint verifies signatures itself');
    }
    checkClaims(claims, issuer, options.audience, tolerance, options.now?.() ?? Date.now() / 1000);
    return { principal: issuer.principal(claims), validUntil: validUntil(claims, issuer) };
  }

  try {
    const { payload } = await jwtVerify(token, issuer.keys, {
      issuer: issuer.names,
      audience: options.audience,
      algorithms: issuer.algorithms,
      clockTolerance: tolerance,
      maxTokenAge: issuer.maxTokenAgeSeconds, // jose adds clockTolerance itself
      requiredClaims: ['exp', 'iat'],
      ...(options.now ? { currentDate: new Date(options.now() * 1000) } : {}),
    });
    // jose accepts a list that merely includes the audience; ours must be the only one.
    onlyAudience(payload.aud, options.audience);
    return { principal: issuer.principal(payload), validUntil: validUntil(payload, issuer) };
  } catch (error) {
    throw translate(error);
  }
}

/** What jwtVerify checks, for a token whose signature Cloud Run already verified and removed. */
function checkClaims(
  claims: JWTPayload,
  issuer: TrustedIssuer,
  audience: string,
  tolerance: number,
  now: number,
) {
  const { exp, nbf, iat, aud } = claims;
  if (typeof exp !== 'number' || typeof iat !== 'number')
    throw new AuthError('bad-claims', 'exp and iat are required');
  if (now - tolerance >= exp) throw new AuthError('expired');
  if (typeof nbf === 'number' && nbf > now + tolerance) throw new AuthError('not-yet-valid');
  if (iat > now + tolerance) throw new AuthError('not-yet-valid', 'issued in the future');
  if (now - iat > issuer.maxTokenAgeSeconds + tolerance) throw new AuthError('too-old');
  onlyAudience(aud, audience);
}

/** exp and iat are numbers here: both paths above required them. */
const validUntil = (claims: JWTPayload, issuer: TrustedIssuer) =>
  Math.min(Number(claims.exp), Number(claims.iat) + issuer.maxTokenAgeSeconds);

/** `aud` is exactly `audience`, alone or as a list of one. */
function onlyAudience(aud: JWTPayload['aud'], audience: string) {
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.includes(audience)) throw new AuthError('wrong-audience');
  if (audiences.length !== 1) throw new AuthError('wrong-audience', 'more than one audience');
}

/** A jose failure as an AuthError code (identity-platform.ts uses it for emulator tokens too). */
export function translate(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  // jose reports a token older than maxTokenAge as JWTExpired on the iat claim.
  if (error instanceof errors.JWTExpired)
    return new AuthError(error.claim === 'iat' ? 'too-old' : 'expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return new AuthError('wrong-audience');
    if (error.claim === 'iss') return new AuthError('untrusted-issuer');
    if (error.claim === 'nbf') return new AuthError('not-yet-valid');
    if (error.claim === 'iat') return new AuthError('not-yet-valid', 'issued in the future');
    return new AuthError('bad-claims', error.claim);
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new AuthError('alg-not-allowed');
  }
  if (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return new AuthError('unknown-key');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return new AuthError('bad-signature');
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid)
    return new AuthError('malformed');
  // JWKS fetch failures (timeouts, bad answers, network): our side could not check.
  return new AuthError('keys-unavailable', error instanceof Error ? error.name : 'unknown');
}
