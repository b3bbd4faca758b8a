// Weft's live updates: when the thread being read (or, on the home feed, anything the reader
// may see) changes at any site, fetch the page again and swap its content in place, keeping
// the reply being typed; and on every page, keep the unread notification count current. Pages work the same without this script; it only saves a reload.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var live = main && main.getAttribute("data-live");
  if (!window.EventSource || !window.fetch) return;
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (!fresh) return;
        var draft = document.getElementById("rbody");
        var text = draft ? draft.value : "";
        var focused = draft && document.activeElement === draft;
        main.innerHTML = fresh.innerHTML;
        var nd = document.getElementById("rbody");
        if (nd && text) { nd.value = text; if (focused) nd.focus(); }
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var es = new EventSource("/api/v1/events");
  es.addEventListener("change", function (e) {
    if (!live) return;
    try {
      var d = JSON.parse(e.data);
      if (live === "feed" || d.doc === live) refresh();
    } catch (err) { /* ignore malformed events */ }
  });
  // The unread count next to "Notifications", on every page.
  es.addEventListener("notification", function (e) {
    try {
      var n = JSON.parse(e.data).unread;
      var badge = document.getElementById("unread");
      if (badge) { badge.textContent = n; badge.hidden = !n; }
      var bell = document.getElementById("bell");
      if (bell && bell.getAttribute("aria-label")) {
        bell.setAttribute("aria-label", bell.getAttribute("aria-label").replace(/\(\d+\)/, "(" + n + ")"));
      }
    } catch (err) { /* ignore malformed events */ }
  });
})();
