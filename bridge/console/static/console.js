// Refreshes the console's panels from the bridge every few seconds (no framework, no build).
// The server renders the panels (escaped HTML); this script only swaps them in, skips a
// refresh while a form inside them is being filled in, and goes back to the login page when
// the session is over.
(function () {
  "use strict";
  var panels = document.getElementById("panels");
  if (!panels) {
    return;
  }
  var every = Math.max(1, Number(panels.dataset.refresh) || 5) * 1000;
  var status = document.getElementById("refresh-status");

  function show(text, failing) {
    if (status) {
      status.textContent = text;
      status.classList.toggle("bad", failing);
    }
  }

  function editing() {
    var active = document.activeElement;
    return active !== null && active !== document.body && panels.contains(active) &&
      active.closest("form") !== null;
  }

  function refresh() {
    if (document.hidden || editing()) {
      return;
    }
    fetch(panels.dataset.source, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign(panels.dataset.login);
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) {
          panels.innerHTML = html;
          show("Live: updated " + new Date().toLocaleTimeString(), false);
        }
      })
      .catch(function () {
        show("The bridge does not answer; trying again", true);
      });
  }

  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refresh();
    }
  });
})();
