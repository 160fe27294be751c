// HQ dashboard: set a store's business day (time zone, and when its day
// ends for a store open past midnight). Uses app.js's api(), which sends
// the CSRF token.
"use strict";
(() => {
document.addEventListener("DOMContentLoaded", () => {
  const f = document.querySelector("#day-form");
  if (!f) return;
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = document.querySelector("#day-msg");
    try {
      const r = await api("POST", `/hq/api/stores/${encodeURIComponent(f.store.value)}/day`,
        { time_zone: f.tz.value.trim(), day_end: f.end.value.trim() });
      msg.className = "ok";
      msg.textContent = I18N.t("hq.day.saved", { tz: r.time_zone || I18N.t("hq.day.hq_tz"), end: r.day_end || I18N.t("hq.day.midnight") });
    } catch (err) {
      msg.className = "error";
      msg.textContent = err.message;
    }
  });
});
})();
