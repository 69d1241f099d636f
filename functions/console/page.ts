// The operator console's page: the operator signs in with Google through Identity Platform
// (accounts:signInWithIdp, providerId google.com, with the ID token of Google's sign-in button;
// against the Auth emulator, a Google identity typed in, which the emulator accepts as a fake
// Google ID token through the same call), then every call to the backend carries the ID token.
// Nothing of kubefn is on the page itself: everything shown comes from the backend, which answers
// operators only. Plots are inline SVG drawn here; the stream is read with fetch (EventSource
// cannot send the Authorization header).

import {
  type SignInEndpoints,
  sessionScript,
  settingsJson,
} from '../../shared/http/sign-in-page.ts';

/** Where the page signs operators in (functions/console/config.ts). */
export type ConsoleSignIn = SignInEndpoints & {
  /** The OAuth client id of Google's sign-in button (production). */
  googleClientId: string;
};

/** The page with its sign-in settings in a JSON block. */
export function page(config: ConsoleSignIn): string {
  const settings = settingsJson(config);
  const google = config.emulator
    ? ''
    : '<script src="https://accounts.google.com/gsi/client" async></script>';
  return template.replace('__SIGN_IN_CONFIG__', settings).replace('__GOOGLE_SCRIPT__', google);
}

const template = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kubefn · operator console</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 78rem; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.4rem; margin: 0 0 .5rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #eef0f3; }
  th { font-weight: 600; color: #57606a; }
  input, button { font: inherit; padding: .3rem .6rem; border: 1px solid #b8c0cc; border-radius: 6px; }
  button { background: #2457d6; color: white; border: none; cursor: pointer; } button.secondary { background: #eef0f3; color: #1d2330; }
  .Ready { color: #1a7f37; } .Provisioning { color: #9a6700; } .Terminating, .Suspended, .error, .down { color: #cf222e; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
  #stream { max-height: 16rem; overflow: auto; font-family: ui-monospace, monospace; font-size: 12px; list-style: none; padding: 0; }
  svg { background: #fafbfc; border: 1px solid #eef0f3; } .muted { color: #57606a; }
</style>
__GOOGLE_SCRIPT__
</head>
<body>
<h1>kubefn · operator console</h1>
<section id="signed-out">
  <p>For kubefn operators only. Sign in with your Google account.</p>
  <div id="google-button"></div>
  <form id="emulator-google" hidden>
    <p class="muted">Auth emulator: the Google identity to sign in as.</p>
    <input id="google-email" type="email" required placeholder="operator@example.com">
    <button id="google-sign-in" type="submit">Sign in with Google</button>
  </form>
</section>
<p id="message" role="status"></p>
<section id="console" hidden>
  <p>Signed in as <strong id="who"></strong> <button id="sign-out" type="button" class="secondary">Sign out</button></p>
  <p id="cells"></p>
  <h2>Tenants</h2>
  <input id="search" type="search" placeholder="search: id, customer, plan, phase, cell" size="40">
  <table><thead><tr><th>tenant</th><th>phase</th><th>plan</th><th>customer</th><th>cell</th><th>time to ready</th><th>last repair</th></tr></thead><tbody id="tenants"></tbody></table>
  <div class="grid">
    <div><h2>Time to ready, last <span class="hours"></span> h</h2><div id="plot-ready"></div></div>
    <div><h2>Heal latency, last <span class="hours"></span> h</h2><div id="plot-heal"></div></div>
  </div>
  <h2>Held deletions</h2>
  <table><thead><tr><th>tenant</th><th>cell</th><th>held since</th><th>via</th><th></th></tr></thead><tbody id="held"></tbody></table>
  <h2>Dead letters</h2>
  <table><thead><tr><th>message</th><th>from</th><th>dead-lettered</th><th>attempts</th><th></th></tr></thead><tbody id="dead-letters"></tbody></table>
  <h2>Live: changes and tenant outcomes</h2>
  <ul id="stream"></ul>
</section>
<script type="application/json" id="sign-in-config">__SIGN_IN_CONFIG__</script>
<script type="module">
const config = JSON.parse(document.getElementById('sign-in-config').textContent);
const $ = (id) => document.getElementById(id);
const show = (text, kind = '') => { $('message').textContent = text; $('message').className = kind; };
const refusal = (body, status) => (body.message || 'request failed') + ' (' + (body.error || status) + ')';
const hours = 6;

${sessionScript('kubefn-console-session')}
// A Google ID token (from Google's button, or the emulator's fake one) exchanged for the project's.
async function signInWithGoogle(googleIdToken) {
  try {
    const answer = await identity('accounts:signInWithIdp', { requestUri: location.origin, returnSecureToken: true,
      postBody: 'id_token=' + encodeURIComponent(googleIdToken) + '&providerId=google.com' });
    keep(answer.idToken, answer.refreshToken);
    start();
  } catch (error) { show('Could not sign in: ' + error.message, 'error'); }
}
async function api(path, options = {}) {
  if (claims(session.idToken).exp * 1000 < Date.now() + 60000) await refresh();
  return fetch(path, { ...options, headers: { ...(options.headers || {}), authorization: 'Bearer ' + session.idToken } });
}
async function json(path, options) {
  const res = await api(path, options);
  const body = await res.json().catch(() => ({}));
  if (res.status === 401 || res.status === 403) { refused(body, res.status); throw new Error('refused'); }
  return { res, body };
}
function refused(body, status) {
  $('console').hidden = true;
  for (const id of ['tenants', 'held', 'dead-letters', 'stream', 'plot-ready', 'plot-heal', 'cells']) $(id).replaceChildren();
  show('Not allowed: ' + refusal(body, status), 'error');
  $('signed-out').hidden = false;
}

const cell = (text, className) => { const td = document.createElement('td'); td.textContent = text ?? ''; if (className) td.className = className; return td; };
const row = (...cells) => { const tr = document.createElement('tr'); tr.append(...cells); return tr; };
const seconds = (ms) => ms === undefined ? '' : (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s';
const ago = (at) => at ? Math.max(0, Math.round((Date.now() - Date.parse(at)) / 60000)) + ' min ago' : '';

let searchTimer;
let tenantLoads = 0;
async function loadTenants() {
  const load = ++tenantLoads;
  const q = $('search').value;
  const { res, body } = await json('/api/tenants?hours=' + hours + (q ? '&q=' + encodeURIComponent(q) : ''));
  // Answers can arrive out of order: only the newest load (the current search) is shown.
  if (load !== tenantLoads) return;
  if (!res.ok) return show(refusal(body, res.status), 'error');
  $('cells').textContent = body.cells.map((c) => c.name + ' (' + c.region + '): ' + (c.up ? c.tenants + ' tenants' : 'not answering')).join(' · ');
  $('tenants').replaceChildren(...body.tenants.map((t) => {
    const tr = row(cell(t.customerId), cell(t.phase, t.phase), cell(t.plan), cell([t.ownerUid, ...(t.owners || [])].filter(Boolean).join(', ')),
      cell(t.cell + (t.movingTo ? ' → ' + t.movingTo + ' (moving)' : t.movedFrom ? ' (moved from ' + t.movedFrom + ')' : '')), cell(seconds(t.timeToReadyMs)),
      cell(t.lastRepair ? t.lastRepair.object + ' ' + t.lastRepair.was + ' (' + t.lastRepair.by + (t.lastRepair.latencyMs !== undefined ? ', ' + seconds(t.lastRepair.latencyMs) : '') + ') ' + ago(t.lastRepair.at) : ''));
    tr.dataset.tenant = t.customerId;
    return tr;
  }));
  // Which search the table shows (a test, or a script, waits for its own).
  $('tenants').dataset.query = q;
  plot($('plot-ready'), body.plots.timeToReady, body.plots.hours);
  plot($('plot-heal'), body.plots.healLatency, body.plots.hours);
}
// Points (time, milliseconds) on a time axis of the last hours; y from 0 to the largest.
function plot(where, points, windowHours) {
  const w = 520, h = 160, pad = 34, ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h); svg.setAttribute('width', w); svg.setAttribute('height', h);
  const el = (name, attrs, text) => { const e = document.createElementNS(ns, name); for (const k in attrs) e.setAttribute(k, attrs[k]); if (text) e.textContent = text; svg.append(e); };
  const end = Date.now(), start = end - windowHours * 3600000;
  const top = Math.max(1000, ...points.map((p) => p.ms));
  el('line', { x1: pad, y1: h - pad, x2: w - 8, y2: h - pad, stroke: '#b8c0cc' });
  el('line', { x1: pad, y1: 8, x2: pad, y2: h - pad, stroke: '#b8c0cc' });
  el('text', { x: 2, y: 16, 'font-size': 10 }, seconds(top));
  el('text', { x: pad, y: h - 18, 'font-size': 10 }, '-' + windowHours + ' h');
  el('text', { x: w - 30, y: h - 18, 'font-size': 10 }, 'now');
  for (const p of points) {
    const x = pad + ((Date.parse(p.at) - start) / (end - start)) * (w - pad - 8);
    const y = h - pad - (p.ms / top) * (h - pad - 8);
    el('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 3, fill: '#2457d6', 'data-tenant': p.customerId }, p.customerId + ' (' + p.cell + '): ' + seconds(p.ms));
  }
  if (points.length === 0) el('text', { x: w / 2 - 40, y: h / 2, 'font-size': 12, fill: '#57606a' }, 'nothing yet');
  where.replaceChildren(svg);
  where.dataset.points = String(points.length);
}
async function loadHeld() {
  const { res, body } = await json('/api/deletions');
  if (!res.ok) return show(refusal(body, res.status), 'error');
  $('held').replaceChildren(...(body.held.length ? body.held : [null]).map((d) => {
    if (!d) return row(cell('none', 'muted'));
    const actions = document.createElement('td');
    for (const [decision, label, kind] of [['approve', 'Approve', ''], ['drop', 'Drop', 'secondary']]) {
      const button = document.createElement('button');
      button.textContent = label; button.className = kind; button.dataset.decision = decision;
      button.addEventListener('click', () => decide(d.cell, d.customerId, decision));
      actions.append(button, ' ');
    }
    const tr = row(cell(d.customerId), cell(d.cell), cell(d.heldAt), cell(d.via), actions);
    tr.dataset.tenant = d.customerId;
    return tr;
  }));
}
async function decide(cellName, customerId, decision) {
  if (decision === 'approve' && !confirm('Delete tenant ' + customerId + ' in ' + cellName + ' now?')) return;
  const { res, body } = await json('/api/deletions/' + decision, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ cell: cellName, customerIds: [customerId] }) });
  if (!res.ok) return show(refusal(body, res.status), 'error');
  show(customerId + ': ' + body.decisions.map((d) => d.outcome).join(', '));
  loadHeld(); loadTenants();
}
async function loadDeadLetters() {
  const { res, body } = await json('/api/dead-letters');
  if (!res.ok) return show(refusal(body, res.status), 'error');
  if (!body.configured) return $('dead-letters').replaceChildren(row(cell('Pub/Sub is not configured for the console', 'muted')));
  $('dead-letters').replaceChildren(...(body.messages.length ? body.messages : [null]).map((m) => {
    if (!m) return row(cell('none', 'muted'));
    const replay = document.createElement('button');
    replay.textContent = 'Replay';
    replay.addEventListener('click', async () => {
      const { res, body } = await json('/api/dead-letters/replay', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messageIds: [m.messageId] }) });
      show(res.ok ? m.messageId + ': ' + body.outcomes.map((o) => o.outcome).join(', ') : refusal(body, res.status), res.ok ? '' : 'error');
      loadDeadLetters();
    });
    const actions = document.createElement('td'); actions.append(replay);
    return row(cell(m.messageId), cell(m.sourceSubscription), cell(m.deadLettered), cell(String(m.deliveryCount ?? '')), actions);
  }));
}
// The live stream: Server-Sent Events read with fetch; reopened when the backend ends one.
async function follow() {
  while (session && !$('console').hidden) {
    try {
      const res = await api('/api/stream');
      if (!res.ok || !res.body) { if (res.status === 401 || res.status === 403) return refused(await res.json().catch(() => ({})), res.status); return; }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\\n\\n')) >= 0) { received(buffer.slice(0, end)); buffer = buffer.slice(end + 2); }
      }
    } catch { await new Promise((r) => setTimeout(r, 2000)); }
  }
}
function received(block) {
  const kind = /^event: (.*)$/m.exec(block)?.[1];
  const data = /^data: (.*)$/m.exec(block)?.[1];
  if (!data || kind === 'open') return;
  const e = JSON.parse(data);
  const item = document.createElement('li');
  item.dataset.kind = kind;
  item.textContent = (e.publishTime || '').slice(11, 19) + ' ' + (kind === 'change'
    ? e.cell + ' ' + e.type + ' ' + e.kind + ' ' + (e.namespace ? e.namespace + '/' : '') + e.name
    : kind === 'outcome' ? 'outcome ' + e.type + ' ' + e.subject : 'problem reading ' + e.subscription);
  $('stream').prepend(item);
  // The newest 200 of each kind: a flood of changes (a watcher's first listing publishes every
  // object) must not push the few tenant outcomes off the list.
  const ofKind = $('stream').querySelectorAll('li[data-kind="' + kind + '"]');
  for (let i = 200; i < ofKind.length; i++) ofKind[i].remove();
}

async function start() {
  $('signed-out').hidden = true;
  try {
    const { res, body } = await json('/api/me');
    if (!res.ok) return show(refusal(body, res.status), 'error');
    $('who').textContent = body.email;
    $('console').hidden = false;
    show('');
    for (const e of document.querySelectorAll('.hours')) e.textContent = hours;
    await Promise.all([loadTenants(), loadHeld(), loadDeadLetters()]);
    follow();
  } catch (error) { if (error.message !== 'refused') show('Could not load: ' + error.message, 'error'); }
}
$('search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadTenants, 250); });
$('sign-out').addEventListener('click', () => {
  session = null; sessionStorage.removeItem('kubefn-console-session');
  $('console').hidden = true; $('signed-out').hidden = false; show('Signed out.');
});
if (config.emulator) {
  $('emulator-google').hidden = false;
  $('emulator-google').addEventListener('submit', (event) => {
    event.preventDefault();
    const email = $('google-email').value;
    // The emulator takes JSON claims as a fake Google ID token.
    signInWithGoogle(JSON.stringify({ sub: 'google-' + email, email, email_verified: true }));
  });
} else {
  window.addEventListener('load', () => {
    if (!window.google) return show('Google sign-in could not load.', 'error');
    google.accounts.id.initialize({ client_id: config.googleClientId, callback: (r) => signInWithGoogle(r.credential) });
    google.accounts.id.renderButton($('google-button'), { theme: 'outline', size: 'large' });
  });
}
setInterval(() => { if (session && !$('console').hidden) { loadTenants(); loadHeld(); } }, 10000);
if (session) start();
</script>
</body>
</html>
`;
