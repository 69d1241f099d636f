// The sign-up page: the customer signs in (email and password, with Identity Platform's REST API
// or the Auth emulator standing in for it), verifies their email, then one button creates their
// tenant and a live view shows it coming up (polling the backend). Every call to the backend
// carries the customer's ID token; every refusal is shown with its code.
import {
  type SignInEndpoints,
  sessionScript,
  settingsJson,
} from '../../shared/http/sign-in-page.ts';
import { dnsLabelSource } from '../../shared/kube/names.ts';

/** Where the page signs customers in (functions/signup/config.ts). */
export type SignInConfig = SignInEndpoints;

/** The page with its sign-in settings in a JSON block. */
export function page(config: SignInConfig): string {
  return template.replace('__SIGN_IN_CONFIG__', settingsJson(config));
}

const template = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kubefn · sign up</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.6rem; margin-bottom: .2rem; }
  h2 { font-size: 1.15rem; margin: 1.5rem 0 .3rem; }
  form { display: grid; gap: .8rem; margin: 1rem 0; }
  label { display: grid; gap: .2rem; font-weight: 600; }
  input, select, button { font: inherit; padding: .5rem .7rem; border: 1px solid #b8c0cc; border-radius: 6px; }
  button { background: #2457d6; color: white; border: none; cursor: pointer; }
  button.secondary { background: #eef0f3; color: #1d2330; }
  button:disabled { background: #8aa3e0; cursor: wait; }
  .row { display: flex; gap: .6rem; flex-wrap: wrap; }
  #phase { font-weight: 700; }
  .Ready { color: #1a7f37; } .Provisioning { color: #9a6700; } .Terminating, .Failed, .error { color: #cf222e; }
  #phases li.reached::before { content: "✓ "; color: #1a7f37; }
  #phases li.pending::before { content: "… "; color: #9a6700; }
  #phases li.failed::before { content: "✗ "; color: #cf222e; }
  ul { list-style: none; padding: 0; } li { padding: .2rem 0; border-bottom: 1px solid #eef0f3; }
  li span { float: right; color: #57606a; }
  .note { background: #fff8c5; padding: .6rem .8rem; border-radius: 6px; }
</style>
</head>
<body>
<h1>Sign up</h1>
<p>Get your own namespace with its monitoring instance.</p>

<section id="signed-out">
  <form id="credentials">
    <label>Email <input id="email" type="email" autocomplete="username" required maxlength="254"></label>
    <label>Password <input id="password" type="password" autocomplete="current-password" required minlength="6"></label>
    <div class="row">
      <button id="sign-in" type="submit">Sign in</button>
      <button id="create-account" type="button" class="secondary">Create an account</button>
    </div>
  </form>
</section>

<section id="signed-in" hidden>
  <p>Signed in as <strong id="who"></strong> <button id="sign-out" type="button" class="secondary">Sign out</button></p>
  <div id="verify" class="note" hidden>
    <p>We sent a verification link to your email. Open it, then continue here.</p>
    <div class="row">
      <button id="verified" type="button">I have verified my email</button>
      <button id="resend" type="button" class="secondary">Send the link again</button>
    </div>
  </div>
  <h2>Your tenants</h2>
  <ul id="my-tenants"></ul>
  <form id="signup">
    <label>Tenant id <input id="customerId" name="customerId" required pattern="${dnsLabelSource}" maxlength="40" placeholder="acme"></label>
    <label>Plan <select id="plan" name="plan"><option value="free">Free</option></select></label>
    <label id="region-choice" hidden>Region <select id="region" name="region"></select></label>
    <button id="submit" type="submit">Sign up</button>
  </form>
</section>

<section id="tenant" hidden>
  <p>Tenant <code id="namespace"></code><span id="where"></span>: <span id="phase"></span> <span id="elapsed"></span></p>
  <ol id="phases"></ol>
  <p id="address" hidden>Your instance: <a id="address-link"></a></p>
  <details><summary>Objects</summary><ul id="objects"></ul></details>
</section>
<p id="message" role="status"></p>
<script type="application/json" id="sign-in-config">__SIGN_IN_CONFIG__</script>
<script type="module">
const config = JSON.parse(document.getElementById('sign-in-config').textContent);
const $ = (id) => document.getElementById(id);
const message = $('message');
const show = (text, kind = '') => { message.textContent = text; message.className = kind; };
// A refusal as the backend says it: its sentence and its code.
const refusal = (body, status) => (body.message || 'request failed') + ' (' + (body.error || status) + ')';

// The session lives in this tab only.
${sessionScript('kubefn-session')}
// The click starts the request's trace (W3C traceparent, sampled): signup, provision and every
// Kubernetes call continue it; its id is kept on the message, for a customer to quote.
function traceparent() {
  const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
  const traceId = hex(16);
  message.dataset.trace = traceId;
  return '00-' + traceId + '-' + hex(8) + '-01';
}
// A call to the backend with the customer's ID token, refreshed when it is about to expire.
async function api(path, options = {}) {
  if (claims(session.idToken).exp * 1000 < Date.now() + 60000) await refresh();
  const res = await fetch(path, { ...options, headers: { ...(options.headers || {}), authorization: 'Bearer ' + session.idToken } });
  return { res, body: await res.json().catch(() => ({})) };
}

function render() {
  $('signed-out').hidden = Boolean(session);
  $('signed-in').hidden = !session;
  if (!session) return;
  const c = claims(session.idToken);
  $('who').textContent = c.email || c.sub;
  $('verify').hidden = c.email_verified === true;
  // Free for everyone; a paid plan only for an account the SaaS entitled to it.
  const plans = ['free'].concat(c.kubefnPlan && c.kubefnPlan !== 'free' ? [c.kubefnPlan] : []);
  $('plan').replaceChildren(...plans.map((p) => new Option(p[0].toUpperCase() + p.slice(1), p, false, p === c.kubefnPlan)));
  listTenants();
  listRegions();
}
// Where the customer's data will live: the regions kubefn runs in, asked once per page.
let regionsAsked = false;
async function listRegions() {
  if (regionsAsked) return;
  regionsAsked = true;
  const { res, body } = await api('/api/regions');
  const regions = res.ok && Array.isArray(body.regions) ? body.regions : [];
  $('region').replaceChildren(...regions.map((r) => new Option(r, r)));
  $('region-choice').hidden = regions.length === 0;
}
async function listTenants() {
  const { res, body } = await api('/api/tenants');
  if (!res.ok) return show(refusal(body, res.status), 'error');
  $('my-tenants').replaceChildren(...(body.tenants.length ? body.tenants : [null]).map((t) => {
    const item = document.createElement('li');
    item.textContent = t ? t.customerId + ' (' + [t.plan, t.region].filter(Boolean).join(', ') + ')' : 'none yet';
    return item;
  }));
}
async function signIn(create) {
  const email = $('email').value;
  const password = $('password').value;
  try {
    const answer = await identity(create ? 'accounts:signUp' : 'accounts:signInWithPassword', { email, password, returnSecureToken: true });
    keep(answer.idToken, answer.refreshToken);
    if (create) await identity('accounts:sendOobCode', { requestType: 'VERIFY_EMAIL', idToken: answer.idToken });
    show(create ? 'Account created. Check your email for the verification link.' : 'Signed in.');
    render();
  } catch (error) {
    show((create ? 'Could not create the account: ' : 'Could not sign in: ') + error.message, 'error');
  }
}
$('credentials').addEventListener('submit', (event) => { event.preventDefault(); signIn(false); });
$('create-account').addEventListener('click', () => { if ($('credentials').reportValidity()) signIn(true); });
$('sign-out').addEventListener('click', () => {
  session = null;
  sessionStorage.removeItem('kubefn-session');
  $('tenant').hidden = true;
  show('Signed out.');
  render();
});
$('verified').addEventListener('click', async () => {
  try {
    await refresh();
    show(claims(session.idToken).email_verified ? 'Email verified.' : 'Not verified yet: open the link in the email.');
    render();
  } catch (error) { show('Could not check: ' + error.message, 'error'); }
});
$('resend').addEventListener('click', async () => {
  try {
    await identity('accounts:sendOobCode', { requestType: 'VERIFY_EMAIL', idToken: session.idToken });
    show('Sent again.');
  } catch (error) { show('Could not send: ' + error.message, 'error'); }
});

const form = $('signup');
const button = $('submit');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  button.disabled = true;
  show('Signing up...');
  const customerId = form.customerId.value;
  try {
    const { res, body } = await api('/api/signup', { method: 'POST', headers: { 'content-type': 'application/json', traceparent: traceparent() },
      body: JSON.stringify({ customerId, plan: form.plan.value, ...(form.region.value ? { region: form.region.value } : {}) }) });
    if (!res.ok) throw new Error(refusal(body, res.status));
    show(body.created ? 'Created. Bringing it up...' : 'Already signed up. Checking it...');
    listTenants();
    follow(customerId, body.created);
  } catch (error) {
    show('Sign-up failed: ' + error.message, 'error');
    button.disabled = false;
  }
});
async function follow(customerId, created) {
  if (!session) return;
  const { res, body: tenant } = await api('/api/tenants/' + encodeURIComponent(customerId));
  if (!res.ok) {
    show(refusal(tenant, res.status), 'error');
    button.disabled = false;
    return;
  }
  $('tenant').hidden = false;
  $('namespace').textContent = tenant.namespace;
  $('where').textContent = tenant.region ? ' in ' + tenant.region : '';
  const phase = $('phase');
  phase.textContent = tenant.phase;
  phase.className = tenant.phase;
  // Each phase as the cluster reached it, with its time from the click (the accepted phase).
  const accepted = Date.parse(tenant.phases?.[0]?.at ?? '');
  // The cluster's times are cut to the second: a phase came in the second after its time, so
  // say what is known (under N s) rather than print false precision.
  const since = (at) => 'under ' + Math.max(1, Math.ceil((Date.parse(at) - accepted) / 1000 + 1)) + ' s';
  $('phases').replaceChildren(...(tenant.phases ?? []).map((p) => {
    const item = document.createElement('li');
    item.dataset.phase = p.name;
    item.className = p.reached ? 'reached' : p.failure ? 'failed' : 'pending';
    const words = { accepted: 'Request accepted', 'namespace-active': 'Namespace active',
      'policy-in-force': 'Quota, limits, network policy and access in force',
      'workload-available': 'Your instance is running', reachable: 'Reachable' }[p.name] || p.name;
    item.textContent = words + (p.reached && accepted && p.name !== 'accepted' ? ' (' + since(p.at) + ')' : '')
      + (p.failure ? ': ' + p.failure.message : p.detail && !p.reached ? ' (' + p.detail + ')' : '');
    return item;
  }));
  $('elapsed').textContent = tenant.readyAt && accepted ? '(' + since(tenant.readyAt) + ' from the click)' : '';
  $('address').hidden = !tenant.address;
  if (tenant.address) {
    $('address-link').href = tenant.address;
    $('address-link').textContent = tenant.address;
  }
  $('objects').replaceChildren(...tenant.objects.map((o) => {
    const item = document.createElement('li');
    item.textContent = o.kind + ' ' + o.name;
    const state = document.createElement('span');
    state.textContent = o.detail ? o.state + ' (' + o.detail + ')' : o.state;
    item.append(state);
    return item;
  }));
  if (tenant.phase === 'Ready') {
    show(created ? 'Your instance is ready.' : 'Already signed up: your instance is ready.', 'Ready');
    button.disabled = false;
    return;
  }
  if (tenant.phase === 'Failed') {
    const failed = (tenant.phases ?? []).find((p) => p.failure);
    show('Your instance cannot start: ' + (failed ? failed.failure.message : 'see above') + '.', 'error');
    button.disabled = false;
    return;
  }
  setTimeout(() => follow(customerId, created), 500);
}
render();
</script>
</body>
</html>
`;
