// HQ dashboard: transfers between stores, matched by HQ (open, received,
// disputed), and what is in transit. Kept apart from app.js; app.js
// sends "hq-tab" when a tab it does not load itself is shown.
"use strict";
(() => {
const q = (s) => document.querySelector(s);
const statusKey = { in_transit: "hq.transfers.in_transit", received: "hq.transfers.received", disputed: "hq.transfers.disputed", unmatched: "hq.transfers.unmatched" };
const statusText = (k) => (statusKey[k] ? I18N.t(statusKey[k]) : k);

function cell(tr, v, cls) {
  const td = document.createElement("td");
  td.textContent = v == null ? "" : String(v);
  if (cls) td.className = cls;
  tr.append(td);
}
const goods = (ls) => (ls || []).map(l => `${l.sku} × ${l.qty}`).join(", ");
const when = (at) => (at ? I18N.date(at) + " " + I18N.time(at) : "");

async function load() {
  const status = q("#transfer-form select[name=status]").value;
  const r = await fetch("/hq/api/transfers" + (status ? "?status=" + encodeURIComponent(status) : ""), { credentials: "same-origin" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  const counts = {};
  const tb = q("#transfer-table tbody");
  tb.replaceChildren();
  for (const t of data.transfers) {
    counts[t.status] = (counts[t.status] || 0) + 1;
    const tr = document.createElement("tr");
    cell(tr, t.number);
    cell(tr, t.from_name || t.from.slice(0, 8));
    cell(tr, t.to_name || (t.to ? t.to.slice(0, 8) : ""));
    cell(tr, when(t.sent_at));
    cell(tr, goods(t.sent));
    cell(tr, (t.receipts || []).map(x => `${x.store_name}: ${goods(x.lines)} (${when(x.received_at)})${x.note ? " “" + x.note + "”" : ""}`).join("; "));
    cell(tr, statusText(t.status), t.status === "disputed" ? "flag" : t.status === "received" ? "ok" : "warn");
    cell(tr, (t.problems || []).join("; "));
    tb.append(tr);
  }
  const cards = q("#transfer-cards");
  cards.replaceChildren();
  for (const k of Object.keys(statusKey)) {
    const d = document.createElement("div");
    d.className = "card";
    const b = document.createElement("b");
    b.textContent = String(counts[k] || 0);
    d.append(b, statusText(k));
    cards.append(d);
  }
  const tt = q("#transit-table tbody");
  tt.replaceChildren();
  for (const [sku, qty] of Object.entries(data.in_transit || {}).sort()) {
    const tr = document.createElement("tr");
    cell(tr, sku);
    cell(tr, qty, "num");
    tt.append(tr);
  }
}

document.addEventListener("hq-tab", (e) => { if (e.detail === "transfers") load().catch(err => alert(err.message)); });
document.addEventListener("DOMContentLoaded", () => {
  const f = q("#transfer-form");
  if (f) f.addEventListener("submit", (e) => { e.preventDefault(); load().catch(err => alert(err.message)); });
});
})();
