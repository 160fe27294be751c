// tillmesh HQ dashboard: plain JS over /hq/api, no build step.
"use strict";
let csrf = "";
let stores = [];

const $ = (s, el = document) => el.querySelector(s);
const $$ = (s, el = document) => [...el.querySelectorAll(s)];

function money(v, cur) {
  const n = Number(v || 0) / 100;
  return n.toFixed(2) + (cur ? " " + cur : "");
}
function text(v) { const d = document.createElement("span"); d.textContent = v == null ? "" : String(v); return d.innerHTML; }
function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  if (method !== "GET") opt.headers["X-CSRF-Token"] = csrf;
  const r = await fetch(path, opt);
  const data = await r.json().catch(() => ({}));
  if (r.status === 401 && path !== "/hq/api/login") { showLogin(); }
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function showLogin() {
  $("#login").hidden = false;
  $("#nav").hidden = true;
  $$(".tab").forEach(t => t.hidden = true);
}

function loggedIn(me) {
  csrf = me.csrf;
  $("#who").textContent = me.user;
  $("#login").hidden = true;
  $("#nav").hidden = false;
  show("stores");
}

function show(tab) {
  $$(".tab").forEach(t => t.hidden = t.id !== tab);
  $$("#nav button[data-tab]").forEach(b => b.classList.toggle("active", b.dataset.tab === tab));
  ({ stores: loadStores, reports: loadReport, stock: loadStock, catalog: loadCatalog })[tab]();
}

function fillStoreSelects() {
  $$(".store-select").forEach(sel => {
    const cur = sel.value;
    sel.innerHTML = '<option value="all">All stores</option>' +
      stores.map(s => `<option value="${s.id}">${text(s.name)}</option>`).join("");
    if (cur) sel.value = cur;
  });
}

async function loadStores() {
  stores = await api("GET", "/hq/api/stores");
  fillStoreSelects();
  const tb = $("#store-table tbody");
  tb.innerHTML = stores.map(s => {
    const stale = s.last_contact && Date.now() - s.last_contact > 5 * 60 * 1000;
    return `<tr class="clickable" data-id="${s.id}">
      <td>${text(s.name)}<br><small>${s.id}</small></td>
      <td class="num">${s.tills.length}</td>
      <td class="num">${s.events}</td>
      <td class="num ${s.backlog > 0 ? "warn" : "ok"}">${s.backlog}</td>
      <td>${s.relay_number ? "till " + s.relay_number : "-"} <small>token ${s.fence.token}</small></td>
      <td class="${stale ? "warn" : ""}">${ago(s.last_contact)}</td>
      <td class="${s.flagged ? "flag" : ""}">${s.flagged ? s.flagged + " flagged" : ""}</td></tr>`;
  }).join("") || '<tr><td colspan="7">No stores yet: register one below.</td></tr>';
  $$("#store-table tr.clickable").forEach(tr => tr.onclick = () => storeDetail(tr.dataset.id));
}

async function storeDetail(id) {
  const s = stores.find(x => x.id === id);
  if (!s) return;
  let ev = [];
  try { ev = await api("GET", "/hq/api/evidence?store=" + id); } catch (e) { /* shown below */ }
  $("#store-detail").innerHTML = `<h3>${text(s.name)}: tills</h3>
    <table><thead><tr><th>Till</th><th>Name</th><th>Seq at HQ</th><th>Key</th><th>State</th></tr></thead><tbody>
    ${s.tills.map(t => `<tr><td>${t.number || "?"}</td><td>${text(t.name)}</td><td class="num">${t.seq}</td>
      <td><small>${t.till.slice(0, 16)}</small></td><td class="${t.flagged || t.revoked ? "flag" : "ok"}">${t.flagged ? "equivocated" : t.revoked ? "revoked after seq " + (t.revoked_after || 0) : "ok"}</td></tr>`).join("")}
    </tbody></table>
    <p>Backlog at last contact: <b>${s.backlog}</b> events; relay till ${s.relay_number || "-"}, fencing token ${s.fence.token}, ${ago(s.last_contact)}.</p>
    ${ev.length ? `<h3>Equivocation evidence</h3><table><thead><tr><th>Till</th><th>Seq</th><th>Reason</th></tr></thead><tbody>
      ${ev.map(e => `<tr><td><small>${e.till.slice(0, 16)}</small></td><td>${e.seq}</td><td>${text(e.reason)}</td></tr>`).join("")}</tbody></table>` : ""}`;
}

async function loadReport(ev) {
  if (ev) ev.preventDefault();
  if (!stores.length) { stores = await api("GET", "/hq/api/stores"); fillStoreSelects(); }
  const f = $("#report-form");
  const q = new URLSearchParams({ store: f.store.value || "all", from: f.from.value, to: f.to.value });
  const r = await api("GET", "/hq/api/report?" + q);
  const t = r.total, cur = t.currency;
  const cards = [["Sales", t.sales], ["Sales total", money(t.sales_total, cur)], ["Net", money(t.net, cur)],
    ["Tax", money(t.tax, cur)], ["Total kept", money(t.total, cur)], ["Refunds", t.refunds + " / " + money(t.refunded, cur)],
    ["Voids", t.voids + " / " + money(t.voided, cur)], ["Items", t.items]];
  const tenders = Object.entries(t.tenders || {}).map(([k, v]) => `<tr><td>${text(k)}</td><td class="num">${money(v, cur)}</td></tr>`).join("");
  const bands = Object.values(t.bands || {}).map(b => `<tr><td>${(b.Rate / 100).toFixed(2)}%</td><td class="num">${money(b.Net, cur)}</td><td class="num">${money(b.Tax, cur)}</td></tr>`).join("");
  const maxHour = Math.max(1, ...r.hours.map(h => h.total));
  $("#report-out").innerHTML = `<div class="cards">${cards.map(([k, v]) => `<div class="card">${k}<b>${v}</b></div>`).join("")}</div>
    <h3>Tenders</h3><table><tbody>${tenders}</tbody></table>
    <h3>Tax</h3><table><thead><tr><th>Rate</th><th>Net</th><th>Tax</th></tr></thead><tbody>${bands}</tbody></table>
    <h3>By store</h3><table><thead><tr><th>Store</th><th>Sales</th><th>Total</th><th>Tax</th></tr></thead><tbody>
      ${r.stores.map(s => `<tr><td>${text(s.name)}</td><td class="num">${s.report.sales}</td><td class="num">${money(s.report.total, cur)}</td><td class="num">${money(s.report.tax, cur)}</td></tr>`).join("")}</tbody></table>
    <h3>By day</h3><table><thead><tr><th>Day</th><th>Sales</th><th>Total</th></tr></thead><tbody>
      ${r.days.map(d => `<tr><td>${d.day}</td><td class="num">${d.report.sales}</td><td class="num">${money(d.report.total, cur)}</td></tr>`).join("")}</tbody></table>
    <h3>By hour</h3><table><tbody>
      ${r.hours.map(h => `<tr><td>${new Date(h.start).toLocaleString()}</td><td class="num">${h.sales}</td><td class="num">${money(h.total, cur)}</td>
        <td><progress max="${maxHour}" value="${Math.max(0, h.total)}"></progress></td></tr>`).join("")}</tbody></table>
    <h3>By till</h3><table><thead><tr><th>Store</th><th>Till</th><th>Sales</th><th>Total</th></tr></thead><tbody>
      ${r.tills.map(x => `<tr><td>${text((stores.find(s => s.id === x.store) || {}).name || x.store)}</td><td>${x.number} ${text(x.name)}</td><td class="num">${x.report.sales}</td><td class="num">${money(x.report.total, cur)}</td></tr>`).join("")}</tbody></table>
    <h3>Top products</h3><table><thead><tr><th>SKU</th><th>Name</th><th>Qty</th><th>Amount</th></tr></thead><tbody>
      ${r.products.map(p => `<tr><td>${text(p.sku)}</td><td>${text(p.name)}</td><td class="num">${p.qty}</td><td class="num">${money(p.amount, cur)}</td></tr>`).join("")}</tbody></table>`;
}

async function loadStock(ev) {
  if (ev) ev.preventDefault();
  if (!stores.length) { stores = await api("GET", "/hq/api/stores"); fillStoreSelects(); }
  const rows = await api("GET", "/hq/api/stock?store=" + ($("#stock-form").store.value || "all"));
  $("#stock-table tbody").innerHTML = rows.map(r => `<tr><td>${text((stores.find(s => s.id === r.store) || {}).name || r.store)}</td>
    <td>${text(r.sku)}</td><td>${text(r.name)}</td><td class="num ${r.qty < 0 ? "warn" : ""}">${r.qty}</td></tr>`).join("");
}

async function loadCatalog() {
  if (!stores.length) { stores = await api("GET", "/hq/api/stores"); fillStoreSelects(); }
  const c = await api("GET", "/hq/api/catalog");
  const scope = s => s ? text((stores.find(x => x.id === s) || {}).name || s) : "all";
  $("#catalog-table tbody").innerHTML = c.products.map(e => `<tr><td>${text(e.product.sku)}</td><td>${text(e.product.name)}</td>
    <td class="num">${money(e.product.price, e.product.currency)}</td><td>${e.product.tax_rate / 100}%</td><td>${e.product.unit}</td>
    <td>${scope(e.store)}</td><td>#${e.cursor} ${ago(e.at)} ${text(e.by)}</td></tr>`).join("");
  $("#staff-table tbody").innerHTML = c.staff.map(e => `<tr><td>${text(e.staff.id)}</td><td>${text(e.staff.name)}</td><td>${e.staff.role}</td>
    <td>${scope(e.store)}</td><td>#${e.cursor} ${ago(e.at)} ${text(e.by)}</td></tr>`).join("");
}

function formError(id, fn) {
  return async ev => {
    ev.preventDefault();
    $(id).textContent = "";
    try { await fn(ev.target); } catch (e) { $(id).textContent = e.message; }
  };
}

document.addEventListener("DOMContentLoaded", async () => {
  $("#login-form").onsubmit = formError("#login-error", async f => {
    loggedIn(await api("POST", "/hq/api/login", { user: f.user.value, password: f.password.value }));
    f.password.value = "";
  });
  $("#logout").onclick = async () => { await api("POST", "/hq/api/logout").catch(() => {}); showLogin(); };
  $$("#nav button[data-tab]").forEach(b => b.onclick = () => show(b.dataset.tab));
  $("#report-form").onsubmit = loadReport;
  $("#stock-form").onsubmit = loadStock;
  $("#register-form").onsubmit = formError("#register-error", async f => {
    await api("POST", "/hq/api/stores", { id: f.id.value, name: f.name.value, ca: f.ca.value });
    f.reset();
    await loadStores();
  });
  $("#product-form").onsubmit = formError("#product-error", async f => {
    await api("POST", "/hq/api/products", {
      store: f.store.value, product: {
        sku: f.sku.value, name: f.name.value, price: Number(f.price.value), currency: f.currency.value,
        tax_rate: Number(f.tax_rate.value), unit: f.unit.value,
        barcodes: f.barcodes.value.split(",").map(s => s.trim()).filter(Boolean)
      }
    });
    await loadCatalog();
  });
  $("#staff-form").onsubmit = formError("#staff-error", async f => {
    await api("POST", "/hq/api/staff", { store: f.store.value, id: f.id.value, name: f.name.value, role: f.role.value, pin: f.pin.value });
    f.pin.value = "";
    await loadCatalog();
  });
  try { loggedIn(await api("GET", "/hq/api/me")); } catch (e) { showLogin(); }
  setInterval(() => { if (!$("#stores").hidden) loadStores().catch(() => {}); }, 5000);
});
