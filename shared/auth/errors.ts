// Why a caller was turned away, as a stable code for logs. Responses never carry it: a 401 says
// only that the token was not accepted, a 403 only that the caller may not do this (the status
// of each code is shared/http/errors.ts's one table, the answer its renderAuthFailure).
import { KubefnError } from '../errors.ts';

export type AuthFailureCode =
  | 'missing' // no Authorization header
  | 'malformed' // not "Bearer <JWT>", or not a JWT
  | 'ambiguous' // more than one Authorization header: which one counts is not ours to guess
  | 'untrusted-issuer'
  | 'alg-not-allowed' // alg none, HS256 with a public key, ...
  | 'unknown-key' // no key with that kid (after one refresh)
  | 'bad-signature'
  | 'signature-removed' // stripped by Cloud Run, on an endpoint not set to platform-verified
  | 'expired'
  | 'not-yet-valid'
  | 'too-old' // issued longer ago than the issuer's maximum token age
  | 'wrong-audience'
  | 'bad-claims' // a required claim missing or wrong (email_verified, sub, ...)
  | 'keys-unavailable' // the issuer's keys could not be fetched: our problem, not the caller's
  | 'not-allowed'; // a valid principal outside the route's allow-list

export class AuthError extends KubefnError<AuthFailureCode> {
  override readonly name = 'AuthError';
  readonly code: AuthFailureCode;
  /** Only fetching the issuer's keys can succeed later; a bad token stays bad. */
  readonly retryable: boolean;
  constructor(code: AuthFailureCode, detail?: string) {
    super(detail ? `${code}: ${detail}` : code);
    this.code = code;
    this.retryable = code === 'keys-unavailable';
  }
}
