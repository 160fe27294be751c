// Customers at the till: find (a scanned loyalty card, a phone number or
// a name), create, edit, purchase history, erasure (managers), and the
// "Attach customer" control of the sale screen. Kept apart from app.js:
// it asks the session for the CSRF token itself and hears scans made on
// its screen through the 'tillmesh:scan' event app.js sends.
(() => {
'use strict';

const $ = (s) => document.querySelector(s);
const L = (key, args) => I18N.t(key, args); // ui/i18n: the session's language
const FIELDS = ['name', 'phone', 'email', 'card', 'notes'];
let session = null;
let current = null; // the customer in the form; null: a new one

async function csrf() {
  if (!session) {
    session = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json()).catch(() => ({}));
  }
  return session.csrf_token || '';
}

async function api(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = await csrf();
  const res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (res.status === 403 && /CSRF/i.test(data.error || '')) session = null; // a new login: ask again
  if (!res.ok) throw new Error(I18N.error(data, res.statusText));
  return data;
}

function msg(text, kind) {
  const m = $('#cust-msg');
  m.textContent = text || '';
  m.className = 'msg' + (kind ? ' ' + kind : '');
}

function li(text, onclick, extra) {
  const e = document.createElement('li');
  const s = document.createElement('span');
  s.textContent = text;
  e.append(s);
  if (extra) { const b = document.createElement('b'); b.textContent = extra; e.append(b); }
  if (onclick) e.addEventListener('click', onclick);
  return e;
}

function label(c) {
  if (c.erased) return L('till.cust.erased', { number: c.number });
  if (c.unavailable) return L('till.cust.unavailable', { number: c.number });
  return (c.name || L('till.cust.no_name')) + ' · ' + c.number;
}

async function search(q) {
  q = (q || '').trim();
  const ul = $('#cust-results');
  if (!q) { ul.replaceChildren(); return; }
  try {
    const data = await api('GET', '/api/customers?q=' + encodeURIComponent(q));
    const cs = data.customers || [];
    ul.replaceChildren(...cs.map((c) => li(label(c), () => open(c), c.phone || c.card || '')));
    if (!cs.length) ul.replaceChildren(li(L('till.cust.no_match', { q })));
    if (cs.length === 1) open(cs[0]);
  } catch (e) {
    ul.replaceChildren(li(e.message));
  }
}

function open(c) {
  current = c;
  const f = $('#cust-form');
  f.hidden = false;
  $('#cust-title').textContent = c ? L('till.receipt.customer', { customer: c.erased ? L('till.cust.erased', { number: c.number }) : c.unavailable ? L('till.cust.unavailable', { number: c.number }) : c.number }) : L('till.ui.new_customer');
  for (const k of FIELDS) f.elements[k].value = (c && c[k]) || '';
  f.elements.consent.checked = !!(c && c.consent);
  // Erased, or sealed under a key this till has not received yet: no edit.
  const locked = !!(c && (c.erased || c.unavailable));
  for (const k of [...FIELDS, 'consent']) f.elements[k].disabled = locked;
  $('#cust-save').disabled = locked;
  $('#cust-attach').hidden = !c || c.erased;
  $('#cust-erase').hidden = !c || c.erased || !canSettings();
  msg('');
  history(c);
}

async function history(c) {
  const ul = $('#cust-history');
  ul.replaceChildren();
  if (!c) return;
  try {
    const data = await api('GET', '/api/customers/' + encodeURIComponent(c.number) + '/sales');
    const ss = data.sales || [];
    ul.replaceChildren(...ss.map((s) => li(s.receipt + ' · ' + I18N.date(s.time) + ' ' + I18N.time(s.time) + ' · ' + (s.items || []).join(', '),
      null, I18N.money(s.total))));
    if (!ss.length) ul.replaceChildren(li(L('till.cust.no_purchases')));
  } catch (e) {
    ul.replaceChildren(li(e.message));
  }
}

function canSettings() { return !!(session && (session.permissions || []).includes('settings')); }

async function save(e) {
  e.preventDefault();
  const f = $('#cust-form');
  const body = {};
  for (const k of FIELDS) body[k] = f.elements[k].value.trim();
  body.consent = f.elements.consent.checked;
  try {
    const c = current
      ? await api('PUT', '/api/customers/' + encodeURIComponent(current.number), body)
      : await api('POST', '/api/customers', body);
    open(c);
    msg(L('till.cust.saved', { number: c.number }), 'ok');
  } catch (x) {
    msg(x.message, 'error');
  }
}

async function attach() {
  if (!current) return;
  try {
    await api('PUT', '/api/cart/customer', { number: current.number });
    const b = document.querySelector('#nav button[data-view="sale"]');
    if (b) b.click();
  } catch (x) {
    msg(x.message, 'error');
  }
}

async function erase() {
  if (!current || !window.confirm(L('till.cust.erase_confirm', { number: current.number }))) return;
  try {
    await api('DELETE', '/api/customers/' + encodeURIComponent(current.number));
    open({ number: current.number, erased: true });
    msg(L('till.cust.erased_done'), 'ok');
  } catch (x) {
    msg(x.message, 'error');
  }
}

// The sale screen's control: who is attached, attach (opens this screen)
// and detach.
async function refreshSale() {
  const p = $('#sale-customer');
  try {
    const data = await api('GET', '/api/cart/customer');
    const c = data.customer;
    p.hidden = !c;
    p.replaceChildren();
    if (c) {
      p.append(L('till.cust.attached', { customer: label(c) }) + ' ');
      const x = document.createElement('button');
      x.type = 'button';
      x.id = 'sale-customer-detach';
      x.textContent = L('till.cust.detach');
      x.addEventListener('click', async () => { await api('DELETE', '/api/cart/customer').catch(() => {}); refreshSale(); });
      p.append(x);
    }
    $('#btn-customer').textContent = c ? L('till.cust.change') : L('till.ui.attach_customer');
  } catch (e) { /* logged out: nothing to show */ }
}

async function showing() {
  session = null;
  await csrf();
  const req = $('#cust-required');
  req.hidden = !canSettings();
  if (canSettings()) {
    api('GET', '/api/customer-fields').then((d) => { $('#cust-required-fields').value = (d.required || []).join(','); }).catch(() => {});
  }
  setTimeout(() => $('#cust-q').focus(), 0);
}

document.addEventListener('DOMContentLoaded', () => {
  if (!$('#view-customers')) return;
  $('#cust-search').addEventListener('submit', (e) => { e.preventDefault(); search($('#cust-q').value); });
  document.addEventListener('tillmesh:scan', (e) => { $('#cust-q').value = e.detail; search(e.detail); });
  $('#cust-new').addEventListener('click', () => open(null));
  $('#cust-form').addEventListener('submit', save);
  $('#cust-attach').addEventListener('click', attach);
  $('#cust-erase').addEventListener('click', erase);
  $('#cust-required').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const fields = $('#cust-required-fields').value.split(',').map((s) => s.trim()).filter(Boolean);
      await api('PUT', '/api/customer-fields', { required: fields });
      msg(L('till.cust.required_saved'), 'ok');
    } catch (x) { msg(x.message, 'error'); }
  });
  $('#btn-customer').addEventListener('click', () => {
    const b = document.querySelector('#nav button[data-view="customers"]');
    if (b) b.click();
  });
  // Screens are shown by app.js; watch for ours and the sale screen.
  const watch = (id, f) => new MutationObserver(() => { if (!$(id).hidden) f(); }).observe($(id), { attributes: true, attributeFilter: ['hidden'] });
  watch('#view-customers', showing);
  watch('#view-sale', refreshSale);
});
})();
