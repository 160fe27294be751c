'use strict';
// The first-run set-up page: creates the store's first manager with the
// till's one-time set-up code, then sends the person to the login page.

const $ = (s) => document.querySelector(s);
const L = (key, args) => I18N.t(key, args); // ui/i18n: the store's language

// The page speaks the store's language (GET /api/language).
fetch('/api/language', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json())
  .then((l) => I18N.load(l.language)).catch(() => I18N.load('en')).then(() => I18N.apply(document)).catch(() => {});

function say(text, ok) {
  const m = $('#setup-msg');
  m.textContent = text;
  m.className = 'msg ' + (ok ? 'ok' : 'bad');
}

$('#setup-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const pin = $('#setup-pin').value;
  if (pin !== $('#setup-pin2').value) { say(L('till.setup.pins_differ'), false); return; }
  const body = { code: $('#setup-code').value.trim(), staff: $('#setup-staff').value.trim(), name: $('#setup-name').value.trim(), pin };
  $('#setup-submit').disabled = true;
  try {
    const res = await fetch('/api/setup', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
    let data = {};
    try { data = await res.json(); } catch (x) { /* empty */ }
    if (!res.ok) { say(I18N.error(data, res.statusText), false); return; }
    say(L('till.setup.created', { staff: body.staff }), true);
    setTimeout(() => { window.location.href = '/'; }, 1200);
  } catch (x) {
    say(L('till.setup.no_answer', { reason: x.message }), false);
  } finally {
    $('#setup-submit').disabled = false;
  }
});
