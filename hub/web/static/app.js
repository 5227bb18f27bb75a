// Deskpulse live floor: polls /api/v1/desks every 2 s, today's utilisation and each zone's
// anonymous device count (/api/v1/zones/live) every 30 s.
// Plain JS, no build step, no inline script or style (the CSP forbids both). All text is
// set through textContent, never innerHTML.
"use strict";

(function () {
  const DESK_POLL_MS = 2000;
  const UTIL_POLL_MS = 30000;
  const PRESENCE_POLL_MS = 30000;
  const STATES = ["occupied", "vacant", "unknown"];
  // "assigned": a desk of one person, never shown live (PRIVACY.md 8); not counted.
  const SHOWN = [...STATES, "assigned"];

  const el = {
    floors: document.getElementById("floors"),
    status: document.getElementById("live-status"),
    error: document.getElementById("error-banner"),
    select: document.getElementById("site-select"),
    selectLabel: document.getElementById("site-select-label"),
    siteName: document.getElementById("site-name"),
    windowText: document.getElementById("window-text"),
    floorTemplate: document.getElementById("floor-template"),
  };

  const state = {
    sites: [],
    site: null,          // the selected site object
    floorViews: new Map(), // floor id -> {root, counts, metrics, zones: Map}
    deskViews: new Map(),  // desk id -> {li, state, since, name}
    zoneNames: new Map(),  // zone id -> name, from /api/v1/sites
    zonePresence: new Map(), // zone id -> the device-count label next to its heading
    lastPresence: null,    // the last /api/v1/zones/live body, re-applied after a rebuild
    presenceTimer: null,
    deskKey: null,         // desk ids + floors/zones, to know when to rebuild the tiles
    deskTimer: null,
    utilTimer: null,
    generation: 0,         // bumps on site change so stale responses are dropped
    lastOk: null,
  };

  class AuthError extends Error {}

  async function getJson(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      throw new AuthError("signed out");
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const body = await response.json();
        if (typeof body.detail === "string") {
          detail = body.detail;
        }
      } catch (ignored) {
        // not JSON: keep the status text
      }
      throw new Error(`${response.status} ${detail}`);
    }
    return response.json();
  }

  function goToLogin() {
    window.location.assign("/login");
  }

  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = !message;
  }

  function percent(value) {
    if (value === null || value === undefined || Number.isNaN(value)) {
      return "–";
    }
    return `${Math.round(value * 100)} %`;
  }

  // "14:04 CET" for today, "Sat 21 Nov, 22:05 CET" for older instants: the site's time
  // zone, 24-hour and named, like every page (static/clock.js).
  function timeFormatter(timeZone) {
    const day = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric",
      month: "short", timeZone });
    const today = day.format(new Date());
    return {
      format(date) {
        const label = day.format(date);
        const time = window.DeskpulseClock.time(date.getTime() / 1000, timeZone);
        return label === today ? time : `${label}, ${time}`;
      },
    };
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  // --- sites ---------------------------------------------------------------------------

  function chooseSite(sites) {
    const wanted = new URLSearchParams(window.location.search).get("site");
    return sites.find((s) => s.id === wanted) || sites[0] || null;
  }

  function renderSitePicker() {
    const several = state.sites.length > 1;
    el.select.hidden = !several;
    el.selectLabel.hidden = !several;
    el.siteName.hidden = several;
    el.select.replaceChildren(
      ...state.sites.map((site) => {
        const option = make("option", "", site.name);
        option.value = site.id;
        option.selected = state.site !== null && site.id === state.site.id;
        return option;
      })
    );
    el.siteName.textContent = state.site ? state.site.name : "";
  }

  function selectSite(site) {
    state.site = site;
    state.zoneNames = new Map(
      (site ? site.floors : []).flatMap((f) => (f.zones || []).map((z) => [z.id, z.name]))
    );
    state.generation += 1;
    state.deskKey = null;  // forces the first render, even of a site without desks
    state.floorViews.clear();
    state.deskViews.clear();
    state.zonePresence.clear();
    state.lastPresence = null;
    el.floors.replaceChildren();
    el.windowText.textContent = "";
    renderSitePicker();
    if (!site) {
      el.floors.append(make("p", "empty", "No sites yet: import a building first."));
      el.status.textContent = "";
      return;
    }
    document.title = `${site.name} · Deskpulse`;
    const url = new URL(window.location.href);
    url.searchParams.set("site", site.id);
    window.history.replaceState(null, "", url);
    restartPolling();
  }

  // --- floors and desk tiles ------------------------------------------------------------

  function buildFloor(floor) {
    const fragment = el.floorTemplate.content.cloneNode(true);
    const root = fragment.querySelector(".floor");
    root.dataset.floor = floor.id;
    root.querySelector(".floor-name").textContent = floor.name;
    const counts = {};
    root.querySelectorAll("[data-count]").forEach((node) => {
      counts[node.dataset.count] = node;
    });
    const metrics = {};
    root.querySelectorAll("[data-metric]").forEach((node) => {
      metrics[node.dataset.metric] = node;
    });
    el.floors.append(root);
    return { root, counts, metrics, zonesBox: root.querySelector(".zones"), zones: new Map() };
  }

  function zoneList(floorView, zoneId, zoneName) {
    let list = floorView.zones.get(zoneId);
    if (!list) {
      const section = make("section", "zone");
      section.append(make("h3", "zone-name", zoneName));
      const presence = make("span", "zone-presence");
      presence.dataset.zone = zoneId;
      presence.hidden = true;
      section.append(presence);
      state.zonePresence.set(zoneId, presence);
      list = make("ul", "desk-grid");
      list.setAttribute("role", "list");
      section.append(list);
      floorView.zonesBox.append(section);
      floorView.zones.set(zoneId, list);
    }
    return list;
  }

  function buildTiles(desks) {
    el.floors.replaceChildren();
    state.floorViews.clear();
    state.deskViews.clear();
    state.zonePresence.clear();
    const floors = [...state.site.floors].sort((a, b) => a.level - b.level);
    for (const floor of floors) {
      state.floorViews.set(floor.id, buildFloor(floor));
    }
    for (const desk of desks) {
      let floorView = state.floorViews.get(desk.floor);
      if (!floorView) {
        floorView = buildFloor({ id: desk.floor, name: desk.floor });
        state.floorViews.set(desk.floor, floorView);
      }
      const li = make("li", "desk");
      li.dataset.desk = desk.id;
      const name = make("span", "desk-name", desk.name);
      const label = make("span", "desk-state");
      const since = make("span", "desk-since");
      li.append(name, label, since);
      const zoneName = state.zoneNames.get(desk.zone) || desk.zone || "Desks";
      zoneList(floorView, desk.zone || "", zoneName).append(li);
      state.deskViews.set(desk.id, { li, label, since, state: null, sinceValue: null });
    }
    for (const view of state.floorViews.values()) {
      if (view.zones.size === 0) {
        view.zonesBox.append(make("p", "empty", "No desks on this floor."));
      }
    }
    if (state.lastPresence) {
      renderPresence(state.lastPresence);
    }
  }

  // "7 devices" / "< 5 devices" (below the privacy threshold) / hidden when no live count.
  function renderPresence(body) {
    state.lastPresence = body;
    const format = timeFormatter(state.site.timezone);
    for (const zone of body.zones) {
      const node = state.zonePresence.get(zone.zone);
      if (!node) {
        continue;
      }
      if (zone.bin === null || zone.bin === undefined) {
        node.textContent = "";
        node.hidden = true;
        node.dataset.presence = "none";
        continue;
      }
      node.textContent = `${zone.label} devices`;
      node.hidden = false;
      node.dataset.presence = zone.suppressed ? "suppressed" : "count";
      const until = format.format(new Date((zone.bin + body.bin_seconds) * 1000));
      node.title = `Anonymous device count in the ${body.bin_seconds / 60} min up to ${until}` +
        (zone.suppressed ? `; counts below ${body.k} are not shown` : "");
    }
  }

  function updateTile(view, desk, format) {
    const deskState = SHOWN.includes(desk.state) ? desk.state : "unknown";
    if (view.state !== deskState) {
      view.li.classList.remove(...SHOWN.map((s) => `desk--${s}`));
      view.li.classList.add(`desk--${deskState}`);
      view.li.dataset.state = deskState;
      view.label.textContent = deskState;
      view.state = deskState;
    }
    if (view.sinceValue !== desk.since) {
      view.sinceValue = desk.since;
      view.since.textContent = desk.since ? `since ${format.format(new Date(desk.since * 1000))}` : "";
    }
    const when = view.since.textContent ? `, ${view.since.textContent}` : "";
    view.li.setAttribute("aria-label", `Desk ${desk.name}: ${deskState}${when}`);
    view.li.title = `${desk.name}: ${deskState}${when}`;
  }

  function renderDesks(body) {
    const desks = body.desks;
    const key = desks.map((d) => `${d.id}/${d.floor}/${d.zone}`).join("|");
    if (key !== state.deskKey) {
      buildTiles(desks);
      state.deskKey = key;
    }
    const format = timeFormatter(state.site.timezone);
    const counts = new Map();
    for (const floorId of state.floorViews.keys()) {
      counts.set(floorId, { occupied: 0, vacant: 0, unknown: 0 });
    }
    for (const desk of desks) {
      const view = state.deskViews.get(desk.id);
      if (view) {
        updateTile(view, desk, format);
        if (STATES.includes(view.state)) counts.get(desk.floor)[view.state] += 1;
      }
    }
    for (const [floorId, floorCounts] of counts) {
      const view = state.floorViews.get(floorId);
      for (const s of STATES) {
        view.counts[s].textContent = String(floorCounts[s]);
      }
    }
    const asOf = format.format(new Date(body.as_of * 1000));
    el.status.textContent = `Live · updated ${asOf}`;
    el.status.classList.remove("is-stale");
    state.lastOk = Date.now();
  }

  function showMetric(node, value) {
    node.textContent = percent(value);
    node.title = value === null || value === undefined
      ? "not enough data in the window yet" : "";
  }

  function renderUtilisation(body) {
    const byFloor = new Map(body.results.map((r) => [r.key, r]));
    for (const [floorId, view] of state.floorViews) {
      const result = byFloor.get(floorId) || {};
      const concurrent = result.concurrent || {};
      showMetric(view.metrics.time_utilisation, result.time_utilisation);
      showMetric(view.metrics.concurrent_average, concurrent.average);
      showMetric(view.metrics.concurrent_peak, concurrent.peak);
      showMetric(view.metrics.coverage, result.coverage);
    }
    // Before core hours (a night, a weekend) every figure is "–": say why, and where the
    // finished weeks are, rather than leave a row of dashes unexplained.
    const none = body.results.every((r) => r.coverage === null || r.coverage === undefined);
    el.windowText.textContent = describeWindow(body) +
      (none ? " · no core hours yet today, so no figures: Analytics has the past weeks" : "");
  }

  // "Mon–Fri 08:00–18:00" from the window's days, compressing runs of weekdays.
  function describeDays(days) {
    const order = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const idx = days.map((d) => order.indexOf(d)).filter((i) => i >= 0).sort((a, b) => a - b);
    if (idx.length === 7) {
      return "every day";
    }
    const runs = [];
    for (const i of idx) {
      const last = runs[runs.length - 1];
      if (last && last[1] === i - 1) {
        last[1] = i;
      } else {
        runs.push([i, i]);
      }
    }
    return runs
      .map(([a, b]) => (a === b ? order[a] : `${order[a]}–${order[b]}`))
      .join(", ");
  }

  function clock(iso) {
    // "2024-05-06T14:32:10.5+02:00" -> "14:32" (the site's local time, as sent)
    const match = /T(\d{2}:\d{2})/.exec(iso || "");
    return match ? match[1] : "";
  }

  function describeWindow(body) {
    const w = body.window || {};
    const hours = w.start === "00:00" && w.end === "24:00" ? "all day" : `${w.start}–${w.end}`;
    const days = describeDays(w.days || []);
    const zone = w.timezone ? window.DeskpulseClock.zoneName(w.timezone) : "";
    return `Utilisation today ${clock(w.from)}–${clock(w.until)} ${zone} (${w.timezone}), ` +
      `core hours ${days} ${hours} · metrics spec ${body.spec_version}`;
  }

  // --- polling -------------------------------------------------------------------------

  function handleFailure(error) {
    if (error instanceof AuthError) {
      goToLogin();
      return;
    }
    el.status.textContent = "Connection lost, retrying…";
    el.status.classList.add("is-stale");
    showError(`Could not refresh: ${error.message}`);
  }

  async function pollDesks(generation) {
    try {
      const site = encodeURIComponent(state.site.id);
      const body = await getJson(`/api/v1/desks?site=${site}`);
      if (generation !== state.generation) {
        return;
      }
      renderDesks(body);
      showError("");
    } catch (error) {
      if (generation === state.generation) {
        handleFailure(error);
      }
    }
    if (generation === state.generation) {
      state.deskTimer = window.setTimeout(() => pollDesks(generation), DESK_POLL_MS);
    }
  }

  async function pollUtilisation(generation) {
    try {
      const site = encodeURIComponent(state.site.id);
      const body = await getJson(`/api/v1/utilisation?site=${site}&group=floor`);
      if (generation === state.generation && state.floorViews.size > 0) {
        renderUtilisation(body);
      }
    } catch (error) {
      if (generation === state.generation) {
        handleFailure(error);
      }
    }
    if (generation === state.generation) {
      state.utilTimer = window.setTimeout(() => pollUtilisation(generation), UTIL_POLL_MS);
    }
  }

  async function pollPresence(generation) {
    try {
      const site = encodeURIComponent(state.site.id);
      const body = await getJson(`/api/v1/zones/live?site=${site}`);
      if (generation === state.generation) {
        renderPresence(body);
      }
    } catch (error) {
      if (generation === state.generation) {
        handleFailure(error);
      }
    }
    if (generation === state.generation) {
      state.presenceTimer = window.setTimeout(() => pollPresence(generation), PRESENCE_POLL_MS);
    }
  }

  async function restartPolling() {
    window.clearTimeout(state.deskTimer);
    window.clearTimeout(state.utilTimer);
    window.clearTimeout(state.presenceTimer);
    const generation = state.generation;
    await pollDesks(generation);  // desks first: the utilisation rows attach to its floors
    if (generation === state.generation) {
      pollUtilisation(generation);
      pollPresence(generation);
    }
  }

  async function loadSites() {
    try {
      state.sites = await getJson("/api/v1/sites");
    } catch (error) {
      handleFailure(error);
      window.setTimeout(loadSites, DESK_POLL_MS * 2);
      return;
    }
    selectSite(chooseSite(state.sites));
  }

  function start() {
    el.select.addEventListener("change", () => {
      const site = state.sites.find((s) => s.id === el.select.value);
      if (site) {
        selectSite(site);
      }
    });
    loadSites();
  }

  start();
})();
