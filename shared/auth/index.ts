export {
  AuthConfigError,
  type AuthSettings,
  allowList,
  allowListFromEnv,
  allowVariable,
  authEnvEntries,
  authSettingsFromEnv,
  type CallerRule,
  callerRule,
  trustedIssuers,
} from './config.ts';
export { AuthError, type AuthFailureCode } from './errors.ts';
export { googleIssuer, kubernetesIssuer, type Principal, type TrustedIssuer } from './issuers.ts';
export { type VerifyOptions, verifyToken } from './verify-token.ts';
