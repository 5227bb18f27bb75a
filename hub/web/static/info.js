// Info popovers: a button.info toggles the .info-text right after it (a definition of a
// figure, with its docs/metrics.md number). Escape closes the open one and returns focus.
// One delegated listener, so figures drawn later (templates cloned by a script) work too.
"use strict";

(function () {
  function toggle(button, open) {
    const text = button.nextElementSibling;
    if (!text || !text.classList.contains("info-text")) return;
    button.setAttribute("aria-expanded", String(open));
    text.hidden = !open;
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button.info");
    if (!button) return;
    event.preventDefault();
    toggle(button, button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const button of document.querySelectorAll('button.info[aria-expanded="true"]')) {
      toggle(button, false);
      button.focus();
    }
  });
})();
