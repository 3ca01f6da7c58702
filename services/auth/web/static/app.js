/* The pages' one script (no framework), loaded under script-src 'self'. Pages work without it: it adds the Copy
   buttons, shows an API token as soon as "Yes, allow this user to use the API" is ticked (without it, after Save),
   and keeps a page that showed a secret out of the history. */
"use strict";
(function () {
  function copyFrom(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input || !input.value) { return; }
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
    } else {
      input.select();
      if (document.execCommand("copy")) { done(); }
    }
  }

  // The Users area: ticking "Yes, allow this user to use the API" generates a token and shows it below the tick box.
  function enableApi(box) {
    var form = box.form;
    var tokenInput = document.getElementById("api_token");
    if (!box.checked || !tokenInput || tokenInput.value) { return; }
    var status = document.getElementById("api-status");
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements["csrf_token"].value);
    fetch(box.getAttribute("data-enable-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded"},
      body: body.toString()
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; });
    }).then(function (answer) {
      if (!answer.ok || !answer.data.token) { throw new Error(answer.data.error || "failed"); }
      tokenInput.value = answer.data.token;
      document.getElementById("api-token-block").hidden = false;
      if (status) {
        status.textContent = "An access token has been generated and is shown below. Copy the token, then click Save.";
      }
    }).catch(function (error) {
      if (status) { status.textContent = "The token could not be generated now (" + error.message + "); click Save."; }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) { event.preventDefault(); copyFrom(button); }
  });
  document.addEventListener("change", function (event) {
    if (event.target.id === "api_enabled") { enableApi(event.target); }
  });
  var replacement = document.body.getAttribute("data-replace-history");
  if (replacement && window.history.replaceState) {
    window.history.replaceState(null, "", replacement);
  }
})();
