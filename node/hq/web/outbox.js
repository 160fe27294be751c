// HQ's outbox page: every store's backlog and dead letters, with a retry
// button that the store's relay picks up with its next report.
(() => {
'use strict';
let csrf = '';
const $ = (s) => document.querySelector(s);

function el(tag, text) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }

async function retry(store, d) {
  const res = await fetch(`/hq/api/stores/${store}/outbox/retry`, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify({ connector: d.connector, event_id: d.event_id }),
  });
  const data = await res.json().catch(() => ({}));
  $('#msg').textContent = res.ok ? `Receipt ${d.receipt}: the store's relay sends it again after its next report.` : (data.error || res.statusText);
  await load();
}

// placement lists where each connector runs for the store, with a
// button to move it to HQ or back (the store's relay completes the move
// with its next reports).
const placeText = { store: 'runs at the store', 'to-hq': 'moving to HQ…', hq: 'runs at HQ', 'to-store': 'moving back to the store…' };
function placement(s) {
  const p = el('p');
  for (const c of ['fiscal', 'telegram', 'webhook']) {
    const at = s.at[c] || 'store';
    const b = el('button', at === 'hq' || at === 'to-hq' ? 'Run at the store' : 'Run at HQ');
    b.disabled = at === 'to-store';
    b.addEventListener('click', () => move(s.store, c, at === 'hq' || at === 'to-hq' ? 'store' : 'hq').catch((e) => { $('#msg').textContent = e.message; }));
    p.append(el('span', `${c}: ${placeText[at] || at} `), b, el('span', ' '));
  }
  return p;
}

async function move(store, connector, at) {
  const res = await fetch(`/hq/api/stores/${store}/outbox/at`, {
    method: 'PUT', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify({ connector, at }),
  });
  const data = await res.json().catch(() => ({}));
  $('#msg').textContent = res.ok ? `${connector}: the store's relay completes the move with its next report.` : (data.error || res.statusText);
  await load();
}

async function load() {
  const me = await fetch('/hq/api/me', { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (!me) { $('#msg').textContent = 'Log in on the dashboard first.'; return; }
  csrf = me.csrf;
  const data = await fetch('/hq/api/outbox', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json());
  const root = $('#stores');
  root.replaceChildren();
  if (!(data.stores || []).length) root.append(el('p', 'No store has reported its outbox yet.'));
  for (const s of data.stores || []) {
    const sec = el('section');
    sec.append(el('h2', `${s.name || s.store} (reported ${new Date(s.received).toLocaleString()})`));
    const ul = el('ul');
    for (const c of [...(s.connectors || []), ...(s.at_hq || [])]) ul.append(el('li', c.line + (c.last_error ? ' · last error: ' + c.last_error : '')));
    sec.append(ul);
    if (s.at) sec.append(placement(s));
    if ((s.dead_letters || []).length) {
      const t = el('table');
      const hr = el('tr');
      for (const h of ['Where', 'Receipt', 'Why', 'Tries', 'When', '']) hr.append(el('th', h));
      t.append(hr);
      for (const d of s.dead_letters) {
        const tr = el('tr');
        for (const v of [d.connector, `${d.receipt} (${d.kind})`, (d.code ? d.code + ': ' : '') + d.reason, String(d.attempts), new Date(d.at).toLocaleString()]) tr.append(el('td', v));
        const td = el('td');
        const b = el('button', d.retrying ? 'Retrying…' : 'Retry');
        b.disabled = !!d.retrying;
        b.addEventListener('click', () => retry(s.store, d).catch((e) => { $('#msg').textContent = e.message; }));
        td.append(b);
        tr.append(td);
        t.append(tr);
      }
      sec.append(t);
    }
    if (s.queued_retries) sec.append(el('p', `${s.queued_retries} retry request(s) waiting for the store's next report.`));
    root.append(sec);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  load().catch((e) => { $('#msg').textContent = e.message; });
  setInterval(() => load().catch(() => {}), 10000);
});
})();
