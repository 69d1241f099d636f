export {
  AuthConfigError,
  type AuthSettings,
  allowList,
  allowListFromEnv,
  allowVariable,
  authEnvEntries,
  authSettingsFromEnv,
  callerRule,
  trustedIssuers,
} from './config.ts';
export { AuthError, type AuthFailureCode } from './errors.ts';
export { googleIssuer, kubernetesIssuer, type Principal, type TrustedIssuer } from './issuers.ts';
export {
  type AuthVariables,
  type CallerRule,
  requireCaller,
  requireCallerWhenReady,
} from './middleware.ts';
export { type VerifyOptions, verifyToken } from './verify-token.ts';
