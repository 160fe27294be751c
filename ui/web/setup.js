'use strict';
// The first-run set-up page: creates the store's first manager with the
// till's one-time set-up code, then sends the person to the login page.

const $ = (s) => document.querySelector(s);

function say(text, ok) {
  const m = $('#setup-msg');
  m.textContent = text;
  m.className = 'msg ' + (ok ? 'ok' : 'bad');
}

$('#setup-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const pin = $('#setup-pin').value;
  if (pin !== $('#setup-pin2').value) { say('The two PINs differ.', false); return; }
  const body = { code: $('#setup-code').value.trim(), staff: $('#setup-staff').value.trim(), name: $('#setup-name').value.trim(), pin };
  $('#setup-submit').disabled = true;
  try {
    const res = await fetch('/api/setup', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
    let data = {};
    try { data = await res.json(); } catch (x) { /* empty */ }
    if (!res.ok) { say(data.error || res.statusText, false); return; }
    say('Manager ' + body.staff + ' created. Taking you to the login page…', true);
    setTimeout(() => { window.location.href = '/'; }, 1200);
  } catch (x) {
    say('No answer from the till: ' + x.message, false);
  } finally {
    $('#setup-submit').disabled = false;
  }
});
