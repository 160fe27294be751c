// Revoke a till from the settings screen: upload the file that
// `tillmesh store revoke` wrote; list the store's revoked tills. Kept apart
// from app.js; it asks the session for the CSRF token itself.
(() => {
'use strict';

const $ = (s) => document.querySelector(s);
const L = (key, args) => I18N.t(key, args); // ui/i18n: the session's language

async function list() {
  const res = await fetch('/api/revocations', { credentials: 'same-origin', cache: 'no-store' });
  const data = await res.json().catch(() => ({}));
  const ul = $('#rev-list');
  ul.replaceChildren();
  for (const r of data.revocations || []) {
    const li = document.createElement('li');
    li.textContent = L('till.revoke.line', { till: r.number + (r.name ? ' (' + r.name + ')' : ''), upto: r.number + '-' + r.after_seq }) + (r.reason ? '; ' + r.reason : '');
    ul.append(li);
  }
}

async function upload(file) {
  const msg = $('#rev-msg');
  const s = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json()).catch(() => ({}));
  const res = await fetch('/api/revocations', {
    method: 'POST', credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token || '' }, body: file,
  });
  const data = await res.json().catch(() => ({}));
  msg.className = 'msg ' + (res.ok ? 'ok' : 'error');
  msg.textContent = res.ok ? L('till.revoke.done', { n: data.number }) : I18N.error(data, res.statusText);
  await list();
}

document.addEventListener('DOMContentLoaded', () => {
  const input = $('#rev-file');
  if (!input) return;
  input.addEventListener('change', () => {
    if (input.files[0]) upload(input.files[0]).catch((e) => { $('#rev-msg').textContent = e.message; });
  });
  list().catch(() => {});
});
})();
