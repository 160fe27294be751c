// Gift cards, store credit and loyalty points: look a card up by scanning
// or typing its number, activate a gift card that a sale paid for, take an
// amount off a card, deactivate one (POST /api/cards/*). Kept apart from
// app.js; it asks the session for the CSRF token itself. A sale paid by
// card uses a tender of kind gift_card or store_credit whose reference is
// the card number.
(() => {
'use strict';

const $ = (s) => document.querySelector(s);
const L = (key, args) => I18N.t(key, args); // ui/i18n: the session's language

function key() { return 'card-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10); }

function show(data, ok) {
  const out = $('#card-out');
  out.className = 'msg ' + (ok ? 'ok' : 'error');
  if (!ok) { out.textContent = I18N.error(data, L('till.cards.failed')); return; }
  const balance = data.account === 'points' ? L('till.cards.points', { n: data.balance }) : I18N.money(data.balance);
  out.textContent = L('till.cards.balance', { card: data.card, account: accountName(data.account), till: data.owner || '?', balance }) +
    (data.active ? '' : ' ' + L('till.cards.deactivated')) + (data.receipt ? '; ' + L('till.cards.recorded', { receipt: data.receipt }) : '');
}

function accountName(a) { return a ? L('till.cards.account.' + a) : '?'; }

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

// amount is the typed amount in minor units of the store's currency;
// a bad one shows why and is null.
function amount(v) {
  try { return I18N.parseMoney(v); } catch (e) { show({ error: e.message }, false); return null; }
}

document.addEventListener('DOMContentLoaded', () => {
  const card = $('#card-number');
  if (!card) return;
  const number = () => card.value.trim();
  $('#card-balance').addEventListener('click', () => call('GET', '/api/cards/' + encodeURIComponent(number())));
  card.addEventListener('keydown', (e) => { if (e.key === 'Enter') call('GET', '/api/cards/' + encodeURIComponent(number())); });
  $('#card-issue').addEventListener('click', () => {
    const a = amount($('#card-amount').value);
    if (a !== null) call('POST', '/api/cards/issue', { idempotency_key: key(), card: number(), amount: a, sale: $('#card-sale').value.trim() });
  });
  $('#card-redeem').addEventListener('click', () => {
    const account = $('#card-account').value;
    const a = account === 'points' ? parseInt($('#card-amount').value || '0', 10) : amount($('#card-amount').value);
    if (a !== null) call('POST', '/api/cards/redeem', { idempotency_key: key(), card: number(), amount: a, account });
  });
  $('#card-deactivate').addEventListener('click', () => call('POST', '/api/cards/deactivate', { idempotency_key: key(), card: number() }));
});
})();
