// Deskpulse plan geometry, shared by the live floor map (floor.js) and the floor
// constructor (constructor.js): where a desk's fractions (x, y in 0..1) land on the plan,
// and how large a desk marker may be so that no two markers ever overlap.
// Pure functions over numbers and strings; no DOM. Plain JS (CSP: no inline script).
"use strict";

(function (root) {
  // Plan units: the plan is 1000 wide; a floor without an uploaded image gets a 1000x600
  // outline whose desks live inside a 60-unit margin.
  const PLAN = { width: 1000, height: 600, margin: 60 };
  // The largest marker, in plan units; markers shrink (keeping this shape) to fit.
  const DESK = { width: 84, height: 44 };
  const GAP = 0.9;  // a marker takes at most 90 % of the room to its nearest neighbour
  const TALL = 0.75;  // a marker is at most this high for its width

  function frameFor(plan, imageUrl) {
    if (!plan) return { width: PLAN.width, height: PLAN.height, margin: PLAN.margin, image: null };
    return { width: PLAN.width, height: Math.round((PLAN.width * plan.height) / plan.width),
      margin: 0, image: imageUrl };
  }

  function toPoint(frame, x, y) {
    return [frame.margin + x * (frame.width - 2 * frame.margin),
      frame.margin + y * (frame.height - 2 * frame.margin)];
  }

  function toFraction(frame, px, py) {
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return { x: clamp((px - frame.margin) / (frame.width - 2 * frame.margin)),
      y: clamp((py - frame.margin) / (frame.height - 2 * frame.margin)) };
  }

  // The marker size (plan units) for desks at `points` ([[px, py], ...]): the largest
  // scale t <= 1 of DESK such that for every pair |dx| >= t*W or |dy| >= t*H, i.e. their
  // boxes never overlap (then times GAP for a visible gap). Sorted by x, a pair further
  // apart in x than the current t*W cannot lower t, so most pairs are never looked at.
  function markerSize(points) {
    const sorted = [...points].sort((a, b) => a[0] - b[0]);
    let t = 1 / GAP;
    for (let i = 0; i < sorted.length; i += 1) {
      const [xi, yi] = sorted[i];
      for (let j = i + 1; j < sorted.length; j += 1) {
        const dx = sorted[j][0] - xi;
        if (dx >= t * DESK.width) break;
        const dy = Math.abs(sorted[j][1] - yi);
        const allowed = Math.max(dx / DESK.width, dy / DESK.height);
        if (allowed < t) t = allowed;
      }
    }
    const scale = Math.min(Math.max(t * GAP, 0.02), 1);  // two desks at one spot: still drawn
    const width = DESK.width * scale;
    // Second pass: rows far apart leave room to grow taller (up to TALL x the width, for
    // a readable name): only pairs that overlap in x need separating in y.
    let room = Infinity;
    for (let i = 0; i < sorted.length; i += 1) {
      for (let j = i + 1; j < sorted.length && sorted[j][0] - sorted[i][0] < width; j += 1) {
        room = Math.min(room, Math.abs(sorted[j][1] - sorted[i][1]));
      }
    }
    const height = Math.max(DESK.height * scale,
      Math.min(room * GAP, width * TALL, DESK.height));
    return { width, height };
  }

  // `text` cut to what fits in `width` at `fontSize` (an average glyph is ~0.6 em wide),
  // with an ellipsis; "" when not even two characters fit.
  function elide(text, width, fontSize) {
    const fits = Math.floor(width / (fontSize * 0.6));
    if (text.length <= fits) return text;
    if (fits < 2) return "";
    return `${text.slice(0, fits - 1)}\u2026`;
  }

  // Do two boxes {x, y, width, height} overlap (touching edges do not)?
  function overlaps(a, b) {
    return a.x < b.x + b.width && b.x < a.x + a.width
      && a.y < b.y + b.height && b.y < a.y + a.height;
  }

  root.DeskpulsePlan = { PLAN, DESK, frameFor, toPoint, toFraction, markerSize, elide, overlaps };
})(window);
