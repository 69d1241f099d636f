// The sign-up page: one button, then a live view of the tenant coming up (polling the backend).
export const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kubefn · sign up</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.6rem; margin-bottom: .2rem; }
  form { display: grid; gap: .8rem; margin: 1.5rem 0; }
  label { display: grid; gap: .2rem; font-weight: 600; }
  input, select, button { font: inherit; padding: .5rem .7rem; border: 1px solid #b8c0cc; border-radius: 6px; }
  button { background: #2457d6; color: white; border: none; cursor: pointer; }
  button:disabled { background: #8aa3e0; cursor: wait; }
  #phase { font-weight: 700; }
  .Ready { color: #1a7f37; } .Provisioning { color: #9a6700; } .Terminating, .error { color: #cf222e; }
  ul { list-style: none; padding: 0; } li { padding: .2rem 0; border-bottom: 1px solid #eef0f3; }
  li span { float: right; color: #57606a; }
</style>
</head>
<body>
<h1>Sign up</h1>
<p>Get your own namespace with its monitoring instance.</p>
<form id="signup">
  <label>Customer id <input id="customerId" name="customerId" required pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?" maxlength="40" placeholder="acme"></label>
  <label>Plan <select id="plan" name="plan"><option value="free">Free</option><option value="pro">Pro</option></select></label>
  <button id="submit" type="submit">Sign up</button>
</form>
<section id="tenant" hidden>
  <p>Tenant <code id="namespace"></code>: <span id="phase"></span></p>
  <ul id="objects"></ul>
</section>
<p id="message" role="status"></p>
<script type="module">
const form = document.getElementById('signup');
const button = document.getElementById('submit');
const message = document.getElementById('message');
const show = (text, kind = '') => { message.textContent = text; message.className = kind; };
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  button.disabled = true;
  show('Signing up...');
  const customerId = form.customerId.value;
  try {
    const res = await fetch('/api/signup', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId, plan: form.plan.value }) });
    const body = await res.json();
    if (!res.ok) throw new Error(body.message || body.error || res.statusText);
    show(body.created ? 'Created. Bringing it up...' : 'Already signed up. Checking it...');
    follow(customerId, body.created);
  } catch (error) {
    show('Sign-up failed: ' + error.message, 'error');
    button.disabled = false;
  }
});
async function follow(customerId, created) {
  const res = await fetch('/api/tenants/' + encodeURIComponent(customerId));
  if (res.ok) {
    const tenant = await res.json();
    document.getElementById('tenant').hidden = false;
    document.getElementById('namespace').textContent = tenant.namespace;
    const phase = document.getElementById('phase');
    phase.textContent = tenant.phase;
    phase.className = tenant.phase;
    const list = document.getElementById('objects');
    list.replaceChildren(...tenant.objects.map((o) => {
      const item = document.createElement('li');
      item.textContent = o.kind + ' ' + o.name;
      const state = document.createElement('span');
      state.textContent = o.detail ? o.state + ' (' + o.detail + ')' : o.state;
      item.append(state);
      return item;
    }));
    if (tenant.phase === 'Ready') {
      show(created ? 'Your namespace is ready.' : 'Already signed up: your namespace is ready.', 'Ready');
      button.disabled = false;
      return;
    }
  }
  setTimeout(() => follow(customerId, created), 500);
}
</script>
</body>
</html>
`;
