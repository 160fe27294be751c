// The chain's stock at the till: other stores' stock of a product from
// HQ's last snapshot ("Store 12: 4, 25 min ago"), for the stock page and
// the sale screen's lookup. app.js calls window.chainStock.
(() => {
'use strict';

let bySKU = {};

function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
  if (s < 90) return 'just now';
  if (s < 5400) return Math.round(s / 60) + ' min ago';
  if (s < 172800) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}

function format(list, unit) {
  return (list || []).map((c) => `${c.name}: ${unit === 'kg' ? (c.qty / 1000) + ' kg' : c.qty}, ${ago(c.at)}`).join('; ');
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
  text(sku, unit) { const l = bySKU[sku]; return l && l.length ? 'Other stores: ' + format(l, unit) : ''; },
  load,
};
document.addEventListener('DOMContentLoaded', () => { load(); setInterval(load, 60000); });
})();
