// Deskpulse live floor map: desks drawn at their plan positions (x, y in 0..1) as SVG,
// over the floor's plan image when an administrator uploaded one, kept live by
// Server-Sent Events from /api/v1/desks/stream (a snapshot, then changes); each zone's
// anonymous device count (/api/v1/zones/live) every 30 s. Markers are sized from the
// desks' spacing (plan_geometry.js) so that none overlap at any zoom; the plan pans and
// zooms (floor_view.js); every desk is a button that opens its detail panel
// (floor_panel.js). Desks without a position are listed as tiles under the plan.
// No identities, ever. Plain JS, no inline script or style (CSP); text via textContent.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const Plan = window.DeskpulsePlan;
  const Clock = window.DeskpulseClock;
  const STATES = ["occupied", "vacant", "unknown"];
  const GLYPH = { occupied: "\u25CF", vacant: "\u25CB", unknown: "?", assigned: "\u2013" };
  // "assigned": a desk of one person, never shown live (PRIVACY.md 8); not counted.
  const SHOWN = [...STATES, "assigned"];
  const PRESENCE_POLL_MS = 30000;
  const RECONNECT_MS = 3000;

  const el = {
    main: document.getElementById("floor-main"),
    tabs: document.getElementById("floor-tabs"),
    select: document.getElementById("site-select"),
    status: document.getElementById("live-status"),
    error: document.getElementById("error-banner"),
    notice: document.getElementById("url-notice"),
    name: document.getElementById("floor-name"),
    plan: document.getElementById("plan"),
    unplaced: document.getElementById("unplaced"),
    grid: document.getElementById("desk-grid"),
    zoneList: document.getElementById("zone-list"),
    counts: {},
  };
  document.querySelectorAll("[data-count]").forEach((node) => {
    el.counts[node.dataset.count] = node;
  });

  const state = {
    sites: [], site: null, floor: null,
    desks: new Map(),      // desk id -> desk (whole site, as streamed)
    views: new Map(),      // desk id -> {node, label, kind}
    zoneLabels: new Map(), // zone id -> [SVG tspan of the zone box, list item]
    zoneFit: new Map(),    // zone id -> what fitting its box label needs
    presence: new Map(),   // zone id -> "7 devices" / "< 5 devices" / "no data"
    layoutKey: null, source: null, presenceTimer: null,
    plans: new Map(),      // floor id -> {width, height, sha256} of its uploaded plan
    frame: Plan.frameFor(null), marker: Plan.DESK, view: null,
  };

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = !message;
  }

  function showNotice(message) {
    el.notice.textContent = message;
    el.notice.hidden = !message;
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin",
      headers: { Accept: "application/json" } });
    if (response.status === 401) {
      window.location.assign("/login");
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    return response.json();
  }

  // --- site and floor choice (kept in the URL: /floors/<floor>?site=<site>) ------------

  // The site and floor the URL names. An unknown site is said so and nothing is drawn
  // (no silent fallback to another site's map); the server already answers 404 for an
  // unknown floor.
  function choose() {
    const wantedSite = new URLSearchParams(window.location.search).get("site");
    const wantedFloor = el.main.dataset.floor;
    let site = wantedSite ? state.sites.find((s) => s.id === wantedSite) : null;
    if (wantedSite && !site) return { unknownSite: wantedSite };
    if (!site && wantedFloor) {
      site = state.sites.find((s) => s.floors.some((f) => f.id === wantedFloor));
    }
    site = site || state.sites[0] || null;
    const floors = site ? [...site.floors].sort((a, b) => a.level - b.level) : [];
    const floor = wantedFloor ? floors.find((f) => f.id === wantedFloor) : floors[0];
    if (wantedFloor && !floor) return { site, unknownFloor: wantedFloor };
    return { site, floor: floor || null };
  }

  function floorUrl(site, floor) {
    return `/floors/${encodeURIComponent(floor.id)}?site=${encodeURIComponent(site.id)}`;
  }

  function renderChrome() {
    el.select.replaceChildren(...state.sites.map((s) => {
      const option = make("option", "", s.name);
      option.value = s.id;
      option.selected = s.id === state.site.id;
      return option;
    }));
    const floors = [...state.site.floors].sort((a, b) => a.level - b.level);
    el.tabs.replaceChildren(...floors.map((f) => {
      const link = make("a", "floor-tab", f.name);
      link.href = floorUrl(state.site, f);
      link.dataset.floor = f.id;
      if (f.id === state.floor.id) link.setAttribute("aria-current", "page");
      return link;
    }));
    el.name.textContent = state.floor.name;
    document.title = `${state.floor.name} · ${state.site.name} · Deskpulse`;
    window.history.replaceState(null, "", floorUrl(state.site, state.floor));
  }

  // --- drawing -----------------------------------------------------------------------

  function placed(desk) {
    return typeof desk.x === "number" && typeof desk.y === "number";
  }

  function imageUrl(floor, plan) {
    return `/api/v1/sites/${encodeURIComponent(state.site.id)}/floors/`
      + `${encodeURIComponent(floor.id)}/plan?v=${plan.sha256.slice(0, 12)}`;
  }

  function point(desk) {
    return Plan.toPoint(state.frame, desk.x, desk.y);
  }

  function floorDesks() {
    return [...state.desks.values()].filter((d) => d.floor === state.floor.id);
  }

  function zoneName(id) {
    const zone = (state.floor.zones || []).find((z) => z.id === id);
    return zone ? zone.name : id || "Desks";
  }

  // A dashed box around each zone's desks, hugging them (its padding stays inside half the
  // gap between neighbouring markers, so zones side by side do not overlap), with the
  // zone's name and live device count cut to the box's width (the zone list under the
  // map carries them in full).
  function drawZones(root, desks) {
    const byZone = new Map();
    for (const desk of desks) {
      const key = desk.zone || "";
      if (!byZone.has(key)) byZone.set(key, []);
      byZone.get(key).push(point(desk));
    }
    const m = state.marker;
    const pad = m.width * 0.05;
    const font = Math.max(6, Math.min(16, m.height * 0.42));
    for (const [zone, points] of byZone) {
      const xs = points.map((p) => p[0]);
      const ys = points.map((p) => p[1]);
      const x = Math.min(...xs) - m.width / 2 - pad;
      const y = Math.min(...ys) - m.height / 2 - pad - font * 1.4;
      const width = Math.max(...xs) - Math.min(...xs) + m.width + 2 * pad;
      const g = svg("g", { class: "zone-box", "data-zone": zone });
      g.append(svg("rect", { x, y, rx: Math.min(8, pad * 2), width,
        height: Math.max(...ys) - Math.min(...ys) + m.height + 2 * pad + font * 1.4 }));
      const label = svg("text", { x: x + pad + 2, y: y + font * 1.1, class: "zone-label",
        "font-size": font.toFixed(1) });
      const name = svg("tspan", { class: "zone-label-name" });
      const count = svg("tspan", { class: "zone-label-count", dx: font * 0.4, "data-zone": zone });
      label.append(name, count);
      g.append(label);
      root.append(g);
      state.zoneLabels.set(zone, [count]);
      state.zoneFit.set(zone, { name, count, room: width - 2 * pad - 4, font, full: zoneName(zone) });
    }
  }

  // The zone list under the map repeats each zone's desks and live device count in text,
  // readable at any zoom and on a phone.
  function drawZoneList(desks) {
    const zones = [...new Set(desks.map((d) => d.zone || ""))];
    el.zoneList.replaceChildren(...zones.map((zone) => {
      const li = make("li", "zone-item");
      li.dataset.zone = zone;
      const mine = desks.filter((d) => (d.zone || "") === zone);
      li.append(make("span", "zone-item-name", zoneName(zone)));
      const tally = make("span", "zone-item-desks");
      tally.dataset.zoneDesks = zone;
      li.append(tally);
      const count = make("span", "zone-item-count");
      count.dataset.zoneCount = zone;
      li.append(count);
      li.dataset.total = String(mine.length);
      const labels = state.zoneLabels.get(zone) || [];
      state.zoneLabels.set(zone, [...labels, count]);
      return li;
    }));
  }

  function drawDesk(root, desk) {
    const [cx, cy] = point(desk);
    const m = state.marker;
    const g = svg("g", { class: "map-desk", "data-desk": desk.id, tabindex: 0, role: "button",
      "aria-haspopup": "dialog", transform: `translate(${cx.toFixed(1)} ${cy.toFixed(1)})` });
    const title = svg("title");
    g.append(title);
    g.append(svg("rect", { class: "map-desk-shape", x: (-m.width / 2).toFixed(2),
      y: (-m.height / 2).toFixed(2), width: m.width.toFixed(2), height: m.height.toFixed(2),
      rx: (m.height * 0.14).toFixed(2) }));
    const font = m.height * 0.3;
    const name = Plan.elide(desk.name, m.width * 0.92, font);
    g.append(svg("text", { class: "map-desk-name", x: 0, y: (-font * 0.15).toFixed(2),
      "text-anchor": "middle", "font-size": font.toFixed(2) }, name));
    const label = svg("text", { class: "map-desk-state", x: 0, y: (font * 1.05).toFixed(2),
      "text-anchor": "middle", "font-size": (font * 0.9).toFixed(2) });
    g.append(label);
    root.append(g);  // clicks, keys and focus: one delegated listener each (wireDesks)
    return { node: g, label, title, kind: "svg", state: null, room: m.width * 0.92,
      font: font * 0.9 };
  }

  // One listener per kind on the plan for all its desks (a 500-desk floor would otherwise
  // build 1,500 closures per drawing).
  function wireDesks() {
    const deskOf = (event) => event.target.closest && event.target.closest(".map-desk");
    el.plan.addEventListener("click", (event) => {
      const g = deskOf(event);
      if (g) openPanel(g.dataset.desk, g);
    });
    el.plan.addEventListener("keydown", (event) => {
      const g = deskOf(event);
      if (g && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        openPanel(g.dataset.desk, g);
      }
    });
    el.plan.addEventListener("focusin", (event) => {
      const g = deskOf(event);
      const desk = g && state.desks.get(g.dataset.desk);
      if (desk && state.view) state.view.reveal(...point(desk));
    });
  }

  function drawTile(desk) {
    const li = make("li");
    const button = make("button", "desk");
    button.type = "button";
    button.dataset.desk = desk.id;
    const label = make("span", "desk-state");
    button.append(make("span", "desk-name", desk.name), label);
    button.addEventListener("click", () => openPanel(desk.id, button));
    li.append(button);
    el.grid.append(li);
    return { node: button, label, title: null, kind: "tile", state: null };
  }

  function rebuild() {
    state.views.clear();
    state.zoneLabels.clear();
    state.zoneFit.clear();
    el.grid.replaceChildren();
    const desks = floorDesks().sort((a, b) => a.id.localeCompare(b.id));
    const onPlan = desks.filter(placed);
    const off = desks.filter((d) => !placed(d));
    const plan = state.plans.get(state.floor.id);
    const f = state.frame = Plan.frameFor(plan, plan ? imageUrl(state.floor, plan) : null);
    state.marker = Plan.markerSize(onPlan.map(point));
    const root = svg("svg", { class: "plan-svg", id: "plan-svg",
      viewBox: `0 0 ${f.width} ${f.height}`, role: "group",
      "aria-label": `Plan of ${state.floor.name}: ${onPlan.length} desks` });
    const layer = svg("g", { class: "plan-layer" });
    if (f.image) {
      layer.append(svg("image", { class: "plan-image", href: f.image, x: 0, y: 0,
        width: f.width, height: f.height, preserveAspectRatio: "none" }));
    } else {
      layer.append(svg("rect", { class: "plan-outline", x: 8, y: 8, rx: 14,
        width: f.width - 16, height: f.height - 16 }));
    }
    root.append(layer);
    drawZones(layer, onPlan);
    for (const desk of onPlan) state.views.set(desk.id, drawDesk(layer, desk));
    for (const desk of off) state.views.set(desk.id, drawTile(desk));
    drawZoneList(desks);
    if (onPlan.length) {
      el.plan.replaceChildren(root);
      state.view = window.DeskpulseFloorView.attach(el.plan, root, f, state.marker);
    } else {
      state.view = null;
      el.plan.replaceChildren(make("p", "empty", desks.length
        ? "No desk of this floor has a plan position yet: shown as a grid below."
        : "No desks on this floor."));
    }
    el.main.querySelector(".plan-tools").hidden = !onPlan.length;
    el.plan.dataset.mode = onPlan.length ? "plan" : "grid";
    el.unplaced.hidden = off.length === 0;
    applyPresence();
  }

  function since(desk) {
    return desk.since ? ` since ${Clock.time(desk.since, state.site.timezone)}` : "";
  }

  function update(view, desk) {
    const deskState = SHOWN.includes(desk.state) ? desk.state : "unknown";
    if (view.state !== deskState) {
      const classes = view.kind === "svg" ? "map-desk" : "desk";
      view.node.setAttribute("class", `${classes} desk--${deskState}`);
      view.node.dataset.state = deskState;
      const words = `${GLYPH[deskState]} ${deskState}`;
      // On a marker too narrow for the word, the glyph alone (shape still tells the state).
      view.label.textContent = view.kind === "svg" && Plan.elide(words, view.room, view.font)
        !== words ? GLYPH[deskState] : words;
      view.state = deskState;
    }
    const text = `${desk.name}: ${deskState}${since(desk)}`;
    view.node.setAttribute("aria-label", text);
    if (view.title) view.title.textContent = text;
  }

  function render() {
    const desks = floorDesks();
    const key = desks.map((d) => `${d.id}/${d.zone}/${d.x}/${d.y}`).sort().join("|");
    if (key !== state.layoutKey) {
      rebuild();
      state.layoutKey = key;
    }
    const counts = { occupied: 0, vacant: 0, unknown: 0 };
    const perZone = new Map();
    for (const desk of desks) {
      const view = state.views.get(desk.id);
      if (view) {
        update(view, desk);
        if (STATES.includes(view.state)) counts[view.state] += 1;
        const z = desk.zone || "";
        if (!perZone.has(z)) perZone.set(z, { occupied: 0, total: 0 });
        perZone.get(z).total += 1;
        if (view.state === "occupied") perZone.get(z).occupied += 1;
      }
    }
    for (const s of STATES) el.counts[s].textContent = String(counts[s]);
    for (const node of el.zoneList.querySelectorAll("[data-zone-desks]")) {
      const z = perZone.get(node.dataset.zoneDesks) || { occupied: 0, total: 0 };
      node.textContent = `${z.occupied} of ${z.total} desks occupied`;
    }
    if (window.DeskpulseFloorPanel) window.DeskpulseFloorPanel.refresh(state.desks);
  }

  function openPanel(id, origin) {
    window.DeskpulseFloorPanel.open({ site: state.site, desk: state.desks.get(id), origin,
      zoneName: zoneName(state.desks.get(id).zone) });
  }

  // --- live data ---------------------------------------------------------------------

  function receive(body, full) {
    const started = performance.now();
    if (full) state.desks.clear();
    for (const desk of body.desks) state.desks.set(desk.id, desk);
    render();
    // How long drawing took (bench/floor_map.py reads it): the whole floor on a snapshot.
    el.main.dataset[full ? "renderMs" : "updateMs"] = (performance.now() - started).toFixed(1);
    el.status.textContent = `Live · updated ${Clock.time(body.as_of, state.site.timezone)}`;
    el.status.classList.remove("is-stale");
    el.main.dataset.live = String(body.as_of);
    showError("");
  }

  function connect() {
    if (state.source) state.source.close();
    const source = new EventSource(`/api/v1/desks/stream?site=${encodeURIComponent(state.site.id)}`);
    state.source = source;
    source.addEventListener("snapshot", (e) => receive(JSON.parse(e.data), true));
    source.addEventListener("desks", (e) => receive(JSON.parse(e.data), false));
    source.addEventListener("error", () => {
      el.status.textContent = "Connection lost, reconnecting…";
      el.status.classList.add("is-stale");
      if (source.readyState === EventSource.CLOSED) {
        // Refused (e.g. signed out): getJson sends a signed-out browser to /login.
        window.setTimeout(() => getJson("/api/v1/sites").then(connect).catch((err) => {
          showError(`Could not reconnect: ${err.message}`);
          window.setTimeout(connect, RECONNECT_MS);
        }), RECONNECT_MS);
      }
    });
  }

  function applyPresence() {
    for (const [zone, nodes] of state.zoneLabels) {
      const label = state.presence.get(zone) || "no data";
      const [svgCount, ...items] = nodes;
      const fit = state.zoneFit.get(zone);
      if (fit) {  // name first, then as much of the count as the box holds
        const name = Plan.elide(fit.full, fit.room, fit.font);
        fit.name.textContent = name;
        const left = fit.room - (name.length + 1) * fit.font * 0.6;
        svgCount.textContent = name === fit.full ? Plan.elide(`· ${label}`, left, fit.font) : "";
      }
      for (const node of [svgCount, ...items]) {
        if (!node) continue;
        node.dataset.presence = label === "no data" ? "none" : "count";
      }
      for (const node of items) {
        node.textContent = label === "no data" ? "devices: no data in the last 15 minutes"
          : `${label} nearby (anonymous)`;
      }
    }
  }

  async function pollPresence() {
    try {
      const body = await getJson(`/api/v1/zones/live?site=${encodeURIComponent(state.site.id)}`);
      state.presence = new Map(body.zones.filter((z) => z.bin !== null && z.bin !== undefined)
        .map((z) => [z.zone, `${z.label} devices`]));
      applyPresence();
    } catch (error) {
      showError(`Could not load zone counts: ${error.message}`);
    }
    state.presenceTimer = window.setTimeout(pollPresence, PRESENCE_POLL_MS);
  }

  async function start() {
    try {
      state.sites = await getJson("/api/v1/sites");
    } catch (error) {
      showError(`Could not load the building: ${error.message}`);
      return;
    }
    const choice = choose();
    if (choice.unknownSite) {
      showNotice(`There is no site "${choice.unknownSite}". Choose one of the sites below.`);
      el.select.replaceChildren(make("option", "", "Choose a site"), ...state.sites.map((s) => {
        const option = make("option", "", s.name);
        option.value = s.id;
        return option;
      }));
      el.select.addEventListener("change", () => {
        if (el.select.value) window.location.assign(`/floors?site=${encodeURIComponent(el.select.value)}`);
      });
      el.status.textContent = "";
      el.main.querySelector(".map-card").hidden = true;
      return;
    }
    if (choice.unknownFloor) {
      showNotice(`Site ${choice.site.name} has no floor "${choice.unknownFloor}".`);
      el.status.textContent = "";
      el.main.querySelector(".map-card").hidden = true;
      return;
    }
    const { site, floor } = choice;
    if (!site || !floor) {
      el.plan.replaceChildren(make("p", "empty", "No floors yet: import a building first."));
      el.status.textContent = "";
      return;
    }
    state.site = site;
    state.floor = floor;
    try {
      const plans = await getJson(`/api/v1/sites/${encodeURIComponent(site.id)}/plans`);
      state.plans = new Map(plans.map((p) => [p.floor, p]));
    } catch (error) {
      state.plans = new Map();  // the map works without its plan image
    }
    renderChrome();
    el.select.addEventListener("change", () => {
      window.location.assign(`/floors?site=${encodeURIComponent(el.select.value)}`);
    });
    connect();
    pollPresence();
    window.addEventListener("pagehide", () => state.source && state.source.close());
  }

  wireDesks();
  start();
})();
