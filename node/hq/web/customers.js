// tillmesh HQ: the customers page (list, search, erase). Kept apart from
// app.js; it asks /hq/api/me for the CSRF token itself.
"use strict";
(() => {
const $ = (s) => document.querySelector(s);

async function call(method, path) {
  const headers = {};
  if (method !== "GET") {
    const me = await fetch("/hq/api/me", { credentials: "same-origin" }).then((r) => r.json()).catch(() => ({}));
    headers["X-CSRF-Token"] = me.csrf || "";
  }
  const r = await fetch(path, { method, headers, credentials: "same-origin" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function cell(text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); return td; }

async function load() {
  const q = $("#customer-search").elements.q.value.trim();
  const status = $("#customer-status");
  try {
    const data = await call("GET", "/hq/api/customers?q=" + encodeURIComponent(q));
    const rows = (data.customers || []).map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.number = c.number;
      tr.append(cell(c.number), cell(c.erased ? I18N.t("hq.customers.erased_mark") : c.name), cell(c.phone), cell(c.email), cell(c.card),
        cell(c.erased ? "" : I18N.t(c.consent ? "hq.yes" : "hq.no")));
      const td = document.createElement("td");
      if (!c.erased) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "erase";
        b.textContent = I18N.t("hq.customers.erase");
        b.addEventListener("click", () => erase(c.number));
        td.append(b);
      }
      tr.append(td);
      return tr;
    });
    $("#customer-table tbody").replaceChildren(...rows);
    status.textContent = rows.length ? "" : I18N.t("hq.customers.no_match");
  } catch (e) {
    status.textContent = e.message;
  }
}

async function erase(number) {
  if (!window.confirm(I18N.t("hq.customers.confirm", { number }))) return;
  let msg;
  try {
    await call("POST", "/hq/api/customers/" + encodeURIComponent(number) + "/erase");
    msg = I18N.t("hq.customers.erased", { number });
  } catch (e) {
    msg = e.message;
  }
  await load();
  $("#customer-status").textContent = msg;
}

document.addEventListener("DOMContentLoaded", () => {
  const form = $("#customer-search");
  if (!form) return;
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  const tab = document.querySelector('#nav button[data-tab="customers"]');
  if (tab) tab.addEventListener("click", load);
});
})();
