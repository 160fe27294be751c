// Stock transfers between the chain's stores: receive against a transfer
// number (scanned, or picked from the list HQ sent down through the
// relay), send to another store, and this store's transfers. Works
// offline: everything it reads is the till's own ledger and CRDT.
(() => {
'use strict';

const $ = (s) => document.querySelector(s);
const L = (key, args) => I18N.t(key, args); // ui/i18n: the session's language
let csrf = '';
let data = { stores: [], incoming: [], sent: [], received: [] };
let spoken = ''; // the language loaded
let receiving = null; // the listed transfer being received, or {blind: true}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function key() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'xf-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function say(text, ok) {
  const m = $('#xf-msg');
  m.className = 'msg ' + (ok ? 'ok' : 'error');
  m.textContent = text;
}

const goods = (lines) => (lines || []).map((l) => `${l.sku} × ${l.qty}`).join(', ');
const when = (t) => (t ? I18N.date(t) + ' ' + I18N.time(t) : '');

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, opts);
  const out = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(I18N.error(out, res.statusText));
  return out;
}

function row(cells) {
  const tr = el('tr');
  for (const c of cells) {
    const td = el('td');
    if (c instanceof Node) td.append(c); else td.textContent = c;
    tr.append(td);
  }
  return tr;
}

function render() {
  $('#xf-age').textContent = data.stores_age && !data.stores_age.startsWith('0001')
    ? L('till.xf.list_from', { when: when(data.stores_age) }) : L('till.xf.no_list');
  const inc = $('#xf-incoming');
  inc.replaceChildren();
  for (const t of data.incoming) {
    const b = el('button', L('till.ui.receive'), 'small');
    b.type = 'button';
    b.addEventListener('click', () => openReceive(t.number));
    inc.append(row([t.number, t.from_name || t.from.slice(0, 8), when(t.sent), goods(t.lines), b]));
  }
  if (!data.incoming.length) inc.append(row([L('till.xf.nothing'), '', '', '', '']));
  const to = $('#xf-to');
  to.replaceChildren(el('option', L('till.xf.pick')));
  to.firstChild.value = '';
  const rs = $('#xf-rstore');
  rs.replaceChildren();
  for (const s of data.stores) {
    const o = el('option', s.name); o.value = s.id; to.append(o);
    const o2 = el('option', s.name); o2.value = s.id; rs.append(o2);
  }
  const sent = $('#xf-sent');
  sent.replaceChildren();
  for (const t of data.sent.slice().reverse()) sent.append(row([t.number, t.other_name || t.other.slice(0, 8), when(t.at), goods(t.lines), t.receipt]));
  const rec = $('#xf-received');
  rec.replaceChildren();
  for (const t of data.received.slice().reverse()) {
    const sentQty = Object.fromEntries((t.sent || []).map((l) => [l.sku, l.qty]));
    const cell = el('span');
    for (const l of t.lines) {
      const s = sentQty[l.sku];
      const part = el('span', `${l.sku} × ${s !== undefined ? L('till.xf.of', { qty: l.qty, sent: s }) : l.qty}  `, s !== undefined && s !== l.qty ? 'xf-diff' : '');
      cell.append(part);
    }
    rec.append(row([t.number, t.other_name || t.other.slice(0, 8), when(t.at), cell, t.receipt]));
  }
}

async function load() {
  const s = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json()).catch(() => ({}));
  csrf = s.csrf_token || '';
  // The session's language, else the store's (ui/language.go).
  const lang = s.language ? s.language.language : await fetch('/api/language').then((r) => r.json()).then((l) => l.language).catch(() => 'en');
  if (spoken !== lang) { await I18N.load(lang).catch(() => I18N.load('en')); I18N.apply(document); spoken = lang; }
  $('#xf-login').hidden = !!s.staff;
  if (!s.staff) return;
  data = await api('GET', '/api/transfers');
  render();
}

function lineInput(sku, qty, sent) {
  const tr = el('tr');
  const a = el('input'); a.value = sku || ''; a.className = 'xf-sku'; a.setAttribute('aria-label', L('till.ui.sku'));
  if (typeof sent === 'number') a.readOnly = true; // a listed line: only the quantity changes
  const q = el('input'); q.type = 'number'; q.min = '0'; q.value = qty === undefined ? '' : qty; q.className = 'xf-qty'; q.setAttribute('aria-label', L('till.ui.quantity'));
  const cells = [a];
  if (sent !== null) cells.push(sent === undefined ? '' : String(sent));
  cells.push(q);
  for (const c of cells) { const td = el('td'); if (c instanceof Node) td.append(c); else td.textContent = c; tr.append(td); }
  return tr;
}

function linesOf(tbody) {
  const out = [];
  for (const tr of tbody.querySelectorAll('tr')) {
    const sku = tr.querySelector('.xf-sku').value.trim();
    const qty = tr.querySelector('.xf-qty').value.trim();
    if (!sku) continue;
    out.push({ sku, qty: Number(qty || 0) });
  }
  return out;
}

function openReceive(number) {
  number = number.trim();
  if (!number) return;
  const listed = data.incoming.find((t) => t.number === number);
  receiving = listed || { number, blind: true };
  $('#xf-rnum').textContent = number;
  $('#xf-rfrom').textContent = listed ? L('till.xf.from', { store: listed.from_name }) : L('till.xf.blind');
  $('#xf-rstore-l').hidden = !!listed;
  const body = $('#xf-rlines');
  body.replaceChildren();
  if (listed) for (const l of listed.lines) body.append(lineInput(l.sku, l.qty, l.qty));
  else body.append(lineInput('', '', ''));
  $('#xf-rnote').value = '';
  $('#xf-receive').hidden = false;
  $('#xf-receive').dataset.key = key();
}

async function receive() {
  const req = { number: receiving.number, lines: linesOf($('#xf-rlines')), note: $('#xf-rnote').value,
    idempotency_key: $('#xf-receive').dataset.key };
  if (receiving.blind) {
    // The number's first part names the sending store; the picker is
    // the fallback when it does not.
    const prefix = receiving.number.split('-')[0];
    const match = data.stores.filter((s) => s.id.startsWith(prefix));
    if (match.length !== 1) req.from = $('#xf-rstore').value;
  }
  try {
    const out = await api('POST', '/api/transfers/in', req);
    say(L('till.xf.received', { number: receiving.number, receipt: out.receipt }), true);
    $('#xf-receive').hidden = true;
    $('#xf-number').value = '';
    receiving = null;
  } catch (e) {
    say(e.message);
  }
  await load();
}

async function send() {
  const form = $('#xf-send');
  if (!form.dataset.key) form.dataset.key = key();
  const req = { to: $('#xf-to').value, lines: linesOf($('#xf-slines')), note: $('#xf-snote').value, idempotency_key: form.dataset.key };
  try {
    const out = await api('POST', '/api/transfers/out', req);
    say(L('till.xf.sent', { number: out.body.number, receipt: out.receipt }), true);
    form.dataset.key = '';
    $('#xf-slines').replaceChildren(lineInput('', '', null));
    $('#xf-snote').value = '';
  } catch (e) {
    say(e.message);
  }
  await load();
}

document.addEventListener('DOMContentLoaded', () => {
  load().catch((e) => say(e.message)).then(() => $('#xf-slines').append(lineInput('', '', null)));
  $('#xf-sadd').addEventListener('click', () => $('#xf-slines').append(lineInput('', '', null)));
  $('#xf-radd').addEventListener('click', () => $('#xf-rlines').append(lineInput('', '', '')));
  $('#xf-rcancel').addEventListener('click', () => { $('#xf-receive').hidden = true; receiving = null; });
  $('#xf-scan').addEventListener('submit', (e) => { e.preventDefault(); openReceive($('#xf-number').value); });
  $('#xf-receive').addEventListener('submit', (e) => { e.preventDefault(); receive(); });
  $('#xf-send').addEventListener('submit', (e) => { e.preventDefault(); send(); });
});
})();
