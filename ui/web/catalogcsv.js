// Catalog CSV import and export on the catalog screen: choose a file, see
// what it would change (or every bad row), then apply it. Kept apart from
// app.js; it asks the session for the CSRF token itself.
(() => {
'use strict';

const $ = (s) => document.querySelector(s);
let file = null;
const L = (key, args) => I18N.t(key, args); // ui/i18n: the session's language

function text(el, s, cls) { el.textContent = s; el.className = 'msg' + (cls ? ' ' + cls : ''); }

async function csrf() {
  const res = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
  const s = await res.json().catch(() => ({}));
  return s.csrf_token || '';
}

async function send(apply) {
  const msg = $('#csv-msg');
  const res = await fetch('/api/catalog/import' + (apply ? '?apply=1' : ''), {
    method: 'POST', credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'text/csv', 'X-CSRF-Token': await csrf() }, body: file,
  });
  const data = await res.json().catch(() => ({}));
  const list = $('#csv-list');
  list.replaceChildren();
  const item = (s) => { const li = document.createElement('li'); li.textContent = s; list.append(li); };
  if (!res.ok) {
    text(msg, I18N.error(data, res.statusText), 'error');
    for (const p of data.problems || []) item(L('till.csv.line', { n: p.line + (p.sku ? ' (' + p.sku + ')' : '') }) + ': ' + p.reason);
    $('#csv-apply').hidden = true;
    return;
  }
  const counts = { added: data.added, changed: data.changed, unchanged: data.unchanged };
  text(msg, data.applied ? L('till.csv.imported', counts) : L('till.csv.preview', counts), data.applied ? 'ok' : '');
  for (const c of (data.changes || []).slice(0, 200)) {
    item(L('till.csv.line', { n: c.line }) + `: ${c.kind} ${c.sku} ${c.name}${c.fields ? ' (' + c.fields.join(', ') + ')' : ''}` + (c.opening_stock ? ', ' + L('till.csv.opening', { n: c.opening_stock }) : ''));
  }
  $('#csv-apply').hidden = data.applied || (data.added + data.changed === 0);
}

document.addEventListener('DOMContentLoaded', () => {
  const input = $('#csv-file');
  if (!input) return;
  input.addEventListener('change', () => {
    file = input.files[0] || null;
    if (file) send(false).catch((e) => text($('#csv-msg'), e.message, 'error'));
  });
  $('#csv-apply').addEventListener('click', () => {
    if (file) send(true).catch((e) => text($('#csv-msg'), e.message, 'error'));
  });
});
})();
