// Personal check-in QR: fetch a fresh single-use token every `data-refresh` seconds.
// A static file (the CSP forbids inline scripts); the QR arrives as an SVG data: URI.
"use strict";

(function () {
  const img = document.getElementById("qr");
  const status = document.getElementById("qr-status");
  if (!img || !status) return;
  const refresh = Math.max(5, Number(img.dataset.refresh) || 30) * 1000;

  async function load() {
    try {
      const response = await fetch("/api/v1/me/qr-token", {
        credentials: "same-origin", cache: "no-store",
      });
      if (response.status === 401) {
        window.location.assign("/login");
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      img.src = body.image;
      img.dataset.expires = String(body.expires);
      img.hidden = false;
      // How long, not until when: no clock time, so no browser zone or 12-hour format.
      const left = Math.max(1, Math.round(body.expires - Date.now() / 1000));
      status.textContent = "Valid for " + left + " s; renews by itself.";
    } catch (error) {
      img.hidden = true;
      status.textContent = "Cannot load your code (" + error.message + "); retrying.";
    }
  }

  load();
  window.setInterval(load, refresh);
})();
