// Deskpulse floor constructor (administrators): sites, floors, zones and desks through the
// JSON API (/api/v1/sites/{site}/...), a PNG/SVG plan per floor, and desks placed on it by
// dragging (pointer events) or with the keyboard (arrow keys, Enter saves, Escape undoes).
// Positions are fractions 0..1 of the plan, drawn exactly as the live floor map draws them.
// Every change sends the page's CSRF token in X-CSRF-Token. Plain JS, no inline script or
// style (CSP); text only through textContent.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const Plan = window.DeskpulsePlan;  // the live map's geometry (plan_geometry.js)
  const STEP = 0.01;
  const BIG_STEP = 0.05;

  const $ = (id) => document.getElementById(id);
  const el = {
    main: $("constructor-main"), select: $("site-select"), notice: $("notice"),
    error: $("error-banner"), tabs: $("floor-tabs"), plan: $("plan"),
    planTitle: $("plan-title"), unplaced: $("unplaced"), unplacedList: $("unplaced-list"),
    deskList: $("desk-list"), zoneList: $("zone-list"), deskEdit: $("desk-edit"),
    deskNone: $("desk-none"), problems: $("import-problems"),
  };
  const csrf = el.main.dataset.csrf;
  // The desk's sensors (constructor_sensors.js); saving replaces the whole list.
  const sensors = window.DeskpulseSensorEditor($("desk-sensors"), (id, list) => change(
    api("PUT", siteUrl(`/desks/${enc(id)}/sensors`), { sensors: list }),
    `Sensors of desk ${id} saved`));

  const state = {
    sites: [], site: null, layout: null, floor: null,
    selected: null,       // desk id
    drafts: new Map(),    // desk id -> {x, y} not yet saved
    drag: null,           // {id, pointerId, moved}
    frame: null,          // {width, height, margin, image}
    marker: window.DeskpulsePlan.DESK,  // {width, height} of every desk marker
    view: null,           // the plan's pan and zoom (floor_view.js)
  };

  class ApiError extends Error {
    constructor(message, body) { super(message); this.body = body; }
  }

  // --- small helpers ---------------------------------------------------------------------

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

  function say(text) { el.notice.textContent = text; }

  function showError(message) {
    el.error.textContent = message || "";
    el.error.hidden = !message;
  }

  const enc = encodeURIComponent;
  const siteUrl = (path) => `/api/v1/sites/${enc(state.site.id)}${path}`;
  const percent = (v) => `${Math.round(v * 100)} %`;

  async function api(method, url, body, contentType) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    let payload;
    if (body instanceof Blob) {
      payload = body;
      headers["Content-Type"] = contentType || body.type || "application/octet-stream";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const response = await fetch(url, { method, headers, body: payload,
      credentials: "same-origin" });
    if (response.status === 401) {
      window.location.assign("/login");
      throw new ApiError("signed out", null);
    }
    if (response.status === 204) return null;
    let data = null;
    try { data = await response.json(); } catch (ignored) { /* not JSON */ }
    if (!response.ok) {
      let detail = data && data.detail;
      if (Array.isArray(detail)) detail = detail.map((d) => d.msg || String(d)).join("; ");
      throw new ApiError(`${response.status}: ${detail || response.statusText}`, data);
    }
    return data;
  }

  // One place for every change: run it, take the new layout, redraw, say what happened.
  async function change(promise, done) {
    showError("");
    try {
      const layout = await promise;
      if (layout && layout.site) setLayout(layout);
      say(done);
      return true;
    } catch (error) {
      showError(`Not saved: ${error.message}`);
      say("");
      return false;
    }
  }

  // --- choosing site and floor (kept in the URL: /admin/floors/<floor>?site=<site>) --------

  function pageUrl(floorId) {
    const path = floorId ? `/admin/floors/${enc(floorId)}` : "/admin/floors";
    return `${path}?site=${enc(state.site.id)}`;
  }

  function floors() {
    return [...state.layout.floors].sort((a, b) => a.level - b.level || a.id.localeCompare(b.id));
  }

  function setLayout(layout) {
    state.layout = layout;
    const list = floors();
    const wanted = state.floor ? state.floor.id : el.main.dataset.floor;
    state.floor = list.find((f) => f.id === wanted) || list[0] || null;
    if (state.selected && !layout.desks.some((d) => d.id === state.selected)) {
      state.selected = null;
    }
    window.history.replaceState(null, "", pageUrl(state.floor && state.floor.id));
    render();
  }

  async function loadLayout() {
    setLayout(await api("GET", siteUrl("/layout")));
  }

  // --- drawing the plan -------------------------------------------------------------------

  function frameFor(floor) {
    const plan = floor && floor.plan;
    return Plan.frameFor(plan, plan
      ? siteUrl(`/floors/${enc(floor.id)}/plan?v=${plan.sha256.slice(0, 12)}`) : null);
  }

  function toPoint(x, y) {
    return Plan.toPoint(state.frame, x, y);
  }

  function toFraction(px, py) {
    const f = Plan.toFraction(state.frame, px, py);
    return { x: Math.round(f.x * 1000) / 1000, y: Math.round(f.y * 1000) / 1000 };
  }

  function floorDesks() {
    return state.layout.desks.filter((d) => state.floor && d.floor === state.floor.id);
  }

  function position(desk) {
    return state.drafts.get(desk.id) || { x: desk.x, y: desk.y };
  }

  function placed(desk) {
    const p = position(desk);
    return typeof p.x === "number" && typeof p.y === "number";
  }

  function deskLabel(desk) {
    const p = position(desk);
    const where = placed(desk) ? `at ${percent(p.x)} across, ${percent(p.y)} down` : "not placed";
    const unsaved = state.drafts.has(desk.id) ? " (not saved: Enter saves)" : "";
    return `${desk.name}, ${where}${unsaved}`;
  }

  function drawDesk(root, desk) {
    const [cx, cy] = toPoint(position(desk).x, position(desk).y);
    const g = svg("g", { class: "map-desk constructor-desk", "data-desk": desk.id,
      tabindex: 0, role: "button", transform: `translate(${cx.toFixed(1)} ${cy.toFixed(1)})`,
      "aria-label": deskLabel(desk), "aria-pressed": String(desk.id === state.selected) });
    if (desk.id === state.selected) g.classList.add("is-selected");
    if (state.drafts.has(desk.id)) g.classList.add("is-draft");
    const m = state.marker;
    const font = m.height * 0.34;
    g.append(svg("rect", { class: "map-desk-shape", x: (-m.width / 2).toFixed(2),
      y: (-m.height / 2).toFixed(2), width: m.width.toFixed(2), height: m.height.toFixed(2),
      rx: (m.height * 0.14).toFixed(2) }));
    g.append(svg("text", { class: "map-desk-name", x: 0, y: (font * 0.35).toFixed(2),
      "text-anchor": "middle", "font-size": font.toFixed(2) },
      Plan.elide(desk.name, m.width * 0.92, font)));
    g.addEventListener("pointerdown", (e) => startDrag(e, desk.id));
    g.addEventListener("pointermove", (e) => moveDrag(e));
    g.addEventListener("pointerup", (e) => endDrag(e));
    g.addEventListener("pointercancel", () => cancelDrag());
    g.addEventListener("keydown", (e) => onKey(e, desk.id));
    g.addEventListener("focus", () => select(desk.id, false));
    root.append(g);
  }

  function renderPlan() {
    state.frame = frameFor(state.floor);
    const f = state.frame;
    const root = svg("svg", { class: "plan-svg", id: "plan-svg", viewBox: `0 0 ${f.width} ${f.height}`,
      role: "group", "aria-label": `Plan of ${state.floor.name}: desks can be dragged` });
    if (f.image) {
      root.append(svg("image", { class: "plan-image", href: f.image, x: 0, y: 0,
        width: f.width, height: f.height, preserveAspectRatio: "none" }));
    } else {
      root.append(svg("rect", { class: "plan-outline", x: 8, y: 8, rx: 14,
        width: f.width - 16, height: f.height - 16 }));
    }
    const desks = floorDesks().sort((a, b) => a.id.localeCompare(b.id));
    // Sized once per drawing from the saved positions, so a drag does not resize them.
    state.marker = Plan.markerSize(desks.filter(placed).map((d) => toPoint(position(d).x,
      position(d).y)));
    for (const desk of desks.filter(placed)) drawDesk(root, desk);
    el.plan.replaceChildren(root);
    // Pan and zoom as on the live map (floor_view.js); dragging a desk moves the desk.
    state.view = window.DeskpulseFloorView.attach(el.plan, root, f, state.marker,
      { ignore: ".constructor-desk", keep: state.view && state.view.state() });
    el.plan.dataset.plan = f.image ? "image" : "outline";
    const off = desks.filter((d) => !placed(d));
    el.unplaced.hidden = off.length === 0;
    el.unplacedList.replaceChildren(...off.map((desk) => {
      const li = make("li");
      const button = make("button", "chip", `Place ${desk.name} on the plan`);
      button.type = "button";
      button.dataset.place = desk.id;
      button.addEventListener("click", () => {
        state.drafts.set(desk.id, { x: 0.5, y: 0.5 });
        saveDraft(desk.id);
      });
      li.append(button);
      return li;
    }));
  }

  function redrawDesk(id) {
    const node = el.plan.querySelector(`[data-desk="${CSS.escape(id)}"]`);
    const desk = state.layout.desks.find((d) => d.id === id);
    if (!node || !desk) return;
    const [cx, cy] = toPoint(position(desk).x, position(desk).y);
    node.setAttribute("transform", `translate(${cx.toFixed(1)} ${cy.toFixed(1)})`);
    node.setAttribute("aria-label", deskLabel(desk));
    node.classList.toggle("is-draft", state.drafts.has(id));
    if (state.selected === id) fillDeskForm(desk);
  }

  // --- moving desks: pointer ------------------------------------------------------------

  function svgPoint(event) {
    const root = $("plan-svg");
    const matrix = root.getScreenCTM();
    if (!matrix) return null;
    const point = root.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    return point.matrixTransform(matrix.inverse());
  }

  function startDrag(event, id) {
    if (event.button !== 0) return;
    event.preventDefault();
    select(id, false);
    event.currentTarget.focus({ preventScroll: true });
    event.currentTarget.setPointerCapture(event.pointerId);
    state.drag = { id, pointerId: event.pointerId, moved: false };
  }

  function moveDrag(event) {
    const drag = state.drag;
    if (!drag || drag.pointerId !== event.pointerId) return;
    const p = svgPoint(event);
    if (!p) return;
    drag.moved = true;
    state.drafts.set(drag.id, toFraction(p.x, p.y));
    redrawDesk(drag.id);
  }

  function endDrag(event) {
    const drag = state.drag;
    if (!drag || drag.pointerId !== event.pointerId) return;
    state.drag = null;
    if (drag.moved) saveDraft(drag.id);
  }

  function cancelDrag() {
    if (state.drag) {
      state.drafts.delete(state.drag.id);
      redrawDesk(state.drag.id);
      state.drag = null;
    }
  }

  // --- moving desks: keyboard -------------------------------------------------------------

  const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  function onKey(event, id) {
    const desk = state.layout.desks.find((d) => d.id === id);
    if (!desk) return;
    if (ARROWS[event.key]) {
      event.preventDefault();
      const [dx, dy] = ARROWS[event.key];
      const step = event.shiftKey ? BIG_STEP : STEP;
      const p = position(desk);
      const clamp = (v) => Math.min(1, Math.max(0, Math.round(v * 1000) / 1000));
      state.drafts.set(id, { x: clamp(p.x + dx * step), y: clamp(p.y + dy * step) });
      redrawDesk(id);
      say(`${desk.name} moved to ${percent(state.drafts.get(id).x)}, `
        + `${percent(state.drafts.get(id).y)}: press Enter to save, Escape to undo`);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      if (state.drafts.has(id)) saveDraft(id);
    } else if (event.key === "Escape") {
      state.drafts.delete(id);
      redrawDesk(id);
      say(`${desk.name}: move undone`);
    }
  }

  async function saveDraft(id) {
    const draft = state.drafts.get(id);
    const desk = state.layout.desks.find((d) => d.id === id);
    if (!draft || !desk) return;
    const ok = await change(api("PATCH", siteUrl(`/desks/${enc(id)}`), draft),
      `${desk.name} saved at ${percent(draft.x)} across, ${percent(draft.y)} down`);
    if (ok) state.drafts.delete(id);
    render();
    const node = el.plan.querySelector(`[data-desk="${CSS.escape(id)}"]`);
    if (node) node.focus({ preventScroll: true });
  }

  // --- the side panels ----------------------------------------------------------------------

  function options(select, items, value, blank) {
    const list = blank ? [{ id: "", name: blank }, ...items] : items;
    select.replaceChildren(...list.map((item) => {
      const option = make("option", "", item.name === item.id || !item.id ? item.name
        : `${item.name} (${item.id})`);
      option.value = item.id;
      option.selected = item.id === (value || "");
      return option;
    }));
  }

  function floorZones() {
    return state.layout.zones.filter((z) => state.floor && z.floor === state.floor.id);
  }

  function select(id, focusForm) {
    if (state.selected === id) return;
    state.selected = id;
    for (const node of el.plan.querySelectorAll(".constructor-desk")) {
      const on = node.dataset.desk === id;
      node.classList.toggle("is-selected", on);
      node.setAttribute("aria-pressed", String(on));
    }
    renderDeskForm();
    if (focusForm) $("desk-name").focus();
  }

  function fillDeskForm(desk) {
    const p = position(desk);
    $("desk-x").value = typeof p.x === "number" ? String(p.x) : "";
    $("desk-y").value = typeof p.y === "number" ? String(p.y) : "";
  }

  function renderDeskForm() {
    const desk = state.layout.desks.find((d) => d.id === state.selected);
    el.deskEdit.hidden = !desk;
    el.deskNone.hidden = Boolean(desk);
    if (!desk) sensors.show(null);
    $("desk-edit-title").textContent = desk ? `Desk ${desk.id}` : "Desk";
    if (!desk) return;
    $("desk-name").value = desk.name;
    options($("desk-zone"), state.layout.zones.filter((z) => z.floor === desk.floor)
      .concat(state.layout.zones.filter((z) => z.floor !== desk.floor)), desk.zone);
    options($("desk-agent"), state.layout.agents.map((a) => ({ id: a, name: a })), desk.agent,
      "any agent of the site");
    $("desk-assigned").checked = desk.assigned;
    fillDeskForm(desk);
    sensors.show(desk);
    const download = $("edge-toml");
    download.hidden = !desk.agent;
    if (desk.agent) {
      download.href = siteUrl(`/agents/${enc(desk.agent)}/edge.toml`);
      download.textContent = `Download edge.toml of agent ${desk.agent}`;
    }
  }

  function renderLists() {
    el.deskList.replaceChildren(...floorDesks().map((desk) => {
      const li = make("li");
      const button = make("button", "chip", desk.name);
      button.type = "button";
      button.dataset.select = desk.id;
      button.setAttribute("aria-label", `Edit desk ${desk.name}`);
      button.addEventListener("click", () => select(desk.id, true));
      li.append(button);
      return li;
    }));
    el.zoneList.replaceChildren(...floorZones().map((zone) => {
      const li = make("li", "row");
      li.dataset.zone = zone.id;
      const input = make("input");
      input.id = `zone-name-${zone.id}`;
      input.value = zone.name;
      input.maxLength = 200;
      const label = make("label", "", `Name of zone ${zone.id}`);
      label.htmlFor = input.id;
      const save = make("button", "", "Rename");
      save.type = "button";
      save.setAttribute("aria-label", `Rename zone ${zone.id}`);
      save.addEventListener("click", () => change(
        api("PATCH", siteUrl(`/zones/${enc(zone.id)}`), { name: input.value }),
        `Zone ${zone.id} renamed`));
      const remove = make("button", "danger", "Delete");
      remove.type = "button";
      remove.setAttribute("aria-label", `Delete zone ${zone.id}`);
      remove.addEventListener("click", () => change(
        api("DELETE", siteUrl(`/zones/${enc(zone.id)}`)), `Zone ${zone.id} deleted`));
      li.append(label, input, save, remove);
      return li;
    }));
    options($("desk-add-zone"), floorZones(), "");
  }

  function renderTabs() {
    el.tabs.replaceChildren(...floors().map((f) => {
      const link = make("a", "floor-tab", f.name);
      link.href = pageUrl(f.id);
      link.dataset.floor = f.id;
      if (state.floor && f.id === state.floor.id) link.setAttribute("aria-current", "page");
      return link;
    }));
  }

  function render() {
    const layout = state.layout;
    el.select.replaceChildren(...state.sites.map((s) => {
      const option = make("option", "", s.name);
      option.value = s.id;
      option.selected = s.id === layout.site.id;
      return option;
    }));
    $("site-name").value = layout.site.name;
    $("site-timezone").value = layout.site.timezone;
    $("export-json").href = siteUrl("/building.json");
    $("export-csv").href = siteUrl("/building.csv");
    renderTabs();
    const hasFloor = Boolean(state.floor);
    for (const id of ["floor-edit", "plan-upload", "zone-add", "desk-add"]) $(id).hidden = !hasFloor;
    if (!hasFloor) {
      el.planTitle.textContent = "No floor yet: add one";
      el.plan.replaceChildren(make("p", "empty", "This site has no floors: add a floor first."));
      el.zoneList.replaceChildren();
      el.deskList.replaceChildren();
      el.unplaced.hidden = true;
      state.selected = null;
      renderDeskForm();
      return;
    }
    el.planTitle.textContent = `Plan of ${state.floor.name}`;
    document.title = `${state.floor.name} · Floor constructor · Deskpulse`;
    $("floor-name").value = state.floor.name;
    $("floor-level").value = String(state.floor.level);
    $("plan-remove").hidden = !state.floor.plan;
    renderPlan();
    renderLists();
    renderDeskForm();
  }

  // --- forms ------------------------------------------------------------------------------

  function value(id) { return $(id).value.trim(); }
  function optional(id) { return value(id) || undefined; }
  function integer(id) { return value(id) === "" ? undefined : Number.parseInt(value(id), 10); }

  function on(id, handler) {
    $(id).addEventListener("submit", (event) => {
      event.preventDefault();
      handler(event.target);
    });
  }

  function wireForms() {
    el.select.addEventListener("change", () => {
      window.location.assign(`/admin/floors?site=${enc(el.select.value)}`);
    });
    on("site-edit", () => change(api("PATCH", siteUrl(""),
      { name: value("site-name"), timezone: value("site-timezone") }), "Site saved"));
    $("site-delete").addEventListener("click", async () => {
      if (await change(api("DELETE", siteUrl("")), "Site deleted")) {
        window.location.assign("/admin/floors");
      }
    });
    on("site-add", async (form) => {
      const id = value("site-add-id");
      if (await change(api("POST", "/api/v1/sites", { id, name: optional("site-add-name"),
        timezone: value("site-add-timezone") }), `Site ${id} added`)) {
        window.location.assign(`/admin/floors?site=${enc(id)}`);
      }
      form.reset();
    });
    on("floor-edit", () => change(api("PATCH", siteUrl(`/floors/${enc(state.floor.id)}`),
      { name: value("floor-name"), level: integer("floor-level") }), "Floor saved"));
    $("floor-delete").addEventListener("click", () => {
      const id = state.floor.id;
      state.floor = null;
      el.main.dataset.floor = "";
      change(api("DELETE", siteUrl(`/floors/${enc(id)}`)), `Floor ${id} deleted`)
        .then((ok) => { if (!ok) loadLayout(); });
    });
    on("floor-add", async (form) => {
      const id = value("floor-add-id");
      const previous = state.floor;
      state.floor = { id };
      const ok = await change(api("POST", siteUrl("/floors"), { id,
        name: optional("floor-add-name"), level: integer("floor-add-level") }),
      `Floor ${id} added`);
      if (ok) form.reset();
      else { state.floor = previous; render(); }
    });
    on("zone-add", async (form) => {
      const id = value("zone-add-id");
      if (await change(api("POST", siteUrl("/zones"), { id, floor: state.floor.id,
        name: optional("zone-add-name") }), `Zone ${id} added`)) form.reset();
    });
    on("desk-add", async (form) => {
      const id = value("desk-add-id");
      // New desks start in the middle of the plan, ready to be dragged into place.
      if (await change(api("POST", siteUrl("/desks"), { id, name: optional("desk-add-name"),
        zone: value("desk-add-zone"), x: 0.5, y: 0.5 }), `Desk ${id} added`)) {
        form.reset();
        select(id, false);
      }
    });
    on("desk-edit", () => {
      const id = state.selected;
      const number = (field) => (value(field) === "" ? null : Number(value(field)));
      change(api("PATCH", siteUrl(`/desks/${enc(id)}`), {
        name: value("desk-name"), zone: value("desk-zone"), agent: value("desk-agent") || null,
        assigned: $("desk-assigned").checked, x: number("desk-x"), y: number("desk-y"),
      }), `Desk ${id} saved`).then((ok) => { if (ok) state.drafts.delete(id); });
    });
    $("desk-delete").addEventListener("click", () => {
      const id = state.selected;
      change(api("DELETE", siteUrl(`/desks/${enc(id)}`)), `Desk ${id} deleted`);
    });
    on("plan-upload", () => {
      const file = $("plan-file").files[0];
      if (!file) { showError("Choose a PNG or SVG file first."); return; }
      const type = file.type || (file.name.toLowerCase().endsWith(".svg") ? "image/svg+xml"
        : "image/png");
      change(api("PUT", siteUrl(`/floors/${enc(state.floor.id)}/plan`), file, type),
        `Plan of ${state.floor.name} uploaded`);
    });
    $("plan-remove").addEventListener("click", () => change(
      api("DELETE", siteUrl(`/floors/${enc(state.floor.id)}/plan`)), "Plan removed"));
    on("import", importFile);
  }

  async function importFile() {
    const file = $("import-file").files[0];
    el.problems.hidden = true;
    if (!file) { showError("Choose a JSON or CSV file first."); return; }
    const type = file.name.toLowerCase().endsWith(".csv") ? "text/csv" : "application/json";
    const dry = $("import-dry-run").checked;
    showError("");
    try {
      const report = await api("POST", `/api/v1/building/import?dry_run=${dry}`, file, type);
      say(`${dry ? "Checked" : "Imported"}: ${report.desks} desks (${report.new_desks} new) `
        + `in ${report.zones} zones on ${report.floors} floors`);
      if (!dry) await loadLayout();
    } catch (error) {
      showError(`Not imported: ${error.message}`);
      const problems = (error.body && error.body.problems) || [];
      el.problems.replaceChildren(...problems.map((p) => make("li", "", `${p.where}: ${p.reason}`)));
      el.problems.hidden = problems.length === 0;
    }
  }

  // --- start ------------------------------------------------------------------------------

  async function start() {
    wireForms();
    try {
      state.sites = await api("GET", "/api/v1/sites");
    } catch (error) {
      showError(`Could not load the building: ${error.message}`);
      return;
    }
    const wanted = new URLSearchParams(window.location.search).get("site");
    const floorId = el.main.dataset.floor;
    state.site = state.sites.find((s) => s.id === wanted)
      || state.sites.find((s) => floorId && s.floors.some((f) => f.id === floorId))
      || state.sites[0] || null;
    if (!state.site) {
      say("No sites yet: add one below.");
      for (const id of ["site-edit", "floor-edit", "floor-add", "plan-upload", "zone-add",
        "desk-add"]) $(id).hidden = true;
      return;
    }
    try {
      await loadLayout();
      say("Ready");
    } catch (error) {
      showError(`Could not load the site: ${error.message}`);
    }
  }

  start();
})();
