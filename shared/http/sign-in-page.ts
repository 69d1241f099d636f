// What the two pages that sign people in share (the customers' sign-up page, functions/signup;
// the operators' console, functions/console): where Identity Platform's REST API is, or the Auth
// emulator standing in for it, and the browser-side session over it. No SDK is loaded: three
// REST calls (sign in, refresh, the emulator's fake Google token) do not need one.

/** Where a page signs people in: Identity Platform, or the emulator standing in for it. */
export type SignInEndpoints = {
  /** The project's browser API key: public by design, it names the project to Identity Platform. */
  apiKey: string;
  /** https://identitytoolkit.googleapis.com, or the emulator's path to it. */
  identityToolkit: string;
  /** https://securetoken.googleapis.com (refreshing tokens), or the emulator's. */
  secureToken: string;
  emulator: boolean;
};

/** The endpoints for a project's API key, or for the emulator at `emulatorHost` (host:port). */
export function signInEndpoints(
  apiKey: string | undefined,
  emulatorHost: string | undefined,
): SignInEndpoints {
  const google = (service: string) =>
    emulatorHost ? `http://${emulatorHost}/${service}` : `https://${service}`;
  return {
    apiKey: apiKey ?? 'emulator-api-key',
    identityToolkit: google('identitytoolkit.googleapis.com'),
    secureToken: google('securetoken.googleapis.com'),
    emulator: emulatorHost !== undefined,
  };
}

/** The settings as a JSON block's text in a page (`<` escaped: it cannot end the script). */
export const settingsJson = (settings: unknown) =>
  JSON.stringify(settings).replace(/</g, '\\u003c');

/**
 * The browser's session, in the tab's sessionStorage under `storageKey`: `session`, `claims`
 * (a token's payload, unverified: for display only), `keep`, `identity` (an Identity Toolkit call)
 * and `refresh` (a new ID token from the refresh token). Expects `config` (SignInEndpoints).
 */
export const sessionScript = (storageKey: string) => `
let session = JSON.parse(sessionStorage.getItem('${storageKey}') || 'null');
const claims = (token) => JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
function keep(idToken, refreshToken) {
  session = { idToken, refreshToken };
  sessionStorage.setItem('${storageKey}', JSON.stringify(session));
}
async function identity(path, body) {
  const res = await fetch(config.identityToolkit + '/v1/' + path + '?key=' + encodeURIComponent(config.apiKey), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await res.json();
  if (!res.ok) throw new Error((answer.error && answer.error.message) || res.statusText);
  return answer;
}
async function refresh() {
  const res = await fetch(config.secureToken + '/v1/token?key=' + encodeURIComponent(config.apiKey), {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: session.refreshToken }) });
  const answer = await res.json();
  if (!res.ok) throw new Error((answer.error && answer.error.message) || res.statusText);
  keep(answer.id_token, answer.refresh_token);
}`;
