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
      msg.textContent = `Saved: ${r.time_zone || "HQ's time zone"}, days end at ${r.day_end || "midnight"}; the store's reports are recounted.`;
    } catch (err) {
      msg.className = "error";
      msg.textContent = err.message;
    }
  });
});
})();
