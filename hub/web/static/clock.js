// One clock for every page: times in the site's time zone, 24-hour, with the zone named
// ("09:14 CET"), whatever the browser's own zone or locale. Plain JS, no DOM.
"use strict";

(function (root) {
  const cache = new Map();

  function formatter(timeZone, withDate) {
    const key = `${timeZone}|${withDate}`;
    if (!cache.has(key)) {
      const options = { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
        timeZoneName: "short" };
      if (withDate) Object.assign(options, { day: "numeric", month: "short" });
      // en-US names American zones (EST), en-GB European ones (CET); else "GMT+3".
      let chosen = new Intl.DateTimeFormat("en-GB", options);
      const probe = new Intl.DateTimeFormat("en-US", options);
      const zoneName = (f) => (f.formatToParts(new Date()).find((p) => p.type === "timeZoneName")
        || { value: "" }).value;
      if (/^(GMT|UTC)[+-]/.test(zoneName(chosen)) && !/^(GMT|UTC)[+-]/.test(zoneName(probe))) {
        chosen = probe;
      }
      cache.set(key, chosen);
    }
    return cache.get(key);
  }

  function parts(seconds, timeZone, withDate) {
    const out = {};
    for (const p of formatter(timeZone, withDate).formatToParts(new Date(seconds * 1000))) {
      out[p.type] = p.value;
    }
    return out;
  }

  // "09:14 CET" (or "7 Dec, 09:14 CET" when `withDate`).
  function time(seconds, timeZone, withDate) {
    const p = parts(seconds, timeZone, withDate);
    const clock = `${p.hour}:${p.minute} ${p.timeZoneName}`;
    return withDate ? `${p.day} ${p.month}, ${clock}` : clock;
  }

  // The zone's short name now ("CET"), for headings such as "times in CET".
  function zoneName(timeZone) {
    return parts(Date.now() / 1000, timeZone, false).timeZoneName;
  }

  // A duration in words: "2 h 05 min", "12 min", "< 1 min".
  function duration(seconds) {
    const minutes = Math.floor(seconds / 60);
    if (minutes < 1) return "< 1 min";
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
  }

  // A local date (YYYY-MM-DD) of the zone, `days` after the one holding `seconds`.
  function localDate(seconds, timeZone, days) {
    const f = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit",
      day: "2-digit" });
    const base = f.format(new Date(seconds * 1000));
    if (!days) return base;
    const d = new Date(`${base}T12:00:00Z`);
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  root.DeskpulseClock = { time, zoneName, duration, localDate };
})(window);
