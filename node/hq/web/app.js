// tillmesh HQ dashboard: plain JS over /hq/api, no build step.
"use strict";
let csrf = "";
let stores = [];

const $ = (s, el = document) => el.querySelector(s);
const $$ = (s, el = document) => [...el.querySelectorAll(s)];

// Words and amounts come from the catalog (ui/i18n/catalog/hq.*.json)
// through I18N (/assets/i18n.js): I18N.t with an hq key for a message,
// data-i18n attributes in the HTML. The language is the HQ user's
// choice, kept in the hq_lang cookie of this browser.
const LANGS = ["en", "ru", "uz"];
function chosenLang() {
  const c = document.cookie.split("; ").find(x => x.startsWith("hq_lang="));
  const v = c ? c.slice(8) : (navigator.language || "en").slice(0, 2).toLowerCase();
  return LANGS.includes(v) ? v : "en";
}
async function useLang(lang) {
  await I18N.load(lang);
  document.cookie = "hq_lang=" + I18N.lang + "; path=/; max-age=31536000; SameSite=Strict";
  I18N.apply();
  $("#lang").value = I18N.lang;
  const f = $("#product-form");
  if (f) f.price.placeholder = priceExample();
  // The forms' currency starts as the chain's.
  for (const form of [f, $("#import-form")]) {
    if (form && !form.currency.dataset.touched) form.currency.value = I18N.format.currency;
  }
}

// money writes an amount as the HQ user's language writes the chain's
// currency (I18N.money); an amount in another currency gets its code.
function money(v, cur) {
  if (!cur || cur === I18N.format.currency) return I18N.money(Number(v || 0));
  return I18N.number(Number(v || 0), I18N.format.digits) + "\u00a0" + cur;
}
function text(v) { const d = document.createElement("span"); d.textContent = v == null ? "" : String(v); return d.innerHTML; }
function ago(ms) {
  if (!ms) return I18N.t("hq.ago.never");
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return I18N.t("hq.ago.s", { n: s });
  if (s < 3600) return I18N.t("hq.ago.min", { n: Math.round(s / 60) });
  if (s < 86400) return I18N.t("hq.ago.h", { n: Math.round(s / 3600) });
  return I18N.t("hq.ago.d", { n: Math.round(s / 86400) });
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
    sel.innerHTML = `<option value="all">${text(I18N.t("hq.all_stores"))}</option>` +
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
      <td>${s.relay_number ? text(I18N.t("hq.till_n", { n: s.relay_number })) : "-"} <small>${text(I18N.t("hq.stores.token", { n: s.fence.token }))}</small></td>
      <td class="${stale ? "warn" : ""}">${ago(s.last_contact)}</td>
      <td class="${s.flagged ? "flag" : s.newer_warning ? "warn" : ""}">${[s.flagged ? text(I18N.t("hq.stores.flagged", { n: s.flagged })) : "", text(s.newer_warning || "")].filter(Boolean).join("; ")}</td></tr>`;
  }).join("") || `<tr><td colspan="7">${text(I18N.t("hq.stores.none"))}</td></tr>`;
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
  const tillNo = (o, id) => o.numbers[id] || id.slice(0, 8);
  const th = (...keys) => keys.map(k => `<th>${text(I18N.t(k))}</th>`).join("");
  const state = (x) => x.flagged ? I18N.t("hq.till.equivocated") : x.revoked ? I18N.t("hq.till.revoked", { seq: x.revoked_after || 0 }) +
    (x.refused ? " " + I18N.t("hq.till.refused", { n: x.refused, seq: x.revoked_after || 0 }) : "") : I18N.t("hq.till.ok");
  $("#store-detail").innerHTML = `<h3>${text(I18N.t("hq.store.tills", { name: s.name }))}</h3>
    <table><thead><tr>${th("hq.col.till", "hq.col.name", "hq.till.release", "hq.till.seq", "hq.till.last_receipt", "hq.till.key", "hq.till.state")}</tr></thead><tbody>
    ${s.tills.map(x => `<tr><td>${x.number || "?"}</td><td>${text(x.name)}</td><td class="release">${text(x.version || I18N.t("hq.till.not_reported"))}</td><td class="num">${x.seq}</td>
      <td class="num last-receipt">${text(x.last_receipt || "-")}</td><td><small>${x.till.slice(0, 16)}</small></td><td class="${x.flagged || x.revoked ? "flag" : "ok"}">${text(state(x))}</td></tr>`).join("")}
    </tbody></table>
    ${s.newer_warning ? `<p class="warn" id="newer-warning">${text(s.newer_warning)}</p>` : ""}
    <p>${text(I18N.t("hq.store.backlog", { n: s.backlog, till: s.relay_number || "-", token: s.fence.token, ago: ago(s.last_contact) }))}</p>
    ${ev.length ? `<h3>${text(I18N.t("hq.store.evidence"))}</h3><table><thead><tr>${th("hq.col.till", "hq.col.seq", "hq.col.reason")}</tr></thead><tbody>
      ${ev.map(e => `<tr><td><small>${e.till.slice(0, 16)}</small></td><td>${e.seq}</td><td>${text(e.reason)}</td></tr>`).join("")}</tbody></table>` : ""}
    ${over.length ? `<h3 id="overspends">${text(I18N.t("hq.over.sales"))}</h3><table><thead><tr>${th("hq.over.sale", "hq.over.taken", "hq.over.given_back", "hq.over.over", "hq.over.why", "hq.over.spends")}</tr></thead><tbody>
      ${over.map(o => `<tr><td>${tillNo(o, o.owner)}-${o.owner_seq}</td><td class="num">${money(o.limit, o.currency)}</td><td class="num">${money(o.spent, o.currency)}</td>
        <td class="num flag">${money(o.over, o.currency)}</td><td>${text(o.reasons.join("; "))}</td>
        <td>${o.spends.map(sp => `${tillNo(o, sp.till)}-${sp.seq} ${text(sp.kind)} ${money(sp.amount, o.currency)} ${text(I18N.t(sp.offline ? "hq.over.offline" : "hq.over.grant"))}`).join("<br>")}</td></tr>`).join("")}</tbody></table>` : ""}
    ${cardOver.length ? `<h3 id="card-overspends">${text(I18N.t("hq.over.cards"))}</h3><table><thead><tr>${th("hq.customers.card", "hq.over.issued", "hq.over.redeemed", "hq.over.over", "hq.over.redemptions")}</tr></thead><tbody>
      ${cardOver.map(o => `<tr><td>${text(o.card)}</td><td class="num">${money(o.limit, o.currency)}</td><td class="num">${money(o.spent, o.currency)}</td><td class="num flag">${money(o.over, o.currency)}</td>
        <td>${o.spends.map(sp => `${text(I18N.t("hq.over.redemption", { till: sp.till.slice(0, 8), seq: sp.seq }))} ${money(sp.amount, o.currency)} ${text(I18N.t(sp.offline ? "hq.over.without_grant" : "hq.over.grant"))}`).join("<br>")}</td></tr>`).join("")}</tbody></table>` : ""}`;
}

// The same figures, under the same names as the cards, in every
// breakdown: Sales total is what customers paid at sales; Total kept is
// that less refunds and voids.
function figHead(first) {
  return [first, "hq.report.sales", "hq.report.sales_total", "hq.report.refunds_voids", "hq.report.total_kept"]
    .map(k => `<th>${text(I18N.t(k))}</th>`).join("");
}
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
  const tot = r.total, cur = tot.currency, mg = r.margin || { net: 0, cost: 0, margin: 0, uncosted: 0 };
  const cards = [["hq.report.sales", tot.sales], ["hq.report.sales_total", money(tot.sales_total, cur)], ["hq.report.net", money(tot.net, cur)],
    ["hq.col.tax", money(tot.tax, cur)], ["hq.report.refunds", tot.refunds + " / " + money(tot.refunded, cur)],
    ["hq.report.voids", tot.voids + " / " + money(tot.voided, cur)], ["hq.report.rounding", money(tot.rounding || 0, cur)],
    ["hq.report.total_kept", money(tot.total, cur)], ["hq.report.items", tot.items],
    // Margins at the cost prices HQ knows now (docs/ARCHITECTURE.md).
    ["hq.report.cost_of_goods", money(mg.cost, cur)], ["hq.report.margin", money(mg.margin, cur)],
    ["hq.report.no_cost_share", I18N.number(mg.net ? Math.round(mg.uncosted * 10000 / mg.net) : 0, 2) + "%"],
    ["hq.report.cleared", (tot.cleared || 0) + " / " + money(tot.cleared_value || 0, cur)]].map(([k, v]) => [I18N.t(k), v]);
  // Carts cleared without a sale, by who cleared them: the common sign
  // of shrinkage at a till. Names from the staff HQ knows.
  if (!catalog.staff.length) { try { catalog = await api("GET", "/hq/api/catalog"); } catch (e) { /* ids then */ } }
  const staffName = (id) => { const e = catalog.staff.find(x => x.staff.id === id); return e ? e.staff.name : I18N.t("hq.staff_n", { id }); };
  const cleared = Object.entries(tot.cleared_by || {}).sort((a, b) => b[1].value - a[1].value)
    .map(([id, c]) => `<tr><td>${text(staffName(id))}</td><td class="num">${c.count}</td><td class="num">${money(c.value, cur)}</td></tr>`).join("");
  const tenderName = { cash: "hq.tender.cash", card: "hq.tender.card", other: "hq.tender.other_kind", gift_card: "hq.tender.gift_card", store_credit: "hq.tender.store_credit" };
  const tenders = Object.entries(tot.tenders || {}).map(([k, v]) => `<tr><td>${text(tenderName[k] ? I18N.t(tenderName[k]) : k)}</td><td class="num">${money(v, cur)}</td></tr>`).join("");
  const bands = Object.values(tot.bands || {}).map(b => `<tr><td>${I18N.number(b.Rate, 2)}%</td><td class="num">${money(b.Net, cur)}</td><td class="num">${money(b.Tax, cur)}</td></tr>`).join("");
  const h3 = (k) => `<h3>${text(I18N.t(k))}</h3>`;
  const th = (...keys) => keys.map(k => `<th>${text(I18N.t(k))}</th>`).join("");
  const maxHour = Math.max(1, ...r.hours.map(h => h.total));
  // A chain-wide report is served as last computed, with its age
  // (chainreport.go): say how old it is.
  const asOf = r.as_of ? `<p class="as-of"><small>${text(I18N.t("hq.report.as_of", { at: I18N.time(r.as_of), age: I18N.number(Math.round(r.age_ms / 1000), 0) }))}</small></p>` : "";
  $("#report-out").innerHTML = `${asOf}<div class="cards">${cards.map(([k, v]) => `<div class="card">${text(k)}<b>${v}</b></div>`).join("")}</div>
    ${h3("hq.report.tenders")}<table><tbody>${tenders}</tbody></table>
    ${h3("hq.report.cleared_by")}${cleared ? `<table id="cleared-by"><thead><tr>${th("hq.report.cashier", "hq.report.carts", "hq.report.value")}</tr></thead><tbody>${cleared}</tbody></table>` : `<p>${text(I18N.t("hq.none"))}</p>`}
    ${h3("hq.col.tax")}<table><thead><tr>${th("hq.report.rate", "hq.report.net_short", "hq.col.tax")}</tr></thead><tbody>${bands}</tbody></table>
    ${h3("hq.report.by_store")}<table><thead><tr>${figHead("hq.col.store")}${th("hq.col.tax", "hq.report.margin")}</tr></thead><tbody>
      ${r.stores.map(s => `<tr><td>${text(s.name)}</td>${figCells(s.report, cur)}<td class="num">${money(s.report.tax, cur)}</td><td class="num">${money((s.margin || {}).margin || 0, cur)}</td></tr>`).join("")}</tbody></table>
    ${h3("hq.report.by_day")}<table><thead><tr>${figHead("hq.col.day")}</tr></thead><tbody>
      ${r.days.map(d => `<tr><td>${I18N.date(d.day + "T12:00:00")}</td>${figCells(d.report, cur)}</tr>`).join("")}</tbody></table>
    ${h3("hq.report.by_hour")}<table><tbody>
      ${r.hours.map(h => `<tr><td>${I18N.date(h.start)} ${I18N.time(h.start)}</td><td class="num">${h.sales}</td><td class="num">${money(h.total, cur)}</td>
        <td><progress max="${maxHour}" value="${Math.max(0, h.total)}"></progress></td></tr>`).join("")}</tbody></table>
    ${h3("hq.report.by_till")}<table><thead><tr>${th("hq.col.store")}${figHead("hq.col.till")}</tr></thead><tbody>
      ${r.tills.map(x => `<tr><td>${text((stores.find(s => s.id === x.store) || {}).name || x.store)}</td><td>${text(I18N.t("hq.till_named", { n: x.number, name: x.name }))}</td>${figCells(x.report, cur)}</tr>`).join("")}</tbody></table>
    ${h3("hq.report.top")}<p><small>${text(I18N.t("hq.report.top_note"))}</small></p><table><thead><tr>${th("hq.col.sku", "hq.col.name", "hq.col.qty", "hq.report.amount_kept")}</tr></thead><tbody>
      ${r.products.map(p => `<tr><td>${text(p.sku)}</td><td>${text(p.name)}</td><td class="num">${p.qty}</td><td class="num">${money(p.amount, cur)}</td></tr>`).join("")}</tbody></table>`;
}

async function loadStock(ev) {
  if (ev) ev.preventDefault();
  if (!stores.length) { stores = await api("GET", "/hq/api/stores"); fillStoreSelects(); }
  const rows = await api("GET", "/hq/api/stock?store=" + ($("#stock-form").store.value || "all"));
  $("#stock-table tbody").innerHTML = rows.map(r => `<tr><td>${text((stores.find(s => s.id === r.store) || {}).name || r.store)}</td>
    <td>${text(r.sku)}</td><td>${text(r.name)}</td><td class="num ${r.qty < 0 ? "warn" : ""}">${r.unit === "kg" ? I18N.number(r.qty, 3) + " " + text(I18N.t("hq.unit.kg")) : r.qty}</td></tr>`).join("");
}

// priceExample is how a price of the chain's currency is typed here:
// "19.99" in English euros, "12 000" in Uzbek so'm.
function priceExample() { return I18N.number(I18N.format.digits ? 1999 : 12000, I18N.format.digits); }

// parsePrice reads a price as the user's language writes the chain's
// currency (I18N.parseMoney: its decimal mark and decimals), in minor
// units, exactly: no floating point.
function parsePrice(v, what) {
  try { return I18N.parseMoney(v); } catch (e) {
    throw new Error(I18N.t("hq.price_format", { what, text: v, example: priceExample(), why: e.message }));
  }
}
function priceText(v) { return I18N.number(Number(v), I18N.format.digits).replace(/[\s\u00a0\u202f]/g, ""); }

// parseRate reads a tax rate in percent, "7" or "8.25", as basis points.
function parseRate(v) {
  const m = String(v).trim().match(/^(\d+)(?:[.,](\d{1,2}))?$/);
  if (!m) throw new Error(I18N.t("hq.rate_format", { text: v }));
  return Number(m[1]) * 100 + Number((m[2] || "0").padEnd(2, "0"));
}
function rateText(v) { return I18N.number(Number(v), 2); }

let catalog = { products: [], staff: [] };
let editing = null; // the catalog entry loaded into the product form, or null for a new product

async function loadCatalog() {
  if (!stores.length) { stores = await api("GET", "/hq/api/stores"); fillStoreSelects(); }
  catalog = await api("GET", "/hq/api/catalog");
  renderCatalog();
  const role = (r) => ({ cashier: I18N.t("hq.role.cashier"), supervisor: I18N.t("hq.role.supervisor"), manager: I18N.t("hq.role.manager") })[r] || r;
  $("#staff-table tbody").innerHTML = catalog.staff.map(e => `<tr><td>${text(e.staff.id)}</td><td>${text(e.staff.name)}</td><td>${text(role(e.staff.role))}${e.staff.removed ? " " + text(I18N.t("hq.staff.removed")) : e.staff.inactive ? " " + text(I18N.t("hq.staff.deactivated")) : ""}</td>
    <td>${scopeName(e.store)}</td><td>#${e.cursor} ${ago(e.at)} ${text(e.by)}</td></tr>`).join("");
}

function scopeName(s) { return s ? text((stores.find(x => x.id === s) || {}).name || s) : text(I18N.t("hq.all_stores_lower")); }

function renderCatalog() {
  const q = $("#catalog-search").value.trim().toLowerCase();
  const rows = catalog.products.filter(e => !q || e.product.sku.toLowerCase().includes(q) ||
    e.product.name.toLowerCase().includes(q) || (e.product.barcodes || []).some(b => b.includes(q)));
  $("#catalog-table tbody").innerHTML = rows.slice(0, 500).map(e => `<tr class="clickable" data-i="${catalog.products.indexOf(e)}">
    <td>${text(e.product.sku)}</td><td>${text(e.product.name)}</td><td><small>${text((e.product.barcodes || []).join(", "))}</small></td>
    <td class="num">${money(e.product.price, e.product.currency)}</td><td>${I18N.number(e.product.tax_rate, 2)}%</td><td>${text(I18N.t(e.product.unit === "kg" ? "hq.unit.kg" : "hq.unit.ea"))}</td>
    <td>${scopeName(e.store)}</td><td>${e.cursor ? `#${e.cursor} ${ago(e.at)} ${text(e.by)}` : ""}</td></tr>`).join("") ||
    `<tr><td colspan="8">${text(I18N.t(q ? "hq.catalog.no_match" : "hq.catalog.empty"))}</td></tr>`;
  $$("#catalog-table tr.clickable").forEach(tr => tr.onclick = () => editProduct(catalog.products[Number(tr.dataset.i)]));
}

// formProduct reads the product form.
function formProduct(f) {
  return {
    sku: f.sku.value.trim(), name: f.name.value.trim(), price: parsePrice(f.price.value, I18N.t("hq.col.price")),
    currency: f.currency.value.trim().toUpperCase(), tax_rate: parseRate(f.tax_rate.value), unit: f.unit.value,
    cost: f.cost.value.trim() ? parsePrice(f.cost.value, I18N.t("hq.catalog.cost")) : 0,
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
    f.currency.value = I18N.format.currency;
    f.sku.readOnly = false;
    $("#product-editing").textContent = I18N.t("hq.catalog.new");
    f.sku.focus();
    return;
  }
  const p = e.product;
  f.store.value = e.store || "all";
  f.sku.value = p.sku; f.sku.readOnly = true;
  f.name.value = p.name; f.price.value = priceText(p.price); f.currency.value = p.currency;
  f.cost.value = p.cost ? priceText(p.cost) : "";
  f.tax_rate.value = rateText(p.tax_rate); f.unit.value = p.unit; f.barcodes.value = (p.barcodes || []).join(", ");
  $("#product-editing").textContent = I18N.t("hq.catalog.editing", { sku: p.sku, name: p.name, store: e.store ? ((stores.find(x => x.id === e.store) || {}).name || e.store) : I18N.t("hq.all_stores_lower") });
  f.price.focus();
  f.price.select();
}

// changedFields lists the product fields the form changed against the
// loaded product; a new product sends every field.
function changedFields(before, after) {
  if (!before) return [];
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const changed = ["name", "barcodes", "price", "currency", "tax_rate", "unit"].filter(k => !same(before[k] || (k === "barcodes" ? [] : before[k]), after[k]));
  if ((before.cost || 0) !== (after.cost || 0)) changed.push("cost"); // an emptied cost clears it
  return changed;
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
    $("#import-error").textContent = `${d.error}: ${I18N.tn("hq.import.problems", d.problems.length)}${d.truncated ? " " + I18N.t("hq.import.first_ones") : ""}.`;
    tb.innerHTML = d.problems.map(p => `<tr class="bad"><td class="num">${p.line || ""}</td><td>${text(p.sku)}</td><td></td><td class="flag">${text(p.reason)}</td></tr>`).join("");
    return false;
  }
  if (!res.ok) {
    $("#import-table").hidden = true;
    throw new Error(d.error || I18N.t("hq.import.failed", { status: res.status }));
  }
  const what = c => c.kind === "added" ? I18N.t("hq.import.added") : I18N.t("hq.import.changed", { fields: (c.fields || []).join(", ") });
  tb.innerHTML = d.changes.map(c => `<tr><td class="num">${c.line}</td><td>${text(c.sku)}</td><td>${text(c.name)}</td><td>${text(what(c))}</td></tr>`).join("") ||
    `<tr><td colspan="4">${text(I18N.t("hq.import.nothing"))}</td></tr>`;
  $("#import-status").textContent = apply ? I18N.t("hq.import.imported", { added: d.added, changed: d.changed }) :
    I18N.t("hq.import.preview_sum", { added: d.added, changed: d.changed, unchanged: d.unchanged });
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
  try { await useLang(chosenLang()); } catch (e) { await useLang("en").catch(() => {}); }
  $("#lang").onchange = async () => {
    await useLang($("#lang").value);
    const tab = $$(".tab").find(x => !x.hidden);
    if (tab) show(tab.id);
  };
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
  $$("input[name=currency]").forEach(i => i.addEventListener("input", () => { i.dataset.touched = "1"; }));
  $("#catalog-search").oninput = renderCatalog;
  $("#product-new").onclick = () => editProduct(null);
  $("#product-form").onsubmit = formError("#product-error", async f => {
    const p = formProduct(f);
    const fields = changedFields(editing && editing.product, p);
    if (editing && !fields.length) throw new Error(I18N.t("hq.catalog.nothing_changed"));
    await api("POST", "/hq/api/products", { store: f.store.value, product: p, fields });
    await loadCatalog();
    const again = catalog.products.find(e => e.product.sku === p.sku && (e.store || "all") === f.store.value);
    editProduct(again || null);
    $("#product-status").textContent = I18N.t(fields.length ? "hq.catalog.saved_fields" : "hq.catalog.saved", { sku: p.sku, fields: fields.join(", ") });
  });
  const importForm = $("#import-form");
  const resetImport = () => { $("#import-apply").disabled = true; $("#import-status").textContent = ""; $("#import-error").textContent = ""; };
  importForm.file.onchange = () => { importFile = importForm.file.files[0] || null; resetImport(); $("#import-table").hidden = true; };
  importForm.store.onchange = importForm.currency.oninput = resetImport;
  importForm.onsubmit = formError("#import-error", async f => {
    resetImport();
    if (!importFile) throw new Error(I18N.t("hq.import.choose"));
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
