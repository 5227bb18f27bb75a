// Deskpulse live floor map: desks drawn at their plan positions (x, y in 0..1) as SVG,
// over the floor's plan image when an administrator uploaded one (fractions of its size),
// kept live by Server-Sent Events from /api/v1/desks/stream (a snapshot, then changes);
// each zone's anonymous device count (/api/v1/zones/live) every 30 s. Desks without a
// position are listed as tiles under the plan. No identities, ever.
// Plain JS, no inline script or style (CSP); text only through textContent.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const STATES = ["occupied", "vacant", "unknown"];
  const GLYPH = { occupied: "\u25CF", vacant: "\u25CB", unknown: "?", assigned: "\u2013" };
  // "assigned": a desk of one person, never shown live (PRIVACY.md 8); not counted.
  const SHOWN = [...STATES, "assigned"];
  const PRESENCE_POLL_MS = 30000;
  const RECONNECT_MS = 3000;
  const PLAN = { width: 1000, height: 600, margin: 60 };
  const DESK = { width: 84, height: 44 };

  const el = {
    main: document.getElementById("floor-main"),
    tabs: document.getElementById("floor-tabs"),
    select: document.getElementById("site-select"),
    status: document.getElementById("live-status"),
    error: document.getElementById("error-banner"),
    name: document.getElementById("floor-name"),
    plan: document.getElementById("plan"),
    unplaced: document.getElementById("unplaced"),
    grid: document.getElementById("desk-grid"),
    counts: {},
  };
  document.querySelectorAll("[data-count]").forEach((node) => {
    el.counts[node.dataset.count] = node;
  });

  const state = {
    sites: [], site: null, floor: null,
    desks: new Map(),      // desk id -> desk (whole site, as streamed)
    views: new Map(),      // desk id -> {node, label, kind}
    zoneLabels: new Map(), // zone id -> SVG text node of the zone box
    presence: new Map(),   // zone id -> "7 devices" / "< 5 devices"
    layoutKey: null, source: null, presenceTimer: null,
    plans: new Map(),      // floor id -> {width, height, sha256} of its uploaded plan
    frame: { width: PLAN.width, height: PLAN.height, margin: PLAN.margin, image: null },
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

  function choose() {
    const wantedSite = new URLSearchParams(window.location.search).get("site");
    const wantedFloor = el.main.dataset.floor;
    let site = state.sites.find((s) => s.id === wantedSite);
    if (!site && wantedFloor) {
      site = state.sites.find((s) => s.floors.some((f) => f.id === wantedFloor));
    }
    site = site || state.sites[0] || null;
    const floors = site ? [...site.floors].sort((a, b) => a.level - b.level) : [];
    const floor = floors.find((f) => f.id === wantedFloor) || floors[0] || null;
    return { site, floor };
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

  // With a plan image, x and y are fractions of the image; without, of the outline inside
  // a margin. static/constructor.js places desks with the same mapping.
  function frameFor(floor) {
    const plan = state.plans.get(floor.id);
    if (!plan) return { width: PLAN.width, height: PLAN.height, margin: PLAN.margin, image: null };
    return { width: PLAN.width, height: Math.round((PLAN.width * plan.height) / plan.width),
      margin: 0, image: `/api/v1/sites/${encodeURIComponent(state.site.id)}/floors/`
        + `${encodeURIComponent(floor.id)}/plan?v=${plan.sha256.slice(0, 12)}` };
  }

  function point(desk) {
    const f = state.frame;
    return [f.margin + desk.x * (f.width - 2 * f.margin),
      f.margin + desk.y * (f.height - 2 * f.margin)];
  }

  function floorDesks() {
    return [...state.desks.values()].filter((d) => d.floor === state.floor.id);
  }

  function zoneName(id) {
    const zone = (state.floor.zones || []).find((z) => z.id === id);
    return zone ? zone.name : id || "Desks";
  }

  function drawZones(root, desks) {
    const byZone = new Map();
    for (const desk of desks) {
      const key = desk.zone || "";
      if (!byZone.has(key)) byZone.set(key, []);
      byZone.get(key).push(point(desk));
    }
    for (const [zone, points] of byZone) {
      const xs = points.map((p) => p[0]);
      const ys = points.map((p) => p[1]);
      const padX = DESK.width / 2 + 12;
      const padY = DESK.height / 2 + 26;
      const x = Math.min(...xs) - padX;
      const y = Math.min(...ys) - padY;
      const g = svg("g", { class: "zone-box", "data-zone": zone });
      g.append(svg("rect", { x, y, rx: 10, width: Math.max(...xs) - Math.min(...xs) + 2 * padX,
        height: Math.max(...ys) - Math.min(...ys) + padY + DESK.height / 2 + 12 }));
      const label = svg("text", { x: x + 10, y: y + 17, class: "zone-label" });
      label.append(svg("tspan", { class: "zone-label-name" }, zoneName(zone)));
      const count = svg("tspan", { class: "zone-label-count", dx: 8, "data-zone": zone });
      label.append(count);
      g.append(label);
      root.append(g);
      state.zoneLabels.set(zone, count);
    }
  }

  function drawDesk(root, desk) {
    const [cx, cy] = point(desk);
    const g = svg("g", { class: "map-desk", "data-desk": desk.id, role: "img",
      transform: `translate(${cx.toFixed(1)} ${cy.toFixed(1)})` });
    const title = svg("title");
    g.append(title);
    g.append(svg("rect", { class: "map-desk-shape", x: -DESK.width / 2, y: -DESK.height / 2,
      width: DESK.width, height: DESK.height, rx: 6 }));
    g.append(svg("text", { class: "map-desk-name", x: 0, y: -4, "text-anchor": "middle" },
      desk.name.length > 12 ? `${desk.name.slice(0, 11)}…` : desk.name));
    const label = svg("text", { class: "map-desk-state", x: 0, y: 13, "text-anchor": "middle" });
    g.append(label);
    root.append(g);
    return { node: g, label, title, kind: "svg", state: null };
  }

  function drawTile(desk) {
    const li = make("li", "desk");
    li.dataset.desk = desk.id;
    const label = make("span", "desk-state");
    li.append(make("span", "desk-name", desk.name), label);
    el.grid.append(li);
    return { node: li, label, title: null, kind: "tile", state: null };
  }

  function rebuild() {
    state.views.clear();
    state.zoneLabels.clear();
    el.grid.replaceChildren();
    const desks = floorDesks().sort((a, b) => a.id.localeCompare(b.id));
    const onPlan = desks.filter(placed);
    const off = desks.filter((d) => !placed(d));
    const f = state.frame = frameFor(state.floor);
    const plan = svg("svg", { class: "plan-svg", viewBox: `0 0 ${f.width} ${f.height}`,
      role: "group", "aria-label": `Plan of ${state.floor.name}` });
    if (f.image) {
      plan.append(svg("image", { class: "plan-image", href: f.image, x: 0, y: 0,
        width: f.width, height: f.height, preserveAspectRatio: "none" }));
    } else {
      plan.append(svg("rect", { class: "plan-outline", x: 8, y: 8, rx: 14,
        width: f.width - 16, height: f.height - 16 }));
    }
    drawZones(plan, onPlan);
    for (const desk of onPlan) state.views.set(desk.id, drawDesk(plan, desk));
    for (const desk of off) state.views.set(desk.id, drawTile(desk));
    el.plan.replaceChildren(onPlan.length ? plan : make("p", "empty",
      desks.length ? "No desk of this floor has a plan position yet: shown as a grid below."
        : "No desks on this floor."));
    el.plan.dataset.mode = onPlan.length ? "plan" : "grid";
    el.unplaced.hidden = off.length === 0;
    applyPresence();
  }

  function update(view, desk) {
    const deskState = SHOWN.includes(desk.state) ? desk.state : "unknown";
    if (view.state !== deskState) {
      const classes = view.kind === "svg" ? "map-desk" : "desk";
      view.node.setAttribute("class", `${classes} desk--${deskState}`);
      view.node.dataset.state = deskState;
      view.label.textContent = `${GLYPH[deskState]} ${deskState}`;
      view.state = deskState;
    }
    const text = `${desk.name}: ${deskState}`;
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
    for (const desk of desks) {
      const view = state.views.get(desk.id);
      if (view) {
        update(view, desk);
        if (STATES.includes(view.state)) counts[view.state] += 1;
      }
    }
    for (const s of STATES) el.counts[s].textContent = String(counts[s]);
  }

  // --- live data ---------------------------------------------------------------------

  function receive(body, full) {
    if (full) state.desks.clear();
    for (const desk of body.desks) state.desks.set(desk.id, desk);
    render();
    const at = new Date(body.as_of * 1000);
    el.status.textContent = `Live · updated ${at.toLocaleTimeString([], { hourCycle: "h23" })}`;
    el.status.classList.remove("is-stale");
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
    for (const [zone, node] of state.zoneLabels) {
      const label = state.presence.get(zone);
      node.textContent = label ? `· ${label}` : "";
      node.dataset.presence = label ? "count" : "none";
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
    const { site, floor } = choose();
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

  start();
})();
