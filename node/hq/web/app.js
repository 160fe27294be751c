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
  const load = ({ stores: loadStores, reports: loadReport, stock: loadStock, catalog: loadCatalog })[tab];
  if (load) load(); else document.dispatchEvent(new CustomEvent("hq-tab", { detail: tab })); // tabs in files of their own (customers.js, transfers.js)
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
      <td class="${s.flagged ? "flag" : s.newer_warning ? "warn" : ""}">${[s.flagged ? s.flagged + " flagged" : "", text(s.newer_warning || "")].filter(Boolean).join("; ")}</td></tr>`;
  }).join("") || '<tr><td colspan="7">No stores yet: register one below.</td></tr>';
  $$("#store-table tr.clickable").forEach(tr => tr.onclick = () => storeDetail(tr.dataset.id));
}

async function storeDetail(id) {
  const s = stores.find(x => x.id === id);
  if (!s) return;
  let ev = [];
  try { ev = await api("GET", "/hq/api/evidence?store=" + id); } catch (e) { /* shown below */ }
  let over = [];
  let cardOver = [];
  try { const o = await api("GET", "/hq/api/overspends?store=" + id); over = o.sales; cardOver = o.cards; } catch (e) { /* shown below */ }
  const tillNo = (o, t) => o.numbers[t] || t.slice(0, 8);
  $("#store-detail").innerHTML = `<h3>${text(s.name)}: tills</h3>
    <table><thead><tr><th>Till</th><th>Name</th><th>Release</th><th>Seq at HQ</th><th>Last receipt</th><th>Key</th><th>State</th></tr></thead><tbody>
    ${s.tills.map(t => `<tr><td>${t.number || "?"}</td><td>${text(t.name)}</td><td class="release">${text(t.version || "not reported")}</td><td class="num">${t.seq}</td>
      <td class="num last-receipt">${text(t.last_receipt || "-")}</td><td><small>${t.till.slice(0, 16)}</small></td><td class="${t.flagged || t.revoked ? "flag" : "ok"}">${t.flagged ? "equivocated" : t.revoked ? "revoked after seq " + (t.revoked_after || 0) + (t.refused ? ` (${t.refused} events after seq ${t.revoked_after || 0} refused by revocation)` : "") : "ok"}</td></tr>`).join("")}
    </tbody></table>
    ${s.newer_warning ? `<p class="warn" id="newer-warning">${text(s.newer_warning)}</p>` : ""}
    <p>Backlog at last contact: <b>${s.backlog}</b> events; relay till ${s.relay_number || "-"}, fencing token ${s.fence.token}, ${ago(s.last_contact)}.</p>
    ${ev.length ? `<h3>Equivocation evidence</h3><table><thead><tr><th>Till</th><th>Seq</th><th>Reason</th></tr></thead><tbody>
      ${ev.map(e => `<tr><td><small>${e.till.slice(0, 16)}</small></td><td>${e.seq}</td><td>${text(e.reason)}</td></tr>`).join("")}</tbody></table>` : ""}
    ${over.length ? `<h3 id="overspends">Over-spent sales</h3><table><thead><tr><th>Sale</th><th>Taken</th><th>Given back</th><th>Over</th><th>Why</th><th>Refunds and voids</th></tr></thead><tbody>
      ${over.map(o => `<tr><td>${tillNo(o, o.owner)}-${o.owner_seq}</td><td class="num">${money(o.limit, o.currency)}</td><td class="num">${money(o.spent, o.currency)}</td>
        <td class="num flag">${money(o.over, o.currency)}</td><td>${text(o.reasons.join("; "))}</td>
        <td>${o.spends.map(sp => `${tillNo(o, sp.till)}-${sp.seq} ${text(sp.kind)} ${money(sp.amount, o.currency)} ${sp.offline ? "offline" : "grant"}`).join("<br>")}</td></tr>`).join("")}</tbody></table>` : ""}
    ${cardOver.length ? `<h3 id="card-overspends">Over-spent cards</h3><table><thead><tr><th>Card</th><th>Issued</th><th>Redeemed</th><th>Over</th><th>Redemptions</th></tr></thead><tbody>
      ${cardOver.map(o => `<tr><td>${text(o.card)}</td><td class="num">${money(o.limit, o.currency)}</td><td class="num">${money(o.spent, o.currency)}</td><td class="num flag">${money(o.over, o.currency)}</td>
        <td>${o.spends.map(sp => `${sp.till.slice(0, 8)} seq ${sp.seq}: ${money(sp.amount, o.currency)} ${sp.offline ? "without grant" : "grant"}`).join("<br>")}</td></tr>`).join("")}</tbody></table>` : ""}`;
}

// The same figures, under the same names as the cards, in every
// breakdown: Sales total is what customers paid at sales; Total kept is
// that less refunds and voids.
const figHead = "<th>Store</th><th>Sales</th><th>Sales total</th><th>Refunds and voids</th><th>Total kept</th>";
function figCells(r, cur) {
  return `<td class="num">${r.sales}</td><td class="num">${money(r.sales_total, cur)}</td>
    <td class="num">${money(r.refunded + r.voided, cur)}</td><td class="num">${money(r.total, cur)}</td>`;
}

async function loadReport(ev) {
  if (ev) ev.preventDefault();
  if (!stores.length) { stores = await api("GET", "/hq/api/stores"); fillStoreSelects(); }
  const f = $("#report-form");
  const q = new URLSearchParams({ store: f.store.value || "all", from: f.from.value, to: f.to.value });
  const r = await api("GET", "/hq/api/report?" + q);
  const t = r.total, cur = t.currency;
  const cards = [["Sales", t.sales], ["Sales total", money(t.sales_total, cur)], ["Net before tax", money(t.net, cur)],
    ["Tax", money(t.tax, cur)], ["Refunds", t.refunds + " / " + money(t.refunded, cur)],
    ["Voids", t.voids + " / " + money(t.voided, cur)], ["Total kept", money(t.total, cur)], ["Items", t.items],
    ["Cleared carts", (t.cleared || 0) + " / " + money(t.cleared_value || 0, cur)]];
  // Carts cleared without a sale, by who cleared them: the common sign
  // of shrinkage at a till. Names from the staff HQ knows.
  if (!catalog.staff.length) { try { catalog = await api("GET", "/hq/api/catalog"); } catch (e) { /* ids then */ } }
  const staffName = (id) => { const e = catalog.staff.find(x => x.staff.id === id); return e ? e.staff.name : "staff " + id; };
  const cleared = Object.entries(t.cleared_by || {}).sort((a, b) => b[1].value - a[1].value)
    .map(([id, c]) => `<tr><td>${text(staffName(id))}</td><td class="num">${c.count}</td><td class="num">${money(c.value, cur)}</td></tr>`).join("");
  const tenders = Object.entries(t.tenders || {}).map(([k, v]) => `<tr><td>${text(k)}</td><td class="num">${money(v, cur)}</td></tr>`).join("");
  const bands = Object.values(t.bands || {}).map(b => `<tr><td>${(b.Rate / 100).toFixed(2)}%</td><td class="num">${money(b.Net, cur)}</td><td class="num">${money(b.Tax, cur)}</td></tr>`).join("");
  const maxHour = Math.max(1, ...r.hours.map(h => h.total));
  $("#report-out").innerHTML = `<div class="cards">${cards.map(([k, v]) => `<div class="card">${k}<b>${v}</b></div>`).join("")}</div>
    <h3>Tenders</h3><table><tbody>${tenders}</tbody></table>
    <h3>Cleared carts by cashier</h3>${cleared ? `<table id="cleared-by"><thead><tr><th>Cashier</th><th>Carts</th><th>Value</th></tr></thead><tbody>${cleared}</tbody></table>` : "<p>None.</p>"}
    <h3>Tax</h3><table><thead><tr><th>Rate</th><th>Net</th><th>Tax</th></tr></thead><tbody>${bands}</tbody></table>
    <h3>By store</h3><table><thead><tr>${figHead}<th>Tax</th></tr></thead><tbody>
      ${r.stores.map(s => `<tr><td>${text(s.name)}</td>${figCells(s.report, cur)}<td class="num">${money(s.report.tax, cur)}</td></tr>`).join("")}</tbody></table>
    <h3>By day</h3><table><thead><tr>${figHead.replace("Store", "Day")}</tr></thead><tbody>
      ${r.days.map(d => `<tr><td>${d.day}</td>${figCells(d.report, cur)}</tr>`).join("")}</tbody></table>
    <h3>By hour</h3><table><tbody>
      ${r.hours.map(h => `<tr><td>${new Date(h.start).toLocaleString()}</td><td class="num">${h.sales}</td><td class="num">${money(h.total, cur)}</td>
        <td><progress max="${maxHour}" value="${Math.max(0, h.total)}"></progress></td></tr>`).join("")}</tbody></table>
    <h3>By till</h3><table><thead><tr><th>Store</th>${figHead.replace("Store", "Till")}</tr></thead><tbody>
      ${r.tills.map(x => `<tr><td>${text((stores.find(s => s.id === x.store) || {}).name || x.store)}</td><td>Till ${x.number} ${text(x.name)}</td>${figCells(x.report, cur)}</tr>`).join("")}</tbody></table>
    <h3>Top products</h3><p><small>Quantity and amount kept: refunds and voids are taken off.</small></p><table><thead><tr><th>SKU</th><th>Name</th><th>Qty</th><th>Amount kept</th></tr></thead><tbody>
      ${r.products.map(p => `<tr><td>${text(p.sku)}</td><td>${text(p.name)}</td><td class="num">${p.qty}</td><td class="num">${money(p.amount, cur)}</td></tr>`).join("")}</tbody></table>`;
}

async function loadStock(ev) {
  if (ev) ev.preventDefault();
  if (!stores.length) { stores = await api("GET", "/hq/api/stores"); fillStoreSelects(); }
  const rows = await api("GET", "/hq/api/stock?store=" + ($("#stock-form").store.value || "all"));
  $("#stock-table tbody").innerHTML = rows.map(r => `<tr><td>${text((stores.find(s => s.id === r.store) || {}).name || r.store)}</td>
    <td>${text(r.sku)}</td><td>${text(r.name)}</td><td class="num ${r.qty < 0 ? "warn" : ""}">${r.unit === "kg" ? (r.qty / 1000).toFixed(3) + " kg" : r.qty}</td></tr>`).join("");
}

// parseMoney reads "19.99" or "19,99" as minor units (1999), exactly:
// no floating point.
function parseMoney(v, what) {
  const m = String(v).trim().match(/^(\d+)(?:[.,](\d{1,2}))?$/);
  if (!m) throw new Error(`${what} "${v}": write it like 19.99`);
  return Number(m[1]) * 100 + Number((m[2] || "0").padEnd(2, "0"));
}
function minorText(v) { return (Number(v) / 100).toFixed(2); }

let catalog = { products: [], staff: [] };
let editing = null; // the catalog entry loaded into the product form, or null for a new product

async function loadCatalog() {
  if (!stores.length) { stores = await api("GET", "/hq/api/stores"); fillStoreSelects(); }
  catalog = await api("GET", "/hq/api/catalog");
  renderCatalog();
  $("#staff-table tbody").innerHTML = catalog.staff.map(e => `<tr><td>${text(e.staff.id)}</td><td>${text(e.staff.name)}</td><td>${text(e.staff.role)}${e.staff.removed ? " (removed)" : e.staff.inactive ? " (deactivated)" : ""}</td>
    <td>${scopeName(e.store)}</td><td>#${e.cursor} ${ago(e.at)} ${text(e.by)}</td></tr>`).join("");
}

function scopeName(s) { return s ? text((stores.find(x => x.id === s) || {}).name || s) : "all stores"; }

function renderCatalog() {
  const q = $("#catalog-search").value.trim().toLowerCase();
  const rows = catalog.products.filter(e => !q || e.product.sku.toLowerCase().includes(q) ||
    e.product.name.toLowerCase().includes(q) || (e.product.barcodes || []).some(b => b.includes(q)));
  $("#catalog-table tbody").innerHTML = rows.slice(0, 500).map(e => `<tr class="clickable" data-i="${catalog.products.indexOf(e)}">
    <td>${text(e.product.sku)}</td><td>${text(e.product.name)}</td><td><small>${text((e.product.barcodes || []).join(", "))}</small></td>
    <td class="num">${money(e.product.price, e.product.currency)}</td><td>${e.product.tax_rate / 100}%</td><td>${e.product.unit}</td>
    <td>${scopeName(e.store)}</td><td>${e.cursor ? `#${e.cursor} ${ago(e.at)} ${text(e.by)}` : ""}</td></tr>`).join("") ||
    `<tr><td colspan="8">${q ? "No product matches." : "No products yet: a store's catalog appears once its relay reaches HQ."}</td></tr>`;
  $$("#catalog-table tr.clickable").forEach(tr => tr.onclick = () => editProduct(catalog.products[Number(tr.dataset.i)]));
}

// formProduct reads the product form.
function formProduct(f) {
  return {
    sku: f.sku.value.trim(), name: f.name.value.trim(), price: parseMoney(f.price.value, "Price"),
    currency: f.currency.value.trim().toUpperCase(), tax_rate: parseMoney(f.tax_rate.value, "Tax %"), unit: f.unit.value,
    barcodes: f.barcodes.value.split(",").map(s => s.trim()).filter(Boolean)
  };
}

function editProduct(e) {
  const f = $("#product-form");
  editing = e;
  $("#product-error").textContent = "";
  $("#product-status").textContent = "";
  if (!e) {
    f.reset();
    f.sku.readOnly = false;
    $("#product-editing").textContent = "New product";
    f.sku.focus();
    return;
  }
  const p = e.product;
  f.store.value = e.store || "all";
  f.sku.value = p.sku; f.sku.readOnly = true;
  f.name.value = p.name; f.price.value = minorText(p.price); f.currency.value = p.currency;
  f.tax_rate.value = minorText(p.tax_rate); f.unit.value = p.unit; f.barcodes.value = (p.barcodes || []).join(", ");
  $("#product-editing").textContent = `Editing ${p.sku} ${p.name} (${scopeName(e.store)})`;
  f.price.focus();
  f.price.select();
}

// changedFields lists the product fields the form changed against the
// loaded product; a new product sends every field.
function changedFields(before, after) {
  if (!before) return [];
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  return ["name", "barcodes", "price", "currency", "tax_rate", "unit"].filter(k => !same(before[k] || (k === "barcodes" ? [] : before[k]), after[k]));
}

// The catalog import: the file previewed is the file applied.
let importFile = null;

async function importCSV(f, apply) {
  const q = new URLSearchParams({ store: f.store.value, currency: f.currency.value.trim().toUpperCase() });
  if (apply) q.set("apply", "1");
  const r = await fetch("/hq/api/catalog/import?" + q, { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "text/csv", "X-CSRF-Token": csrf }, body: importFile });
  const data = await r.json().catch(() => ({}));
  if (r.status === 401) { showLogin(); }
  return { ok: r.ok, status: r.status, data };
}

// showImport renders a preview, a refusal with every bad row, or an
// applied import; it returns whether there is something to apply.
function showImport(res, apply) {
  const tb = $("#import-table tbody");
  const d = res.data;
  $("#import-table").hidden = false;
  if (res.status === 422) {
    $("#import-error").textContent = `${d.error}: ${d.problems.length} problem${d.problems.length === 1 ? "" : "s"}${d.truncated ? " (the first ones)" : ""}.`;
    tb.innerHTML = d.problems.map(p => `<tr class="bad"><td class="num">${p.line || ""}</td><td>${text(p.sku)}</td><td></td><td class="flag">${text(p.reason)}</td></tr>`).join("");
    return false;
  }
  if (!res.ok) {
    $("#import-table").hidden = true;
    throw new Error(d.error || "import failed (" + res.status + ")");
  }
  const what = c => c.kind === "added" ? "added" : "changed: " + (c.fields || []).join(", ");
  tb.innerHTML = d.changes.map(c => `<tr><td class="num">${c.line}</td><td>${text(c.sku)}</td><td>${text(c.name)}</td><td>${text(what(c))}</td></tr>`).join("") ||
    '<tr><td colspan="4">Nothing to change: every product is as the file says.</td></tr>';
  const sum = `${d.added} to add, ${d.changed} to change, ${d.unchanged} unchanged`;
  $("#import-status").textContent = apply ? `Imported: ${d.added} added, ${d.changed} changed; on their way to the tills.` : `Preview: ${sum}. Nothing is sent until you apply.`;
  return !apply && d.added + d.changed > 0;
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
  $("#catalog-search").oninput = renderCatalog;
  $("#product-new").onclick = () => editProduct(null);
  $("#product-form").onsubmit = formError("#product-error", async f => {
    const p = formProduct(f);
    const fields = changedFields(editing && editing.product, p);
    if (editing && !fields.length) throw new Error("Nothing changed.");
    await api("POST", "/hq/api/products", { store: f.store.value, product: p, fields });
    await loadCatalog();
    const again = catalog.products.find(e => e.product.sku === p.sku && (e.store || "all") === f.store.value);
    editProduct(again || null);
    $("#product-status").textContent = `Saved ${p.sku}` + (fields.length ? ` (${fields.join(", ")})` : "") + ": on its way to the tills.";
  });
  const importForm = $("#import-form");
  const resetImport = () => { $("#import-apply").disabled = true; $("#import-status").textContent = ""; $("#import-error").textContent = ""; };
  importForm.file.onchange = () => { importFile = importForm.file.files[0] || null; resetImport(); $("#import-table").hidden = true; };
  importForm.store.onchange = importForm.currency.oninput = resetImport;
  importForm.onsubmit = formError("#import-error", async f => {
    resetImport();
    if (!importFile) throw new Error("Choose a CSV file first.");
    $("#import-apply").disabled = !showImport(await importCSV(f, false), false);
  });
  $("#import-apply").onclick = async () => {
    $("#import-apply").disabled = true;
    $("#import-error").textContent = "";
    try {
      showImport(await importCSV(importForm, true), true);
      await loadCatalog();
    } catch (e) { $("#import-error").textContent = e.message; }
  };
  $("#staff-form").onsubmit = formError("#staff-error", async f => {
    await api("POST", "/hq/api/staff", { store: f.store.value, id: f.id.value, name: f.name.value, role: f.role.value, pin: f.pin.value });
    f.pin.value = "";
    await loadCatalog();
  });
  $("#staff-status-form").onsubmit = formError("#staff-status-error", async f => {
    const act = f.action.value;
    await api("POST", "/hq/api/staff/status", { store: f.store.value, id: f.id.value, name: f.name.value, role: f.role.value,
      inactive: act === "deactivate", removed: act === "remove" });
    await loadCatalog();
  });
  try { loggedIn(await api("GET", "/hq/api/me")); } catch (e) { showLogin(); }
  setInterval(() => { if (!$("#stores").hidden) loadStores().catch(() => {}); }, 5000);
});
