/* An import job's page, live: polls the job's progress (same origin, no inline script) and updates the bar, the
   words and the counts without reloading; once the job has ended it reloads once, to show the final state and the
   row errors. Without JavaScript the page shows the state when it was loaded and a Refresh link. */
"use strict";
(function () {
  var section = document.querySelector("[data-progress-url]");
  if (!section) { return; }
  var url = section.getAttribute("data-progress-url");
  var EVERY_MS = 1000;
  var failures = 0;
  // Once a form is sent (Cancel import) its answer is the next page: a reload now would throw that answer away.
  var leaving = false;
  document.addEventListener("submit", function () { leaving = true; });

  function setText(id, text) {
    var element = document.getElementById(id);
    if (element && element.textContent !== text) { element.textContent = text; }
  }

  function show(progress) {
    var bar = document.getElementById("job-progress");
    if (bar) {
      if (progress.percent === null) {
        bar.removeAttribute("value");
        bar.textContent = "";
      } else {
        bar.value = progress.percent;
        bar.textContent = progress.percent + " %";
      }
    }
    setText("progress-summary", progress.summary);
    setText("progress-rate", progress.rate);
    setText("progress-left", progress.left);
    setText("count-imported", String(progress.imported));
    setText("count-updated", String(progress.updated));
    setText("count-failed", String(progress.failed));
    var status = document.getElementById("job-status");
    if (status) {
      status.textContent = progress.status.charAt(0).toUpperCase() + progress.status.slice(1);
      status.className = "state state-" + progress.status;
    }
  }

  function poll() {
    if (leaving) { return; }
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (progress) {
        if (leaving) { return; }
        failures = 0;
        show(progress);
        if (progress.ended) {
          window.location.reload();
        } else {
          setTimeout(poll, EVERY_MS);
        }
      })
      .catch(function () {
        // A moment without an answer (a restart, a lost connection): slower tries; the Refresh link stays.
        failures += 1;
        if (failures < 30) { setTimeout(poll, EVERY_MS * Math.min(failures + 1, 10)); }
      });
  }

  var hint = document.getElementById("refresh-hint");
  if (hint) { hint.insertBefore(document.createTextNode("This page updates itself as the import runs. "), hint.firstChild); }
  setTimeout(poll, EVERY_MS);
})();
