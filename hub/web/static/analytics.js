// Deskpulse analytics: KPIs, utilisation over time (SVG line), weekday x hour heatmap and
// sortable zone / desk tables with daily sparklines, for the window and site/floor/zone in
// the URL query (?site=&floor=&zone=&from=&to=), so a reload or a shared link shows the
// same report. Every figure comes from /api/v1/utilisation[/timeseries|/heatmap].
// Plain JS, no inline script or style (CSP); text only through textContent.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const MAX_POINTS = 1500;

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("filters"), site: $("f-site"), floor: $("f-floor"), zone: $("f-zone"),
    from: $("f-from"), to: $("f-to"), status: $("live-status"), error: $("error-banner"),
    title: $("scope-title"), window: $("window-text"), series: $("series-chart"),
    heatmap: $("heatmap"), zones: $("zone-table"), desks: $("desk-table"), exports: $("exports"),
    notice: $("url-notice"),
  };
  const Clock = window.DeskpulseClock;
  const DEFAULT_WEEKS = 2;  // the default window: the last two complete weeks, Monday first
  const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
  const state = { sites: [], generation: 0 };

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function percent(value) {
    return value === null || value === undefined || Number.isNaN(value)
      ? "–" : `${Math.round(value * 100)} %`;
  }

  // The last `weeks` complete weeks (Monday to Sunday) before today, in the site's zone:
  // never the partial current day, which is shown apart as "today so far".
  function completeWeeks(timeZone, weeks) {
    const now = Date.now() / 1000;
    const today = Clock.localDate(now, timeZone, 0);
    const weekday = (new Date(`${today}T12:00:00Z`).getUTCDay() + 6) % 7;  // Monday = 0
    return { from: Clock.localDate(now, timeZone, -weekday - 7 * weeks),
      to: Clock.localDate(now, timeZone, -weekday - 1) };
  }

  function validDate(text) {
    if (!ISO_DATE.test(text)) return false;
    const d = new Date(`${text}T12:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
  }

  function showNotice(message) {
    el.notice.textContent = message;
    el.notice.hidden = !message;
  }

  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = !message;
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin",
      headers: { Accept: "application/json" } });
    if (response.status === 401) {
      window.location.assign("/login");
      throw new Error("signed out");
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const body = await response.json();
        detail = typeof body.detail === "string" ? body.detail
          : (body.detail || []).map((d) => d.msg).join("; ");
      } catch (ignored) { /* not JSON */ }
      throw new Error(`${response.status} ${detail}`);
    }
    return response.json();
  }

  // --- filters <-> URL ---------------------------------------------------------------

  // The filters the URL asks for, and what is wrong with them: an unknown site, floor or
  // zone, a zone of another floor, a date that is not one. A link with a problem shows a
  // notice naming what was typed and no report (never another report in its place).
  function readUrl() {
    const q = new URLSearchParams(window.location.search);
    const asked = { site: q.get("site") || "", floor: q.get("floor") || "",
      zone: q.get("zone") || "", from: q.get("from"), to: q.get("to") };
    const problems = [];
    let s = state.sites.find((x) => x.id === asked.site);
    if (asked.site && !s) problems.push(`there is no site "${asked.site}"`);
    s = s || state.sites[0];
    const floors = s ? s.floors : [];
    const floor = floors.find((f) => f.id === asked.floor);
    if (asked.floor && !floor) problems.push(`${s ? s.name : "this site"} has no floor "${asked.floor}"`);
    if (asked.zone) {
      const owner = floors.find((f) => f.zones.some((z) => z.id === asked.zone));
      if (!owner) problems.push(`${s ? s.name : "this site"} has no zone "${asked.zone}"`);
      else if (floor && owner.id !== floor.id) {
        problems.push(`zone "${asked.zone}" is on ${owner.name}, not on ${floor.name}`);
      }
    }
    for (const key of ["from", "to"]) {
      if (asked[key] !== null && !validDate(asked[key])) {
        problems.push(`"${key}=${asked[key]}" is not a date (use YYYY-MM-DD)`);
      }
    }
    const span = completeWeeks(s ? s.timezone : "UTC", DEFAULT_WEEKS);
    const ok = (key) => asked[key] !== null && validDate(asked[key]);
    const f = { site: s ? s.id : "", floor: floor ? floor.id : "",
      zone: problems.length ? "" : asked.zone,
      from: ok("from") ? asked.from : span.from, to: ok("to") ? asked.to : span.to };
    return { f, problems };
  }

  function current() {
    return { site: el.site.value, floor: el.floor.value, zone: el.zone.value,
      from: el.from.value, to: el.to.value };
  }

  function writeUrl(f) {
    const q = new URLSearchParams();
    for (const key of ["site", "floor", "zone", "from", "to"]) if (f[key]) q.set(key, f[key]);
    window.history.replaceState(null, "", `/analytics?${q}`);
  }

  function options(select, items, chosen, allLabel) {
    const nodes = items.map(([value, label]) => {
      const option = make("option", "", label);
      option.value = value;
      return option;
    });
    if (allLabel) {
      const all = make("option", "", allLabel);
      all.value = "";
      nodes.unshift(all);
    }
    select.replaceChildren(...nodes);
    select.value = items.some(([v]) => v === chosen) ? chosen : (allLabel ? "" : items[0]?.[0]);
  }

  function site() {
    return state.sites.find((s) => s.id === el.site.value) || null;
  }

  function fillFilters(f) {
    options(el.site, state.sites.map((s) => [s.id, s.name]), f.site, null);
    const s = site();
    const floors = s ? [...s.floors].sort((a, b) => a.level - b.level) : [];
    options(el.floor, floors.map((fl) => [fl.id, fl.name]), f.floor, "All floors");
    const zones = floors.filter((fl) => !el.floor.value || fl.id === el.floor.value)
      .flatMap((fl) => fl.zones);
    options(el.zone, zones.map((z) => [z.id, z.name]), f.zone, "All zones");
    el.from.value = f.from;
    el.to.value = f.to;
  }

  // --- the scope: zone, else floor, else site ---------------------------------------

  function scope(f) {
    if (f.zone) return { group: "zone", key: f.zone };
    if (f.floor) return { group: "floor", key: f.floor };
    return { group: "site", key: f.site };
  }

  function query(f, group) {
    const q = new URLSearchParams({ site: f.site, group, from: f.from, to: f.to });
    return q.toString();
  }

  // --- rendering -----------------------------------------------------------------------

  // "23 Nov – 6 Dec 2026 · Europe/Berlin (CET) · core hours Mon–Fri 08:00–18:00": under
  // every chart's title, so a screenshot of one card still says what it covers.
  function captionWindow(body) {
    const w = body.window;
    const hours = w.start === "00:00" && w.end === "24:00" ? "all day" : `${w.start}–${w.end}`;
    const last = new Date(new Date(w.until).getTime() - 1000);
    const lastDay = Number.isNaN(last.getTime()) ? w.until.slice(0, 10)
      : Clock.localDate(last.getTime() / 1000, w.timezone, 0);
    return `${w.from.slice(0, 10)} to ${lastDay} · times in ${w.timezone} `
      + `(${Clock.zoneName(w.timezone)}) · core hours ${w.days.join(" ")} ${hours}`;
  }

  function describeWindow(body) {
    const w = body.window;
    const hours = w.start === "00:00" && w.end === "24:00" ? "all day" : `${w.start}–${w.end}`;
    const closed = w.closed.length ? `, ${w.closed.length} closed day(s) removed` : "";
    return `Window: ${w.from.slice(0, 16).replace("T", " ")} to ` +
      `${w.until.slice(0, 16).replace("T", " ")} (${w.timezone}), core hours ` +
      `${w.days.join(" ")} ${hours}${closed} · metrics spec ${body.spec_version}`;
  }

  function setKpi(name, value, text) {
    const node = document.querySelector(`[data-kpi="${name}"]`);
    node.textContent = text;
    node.dataset.value = value === null || value === undefined ? "" : String(value);
  }

  function renderKpis(row) {
    const c = row ? row.concurrent : {};
    setKpi("average", c.average, percent(c.average));
    setKpi("peak", c.peak, percent(c.peak));
    setKpi("average_peak", c.average_peak, percent(c.average_peak));
    setKpi("time_utilisation", row?.time_utilisation, percent(row?.time_utilisation));
    const never = row ? row.never_used : null;
    setKpi("never_used", never?.desks, never ? String(never.desks) : "–");
    document.querySelector('[data-kpi-note="never_used"]').textContent =
      never ? `of ${never.seen_desks} desks with data` : "of desks with data";
    setKpi("surplus", row?.surplus, row && row.surplus !== null ? `${row.surplus} desks` : "–");
    setKpi("coverage", row?.coverage, percent(row?.coverage));
  }

  // Averages U over runs of bins so a long window stays a readable line.
  function downsample(labels, values) {
    const step = Math.max(1, Math.ceil(values.length / MAX_POINTS));
    if (step === 1) return { labels, values };
    const out = { labels: [], values: [] };
    for (let i = 0; i < values.length; i += step) {
      const part = values.slice(i, i + step).filter((v) => v !== null);
      out.labels.push(labels[i]);
      out.values.push(part.length ? part.reduce((a, b) => a + b, 0) / part.length : null);
    }
    return out;
  }

  function renderSeries(body, key) {
    const row = body.results.find((r) => r.key === key);
    if (!row || !body.bins.length) {
      el.series.replaceChildren(make("p", "empty", "No window bins in this range."));
      return;
    }
    const { labels, values } = downsample(body.bins, row.u);
    const W = 900, H = 260, L = 44, R = 10, T = 10, B = 34;
    const x = (i) => L + (labels.length === 1 ? 0 : (i / (labels.length - 1)) * (W - L - R));
    const y = (v) => T + (1 - v) * (H - T - B);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "line-chart", role: "img",
      "aria-label": `Concurrent utilisation U(b) of ${row.name} per bin, 0 to 100 %` });
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      chart.append(svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" },
        `${v * 100}%`));
    }
    let lastDay = "";
    let drawn = 0;
    const dayCount = new Set(labels.map((l) => l.slice(0, 10))).size;
    const every = Math.max(1, Math.ceil(dayCount / 10));
    labels.forEach((label, i) => {
      const day = label.slice(0, 10);
      if (day !== lastDay) {
        if (drawn % every === 0) {
          chart.append(svg("line", { x1: x(i), x2: x(i), y1: T, y2: H - B, class: "day" }));
          chart.append(svg("text", { x: x(i) + 3, y: H - B + 16, class: "axis" },
            day.slice(5)));
        }
        drawn += 1;
        lastDay = day;
      }
    });
    let points = [];
    const flush = () => {
      if (points.length) chart.append(svg("polyline", { points: points.join(" "), class: "u-line" }));
      points = [];
    };
    values.forEach((v, i) => {
      if (v === null) flush();
      else points.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    });
    flush();
    el.series.replaceChildren(chart);
  }

  function renderHeatmap(body, key) {
    const row = body.results.find((r) => r.key === key);
    const table = make("table", "heatmap");
    const head = make("tr");
    const corner = make("th", "", "Day");  // names the column of day headers (axe: no empty header)
    corner.scope = "col";
    head.append(corner);
    for (let h = 0; h < 24; h += 1) {
      const th = make("th", "hour", String(h).padStart(2, "0"));
      th.scope = "col";
      head.append(th);
    }
    const thead = make("thead");
    thead.append(head);
    const tbody = make("tbody");
    DAYS.forEach((day, d) => {
      const tr = make("tr");
      const th = make("th", "", day);
      th.scope = "row";
      tr.append(th);
      for (let h = 0; h < 24; h += 1) {
        const v = row ? row.mean_u[d][h] : null;
        const td = make("td", v === null ? "heat heat-none" : `heat heat-${Math.round(v * 10)}`);
        td.textContent = v === null ? "" : String(Math.round(v * 100));
        td.title = v === null ? `${day} ${h}:00 no data` : `${day} ${h}:00 ${percent(v)}`;
        tr.append(td);
      }
      tbody.append(tr);
    });
    table.append(thead, tbody);
    el.heatmap.replaceChildren(table);
  }

  // Mean U (zones) or occupied / valid time (desks) per local day, for the sparklines.
  function dailyTrend(bins, series, kind) {
    const byDay = new Map();
    bins.forEach((label, i) => {
      const day = label.slice(0, 10);
      if (!byDay.has(day)) byDay.set(day, [0, 0]);
      const acc = byDay.get(day);
      if (kind === "u") {
        if (series.u[i] !== null) { acc[0] += series.u[i]; acc[1] += 1; }
      } else {
        acc[0] += series.occupied_seconds[i]; acc[1] += series.valid_seconds[i];
      }
    });
    return [...byDay.values()].map(([a, b]) => (b > 0 ? a / b : null));
  }

  function sparkline(values) {
    const W = 100, H = 24;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "sparkline", role: "img",
      "aria-label": `daily values: ${values.map(percent).join(", ")}` });
    chart.append(svg("line", { x1: 0, x2: W, y1: H - 1, y2: H - 1, class: "base" }));
    const pts = values.map((v, i) => (v === null ? null : [
      values.length === 1 ? W / 2 : (i / (values.length - 1)) * (W - 4) + 2, H - 2 - v * (H - 4)]));
    const shown = pts.filter(Boolean);
    if (shown.length > 1) {
      chart.append(svg("polyline", { points: shown.map((p) => p.map((n) => n.toFixed(1)).join(","))
        .join(" "), class: "spark-line" }));
    }
    for (const p of shown.slice(-1)) chart.append(svg("circle", { cx: p[0], cy: p[1], r: 2 }));
    return chart;
  }

  function cell(text, value) {
    const td = make("td", value === undefined ? "" : "num", text);
    if (value !== undefined) td.dataset.value = value === null ? "" : String(value);
    return td;
  }

  function fillTable(table, rows) {
    const tbody = table.querySelector("tbody");
    tbody.replaceChildren(...rows.map((cells) => {
      const tr = make("tr");
      tr.append(...cells);
      return tr;
    }));
    if (!rows.length) {
      const tr = make("tr");
      const td = make("td", "empty", "Nothing in this scope.");
      td.colSpan = table.querySelectorAll("thead th").length;
      tr.append(td);
      tbody.append(tr);
    }
    const sorted = table.querySelector("th[aria-sort]");
    if (sorted) sortBy(table, sorted, sorted.getAttribute("aria-sort"));
  }

  function renderZones(report, series, f, s) {
    const floorOf = new Map(s.floors.flatMap((fl) => fl.zones.map((z) => [z.id, fl])));
    const trend = new Map(series.results.map((r) => [r.key, dailyTrend(series.bins, r, "u")]));
    const rows = report.results
      .filter((r) => (!f.floor || floorOf.get(r.key)?.id === f.floor) && (!f.zone || r.key === f.zone))
      .map((r) => {
        const spark = make("td", "spark");
        spark.append(sparkline(trend.get(r.key) || []));
        const name = cell(r.name);
        name.dataset.value = r.name;
        const floorName = floorOf.get(r.key)?.name || "";
        const floor = cell(floorName);
        floor.dataset.value = floorName;
        return [name, floor, cell(String(r.desks), r.desks),
          cell(percent(r.concurrent.average), r.concurrent.average),
          cell(percent(r.concurrent.peak), r.concurrent.peak),
          cell(percent(r.time_utilisation), r.time_utilisation),
          cell(percent(r.coverage), r.coverage), spark];
      });
    fillTable(el.zones, rows);
  }

  function renderDesks(report, series, desks, f, s) {
    const zoneNames = new Map(s.floors.flatMap((fl) => fl.zones.map((z) => [z.id, z.name])));
    const where = new Map(desks.desks.map((d) => [d.id, d]));
    const trend = new Map(series.results.map((r) => [r.key, dailyTrend(series.bins, r, "t")]));
    const rows = report.results.filter((r) => {
      const d = where.get(r.key);
      return d && (!f.floor || d.floor === f.floor) && (!f.zone || d.zone === f.zone);
    }).map((r) => {
      const zone = zoneNames.get(where.get(r.key).zone) || "";
      const name = cell(r.name);
      name.dataset.value = r.name;
      const zoneCell = cell(zone);
      zoneCell.dataset.value = zone;
      const spark = make("td", "spark");
      spark.append(sparkline(trend.get(r.key) || []));
      return [name, zoneCell, cell(percent(r.time_utilisation), r.time_utilisation),
        cell(`${r.used.days} / ${r.used.valid_days}`, r.used.days),
        cell(percent(r.coverage), r.coverage), spark];
    });
    fillTable(el.desks, rows);
  }

  function renderExports(f, sc) {
    const links = [
      ["Key figures", "/api/v1/utilisation", sc.group],
      ["Utilisation over time", "/api/v1/utilisation/timeseries", sc.group],
      ["Heatmap", "/api/v1/utilisation/heatmap", sc.group],
      ["Zones", "/api/v1/utilisation", "zone"],
      ["Desks", "/api/v1/utilisation", "desk"],
    ];
    el.exports.replaceChildren(...links.map(([label, path, group]) => {
      const li = make("li", "", `${label} (${group}): `);
      const csv = make("a", "", "CSV");
      csv.href = `${path}.csv?${query(f, group)}`;
      csv.setAttribute("download", "");
      const json = make("a", "", "JSON");
      json.href = `${path}?${query(f, group)}`;
      li.append(csv, " · ", json);
      return li;
    }));
  }

  // --- sorting -------------------------------------------------------------------------

  function sortBy(table, th, direction) {
    const index = [...th.parentNode.children].indexOf(th);
    const numeric = th.dataset.type === "number";
    const tbody = table.querySelector("tbody");
    const rows = [...tbody.rows].filter((r) => r.cells.length > index);
    const value = (r) => r.cells[index].dataset.value ?? r.cells[index].textContent;
    const sign = direction === "descending" ? -1 : 1;
    rows.sort((a, b) => {
      const va = value(a), vb = value(b);
      if (numeric) {
        if (va === "" || vb === "") return (va === "") - (vb === "");  // no data last
        return sign * (Number(va) - Number(vb));
      }
      return sign * va.localeCompare(vb, undefined, { numeric: true });
    });
    table.querySelectorAll("th[aria-sort]").forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", direction);
    tbody.append(...rows);
  }

  function enableSorting(table) {
    table.querySelectorAll("th[data-key] button").forEach((button) => {
      button.addEventListener("click", () => {
        const th = button.parentNode;
        const next = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        sortBy(table, th, next);
      });
    });
  }

  // --- loading -------------------------------------------------------------------------

  async function load() {
    const f = current();
    writeUrl(f);
    const s = site();
    if (!s) {
      showError("No sites yet: import a building first.");
      return;
    }
    const sc = scope(f);
    const generation = ++state.generation;
    el.status.textContent = "Loading…";
    const names = { site: s.name, floor: el.floor.selectedOptions[0]?.textContent,
      zone: el.zone.selectedOptions[0]?.textContent };
    el.title.textContent = `Utilisation · ${s.name}` +
      (sc.group === "site" ? "" : ` · ${names[sc.group]}`);
    renderExports(f, sc);
    try {
      const base = "/api/v1/utilisation";
      const [report, series, heat, zones, zoneSeries, desks, deskSeries, deskList] =
        await Promise.all([
          getJson(`${base}?${query(f, sc.group)}`),
          getJson(`${base}/timeseries?${query(f, sc.group)}`),
          getJson(`${base}/heatmap?${query(f, sc.group)}`),
          getJson(`${base}?${query(f, "zone")}`),
          getJson(`${base}/timeseries?${query(f, "zone")}`),
          getJson(`${base}?${query(f, "desk")}`),
          getJson(`${base}/timeseries?${query(f, "desk")}`),
          getJson(`/api/v1/desks?site=${encodeURIComponent(f.site)}`),
        ]);
      if (generation !== state.generation) return;
      el.window.textContent = describeWindow(report);
      for (const node of document.querySelectorAll("[data-window-of]")) {
        node.textContent = captionWindow(report);
      }
      renderKpis(report.results.find((r) => r.key === sc.key));
      loadToday(f, sc, generation);
      renderSeries(series, sc.key);
      renderHeatmap(heat, sc.key);
      renderZones(zones, zoneSeries, f, s);
      renderDesks(desks, deskSeries, deskList, f, s);
      showError("");
      el.status.textContent = `Report for ${f.from} to ${f.to}`;
      document.body.dataset.loaded = String(generation);
    } catch (error) {
      if (generation === state.generation) {
        showError(`Could not load the report: ${error.message}`);
        el.status.textContent = "";
      }
    }
  }

  // Today up to now (the API's window without from/to), shown apart from the window.
  async function loadToday(f, sc, generation) {
    try {
      const q = new URLSearchParams({ site: f.site, group: sc.group });
      const body = await getJson(`/api/v1/utilisation?${q}`);
      if (generation !== state.generation) return;
      const row = body.results.find((r) => r.key === sc.key);
      const c = row ? row.concurrent : {};
      const values = { average: c.average, peak: c.peak,
        time_utilisation: row?.time_utilisation, coverage: row?.coverage };
      for (const [key, value] of Object.entries(values)) {
        document.querySelector(`[data-today="${key}"]`).textContent = percent(value);
      }
      const w = body.window;
      $("today-window").textContent = `${w.from.slice(0, 10)}, ${w.from.slice(11, 16)}–`
        + `${w.until.slice(11, 16)} ${Clock.zoneName(w.timezone)} (${w.timezone})`;
    } catch (error) {
      $("today-window").textContent = `could not load: ${error.message}`;
    }
  }

  async function start() {
    enableSorting(el.zones);
    enableSorting(el.desks);
    try {
      state.sites = await getJson("/api/v1/sites");
    } catch (error) {
      showError(`Could not load the building: ${error.message}`);
      return;
    }
    const { f, problems } = readUrl();
    fillFilters(f);
    el.site.addEventListener("change", () => {
      fillFilters({ ...current(), floor: "", zone: "" });
      load();
    });
    el.floor.addEventListener("change", () => {
      fillFilters({ ...current(), zone: "" });
      load();
    });
    el.zone.addEventListener("change", load);
    el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (el.form.reportValidity()) {
        showNotice("");
        load();
      }
    });
    if (problems.length) {
      showNotice(`This link asks for a report that cannot be shown: ${problems.join("; ")}. `
        + "No report is shown for it; choose the filters below and press Apply.");
      el.status.textContent = "No report: see the notice";
      document.body.dataset.loaded = "notice";
      return;
    }
    load();
  }

  start();
})();
