// HQ dashboard charts: sales per hour of the day, per store and per day,
// drawn as plain SVG bars from /hq/api/report (no library). Also keeps
// the reports tab's CSV link in step with its form. app.js sends
// "hq-tab" when a tab it does not load itself is shown.
"use strict";
(() => {
const q = (s) => document.querySelector(s);
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// bars draws labelled bars (values in minor units) into the element.
function bars(el, rows, title) {
  el.replaceChildren();
  const w = Math.max(320, rows.length * 28 + 60), h = 220, top = 24, bottom = 48, left = 56;
  const s = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": title });
  s.append(svg("text", { x: 4, y: 16, class: "chart-title" }, title));
  const max = Math.max(1, ...rows.map(r => r.value));
  const bw = (w - left - 8) / Math.max(1, rows.length);
  for (let i = 0; i <= 4; i++) {
    const y = top + (h - top - bottom) * (1 - i / 4);
    s.append(svg("line", { x1: left, x2: w - 4, y1: y, y2: y, class: "chart-grid" }));
    const unit = Math.pow(10, I18N.format.digits);
    s.append(svg("text", { x: left - 4, y: y + 4, "text-anchor": "end", class: "chart-axis" }, I18N.number(Math.round(max * i / 4 / unit), 0)));
  }
  rows.forEach((r, i) => {
    const bh = (h - top - bottom) * Math.max(0, r.value) / max;
    const x = left + i * bw + 2;
    const bar = svg("rect", { x, y: h - bottom - bh, width: Math.max(1, bw - 4), height: bh, class: "chart-bar" });
    bar.append(svg("title", {}, `${r.label}: ${I18N.money(r.value)}`));
    s.append(bar);
    s.append(svg("text", { x: x + bw / 2 - 2, y: h - bottom + 12, transform: `rotate(45 ${x + bw / 2 - 2} ${h - bottom + 12})`, class: "chart-axis" }, r.label));
  });
  el.append(s);
}

async function load(ev) {
  if (ev) ev.preventDefault();
  const f = q("#chart-form");
  const params = new URLSearchParams({ store: f.store.value || "all", from: f.from.value, to: f.to.value, top: "1" });
  const res = await fetch("/hq/api/report?" + params, { credentials: "same-origin" });
  const r = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(r.error || res.statusText);
  const byHour = Array.from({ length: 24 }, (_, i) => ({ label: String(i).padStart(2, "0"), value: 0 }));
  for (const h of r.hours || []) byHour[new Date(h.start).getHours()].value += h.total;
  // A chain-wide report is served as last computed (chainreport.go):
  // say how old the charts' figures are, as the reports tab does.
  const asOf = q("#chart-as-of");
  asOf.hidden = !r.as_of;
  asOf.querySelector("small").textContent = r.as_of
    ? I18N.t("hq.chart.as_of", { at: I18N.time(r.as_of), age: I18N.number(Math.round((r.age_ms || 0) / 1000), 0) }) : "";
  asOf.dataset.asOf = r.as_of || "";
  bars(q("#chart-hours"), byHour, I18N.t("hq.chart.by_hour"));
  bars(q("#chart-stores"), (r.stores || []).map(s => ({ label: s.name, value: s.report.sales_total })), I18N.t("hq.chart.by_store"));
  bars(q("#chart-days"), (r.days || []).map(d => ({ label: d.day.slice(5), value: d.report.sales_total })), I18N.t("hq.chart.by_day"));
}

function csvLink() {
  const f = q("#report-form"), a = q("#report-csv");
  if (!f || !a) return;
  a.href = "/hq/api/report.csv?" + new URLSearchParams({ store: f.store.value || "all", from: f.from.value, to: f.to.value });
}

document.addEventListener("hq-tab", (e) => { if (e.detail === "charts") load().catch(err => alert(err.message)); });
document.addEventListener("DOMContentLoaded", () => {
  const f = q("#chart-form");
  if (f) f.addEventListener("submit", (e) => load(e).catch(err => alert(err.message)));
  const rf = q("#report-form");
  if (rf) { rf.addEventListener("change", csvLink); rf.addEventListener("submit", csvLink); csvLink(); }
});
})();
