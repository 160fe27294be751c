// The chain's stock at the till: other stores' stock of a product from
// HQ's last snapshot ("Store 12: 4, 25 min ago"), for the stock page and
// the sale screen's lookup. app.js calls window.chainStock.
(() => {
'use strict';

let bySKU = {};
const L = (key, args) => I18N.t(key, args); // ui/i18n: the session's language

function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
  if (s < 90) return L('till.ago.just_now');
  if (s < 5400) return L('till.ago.min', { n: Math.round(s / 60) });
  if (s < 172800) return L('till.ago.h', { n: Math.round(s / 3600) });
  return L('till.ago.d', { n: Math.round(s / 86400) });
}

function format(list, unit) {
  return (list || []).map((c) => `${c.name}: ${unit === 'kg' ? I18N.number(c.qty, 3) + ' ' + L('till.unit.kg') : c.qty}, ${ago(c.at)}`).join('; ');
}

async function load() {
  try {
    const res = await fetch('/api/chain-stock', { credentials: 'same-origin', cache: 'no-store' });
    if (res.ok) bySKU = (await res.json()).skus || {};
  } catch (e) { /* offline from the till itself: keep what we had */ }
}

window.chainStock = {
  format,
  // text is the lookup's line for a SKU: "" without figures.
  text(sku, unit) { const l = bySKU[sku]; return l && l.length ? L('till.stock.other_stores', { stock: format(l, unit) }) : ''; },
  load,
};
document.addEventListener('DOMContentLoaded', () => { load(); setInterval(load, 60000); });
})();
