// HQ dashboard: each store's stock value (at retail price) and what is at
// or below its reorder point, from /hq/api/stock/health. app.js sends
// "hq-tab" when a tab it does not load itself is shown.
"use strict";
(() => {
const q = (s) => document.querySelector(s);

function cell(tr, v, cls) {
  const td = document.createElement("td");
  td.textContent = v == null ? "" : String(v);
  if (cls) td.className = cls;
  tr.append(td);
}
const qty = (v, unit) => unit === "kg" ? I18N.number(v, 3) + " " + I18N.t("hq.unit.kg") : String(v);
const money = (v, cur) => (!cur || cur === I18N.format.currency ? I18N.money(v) : I18N.number(v, I18N.format.digits) + "\u00a0" + cur);

async function load() {
  const r = await fetch("/hq/api/stock/health?store=all", { credentials: "same-origin" });
  const data = await r.json().catch(() => []);
  if (!r.ok) throw new Error(data.error || r.statusText);
  const sum = q("#health-stores tbody"), low = q("#health-low tbody");
  sum.replaceChildren();
  low.replaceChildren();
  for (const s of data) {
    const tr = document.createElement("tr");
    cell(tr, s.name);
    cell(tr, s.no_catalog ? I18N.t("hq.health.no_catalog") : money(s.value, s.currency), "num");
    cell(tr, s.low.length, s.low.length ? "warn num" : "num");
    cell(tr, s.negative, s.negative ? "flag num" : "num");
    sum.append(tr);
    for (const l of s.low) {
      const lr = document.createElement("tr");
      cell(lr, s.name);
      cell(lr, l.sku);
      cell(lr, l.name);
      cell(lr, qty(l.qty, l.unit), "num");
      cell(lr, qty(l.reorder, l.unit), "num");
      low.append(lr);
    }
  }
}

document.addEventListener("hq-tab", (e) => { if (e.detail === "health") load().catch(err => alert(err.message)); });
})();
