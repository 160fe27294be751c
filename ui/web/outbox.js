// The store's outbox on the settings screen: fiscal registration,
// Telegram and webhook settings (secrets are never shown back), what is
// pending, and the dead-letter list with a retry button. Also the
// backlog pill in the status strip, on every screen. Kept apart from
// app.js; it asks the session for the CSRF token itself.
(() => {
'use strict';

const $ = (s) => document.querySelector(s);
const opts = { credentials: 'same-origin', cache: 'no-store' };
const L = (key, args) => I18N.t(key, args); // ui/i18n: the session's language

async function csrf() {
  const s = await fetch('/api/session', opts).then((r) => r.json()).catch(() => ({}));
  return s.csrf_token || '';
}

async function send(method, path, body) {
  const res = await fetch(path, { ...opts, method, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': await csrf() }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(I18N.error(data, res.statusText));
  return data;
}

function say(msg, ok) {
  const el = $('#ob-msg');
  el.className = 'msg ' + (ok ? 'ok' : 'error');
  el.textContent = msg;
}

// lineText is a connector's backlog line in the till's language (its
// line_note, ui.OutboxStatus.LineNote), or its English line when the
// note has no key this page knows.
function lineText(o) {
  const n = o.line_note;
  if (!n || !n.key) return o.line;
  const a = n.args || {};
  let s = L(n.key, a);
  if (s.startsWith('\u27e6')) return o.line;
  if (a.age_s !== undefined) s += L('till.outbox.line.oldest', { age: ageText(a.age_s) });
  if (a.dead) s += L('till.outbox.line.dead', { n: a.dead });
  if (a.waiting) s += L('till.outbox.line.waiting', { till: a.waiting });
  return s;
}

// ageText is a number of seconds as "3 h 10 min", "5 min", "40 s".
function ageText(s) {
  return s < 60 ? L('till.dur.s', { s }) : s < 3600 ? L('till.dur.min', { min: Math.floor(s / 60) })
    : s < 172800 ? L('till.dur.h_min', { h: Math.floor(s / 3600), min: Math.floor(s % 3600 / 60) }) : L('till.dur.d_h', { d: Math.floor(s / 86400), h: Math.floor(s % 86400 / 3600) });
}

// pill: the backlog of configured connectors, in the status strip.
async function pill() {
  const el = $('#st-outbox');
  if (!el) return;
  const st = await fetch('/api/status', opts).then((r) => r.json()).catch(() => null);
  const list = ((st && st.outbox) || []).filter((o) => o.configured && (o.pending > 0 || o.dead > 0));
  el.hidden = list.length === 0;
  el.textContent = list.map(lineText).join(' · ');
  el.className = 'pill' + (list.some((o) => o.dead > 0) ? ' bad' : ' warn');
}

// minor reads a typed amount into minor units of the store's currency:
// null when blank, NaN when not an amount.
function minor(v) {
  if (String(v).trim() === '') return null;
  try { return I18N.parseMoney(v); } catch (e) { return NaN; }
}

// typed is an amount as a person types it back into the form.
function typed(m) {
  const d = I18N.format.digits;
  let s = String(m);
  while (s.length <= d) s = '0' + s;
  return d ? s.slice(0, s.length - d) + I18N.format.decimal + s.slice(s.length - d) : s;
}

async function load() {
  const card = $('#ob-card');
  if (!card) return;
  const [ob, st] = await Promise.all([
    fetch('/api/outbox', opts).then((r) => r.json()).catch(() => ({})),
    fetch('/api/outbox/settings', opts).then((r) => (r.ok ? r.json() : null)).catch(() => null),
  ]);
  const lines = $('#ob-lines');
  lines.replaceChildren();
  for (const o of ob.status || []) {
    const li = document.createElement('li');
    li.textContent = lineText(o) + (o.sending ? ' ' + L('till.outbox.sends') : '') + (o.last_error ? ' · ' + L('till.outbox.last_error', { error: o.last_error }) : '');
    lines.append(li);
  }
  const tb = $('#ob-dead');
  tb.replaceChildren();
  for (const d of ob.dead_letters || []) {
    const tr = document.createElement('tr');
    for (const v of [d.connector, d.receipt + ' (' + d.kind + ')', (d.code ? d.code + ': ' : '') + d.reason, String(d.attempts), I18N.date(d.at) + ' ' + I18N.time(d.at)]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.textContent = d.retrying ? L('till.outbox.retrying') : L('till.outbox.retry');
    b.disabled = !!d.retrying;
    b.addEventListener('click', () => send('POST', '/api/outbox/retry', { connector: d.connector, event_id: d.event_id })
      .then(() => { say(L('till.outbox.again', { receipt: d.receipt, connector: d.connector }), true); load(); })
      .catch((e) => say(e.message, false)));
    td.append(b);
    tr.append(td);
    tb.append(tr);
  }
  $('#ob-dead-empty').hidden = (ob.dead_letters || []).length > 0;
  if (!st) { $('#ob-form').hidden = true; return; }
  $('#ob-form').hidden = false;
  $('#ob-f-url').value = st.fiscal.url || '';
  $('#ob-f-tin').value = st.fiscal.tin || '';
  const secret = (set) => (set ? L('till.outbox.secret_set') : L('till.outbox.secret_none'));
  $('#ob-f-pertill').checked = !!st.fiscal.per_till_order;
  $('#ob-f-token').placeholder = secret(st.fiscal.token_set);
  $('#ob-t-chat').value = st.telegram.chat || '';
  $('#ob-t-api').value = st.telegram.api || '';
  $('#ob-t-token').placeholder = secret(st.telegram.token_set);
  $('#ob-w-url').value = st.webhook.url || '';
  $('#ob-w-internal').checked = !!st.webhook.allow_internal;
  $('#ob-w-secret').placeholder = secret(st.webhook.secret_set);
  $('#ob-r-shift').checked = !!st.rules.shift_closed;
  $('#ob-r-refund').value = st.rules.refund_over == null ? '' : typed(st.rules.refund_over);
  $('#ob-r-void').value = st.rules.void_over == null ? '' : typed(st.rules.void_over);
  $('#ob-r-fiscal').value = st.rules.fiscal_backlog_hours == null ? '' : String(st.rules.fiscal_backlog_hours);
  $('#ob-r-offline').value = st.rules.till_offline_minutes == null ? '' : String(st.rules.till_offline_minutes);
  $('#ob-r-low').checked = !!st.rules.low_stock;
  $('#ob-r-overspend').checked = !!st.rules.overspend;
  $('#ob-r-anomaly').checked = !!st.rules.anomaly;
}

async function save(ev) {
  ev.preventDefault();
  const refund = minor($('#ob-r-refund').value), voidOver = minor($('#ob-r-void').value);
  if (Number.isNaN(refund) || Number.isNaN(voidOver)) { say(L('till.outbox.amounts', { example: typed(50 * Math.pow(10, I18N.format.digits)) }), false); return; }
  const body = {
    fiscal: { url: $('#ob-f-url').value.trim(), tin: $('#ob-f-tin').value.trim(), token: $('#ob-f-token').value, per_till_order: $('#ob-f-pertill').checked },
    telegram: { chat: $('#ob-t-chat').value.trim(), api: $('#ob-t-api').value.trim(), token: $('#ob-t-token').value },
    webhook: { url: $('#ob-w-url').value.trim(), allow_internal: $('#ob-w-internal').checked, secret: $('#ob-w-secret').value },
    rules: {
      shift_closed: $('#ob-r-shift').checked, low_stock: $('#ob-r-low').checked,
      overspend: $('#ob-r-overspend').checked, anomaly: $('#ob-r-anomaly').checked,
    },
  };
  if (refund !== null) body.rules.refund_over = refund;
  if (voidOver !== null) body.rules.void_over = voidOver;
  for (const [id, key] of [['#ob-r-fiscal', 'fiscal_backlog_hours'], ['#ob-r-offline', 'till_offline_minutes']]) {
    const v = $(id).value.trim();
    if (v === '') continue;
    if (!/^[0-9]+$/.test(v)) { say(L('till.outbox.whole'), false); return; }
    body.rules[key] = parseInt(v, 10);
  }
  try {
    await send('PUT', '/api/outbox/settings', body);
    for (const id of ['#ob-f-token', '#ob-t-token', '#ob-w-secret']) $(id).value = '';
    say(L('till.outbox.saved'), true);
    await load();
  } catch (e) {
    say(e.message, false);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  pill().catch(() => {});
  setInterval(() => pill().catch(() => {}), 5000);
  const form = $('#ob-form');
  if (!form) return;
  form.addEventListener('submit', save);
  $('#ob-refresh').addEventListener('click', () => load().catch(() => {}));
  // The settings screen becomes visible after login: load when shown.
  const nav = document.querySelector('[data-view="settings"]');
  if (nav) nav.addEventListener('click', () => load().catch(() => {}));
  load().catch(() => {});
});
})();
