// The circular page (/c/<token>): a person who has the page in front of them for a moment has
// read it. Once the page has been visible for two seconds this posts back to the same address
// (as the 「読みました」 button does), then shows the thank-you line. Link previewers and
// scanners fetch the page without running scripts, so they never count as a reader; fetching
// the page alone (GET or HEAD) never marks it read.
(function () {
  "use strict";
  var form = document.getElementById("mark-read");
  var note = document.getElementById("read-note");
  if (!form || !window.fetch || !window.URLSearchParams) { return; }
  var done = false;
  var timer = null;

  function send() {
    if (done || document.visibilityState !== "visible") { return; }
    done = true;
    var body = new URLSearchParams();
    body.set("how", "view");
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) { done = false; return; }
        form.hidden = true;
        if (note) { note.hidden = false; }
      })
      .catch(function () { done = false; });
  }

  function arm() {
    clearTimeout(timer);
    if (!done && document.visibilityState === "visible") { timer = setTimeout(send, 2000); }
  }

  document.addEventListener("visibilitychange", arm);
  arm();
})();
