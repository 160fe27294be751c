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
  $('#msg').textContent = res.ok ? I18N.t('hq.outbox.retried', { receipt: d.receipt }) : (data.error || res.statusText);
  await load();
}

// placement lists where each connector runs for the store, with a
// button to move it to HQ or back (the store's relay completes the move
// with its next reports).
const placeKey = { store: 'hq.outbox.at.store', 'to-hq': 'hq.outbox.at.to_hq', hq: 'hq.outbox.at.hq', 'to-store': 'hq.outbox.at.to_store' };
function placement(s) {
  const p = el('p');
  for (const c of ['fiscal', 'telegram', 'webhook']) {
    const at = s.at[c] || 'store';
    const b = el('button', I18N.t(at === 'hq' || at === 'to-hq' ? 'hq.outbox.run_at_store' : 'hq.outbox.run_at_hq'));
    b.disabled = at === 'to-store';
    b.addEventListener('click', () => move(s.store, c, at === 'hq' || at === 'to-hq' ? 'store' : 'hq').catch((e) => { $('#msg').textContent = e.message; }));
    p.append(el('span', I18N.t('hq.outbox.connector_at', { connector: c, at: placeKey[at] ? I18N.t(placeKey[at]) : at }) + ' '), b, el('span', ' '));
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
  $('#msg').textContent = res.ok ? I18N.t('hq.outbox.move_sent', { connector }) : (data.error || res.statusText);
  await load();
}

async function load() {
  const me = await fetch('/hq/api/me', { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (!me) { $('#msg').textContent = I18N.t('hq.outbox.login_first'); return; }
  csrf = me.csrf;
  const data = await fetch('/hq/api/outbox', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json());
  const root = $('#stores');
  root.replaceChildren();
  if (!(data.stores || []).length) root.append(el('p', I18N.t('hq.outbox.none')));
  for (const s of data.stores || []) {
    const sec = el('section');
    sec.append(el('h2', I18N.t('hq.outbox.reported', { store: s.name || s.store, at: I18N.date(s.received) + ' ' + I18N.time(s.received) })));
    const ul = el('ul');
    for (const c of [...(s.connectors || []), ...(s.at_hq || [])]) ul.append(el('li', c.line + (c.last_error ? ' · ' + I18N.t('hq.outbox.last_error', { error: c.last_error }) : '')));
    sec.append(ul);
    if (s.at) sec.append(placement(s));
    if ((s.dead_letters || []).length) {
      const t = el('table');
      const hr = el('tr');
      for (const h of ['hq.outbox.where', 'hq.outbox.receipt', 'hq.over.why', 'hq.outbox.tries', 'hq.outbox.when']) hr.append(el('th', I18N.t(h)));
      hr.append(el('th', ''));
      t.append(hr);
      for (const d of s.dead_letters) {
        const tr = el('tr');
        for (const v of [d.connector, `${d.receipt} (${d.kind})`, (d.code ? d.code + ': ' : '') + d.reason, String(d.attempts), I18N.date(d.at) + ' ' + I18N.time(d.at)]) tr.append(el('td', v));
        const td = el('td');
        const b = el('button', I18N.t(d.retrying ? 'hq.outbox.retrying' : 'hq.outbox.retry'));
        b.disabled = !!d.retrying;
        b.addEventListener('click', () => retry(s.store, d).catch((e) => { $('#msg').textContent = e.message; }));
        td.append(b);
        tr.append(td);
        t.append(tr);
      }
      sec.append(t);
    }
    if (s.queued_retries) sec.append(el('p', I18N.tn('hq.outbox.queued', s.queued_retries)));
    root.append(sec);
  }
}

document.addEventListener('DOMContentLoaded', async () => {
  const c = document.cookie.split('; ').find((x) => x.startsWith('hq_lang='));
  await I18N.load(c ? c.slice(8) : 'en').catch(() => I18N.load('en'));
  I18N.apply();
  load().catch((e) => { $('#msg').textContent = e.message; });
  setInterval(() => load().catch(() => {}), 10000);
});
})();
