// The floor map's desk detail panel: opened by clicking a desk or pressing Enter on it.
// Shows the desk's live state and since when (site time, named), whether it is checked in
// (never by whom), its sensor's health and, for managers and administrators, today's
// occupied time and the last 7 days (GET /api/v1/desks/{desk}/summary). Escape or
// "Close" returns focus to the desk. Plain JS, textContent only (CSP).
"use strict";

(function (root) {
  const SVG = "http://www.w3.org/2000/svg";
  const Clock = window.DeskpulseClock;
  const GLYPH = { occupied: "\u25CF", vacant: "\u25CB", unknown: "?", assigned: "\u2013" };
  const SENSOR = {
    reporting: "sensor and agent reporting",
    fault: "sensor fault reported by its agent",
    "agent-offline": "its agent is offline: state unknown until it reconnects",
    "no-agent": "no agent assigned to this desk",
    "not-shown": "not shown for a desk assigned to one person",
  };
  const el = {
    panel: document.getElementById("desk-panel"),
    title: document.getElementById("panel-title"),
    where: document.getElementById("panel-where"),
    state: document.getElementById("panel-state"),
    checkin: document.getElementById("panel-checkin"),
    sensor: document.getElementById("panel-sensor"),
    today: document.getElementById("panel-today"),
    week: document.getElementById("panel-week"),
    figures: document.getElementById("panel-figures"),
    close: document.getElementById("panel-close"),
  };
  let open = null;  // {site, desk, origin}

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function stateLine(desk, timeZone) {
    if (desk.state === "assigned") {
      return "\u2013 assigned to one person: no live state is shown (privacy)";
    }
    const when = desk.since ? ` since ${Clock.time(desk.since, timeZone, true)}` : "";
    return `${GLYPH[desk.state] || "?"} ${desk.state}${when}`;
  }

  function percent(v) {
    return v === null || v === undefined ? "no data" : `${Math.round(v * 100)} %`;
  }

  // Seven bars, one per local day (time utilisation, metric 2); hatched = no data.
  function weekChart(days) {
    const W = 210, H = 56, bar = 22;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H + 14}`, class: "panel-week-chart",
      role: "img", "aria-label": `Time utilisation by day: ${days.map((d) =>
        `${d.date.slice(5)} ${percent(d.time_utilisation)}`).join(", ")}` });
    days.forEach((d, i) => {
      const x = i * 30 + 4;
      const v = d.time_utilisation;
      chart.append(svg("rect", { x, y: 0, width: bar, height: H, class: "week-slot" }));
      if (v === null || v === undefined) {
        chart.append(svg("rect", { x, y: H - 4, width: bar, height: 4, class: "week-none" }));
      } else {
        const h = Math.max(2, v * H);
        chart.append(svg("rect", { x, y: H - h, width: bar, height: h, class: "week-bar" }));
      }
      chart.append(svg("text", { x: x + bar / 2, y: H + 12, "text-anchor": "middle",
        class: "week-day" }, d.date.slice(8)));
    });
    return chart;
  }

  async function load(site, desk) {
    const url = `/api/v1/desks/${encodeURIComponent(desk.id)}/summary?site=${encodeURIComponent(site.id)}`;
    const response = await fetch(url, { credentials: "same-origin",
      headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    return response.json();
  }

  async function show(args) {
    const { site, desk, origin, zoneName } = args;
    open = { site, desk, origin };
    el.panel.hidden = false;
    el.panel.dataset.desk = desk.id;
    el.title.textContent = desk.name;
    el.where.textContent = `Zone ${zoneName}`;
    el.state.textContent = stateLine(desk, site.timezone);
    el.checkin.textContent = "…";
    el.sensor.textContent = "…";
    el.figures.hidden = true;
    el.title.focus();
    try {
      const summary = await load(site, desk);
      if (!open || open.desk.id !== desk.id) return;
      el.checkin.textContent = summary.checked_in === null ? "not shown (privacy)"
        : summary.checked_in ? "checked in (who is never shown)" : "no one checked in";
      el.sensor.textContent = SENSOR[summary.sensor] || summary.sensor;
      if (summary.days) {
        el.today.textContent = `${Clock.duration(summary.today_occupied_seconds)} `
          + `occupied today so far, in core hours (${Clock.zoneName(site.timezone)})`;
        el.week.replaceChildren(weekChart(summary.days));
        el.figures.hidden = false;
      }
      el.panel.dataset.loaded = "true";
    } catch (error) {
      el.sensor.textContent = `could not load: ${error.message}`;
    }
  }

  function close() {
    if (!open) return;
    const { origin } = open;
    open = null;
    el.panel.hidden = true;
    delete el.panel.dataset.loaded;
    if (origin && origin.isConnected) origin.focus();
  }

  // Live changes while the panel is open update its state line.
  function refresh(desks) {
    if (!open) return;
    const desk = desks.get(open.desk.id);
    if (desk) el.state.textContent = stateLine(desk, open.site.timezone);
  }

  el.close.addEventListener("click", close);
  el.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && open) close();
  });

  root.DeskpulseFloorPanel = { open: show, close, refresh };
})(window);
