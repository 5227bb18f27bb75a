// Pan and zoom for the floor map's SVG plan: mouse wheel (around the pointer), drag to
// pan, two-finger pinch, and the +, - and "Fit" buttons of the page. Works by changing
// the SVG viewBox, so markers (drawn in plan units) keep their spacing at every zoom and
// never overlap. Desk names are hidden while they would be smaller than 6 px on screen
// (the focused desk's panel and its aria-label always carry the full name).
"use strict";

(function (root) {
  const MIN_FONT_PX = 6;
  const buttons = {
    zoomIn: document.getElementById("zoom-in"),
    zoomOut: document.getElementById("zoom-out"),
    fit: document.getElementById("zoom-fit"),
    level: document.getElementById("zoom-level"),
  };
  let current = null;

  // `options.ignore`: a selector of elements whose pointer events are theirs (the floor
  // constructor's draggable desks), not a pan; `options.keep`: the view to start from
  // (a redraw of the same plan keeps its zoom).
  function attach(container, svgRoot, frame, marker, options = {}) {
    const full = { x: 0, y: 0, w: frame.width, h: frame.height };
    const minW = Math.min(frame.width, Math.max(marker.width * 5, frame.width / 40));
    const kept = options.keep && options.keep.full.w === full.w && options.keep.full.h === full.h;
    let vb = kept ? { ...options.keep.vb } : { ...full };
    const pointers = new Map();
    let gesture = null;
    let suppressClick = false;

    function apply() {
      svgRoot.setAttribute("viewBox", `${vb.x.toFixed(2)} ${vb.y.toFixed(2)} ${vb.w.toFixed(2)} ${vb.h.toFixed(2)}`);
      const pxPerUnit = svgRoot.clientWidth / vb.w || 1;
      svgRoot.classList.toggle("names-hidden", marker.height * 0.3 * pxPerUnit < MIN_FONT_PX);
      const zoom = full.w / vb.w;
      if (buttons.level) buttons.level.textContent = `${Math.round(zoom * 100)} %`;
      svgRoot.dataset.zoom = zoom.toFixed(3);
    }

    function clampView() {
      vb.w = Math.min(full.w, Math.max(minW, vb.w));
      vb.h = vb.w * (full.h / full.w);
      vb.x = Math.min(full.w - vb.w, Math.max(0, vb.x));
      vb.y = Math.min(full.h - vb.h, Math.max(0, vb.y));
    }

    // Plan coordinates under a client (screen) point.
    function toPlan(clientX, clientY) {
      const box = svgRoot.getBoundingClientRect();
      return { x: vb.x + ((clientX - box.left) / box.width) * vb.w,
        y: vb.y + ((clientY - box.top) / box.height) * vb.h };
    }

    function zoomAt(factor, px, py) {
      const w = Math.min(full.w, Math.max(minW, vb.w / factor));
      const k = w / vb.w;
      vb = { x: px - (px - vb.x) * k, y: py - (py - vb.y) * k, w, h: w * (full.h / full.w) };
      clampView();
      apply();
    }

    function zoomCentre(factor) {
      zoomAt(factor, vb.x + vb.w / 2, vb.y + vb.h / 2);
    }

    function fit() {
      vb = { ...full };
      apply();
    }

    // Bring a plan point into view (keyboard focus on a desk outside the visible part).
    function reveal(px, py) {
      const margin = marker.width;
      if (px - margin >= vb.x && px + margin <= vb.x + vb.w
          && py - margin >= vb.y && py + margin <= vb.y + vb.h) return;
      vb.x = px - vb.w / 2;
      vb.y = py - vb.h / 2;
      clampView();
      apply();
    }

    svgRoot.addEventListener("wheel", (event) => {
      event.preventDefault();
      const p = toPlan(event.clientX, event.clientY);
      zoomAt(Math.exp(-event.deltaY * 0.002), p.x, p.y);
    }, { passive: false });

    svgRoot.addEventListener("pointerdown", (event) => {
      if (options.ignore && event.target.closest(options.ignore)) return;
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (pointers.size === 1) {
        gesture = { kind: "pan", start: { x: event.clientX, y: event.clientY }, vb: { ...vb },
          moved: false };
      } else if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        gesture = { kind: "pinch", distance: Math.hypot(a.x - b.x, a.y - b.y), vb: { ...vb },
          centre: toPlan((a.x + b.x) / 2, (a.y + b.y) / 2), moved: true };
      }
    });

    svgRoot.addEventListener("pointermove", (event) => {
      if (!pointers.has(event.pointerId) || !gesture) return;
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      const box = svgRoot.getBoundingClientRect();
      if (gesture.kind === "pan" && pointers.size === 1) {
        const dx = event.clientX - gesture.start.x;
        const dy = event.clientY - gesture.start.y;
        if (!gesture.moved && Math.hypot(dx, dy) < 5) return;
        if (!gesture.moved) svgRoot.setPointerCapture(event.pointerId);
        gesture.moved = true;
        vb.x = gesture.vb.x - (dx / box.width) * vb.w;
        vb.y = gesture.vb.y - (dy / box.height) * vb.h;
        clampView();
        apply();
      } else if (gesture.kind === "pinch" && pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const distance = Math.hypot(a.x - b.x, a.y - b.y);
        vb = { ...gesture.vb };
        zoomAt(distance / (gesture.distance || 1), gesture.centre.x, gesture.centre.y);
      }
    });

    function release(event) {
      pointers.delete(event.pointerId);
      if (gesture && gesture.moved) suppressClick = true;
      if (pointers.size === 0) gesture = null;
    }
    svgRoot.addEventListener("pointerup", release);
    svgRoot.addEventListener("pointercancel", release);
    // A drag that ends on a desk is a pan, not a click on that desk.
    svgRoot.addEventListener("click", (event) => {
      if (suppressClick) {
        event.stopPropagation();
        event.preventDefault();
      }
      suppressClick = false;
    }, true);

    current = { zoomCentre, fit, reveal, apply, state: () => ({ full, vb: { ...vb } }) };
    apply();
    return current;
  }

  if (buttons.zoomIn) buttons.zoomIn.addEventListener("click", () => current && current.zoomCentre(1.5));
  if (buttons.zoomOut) buttons.zoomOut.addEventListener("click", () => current && current.zoomCentre(1 / 1.5));
  if (buttons.fit) buttons.fit.addEventListener("click", () => current && current.fit());

  window.addEventListener("resize", () => current && current.apply());

  root.DeskpulseFloorView = { attach };
})(window);
