// Gift cards, store credit and loyalty points: look a card up by scanning
// or typing its number, activate a gift card that a sale paid for, take an
// amount off a card, deactivate one (POST /api/cards/*). Kept apart from
// app.js; it asks the session for the CSRF token itself. A sale paid by
// card uses a tender of kind gift_card or store_credit whose reference is
// the card number.
(() => {
'use strict';

const $ = (s) => document.querySelector(s);

function key() { return 'card-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10); }

function show(data, ok) {
  const out = $('#card-out');
  out.className = 'msg ' + (ok ? 'ok' : 'error');
  if (!ok) { out.textContent = data.error || 'failed'; return; }
  const unit = data.account === 'points' ? ' points' : ' ' + (data.currency || '');
  out.textContent = `Card ${data.card} (${data.account || '?'}, till ${data.owner || '?'}): balance ${data.account === 'points' ? data.balance : (data.balance / 100).toFixed(2)}${unit}` +
    `${data.active ? '' : ' (deactivated)'}${data.receipt ? '; recorded as ' + data.receipt : ''}`;
}

async function call(method, path, body) {
  const s = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json()).catch(() => ({}));
  const res = await fetch(path, {
    method, credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token || '' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  show(data, res.ok);
}

function cents(v) { return Math.round(parseFloat(v || '0') * 100); }

document.addEventListener('DOMContentLoaded', () => {
  const card = $('#card-number');
  if (!card) return;
  const number = () => card.value.trim();
  $('#card-balance').addEventListener('click', () => call('GET', '/api/cards/' + encodeURIComponent(number())));
  card.addEventListener('keydown', (e) => { if (e.key === 'Enter') call('GET', '/api/cards/' + encodeURIComponent(number())); });
  $('#card-issue').addEventListener('click', () => call('POST', '/api/cards/issue',
    { idempotency_key: key(), card: number(), amount: cents($('#card-amount').value), sale: $('#card-sale').value.trim() }));
  $('#card-redeem').addEventListener('click', () => {
    const account = $('#card-account').value;
    const amount = account === 'points' ? parseInt($('#card-amount').value || '0', 10) : cents($('#card-amount').value);
    call('POST', '/api/cards/redeem', { idempotency_key: key(), card: number(), amount, account });
  });
  $('#card-deactivate').addEventListener('click', () => call('POST', '/api/cards/deactivate', { idempotency_key: key(), card: number() }));
});
})();
